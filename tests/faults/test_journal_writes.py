"""The journal writes off the event loop and coalesces, and is as durable as before: a step that
awaits its record returns only once a write holding it has been fsynced (file, then directory),
records made while a write is in flight share the next one, and a write that fails -- ENOSPC
from fsync, in the writer's thread -- stops the install with the journal's own message."""

import asyncio
import errno
import json
import os
import stat
import threading

from tests.engine.test_engine import catalog, comp, make_engine
from thinkube_tui.events import ComponentStarted
from thinkube_tui.journal import ComponentRecord, Journal, write_error_message


class FsyncWatch:
    """Wraps os.fsync: counts calls, knows which steps are durable (in a file fsynced and then
    renamed into a directory that was fsynced), can hold the first call until released, and
    can fail with ENOSPC from the N-th call on."""

    def __init__(self, monkeypatch, *, hold_first: bool = False, fail_from: int | None = None) -> None:
        self.calls = 0
        self.threads: set[int] = set()
        self.durable: set[str] = set()
        self._fsynced: set[str] = set()
        self.entered, self.release = threading.Event(), threading.Event()
        self.hold_first, self.fail_from = hold_first, fail_from
        self._real = os.fsync
        monkeypatch.setattr(os, "fsync", self)

    def __call__(self, fd: int) -> None:
        self.calls += 1
        self.threads.add(threading.get_ident())
        if self.fail_from is not None and self.calls >= self.fail_from:
            raise OSError(errno.ENOSPC, "No space left on device")
        if self.calls == 1 and self.hold_first:
            self.entered.set()
            assert self.release.wait(30), "the test never released the first write"
        self._real(fd)
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            self.durable |= self._fsynced  # renamed into place, and the directory entry is on disk
        else:
            with open(os.readlink(f"/proc/self/fd/{fd}")) as f:
                record = json.load(f)
            self._fsynced = {s for rec in record["components"].values() for s in rec["steps_done"]}


async def test_steps_finishing_together_share_writes_and_each_returns_once_durable(tmp_path, monkeypatch):
    watch = FsyncWatch(monkeypatch, hold_first=True)
    journal = Journal(tmp_path / "journal.json")
    journal.components["c"] = ComponentRecord(status="running", config_hash="x")
    returned_durable: dict[str, bool] = {}

    async def finish(step: str) -> None:
        await journal.astep_finished("c", step)
        returned_durable[step] = step in watch.durable

    first = asyncio.create_task(finish("step 0"))
    await asyncio.to_thread(watch.entered.wait, 30)  # the first write is in its fsync, held there
    rest = [asyncio.create_task(finish(f"step {i}")) for i in range(1, 10)]
    while len(journal.components["c"].steps_done) < 10:  # every step recorded, its write awaited
        await asyncio.sleep(0)
    assert not returned_durable  # nothing returns before its write is on disk
    watch.release.set()
    await asyncio.wait_for(asyncio.gather(first, *rest), 30)

    assert returned_durable == {f"step {i}": True for i in range(10)}
    # Two writes (two fsyncs each: the file, then its directory): step 0 alone, then the nine
    # recorded while it was in flight, together. One write per step would be ten.
    assert watch.calls == 4
    assert threading.get_ident() not in watch.threads  # never on the event loop's thread
    assert Journal.open(tmp_path / "journal.json").components["c"].steps_done == [f"step {i}" for i in range(10)]


async def test_enospc_from_fsync_stops_the_install_with_the_journal_message(tmp_path, monkeypatch):
    seen: list[dict] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: seen.append(context))
    path = tmp_path / "journal.json"
    FsyncWatch(monkeypatch, fail_from=5)  # two writes (four fsyncs) succeed, the third fails
    cat = catalog(comp("a"), comp("b", requires=["a"]), comp("c", requires=["b"]))

    async def three_steps(steps):
        for name in ("one", "two", "three"):
            await steps.step(name, lambda: asyncio.sleep(0))

    engine, rec = make_engine(cat, {c.id: three_steps for c in cat}, journal=Journal(path))
    result = await asyncio.wait_for(engine.run(), 30)

    assert not result.ok
    assert result.error == write_error_message(path, OSError(errno.ENOSPC, "No space left on device"))
    assert result.error.startswith("no space on ") and str(path) in result.error
    assert [e.component for e in rec.of(ComponentStarted)] == ["a"]  # b and c never started
    assert result.done == () and set(result.failed + result.not_run + result.blocked) == {"a", "b", "c"}
    assert Journal.open(path).components["a"].steps_done == ["one"]  # the last write that succeeded
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temp file left behind
    assert not seen, seen  # no "exception was never retrieved"
