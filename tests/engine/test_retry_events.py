"""Retry says what it unblocks: the retried component and only what its failure blocked wait
again, as events, and a face's RunState follows them (no face resets states on its own)."""

from thinkube_tui.events import ComponentRetried, ComponentUnblocked, RunFinished
from thinkube_tui.run_state import RunState

from .test_engine import catalog, comp, make_engine


async def test_retry_publishes_what_it_unblocks_and_nothing_else():
    # a <- b <- c fails apart from x <- y: retrying a must not wake y, which x still blocks.
    cat = catalog(comp("a"), comp("b", requires=["a"]), comp("c", requires=["b"]), comp("x"), comp("y", requires=["x"]))
    broken = {"a": True}

    async def flaky(steps):
        if broken["a"]:
            raise RuntimeError("flaky")

    async def fail(steps):
        raise RuntimeError("always")

    async def ok(steps):
        pass

    engine, rec = make_engine(cat, {"a": flaky, "b": ok, "c": ok, "x": fail, "y": ok})
    run = RunState(engine.plan)
    first = await engine.run()
    for event in rec.events:
        run.apply(event)
    assert set(first.blocked) == {"b", "c", "y"}
    assert set(run.in_state("blocked")) == {"b", "c", "y"} and set(run.in_state("failed")) == {"a", "x"}
    seen = len(rec.events)

    broken["a"] = False
    second = await engine.retry("a")
    assert [e.component for e in rec.of(ComponentRetried)] == ["a"]
    assert [(e.component, e.by) for e in rec.of(ComponentUnblocked)] == [("b", "a"), ("c", "a")]
    for event in rec.events[seen:]:
        run.apply(event)
    assert set(second.done) == {"a", "b", "c"} and second.blocked == ("y",)
    assert run.states == {"a": "done", "b": "done", "c": "done", "x": "failed", "y": "blocked"}
    assert isinstance(run.finished, RunFinished) and run.settled == 5
    assert run.unresolved_failures == ["x"]
    run.skip("x")
    assert run.unresolved_failures == []


def test_run_state_times_components_on_its_clock():
    from thinkube_tui.events import ComponentDone, ComponentSkipped, ComponentStarted
    from thinkube_tui.plan import plan_for

    cat = catalog(comp("a"), comp("b"))
    now = [100.0]
    run = RunState(plan_for(cat, {"a": "selected"}), installed={"b"}, clock=lambda: now[0])
    assert run.states == {"b": "installed", "a": "waiting"}
    assert run.apply(ComponentSkipped("b")) is None  # installed before: stays so
    assert run.apply(ComponentStarted("a")) == "running"
    now[0] = 130.0
    assert run.running_for(now[0]) == {"a": 30.0}
    assert run.apply(ComponentDone("a")) == "done" and run.durations == {"a": 30.0}
