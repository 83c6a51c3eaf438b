"""The cluster lock: refused while held (naming the holder), taken over only from a holder
proven gone or expired, released at the end and on errors, lost when another run takes it.

The control node's lock runs through the lab's shell (what the installer sends over SSH) and
through this machine's real /bin/sh; the Lease through the lab's Kubernetes API emulator.
Expiry is judged on an injected clock: nothing here waits for time to pass.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml

from thinkube_lab.kubeapi import KubeApiEmulator
from thinkube_lab.node import LabNode
from thinkube_lab.profiles import profile
from thinkube_lab.shell import BufferOutput, StringInput
from thinkube_tui.cluster_lock import (
    LEASE_NAME,
    LEASE_NAMESPACE,
    NODE_LOCK_DIR,
    ClusterLock,
    ClusterLocked,
    ClusterLockError,
    Holder,
    LockLost,
    NodeLock,
    lock_path,
)
from thinkube_tui.kube import Kube
from thinkube_tui.spec import load_answers
from thinkube_tui.transport import CommandResult, LocalTransport

START = 1_800_000_000.0  # the injected clock's "now"
HOLDER_FILE = f"{NODE_LOCK_DIR}/holder"


class NodeShell:
    """A Transport onto a lab node's shell, as the installer's SSH session reaches it."""

    def __init__(self, node: LabNode) -> None:
        self.lab_node = node

    @property
    def node(self) -> str:
        return self.lab_node.name

    async def run(self, command, *, input=None, timeout=None, on_line=None, sudo=False) -> CommandResult:
        out, err = BufferOutput(), BufferOutput()
        user = "root" if sudo else "thinkube"
        status = await self.lab_node.run(command, StringInput(input or ""), out, err, user=user)
        return CommandResult(command, status, out.getvalue(), err.getvalue())


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def control(tmp_path: Path) -> NodeShell:
    node = LabNode("tk-control", profile("control"), index=0, address="10.42.0.10", state_dir=tmp_path / "node")
    return NodeShell(node)


@pytest.fixture
def spec(tmp_path: Path):
    answers = tmp_path / "answers.yaml"
    answers.write_text(
        "apiVersion: thinkube.io/v1alpha1\n"
        "cluster: {name: lab, domain: lab.lan, adminEmail: a@lab.lan, metallbRange: 10.42.0.200-10.42.0.220, ingressIP: 10.42.0.200, ingressKnIP: 10.42.0.201}\n"
        "nodes:\n"
        "  - {name: tk-control, host: 10.42.0.10, user: thinkube, role: control}\n"
    )
    return load_answers(answers)


def holder(host: str, pid: int = 4242, token: str = "t-other", **more) -> Holder:
    return Holder(token=token, host=host, pid=pid, user="ann", started=START - 60, cluster="lab@10.42.0.10", **more)


def lock(spec, control, root: Path, host: str, messages: list[str] | None = None, **kw) -> ClusterLock:
    me = Holder(token=f"t-{host}", host=host, pid=1000, user="ann", started=START, cluster="lab@10.42.0.10")
    say = (messages if messages is not None else []).append
    return ClusterLock(spec, control, say=say, root=root, me=me, clock=kw.pop("clock", Clock()), **kw)


async def node_record(control: NodeShell) -> Holder | None:
    text = await control.lab_node.fs.read(HOLDER_FILE)
    return Holder.from_json(text) if text else None


async def test_a_second_run_is_refused_naming_the_holder_and_may_run_once_the_first_ends(spec, control, tmp_path):
    async with lock(spec, control, tmp_path, "ws-a"):
        with pytest.raises(ClusterLocked) as refused:
            async with lock(spec, control, tmp_path, "ws-a"):
                raise AssertionError("a second holder ran")
        message = str(refused.value)
        for part in ("lab@10.42.0.10", "ann@ws-a (pid 1000)", "since 2027-01-15 08:00:00 UTC", "run the same command"):
            assert part in message, message
        assert str(lock_path("lab@10.42.0.10", tmp_path)) in message  # refused here, before SSH
        assert (await node_record(control)).host == "ws-a"
    assert await node_record(control) is None  # released at the end
    async with lock(spec, control, tmp_path, "ws-a"):
        pass


async def test_a_second_workstation_is_refused_by_the_control_node_lock(spec, control, tmp_path):
    async with lock(spec, control, tmp_path / "a", "ws-a"):
        with pytest.raises(ClusterLocked) as refused:
            async with lock(spec, control, tmp_path / "b", "ws-b"):
                raise AssertionError("a second workstation ran")
        assert "ann@ws-a (pid 1000)" in str(refused.value)
        assert f"{NODE_LOCK_DIR} on tk-control" in str(refused.value)
        assert (await node_record(control)).host == "ws-a"  # the refused run left the lock alone
    assert not lock_path("lab@10.42.0.10", tmp_path / "b").read_text()  # and released its own


async def test_released_when_the_run_raises(spec, control, tmp_path):
    with pytest.raises(RuntimeError):
        async with lock(spec, control, tmp_path, "ws-a"):
            raise RuntimeError("an installer blew up")
    assert await node_record(control) is None
    assert not await control.lab_node.fs.exists(NODE_LOCK_DIR)
    async with lock(spec, control, tmp_path / "b", "ws-b"):  # free for anyone
        pass


async def test_an_expired_node_lock_is_taken_over_with_a_message_and_a_live_one_is_not(spec, control, tmp_path):
    stale = holder("ws-gone", expires=START + 10)
    await control.run(f"mkdir -p {NODE_LOCK_DIR}", sudo=True)
    await control.lab_node.fs.write(HOLDER_FILE, stale.to_json() + "\n")
    with pytest.raises(ClusterLocked) as refused:  # not expired yet on the clock
        async with lock(spec, control, tmp_path, "ws-b", clock=Clock(START)):
            pass
    assert "ann@ws-gone (pid 4242)" in str(refused.value) and "expires at" in str(refused.value)
    said: list[str] = []
    async with lock(spec, control, tmp_path, "ws-b", said, clock=Clock(START + 11)):
        assert (await node_record(control)).host == "ws-b"
    assert any("taking over" in m and "ws-gone" in m and "expiry" in m for m in said), said


async def test_a_node_lock_of_a_dead_process_on_this_host_is_taken_over(spec, control, tmp_path):
    await control.run(f"mkdir -p {NODE_LOCK_DIR}", sudo=True)
    await control.lab_node.fs.write(HOLDER_FILE, holder("ws-a", pid=777, expires=START + 300).to_json())
    alive = {777: True}
    with pytest.raises(ClusterLocked):
        async with lock(spec, control, tmp_path, "ws-a", alive=alive.get):
            pass
    alive[777] = False
    said: list[str] = []
    async with lock(spec, control, tmp_path, "ws-a", said, alive=alive.get):
        pass
    assert any("process 777 no longer runs on ws-a" in m for m in said), said


async def test_a_node_lock_without_a_readable_record_is_refused_with_what_to_do(spec, control, tmp_path):
    await control.run(f"mkdir -p {NODE_LOCK_DIR} && echo '{{\"tok' > {HOLDER_FILE}", sudo=True)  # torn, foreign
    with pytest.raises(ClusterLocked) as refused:
        async with lock(spec, control, tmp_path, "ws-a"):
            pass
    assert f"sudo rm -r {NODE_LOCK_DIR}" in str(refused.value)


async def test_a_local_lock_left_by_a_dead_run_is_taken_over_with_a_message(spec, control, tmp_path):
    path = lock_path("lab@10.42.0.10", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(holder("ws-a", pid=555).to_json())  # its flock went with its process
    said: list[str] = []
    async with lock(spec, control, tmp_path, "ws-a", said):
        assert json.loads(path.read_text())["token"] == "t-ws-a"  # who holds it now, for a refusal
    assert any("taking over" in m and "pid 555" in m and "gone" in m for m in said), said


async def test_a_symlink_at_the_local_lock_is_refused(spec, control, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    path = lock_path("lab@10.42.0.10", tmp_path)
    path.parent.mkdir(parents=True)
    path.symlink_to(victim)
    with pytest.raises(ClusterLockError, match="symlink"):
        async with lock(spec, control, tmp_path, "ws-a"):
            pass
    assert victim.read_text() == "keep"


class Ticks:
    """An injected sleep: each renewal round waits for the test to allow it."""

    def __init__(self) -> None:
        self.allowed = asyncio.Semaphore(0)
        self.calls = 0
        self.changed = asyncio.Condition()

    async def __call__(self, _seconds: float) -> None:
        async with self.changed:
            self.calls += 1
            self.changed.notify_all()
        await self.allowed.acquire()

    async def round(self) -> None:
        """Let one renewal round run, and wait until it is over (the loop sleeps again)."""
        async with self.changed:
            await self.changed.wait_for(lambda: self.calls >= 1)  # the loop sleeps
            target = self.calls + 1
            self.allowed.release()
            await self.changed.wait_for(lambda: self.calls >= target)


async def test_renewal_pushes_the_expiry_on_and_a_taken_lock_stops_the_run(spec, control, tmp_path):
    clock, ticks, said = Clock(), Ticks(), []
    with pytest.raises(LockLost) as lost:
        async with lock(spec, control, tmp_path, "ws-a", said, clock=clock, sleep=ticks, ttl_s=300):
            assert (await node_record(control)).expires == START + 300
            clock.now += 100
            await ticks.round()
            assert (await node_record(control)).expires == START + 400
            # Another run took the lock over (it judged ours expired): the next round stops us.
            await control.lab_node.fs.write(HOLDER_FILE, holder("ws-b", expires=START + 900).to_json())
            ticks.allowed.release()
            await asyncio.Event().wait()  # the install, running until it is stopped
    assert "ann@ws-b" in str(lost.value) and "stopped" in str(lost.value)
    assert (await node_record(control)).host == "ws-b"  # ours was not removed from under them


async def test_node_lock_commands_work_in_a_real_posix_shell(tmp_path):
    """The same command lines through /bin/sh (dash on Ubuntu), in a scratch directory."""
    root = LocalTransport("here")
    me, other = holder("ws-a", token="t-me", pid=1), holder("ws-b", token="t-them", pid=1)
    directory = str(tmp_path / "var" / "install.lock")
    clock = Clock()
    mine = NodeLock(root, me, clock=clock, ttl_s=300, say=print, directory=directory, alive=lambda _p: True)
    theirs = NodeLock(root, other, clock=clock, ttl_s=300, say=print, directory=directory, alive=lambda _p: True)
    await mine.acquire("lab")
    with pytest.raises(ClusterLocked, match="ann@ws-a"):
        await theirs.acquire("lab")
    clock.now += 50
    await mine.renew()
    assert Holder.from_json(Path(directory, "holder").read_text()).expires == START + 350
    await theirs.release()  # not theirs to release: no-op
    assert Path(directory).is_dir()
    await mine.release()
    assert not Path(directory).exists()
    clock.now += 1000
    await theirs.acquire("lab")
    with pytest.raises(LockLost, match="ann@ws-b"):
        await mine.renew()


# ---------------------------------------------------------------------------- the Lease


@pytest.fixture
async def kube(tmp_path: Path):
    async with KubeApiEmulator(state_dir=tmp_path / "kube", rollout_delay=0.2) as emulator:
        client = await Kube.from_kubeconfig(yaml.safe_dump(emulator.kubeconfig()))
        yield client
        await client.close()


async def test_a_second_workstation_is_refused_by_the_lease(spec, control, tmp_path, kube):
    async def get_kube() -> Kube:
        return kube

    with_api = {"kube": get_kube, "api_ready": lambda: True}
    async with lock(spec, control, tmp_path / "a", "ws-a", **with_api):
        lease = await kube.get("coordination.k8s.io/v1", "Lease", LEASE_NAME, LEASE_NAMESPACE)
        assert lease["spec"]["holderIdentity"].startswith("ann@ws-a pid 1000")
        assert lease["spec"]["leaseDurationSeconds"] == 300
        assert lease["spec"]["renewTime"].startswith("2027-01-15T08:00:00.")
        # Reach the cluster past the control node's lock (as through another control address).
        await control.lab_node.fs.remove(NODE_LOCK_DIR)
        with pytest.raises(ClusterLocked) as refused:
            async with lock(spec, control, tmp_path / "b", "ws-b", **with_api):
                raise AssertionError("a second workstation ran")
        assert "ann@ws-a (pid 1000)" in str(refused.value)
        assert f"Lease {LEASE_NAMESPACE}/{LEASE_NAME}" in str(refused.value)
    lease = await kube.get("coordination.k8s.io/v1", "Lease", LEASE_NAME, LEASE_NAMESPACE)
    assert not lease["spec"].get("holderIdentity")  # released
    async with lock(spec, control, tmp_path / "b", "ws-b", **with_api):
        pass


async def test_an_expired_lease_is_taken_over_and_its_old_holder_stops(spec, control, tmp_path, kube):
    async def get_kube() -> Kube:
        return kube

    clock_a, ticks, said = Clock(), Ticks(), []
    with pytest.raises(LockLost) as lost:
        async with lock(
            spec, control, tmp_path / "a", "ws-a", kube=get_kube, api_ready=lambda: True, clock=clock_a, sleep=ticks
        ):
            await control.lab_node.fs.remove(NODE_LOCK_DIR)
            # ws-a stopped renewing (a frozen laptop): past the lease's expiry ws-b takes it over.
            later = Clock(START + 301)
            async with lock(
                spec, control, tmp_path / "b", "ws-b", said, kube=get_kube, api_ready=lambda: True, clock=later
            ):
                assert any("taking over the Lease" in m and "ws-a" in m for m in said), said
                lease = await kube.get("coordination.k8s.io/v1", "Lease", LEASE_NAME, LEASE_NAMESPACE)
                assert lease["spec"]["leaseTransitions"] == 1
                await control.lab_node.fs.remove(NODE_LOCK_DIR)  # leave ws-a's node lock to the Lease
                await control.run(f"mkdir -p {NODE_LOCK_DIR}", sudo=True)
                await control.lab_node.fs.write(HOLDER_FILE, holder("ws-a", token="t-ws-a").to_json())
                ticks.allowed.release()  # ws-a wakes up and renews
                await asyncio.Event().wait()
    assert "Lease" in str(lost.value) and "ann@ws-b" in str(lost.value)


# ---------------------------------------------------------------------------- the wizard's install


async def test_the_wizards_install_is_refused_while_another_workstation_holds_the_cluster(spec, control, tmp_path):
    from types import SimpleNamespace

    from thinkube_tui.catalog import load_catalog
    from thinkube_tui.events import EventBus, RunFinished
    from thinkube_tui.plan import plan_for
    from thinkube_tui.secrets import Secrets
    from thinkube_tui.wizard_run import InstallRun

    catalog = load_catalog()
    ran: list[str] = []

    async def installer(ctx) -> None:
        ran.append(ctx.component.id)

    model = SimpleNamespace(secrets=lambda: Secrets({}), catalog=catalog, facts={})
    plan = plan_for(catalog, {"microk8s-control": "wanted"})
    finished: list[RunFinished] = []
    bus = EventBus()
    bus.subscribe(lambda e: finished.append(e) if isinstance(e, RunFinished) else None)
    run = InstallRun(
        spec,
        model,
        plan,
        {"tk-control": control},
        {"microk8s-control": installer},
        state_dir=tmp_path / "state",
        bus=bus,
        mirror=False,
        lock=True,
    )
    try:
        async with lock(spec, control, tmp_path / "elsewhere", "ws-other"):
            result = await run.run()
        assert ran == [] and result.not_run == ("microk8s-control",)
        assert result.error and "ann@ws-other (pid 1000)" in result.error
        assert finished[-1] == result  # the install screen shows it
        result = await run.run()  # the other workstation is done: this one runs
        assert ran == ["microk8s-control"] and result.ok
        assert await node_record(control) is None  # and released its lock
    finally:
        await run.close()


def test_a_refusal_waits_a_moment_for_the_holders_record(tmp_path):
    """The holder writes its record just after taking the flock: a run refused in between read an
    empty file and said 'a run whose record cannot be read' (seen with two installs at once)."""
    import fcntl
    import os
    import threading

    from thinkube_tui.cluster_lock import LocalLock

    path = tmp_path / "locks" / "lab@10.42.0.10.lock"
    path.parent.mkdir()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # held, its record not written yet
    threading.Timer(0.3, lambda: os.pwrite(fd, holder("ws-a", pid=8215).to_json().encode(), 0)).start()
    me = Holder(token="t-me", host="ws-a", pid=1000, user="ann", started=START, cluster="lab@10.42.0.10")
    try:
        with pytest.raises(ClusterLocked, match=r"\(pid 8215\)"):
            LocalLock(path, me, lambda _text: None).acquire("lab@10.42.0.10")
    finally:
        os.close(fd)


async def test_the_node_lock_never_exists_without_its_holders_record(spec, control, tmp_path, monkeypatch):
    """Two installs at once: the refused one read the lock directory between its `mkdir` and the
    record's write and said 'a run whose record cannot be read' (seen in CI). Every change the
    lab's filesystem makes is watched: whenever the lock directory exists, its record names a
    holder, and the record is only ever replaced by a rename, never truncated in place."""
    from thinkube_lab.commands import coreutils
    from thinkube_lab.node import VirtualFS

    fs = control.lab_node.fs
    seen: list[str] = []

    def check(after: str) -> None:
        lock_dir = fs.root / NODE_LOCK_DIR.lstrip("/")
        if lock_dir.is_dir():
            record = lock_dir / "holder"
            assert record.is_file() and Holder.from_json(record.read_text()), f"lock without its record after {after}"
        seen.append(after)

    real_make_dir, real_rename, real_write = coreutils._make_dir, VirtualFS.rename, VirtualFS.write

    def make_dir(target, parents):
        real_make_dir(target, parents)
        check(f"mkdir {target}")

    async def rename(self, src, dest):
        await real_rename(self, src, dest)
        check(f"mv {src} {dest}")

    async def write(self, path, text, **kw):
        assert self.norm(path) != HOLDER_FILE, "the record was rewritten in place"
        await real_write(self, path, text, **kw)
        check(f"write {path}")

    monkeypatch.setattr(coreutils, "_make_dir", make_dir)
    monkeypatch.setattr(VirtualFS, "rename", rename)
    monkeypatch.setattr(VirtualFS, "write", write)
    clock, ticks = Clock(), Ticks()
    async with lock(spec, control, tmp_path, "ws-a", clock=clock, sleep=ticks):
        with pytest.raises(ClusterLocked, match=r"ann@ws-a \(pid 1000\)"):
            async with lock(spec, control, tmp_path / "elsewhere", "ws-b", clock=clock):
                pass
        clock.now += 100
        await ticks.round()  # a renewal
        assert (await node_record(control)).expires == START + 400
    assert any(s.startswith("mv ") and s.endswith(NODE_LOCK_DIR) for s in seen), seen
    assert any(s.endswith(HOLDER_FILE) for s in seen), seen  # the renewal's rename was watched
