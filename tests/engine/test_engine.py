"""The scheduler on fake installers: overlap, blocking, retry, resume, timeouts, log batching."""

import asyncio
import json

import pytest

from thinkube_tui.catalog import Catalog, Component, Group, Install
from thinkube_tui.engine import Engine, EngineSettings
from thinkube_tui.events import (
    ComponentBlocked,
    ComponentFailed,
    ComponentSkipped,
    EventBus,
    LogLines,
    StepDone,
)
from thinkube_tui.journal import Journal
from thinkube_tui.plan import plan_for


def comp(cid, requires=(), estimate=1.0):
    return Component(
        id=cid,
        title=cid,
        description=cid,
        group="g",
        tier="optional",
        default=False,
        namespace="ns",
        install=Install(method="manifests"),
        schema=cid,
        requires=tuple(requires),
        estimate_s=estimate,
    )


def catalog(*components):
    return Catalog(groups=(Group("g", "G"),), components=components)


class Recorder:
    def __init__(self, bus):
        self.events = []
        bus.subscribe(self.events.append)

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]


def make_engine(cat, installers, journal=None, installed=frozenset(), **settings):
    plan = plan_for(cat, {c.id: "selected" for c in cat if c.id not in installed}, installed=installed)
    bus = EventBus()
    rec = Recorder(bus)
    engine = Engine(
        plan,
        installers,
        configs={c.id: {} for c in cat},
        journal=journal or Journal(None),
        bus=bus,
        settings=EngineSettings(**settings),
    )
    return engine, rec


async def test_independent_components_overlap_and_dependents_wait():
    cat = catalog(comp("a"), comp("b"), comp("c", requires=["a", "b"]))
    running: set[str] = set()
    both_running = asyncio.Event()
    release = asyncio.Event()
    seen_by_c: list[set[str]] = []

    async def slow(steps):
        running.add(steps.component)
        if {"a", "b"} <= running:
            both_running.set()
        await release.wait()
        running.discard(steps.component)

    async def last(steps):
        seen_by_c.append(set(running))

    engine, _ = make_engine(cat, {"a": slow, "b": slow, "c": last})
    task = asyncio.create_task(engine.run())
    await asyncio.wait_for(both_running.wait(), 5)  # a and b run at the same time
    assert engine.state["c"] == "waiting"
    release.set()
    result = await asyncio.wait_for(task, 5)
    assert result.ok and seen_by_c == [set()]


async def test_failure_blocks_only_dependents():
    cat = catalog(comp("a"), comp("b", requires=["a"]), comp("c", requires=["b"]), comp("d"))

    async def fail(steps):
        raise RuntimeError("disk full")

    async def ok(steps):
        pass

    engine, rec = make_engine(cat, {"a": fail, "b": ok, "c": ok, "d": ok})
    result = await engine.run()
    assert result.failed == ("a",) and set(result.blocked) == {"b", "c"} and result.done == ("d",)
    (failed,) = rec.of(ComponentFailed)
    assert failed.error == "RuntimeError: disk full"
    assert [(e.component, e.blocked_by) for e in rec.of(ComponentBlocked)] == [("b", ("a",)), ("c", ("b",))]


async def test_missing_installer_fails_loudly_as_not_implemented():
    engine, rec = make_engine(catalog(comp("a")), {})
    result = await engine.run()
    assert result.failed == ("a",) and "not implemented" in rec.of(ComponentFailed)[0].error


async def test_retry_resumes_after_the_last_finished_step(tmp_path):
    journal = Journal(tmp_path / "journal.json")
    cat = catalog(comp("a"), comp("b", requires=["a"]))
    calls: list[str] = []
    broken = {"yes": True}

    async def a(steps):
        async def one():
            calls.append("one")

        async def two():
            calls.append("two")
            if broken["yes"]:
                raise RuntimeError("flaky")

        await steps.step("one", one)
        await steps.step("two", two)

    async def b(steps):
        calls.append("b")

    engine, rec = make_engine(cat, {"a": a, "b": b}, journal=journal)
    first = await engine.run()
    assert first.failed == ("a",) and first.blocked == ("b",)
    broken["yes"] = False
    second = await engine.retry("a")
    assert second.ok
    assert calls == ["one", "two", "two", "b"]  # step one was not repeated
    assert [e.step for e in rec.of(StepDone) if e.skipped] == ["one"]
    data = json.loads((tmp_path / "journal.json").read_text())
    assert data["components"]["a"]["status"] == "done" and data["components"]["a"]["attempts"] == 2
    assert (tmp_path / "journal.json").stat().st_mode & 0o777 == 0o600


async def test_resume_from_journal_skips_done_components_and_steps(tmp_path):
    path = tmp_path / "journal.json"
    cat = catalog(comp("a"), comp("b", requires=["a"]))
    calls: list[str] = []

    async def a(steps):
        calls.append("a")

    async def b(steps):
        async def first():
            calls.append("b1")

        async def second():
            calls.append("b2")

        await steps.step("first", first)
        await steps.step("second", second)

    # A previous run finished a and b's first step, then died.
    old = Journal(path)
    old.started("a", {})
    old.finished("a")
    old.started("b", {})
    old.step_finished("b", "first")

    journal = Journal.open(path)
    engine, rec = make_engine(cat, {"a": a, "b": b}, journal=journal, installed=journal.installed)
    result = await engine.run()
    assert result.ok and calls == ["b2"]
    assert [e.component for e in rec.of(ComponentSkipped)] == ["a"]


async def test_steps_done_for_another_version_are_done_again(tmp_path):
    """A run cut off while installing `a` at 1.0 (its chart step done), resumed by a release that
    pins 2.0: the chart step runs again, or the journal would record 2.0 for a cluster at 1.0."""
    path = tmp_path / "journal.json"
    cat = catalog(comp("a"))
    calls: list[str] = []

    async def a(steps):
        async def chart():
            calls.append("chart")

        await steps.step("chart", chart)

    old = Journal(path)
    old.started("a", {}, "a 1.0")
    old.step_finished("a", "chart")

    journal = Journal.open(path)
    plan = plan_for(cat, {"a": "upgrade"})
    engine = Engine(plan, {"a": a}, configs={"a": {}}, journal=journal, bus=EventBus(), versions={"a": "a 2.0"})
    assert (await engine.run()).ok and calls == ["chart"]
    assert Journal.open(path).components["a"].version == "a 2.0"

    same = Journal(tmp_path / "same.json")  # resumed at the same version: the step is not redone
    same.started("a", {}, "a 2.0")
    same.step_finished("a", "chart")
    engine = Engine(plan, {"a": a}, configs={"a": {}}, journal=same, bus=EventBus(), versions={"a": "a 2.0"})
    assert (await engine.run()).ok and calls == ["chart"]


async def test_step_and_component_timeouts():
    cat = catalog(comp("a"), comp("b"))

    async def hangs_in_step(steps):
        await steps.step("hang", lambda: asyncio.sleep(30), timeout=0.05)

    async def hangs(steps):
        await asyncio.sleep(30)

    engine, rec = make_engine(cat, {"a": hangs_in_step, "b": hangs}, component_timeout_s=0.1)
    result = await asyncio.wait_for(engine.run(), 5)
    errors = {e.component: e for e in rec.of(ComponentFailed)}
    assert set(result.failed) == {"a", "b"}
    assert "step 'hang' did not finish within 0.05 s" in errors["a"].error and errors["a"].step == "hang"
    assert "did not finish within 0.1 s" in errors["b"].error


async def test_concurrency_is_bounded():
    cat = catalog(*(comp(f"c{i}") for i in range(6)))
    now = 0
    peak = 0

    async def work(steps):
        nonlocal now, peak
        now += 1
        peak = max(peak, now)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        now -= 1

    engine, _ = make_engine(cat, {f"c{i}": work for i in range(6)}, concurrency=2)
    assert (await engine.run()).ok and peak == 2


async def test_log_lines_are_batched():
    async def chatty(steps):
        for i in range(10_000):
            steps.log(f"line {i}")
            if i % 1000 == 0:
                await asyncio.sleep(0)

    engine, rec = make_engine(catalog(comp("a")), {"a": chatty}, log_interval_s=0.05)
    await engine.run()
    batches = rec.of(LogLines)
    assert sum(len(b.lines) for b in batches) == 10_000
    assert len(batches) <= 10  # not one event per line
    assert batches[-1].lines[-1] == "line 9999"


async def test_cancel_stops_running_installers():
    started = asyncio.Event()

    async def forever(steps):
        started.set()
        await asyncio.sleep(3600)

    engine, _ = make_engine(catalog(comp("a"), comp("b", requires=["a"])), {"a": forever, "b": forever})
    task = asyncio.create_task(engine.run())
    await started.wait()
    engine.cancel()
    result = await asyncio.wait_for(task, 5)
    assert result.cancelled and engine.state == {"a": "cancelled", "b": "waiting"}


def test_damaged_journal_is_reported_with_what_to_do(tmp_path):
    from thinkube_tui.journal import JournalError

    path = tmp_path / "journal.json"
    path.write_text("{not json")
    with pytest.raises(JournalError, match="damaged .* Move it aside"):
        Journal.open(path)


class Flaky(Exception):
    pass


async def test_transient_errors_retry_the_step_with_backoff():
    calls: list[int] = []

    async def installer(steps):
        async def once():
            calls.append(1)
            if len(calls) < 3:
                raise Flaky("connection dropped")

        await steps.step("fetch", once)

    engine, rec = make_engine(catalog(comp("a")), {"a": installer}, transient_errors=(Flaky,), retry_delay_s=0.01)
    assert (await engine.run()).ok and len(calls) == 3
    logged = [line for batch in rec.of(LogLines) for line in batch.lines]
    assert any("trying again in 0.01 s (attempt 2 of 3)" in line for line in logged)


async def test_a_failure_names_its_own_step_when_steps_run_side_by_side():
    async def installer(steps):
        async def slow():
            await asyncio.sleep(0.05)

        async def broken():
            raise RuntimeError("no")

        await asyncio.gather(steps.step("node-1: slow", slow), steps.step("node-2: broken", broken))

    engine, rec = make_engine(catalog(comp("a")), {"a": installer})
    await engine.run()
    assert rec.of(ComponentFailed)[0].step == "node-2: broken"


async def test_retry_during_a_run_starts_the_failed_component_at_once():
    # "a" fails while "slow" is still running: the retry must not wait for "slow".
    release_slow = asyncio.Event()
    attempts = {"a": 0}

    async def fails_once(steps):
        attempts["a"] += 1
        if attempts["a"] == 1:
            raise RuntimeError("first try fails")

    async def slow(steps):
        await release_slow.wait()

    async def quick(steps):
        pass

    engine, _ = make_engine(
        catalog(comp("a"), comp("b", requires=["a"]), comp("slow")),
        {"a": fails_once, "b": quick, "slow": slow},
    )
    run = asyncio.create_task(engine.run())
    while engine.state["a"] != "failed":
        await asyncio.sleep(0)
    assert engine.state["b"] == "blocked" and engine.running
    retry = asyncio.create_task(engine.retry("a"))
    while engine.state["b"] != "done":
        await asyncio.sleep(0)
    assert engine.state["slow"] == "running"  # a and b went through while slow still runs
    release_slow.set()
    first, second = await asyncio.gather(run, retry)
    assert first == second and set(first.done) == {"a", "b", "slow"} and not first.failed
    assert not engine.running
