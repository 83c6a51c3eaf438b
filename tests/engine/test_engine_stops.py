"""The engine never reports success that did not happen: a journal that cannot be written stops
the run, any exception in a task it started ends the run as failed, and every planned component
is accounted for -- done + failed + blocked + not run = planned -- on every way out."""

import asyncio
import errno
import gc

import pytest

from tests.engine.test_engine import catalog, comp, make_engine
from thinkube_tui import journal as journal_module
from thinkube_tui.events import ComponentStarted, LogLines, RunFinished
from thinkube_tui.journal import Journal, JournalWriteError


def accounted(result: RunFinished, planned) -> None:
    """Every planned component is in exactly one list."""
    lists = (result.done, result.failed, result.blocked, result.not_run)
    assert sorted(c for group in lists for c in group) == sorted(planned), result
    assert len(result.done) + len(result.failed) + len(result.blocked) + len(result.not_run) == len(planned)


def record_loop_errors(seen):
    """Keep what the event loop reports as unhandled (e.g. "Task exception was never retrieved")."""
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: seen.append(context))


def full_disk_after(monkeypatch, writes: int):
    """The journal's file writes succeed `writes` times, then the disk is full."""
    real = journal_module.write_atomic
    count = {"n": 0}

    def write(path, text, mode=0o600):
        count["n"] += 1
        if count["n"] > writes:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, text, mode)

    monkeypatch.setattr(journal_module, "write_atomic", write)


def chain_catalog():
    # a -> b -> c, and d, e independent: 5 planned
    return catalog(comp("a"), comp("b", requires=["a"]), comp("c", requires=["b"]), comp("d"), comp("e"))


async def stepper(steps):
    async def work():
        await asyncio.sleep(0)

    await steps.step("one", work)
    await steps.step("two", work)


@pytest.mark.parametrize("writes", [0, 1, 2, 3, 5, 8, 11])  # the run takes 12 to 20 writes (coalesced)
async def test_a_full_disk_stops_the_run_as_failed_and_accounts_for_every_component(tmp_path, monkeypatch, writes):
    seen: list[dict] = []
    record_loop_errors(seen)
    full_disk_after(monkeypatch, writes)
    cat = chain_catalog()
    engine, rec = make_engine(cat, {c.id: stepper for c in cat}, journal=Journal(tmp_path / "journal.json"))
    result = await asyncio.wait_for(engine.run(), 10)
    gc.collect()
    await asyncio.sleep(0)
    assert not result.ok
    assert result.error is not None and "no space" in result.error, result
    assert str(tmp_path) in result.error  # where
    accounted(result, [c.id for c in cat])
    assert not seen, seen  # no "Task exception was never retrieved"
    # The run stopped: nothing started after the journal failed -- whatever started is on disk.
    started = [e.component for e in rec.of(ComponentStarted)]
    path = tmp_path / "journal.json"
    assert set(started) <= (set(Journal.open(path).components) if path.exists() else set())


async def test_the_invariant_holds_on_success_failure_and_cancel():
    cat = chain_catalog()

    async def ok(steps):
        pass

    async def fail(steps):
        raise RuntimeError("no")

    engine, _ = make_engine(cat, {c.id: ok for c in cat})
    result = await engine.run()
    assert result.ok and result.not_run == ()
    accounted(result, [c.id for c in cat])

    engine, _ = make_engine(cat, {"a": fail, "b": ok, "c": ok, "d": ok, "e": ok})
    result = await engine.run()
    assert not result.ok
    accounted(result, [c.id for c in cat])

    started = asyncio.Event()

    async def forever(steps):
        started.set()
        await asyncio.sleep(3600)

    engine, _ = make_engine(cat, {c.id: forever for c in cat}, concurrency=1)
    task = asyncio.create_task(engine.run())
    await started.wait()
    engine.cancel()
    result = await asyncio.wait_for(task, 5)
    assert result.cancelled and not result.ok
    assert len(result.not_run) == 5
    accounted(result, [c.id for c in cat])


async def test_an_exception_escaping_a_task_ends_the_run_as_failed():
    """A subscriber (or any engine code) that raises is not lost in a task nobody awaits."""
    seen: list[dict] = []
    record_loop_errors(seen)
    cat = chain_catalog()

    async def ok(steps):
        pass

    engine, _ = make_engine(cat, {c.id: ok for c in cat}, concurrency=1)

    def explode(event):
        if isinstance(event, ComponentStarted) and event.component == "d":
            raise RuntimeError("a subscriber broke")

    engine._bus.subscribe(explode)
    result = await asyncio.wait_for(engine.run(), 5)
    gc.collect()
    await asyncio.sleep(0)
    assert not result.ok and "a subscriber broke" in (result.error or "")
    assert "d" in result.failed
    accounted(result, [c.id for c in cat])
    assert not seen, seen


async def test_a_cancelled_caller_stops_the_installers_before_it_returns():
    """Ctrl-C cancels the caller of run(): the installers are cancelled and awaited first, so
    none of them sees its connection closed under it and retries."""
    cat = catalog(comp("a"))
    cancelled = asyncio.Event()
    started = asyncio.Event()

    async def forever(steps):
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    engine, _ = make_engine(cat, {"a": forever})
    task = asyncio.create_task(engine.run())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled.is_set() and engine.state["a"] == "cancelled"


async def test_a_step_failing_after_cancel_is_not_retried():
    """On Ctrl-C the log must not say "connection dropped ... trying again" before "interrupted"."""

    class Dropped(Exception):
        pass

    attempts: list[int] = []
    engine = None

    async def installer(steps):
        async def action():
            attempts.append(1)
            engine.cancel()  # the operator interrupts while the connection drops
            raise Dropped("connection dropped")

        await steps.step("s", action)

    engine, rec = make_engine(catalog(comp("a")), {"a": installer}, transient_errors=(Dropped,), retry_delay_s=0.01)
    result = await asyncio.wait_for(engine.run(), 5)
    logged = [line for batch in rec.of(LogLines) for line in batch.lines]
    assert not any("trying again" in line for line in logged), logged
    assert attempts == [1]
    assert result.cancelled and result.not_run == ("a",)


def test_a_journal_write_error_names_the_file_and_says_no_space(tmp_path, monkeypatch):
    full_disk_after(monkeypatch, 0)
    journal = Journal(tmp_path / "journal.json")
    with pytest.raises(JournalWriteError, match=r"no space on .*journal\.json"):
        journal.started("a", {})


async def test_the_clusters_copy_of_the_journal_never_dies_unseen():
    """The ConfigMap writer is a task too: whatever it hits is a warning, not a lost exception."""
    from thinkube_tui.cluster_state import CLUSTER_READY, ClusterMirror
    from thinkube_tui.events import ComponentDone

    seen: list[dict] = []
    record_loop_errors(seen)
    journal = Journal(None)
    journal.started(CLUSTER_READY, {})
    journal.finished(CLUSTER_READY)
    warnings: list[str] = []

    async def broken_kube():
        raise RuntimeError("the API client broke")

    mirror = ClusterMirror(journal, broken_kube, warnings.append)
    mirror(ComponentDone("a"))

    async def warned():
        while not warnings:
            await asyncio.sleep(0)

    await asyncio.wait_for(warned(), 10)  # a bound for the failing case, not a wait
    await mirror.close()
    gc.collect()
    await asyncio.sleep(0)
    assert "the API client broke" in warnings[0] and not seen


async def test_a_bug_in_the_scheduling_itself_ends_the_run_as_failed(monkeypatch):
    cat = chain_catalog()

    async def ok(steps):
        pass

    engine, _ = make_engine(cat, {c.id: ok for c in cat})
    calls = {"n": 0}
    real = engine._start_ready

    def broken():
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyError("scheduler bug")
        real()

    monkeypatch.setattr(engine, "_start_ready", broken)
    result = await asyncio.wait_for(engine.run(), 5)
    assert not result.ok and "internal error: KeyError" in (result.error or "")
    accounted(result, [c.id for c in cat])


async def test_the_clusters_copy_is_written_whole_when_closed_during_a_write():
    """close() while the writer is in the middle of a write (nothing looks pending): that write is
    cut off, so close writes the journal as it is now (a re-install's copy stayed stale)."""
    from thinkube_tui.cluster_state import CLUSTER_READY, ClusterMirror
    from thinkube_tui.events import ComponentDone

    journal = Journal(None)
    journal.started(CLUSTER_READY, {})
    journal.finished(CLUSTER_READY)
    written: list[dict] = []
    in_write = asyncio.Event()
    calls = 0

    class Kube:
        async def apply(self, obj, **_):
            nonlocal calls
            if obj["kind"] == "ConfigMap":
                calls += 1
                in_write.set()
                if calls == 1:
                    await asyncio.Event().wait()  # the writer's write hangs until close cuts it off
                written.append(obj)
            return obj

    async def kube():
        return Kube()

    mirror = ClusterMirror(journal, kube, lambda _w: None)
    mirror(ComponentDone("a"))
    await asyncio.wait_for(in_write.wait(), 10)  # a bound for the failing case, not a wait
    journal.started("a", {})
    journal.finished("a")
    await mirror.close()
    assert written and '"a"' in written[-1]["data"]["journal.json"]
