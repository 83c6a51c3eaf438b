"""A full disk under the state directory: the install stops, says where there is no space and
what was not done, exits 1 -- never "finished" -- and resumes once there is room.

The state directory is a 64 KiB tmpfs (mounted mode 0700; we run as root in CI; skipped with the
reason where mounting is not permitted), and the same run with ENOSPC injected into the
journal's writes (everywhere).
"""

import asyncio
import errno
import gc
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from thinkube_lab.cluster import Lab
from thinkube_tui import journal as journal_module
from thinkube_tui.headless import HeadlessOptions, run
from thinkube_tui.journal import Journal

SPEED = 0.05
ONLY = ("microk8s-workers", "valkey")


@pytest.fixture
async def lab(tmp_path):
    async with Lab(tmp_path / "lab", nodes=3, gpus=1, speed=SPEED, log=lambda _m: None) as lab:
        os.environ["TK_LAB_SUDO_PASSWORD"] = lab.sudo_password
        yield lab
    os.environ.pop("TK_LAB_SUDO_PASSWORD", None)


@pytest.fixture(params=["tmpfs", "injected"])
def small_disk(request, tmp_path, monkeypatch):
    """A 64 KiB file system for the state directory: (path, True) for a real tmpfs (skipped, with
    the reason, where mounting is not permitted), or (path, False) with ENOSPC injected into the
    journal's writes after the first few -- that one runs everywhere."""
    disk = tmp_path / "disk"
    disk.mkdir(mode=0o700)
    if request.param == "injected":
        _inject_enospc(monkeypatch, after=6)
        yield disk, False
        return
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(disk)], check=True, capture_output=True
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        reason = exc.stderr.decode(errors="replace").strip() if isinstance(exc, subprocess.CalledProcessError) else exc
        pytest.skip(f"cannot mount a 64 KiB tmpfs here ({reason}); the injected-ENOSPC variant runs instead")
    try:
        yield disk, True
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False, capture_output=True)


def _inject_enospc(monkeypatch, after: int) -> None:
    real = journal_module.write_atomic
    count = {"n": 0}

    def write(path, text, mode=0o600):
        count["n"] += 1
        if count["n"] > after and not count.get("freed"):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, text, mode)

    monkeypatch.setattr(journal_module, "write_atomic", write)
    monkeypatch.setattr(_inject_enospc, "count", count, raising=False)


def _fill(disk: Path, leave: int) -> Path:
    """Take all but about `leave` bytes of the file system's free space."""
    filler = disk / "filler"
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    with open(filler, "wb") as f:
        try:
            f.write(b"\0" * max(free - leave, 0))
            f.flush()
        except OSError:
            pass
    return filler


async def install(lab, tmp_path, state: Path) -> tuple[int, str]:
    answers = lab.write_answers(tmp_path / "answers.yaml", components={"valkey": {"enabled": True}})
    out = io.StringIO()
    opts = HeadlessOptions(
        answers=answers,
        yes=True,
        state_dir=state,
        known_hosts=tmp_path / "kh",
        interactive_output=False,
        only=frozenset(ONLY),
    )
    code = await asyncio.wait_for(run(opts, out=out, err=out), 180)
    return code, out.getvalue()


def _accounted(out: str) -> None:
    """The last line counts every planned component: done + failed + blocked + not run = planned."""
    planned = int(re.search(r"^plan: (\d+) components", out, re.M).group(1))
    counts = re.findall(
        r"install (?:\w+(?: with failures)?): (\d+) done, (\d+) failed, (\d+) blocked, (\d+) not run", out
    )
    assert counts, out[-3000:]
    assert sum(map(int, counts[-1])) == planned, (counts[-1], planned)


async def test_a_full_disk_stops_the_install_and_a_later_run_resumes(lab, tmp_path, small_disk):
    disk, real = small_disk
    unhandled: list[dict] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: unhandled.append(context))
    # Room for the first journal writes and a little log, not for the whole install.
    filler = _fill(disk, leave=12 * 1024) if real else None

    code, out = await install(lab, tmp_path, disk)
    gc.collect()
    await asyncio.sleep(0)
    assert code == 1, out[-3000:]
    assert "install finished:" not in out  # never reported as a success
    assert "no space on" in out, out[-3000:]
    assert "Traceback" not in out
    _accounted(out)
    assert not unhandled, unhandled  # no "Task exception was never retrieved"
    assert not list(disk.rglob("*.tmp")), list(disk.rglob("*"))  # no partial journal left behind
    journal_path = disk / "thinkube-lab" / "journal.json"
    Journal.open(journal_path)  # the journal on disk is whole

    # Again, with the disk still full: a clear error at once, exit 1, nothing touched.
    code, again = await install(lab, tmp_path, disk)
    assert code == 1 and "no space on" in again and "Traceback" not in again, again[-3000:]
    assert not list(disk.rglob("*.tmp"))

    # Room again: the same command resumes and finishes; nothing done twice.
    if real:
        filler.unlink()
        shutil.rmtree(disk / "thinkube-lab" / "logs", ignore_errors=True)
    else:
        _inject_enospc.count["freed"] = True
    code, last = await install(lab, tmp_path, disk)
    assert code == 0, last[-3000:]
    assert all(node.counters["snap-install:microk8s"] == 1 for node in lab.nodes.values())
