"""Hostile state directories: other-writable, someone else's, symlinked, with planted symlinks.

A root run writes the journal, logs, answers, secrets and Vault's keys into the state
directory; another user who can write there (or rename it) must not get us to overwrite or
append to their files. The rules are OpenSSH's for ~/.ssh (see files.py).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from thinkube_tui import files
from thinkube_tui.files import (
    FileReadError,
    UnsafePathError,
    check_state_dir,
    create_new,
    open_append,
    read_limited,
    write_atomic,
)
from thinkube_tui.journal import Journal

NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")


def victim(tmp_path: Path) -> Path:
    """A file of 'another user' that a planted symlink points at."""
    path = tmp_path / "victim"
    path.write_text("precious\n")
    return path


# ---------------------------------------------------------------- the state directory


def test_a_missing_state_directory_is_created_private(tmp_path: Path) -> None:
    state = check_state_dir(tmp_path / "a" / "b" / "cluster")
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700


def test_an_other_writable_state_directory_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o777)
    with pytest.raises(UnsafePathError) as caught:
        check_state_dir(state)
    assert "writable by other users (mode 0777)" in str(caught.value)
    assert f"chmod 700 {state}" in str(caught.value)


@as_root
def test_a_state_directory_writable_by_a_shared_group_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, -1, NOBODY)  # nogroup: other users have it as their group
    state.chmod(0o770)
    with pytest.raises(UnsafePathError, match="writable by other users \\(mode 0770\\)"):
        check_state_dir(state)


def test_a_group_writable_directory_of_a_user_private_group_is_accepted(tmp_path: Path) -> None:
    """umask 002 distributions give each user a group of their own: that group is the user."""
    if not files._private_group(os.getegid(), os.geteuid()):
        pytest.skip("the running user's group is shared here")
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, -1, os.getegid())
    state.chmod(0o770)
    assert check_state_dir(state) == state


@as_root
def test_a_state_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    os.chown(state, NOBODY, NOBODY)
    with pytest.raises(UnsafePathError, match=f"belongs to another user \\(uid {NOBODY}\\)"):
        check_state_dir(state)


def test_a_state_directory_inside_an_other_writable_directory_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # anyone could rename the state directory away and put their own there
    with pytest.raises(UnsafePathError) as caught:
        check_state_dir(shared / "state" / "cluster")
    assert f"the directory above it, {shared}, is writable by other users" in str(caught.value)
    assert not (shared / "state").exists()  # refused before anything was created


@as_root
def test_a_root_owned_sticky_directory_like_tmp_is_accepted_as_a_parent(tmp_path: Path) -> None:
    sticky = tmp_path / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)
    assert check_state_dir(sticky / "state").is_dir()


@as_root
def test_a_parent_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, NOBODY, NOBODY)
    with pytest.raises(UnsafePathError, match="belongs to another user"):
        check_state_dir(theirs / "state")


def test_a_symlinked_world_writable_state_directory_is_refused_with_what_to_do(tmp_path: Path) -> None:
    target = tmp_path / "world"
    target.mkdir()
    target.chmod(0o777)
    link = tmp_path / "state"
    link.symlink_to(target)
    with pytest.raises(UnsafePathError) as caught:
        check_state_dir(link)
    message = str(caught.value)
    assert f"{link} (a symbolic link to {target})" in message
    assert "writable by other users" in message and f"chmod 700 {target}" in message


def test_a_symlink_to_a_private_directory_is_accepted(tmp_path: Path) -> None:
    target = tmp_path / "disk" / "state"
    target.mkdir(parents=True, mode=0o700)
    (tmp_path / "disk").chmod(0o755)
    link = tmp_path / "state"
    link.symlink_to(target)
    assert check_state_dir(link) == link


def test_a_symlink_into_an_other_writable_directory_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "state").mkdir(mode=0o700)
    shared.chmod(0o777)
    link = tmp_path / "state"
    link.symlink_to(shared / "state")
    with pytest.raises(UnsafePathError, match=f"the directory above it, {shared}, is writable"):
        check_state_dir(link)


# ---------------------------------------------------------------- planted symlinks


def test_a_symlink_planted_at_the_old_journal_temp_name_is_never_written_through(tmp_path: Path) -> None:
    target = victim(tmp_path)
    state = check_state_dir(tmp_path / "state")
    planted = state / f".journal.json.{os.getpid()}.tmp"  # the name the journal used to use
    planted.symlink_to(target)
    journal = Journal(state / "journal.json")
    journal.save()
    assert target.read_text() == "precious\n"
    assert planted.is_symlink()  # not ours: left alone
    assert Journal.open(state / "journal.json").components == {}


def test_a_symlink_planted_at_the_next_temp_name_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even a guessed temp name only makes us pick another (O_EXCL|O_NOFOLLOW), never write through it."""
    target = victim(tmp_path)
    state = check_state_dir(tmp_path / "state")
    names = iter(["guessed", "fresh"])
    monkeypatch.setattr(files, "token_hex", lambda n: next(names))
    (state / ".journal.json.guessed.tmp").symlink_to(target)
    write_atomic(state / "journal.json", "{}\n")
    assert target.read_text() == "precious\n"
    assert (state / "journal.json").read_text() == "{}\n"
    assert not (state / ".journal.json.fresh.tmp").exists()


def test_a_symlink_at_the_destination_is_replaced_not_followed(tmp_path: Path) -> None:
    target = victim(tmp_path)
    state = check_state_dir(tmp_path / "state")
    (state / "answers.yaml").symlink_to(target)
    write_atomic(state / "answers.yaml", "new\n", mode=0o644)
    assert target.read_text() == "precious\n"
    assert not (state / "answers.yaml").is_symlink()
    assert (state / "answers.yaml").read_text() == "new\n"


def test_a_failed_write_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = check_state_dir(tmp_path / "state")

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        write_atomic(state / "journal.json", "{}\n")
    assert list(state.iterdir()) == []


def test_a_symlink_planted_at_the_install_log_path_is_refused(tmp_path: Path) -> None:
    from thinkube_tui.printer import LogFile

    target = victim(tmp_path)
    state = check_state_dir(tmp_path / "state")
    (state / "logs").mkdir(mode=0o700)
    log = state / "logs" / "install-20260101-000000.log"
    log.symlink_to(target)
    with pytest.raises(UnsafePathError, match="is a symbolic link; thinkube-tui never writes through one"):
        LogFile(log, lambda text: text)
    assert target.read_text() == "precious\n"


def test_appending_refuses_anything_but_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(UnsafePathError, match="not a regular file"):
        open_append(fifo)


def test_a_file_that_must_be_new_is_never_overwritten_or_followed(tmp_path: Path) -> None:
    target = victim(tmp_path)
    (tmp_path / "keys.json").symlink_to(target)
    with pytest.raises(FileExistsError):
        create_new(tmp_path / "keys.json", "secret")
    assert target.read_text() == "precious\n"
    create_new(tmp_path / "other.json", "secret")
    assert stat.S_IMODE((tmp_path / "other.json").stat().st_mode) == 0o600


# ---------------------------------------------------------------- reading


def test_reading_refuses_devices_and_fifos_without_blocking(tmp_path: Path) -> None:
    with pytest.raises(FileReadError, match="not a regular file"):
        read_limited(Path("/dev/zero"), 1024, "secrets file")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # nobody writes: a blocking open would hang here
    with pytest.raises(FileReadError, match="secrets file is not a regular file"):
        read_limited(fifo, 1024, "secrets file")


def test_reading_stops_at_the_limit(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"x" * 4096)
    with pytest.raises(FileReadError, match="larger than 2 KiB"):
        read_limited(big, 2048)
    assert read_limited(big, 4096) == b"x" * 4096


# ---------------------------------------------------------------- the commands refuse it


def test_headless_refuses_an_other_writable_state_directory_before_touching_a_node(tmp_path: Path) -> None:
    import subprocess
    import sys

    examples = Path(__file__).resolve().parents[2] / "examples"
    base = tmp_path / "state"
    base.mkdir()
    base.chmod(0o777)
    answers = str(examples / "answers-minimal.yaml")
    out = subprocess.run(
        [sys.executable, "-m", "thinkube_tui", "--answers", answers, "--state-dir", str(base), "--yes"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2, out.stderr
    assert f"the directory above it, {base}, is writable by other users" in out.stderr
    assert "Traceback" not in out.stderr
    assert list(base.iterdir()) == []  # nothing written there


def test_the_wizard_writes_nothing_into_an_other_writable_cluster_directory(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from thinkube_tui.catalog import load_catalog
    from thinkube_tui.events import EventBus
    from thinkube_tui.plan import plan_for
    from thinkube_tui.secrets import Secrets
    from thinkube_tui.spec import parse_answers
    from thinkube_tui.wizard import WizardModel
    from thinkube_tui.wizard_run import InstallRun

    examples = Path(__file__).resolve().parents[2] / "examples"
    spec = parse_answers((examples / "answers-minimal.yaml").read_text())
    state = tmp_path / "thinkube"
    state.mkdir()
    state.chmod(0o777)
    with pytest.raises(UnsafePathError, match="writable by other users"):
        WizardModel.from_spec(spec).save_for_reentry(spec, state)
    catalog = load_catalog()
    model = SimpleNamespace(secrets=lambda: Secrets({}), catalog=catalog, facts={})
    with pytest.raises(UnsafePathError, match="writable by other users"):
        InstallRun(
            spec,
            model,  # type: ignore[arg-type]
            plan_for(catalog, {"microk8s-control": "wanted"}),
            {},
            {},
            state_dir=state,
            bus=EventBus(),
            mirror=False,
        )
    assert list(state.iterdir()) == []


def test_lab_up_refuses_an_other_writable_state_directory(tmp_path: Path) -> None:
    import subprocess
    import sys

    state = tmp_path / "lab"
    state.mkdir()
    state.chmod(0o777)
    out = subprocess.run(
        [sys.executable, "-m", "thinkube_tui", "lab", "up", "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "writable by other users" in out.stderr
    assert list(state.iterdir()) == []  # no key, no password, no log written there
