"""Time left: the longest chain of unfinished estimates, scaled by how fast things really went."""

from thinkube_tui.catalog import Catalog, Component, Group, Install
from thinkube_tui.eta import describe_remaining, observed_speed, remaining_s
from thinkube_tui.plan import plan_for


def comp(cid, requires=(), estimate=100.0):
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


def plan():
    cat = Catalog(
        groups=(Group("g", "G"),),
        components=(comp("a"), comp("b", ["a"], 200.0), comp("c", ["a"], 50.0), comp("d", ["b"], 100.0)),
    )
    return plan_for(cat, {c.id: "selected" for c in cat})


def test_nothing_finished_is_the_critical_path():
    assert remaining_s(plan(), {}, {}, {}) == 400.0  # a, b, d


def test_running_time_counts_and_finished_parts_drop_out():
    states = {"a": "done", "b": "running", "c": "waiting", "d": "waiting"}
    assert remaining_s(plan(), states, {"b": 150.0}, {}) == 150.0  # 50 left of b, then d


def test_the_observed_speed_scales_the_estimates():
    durations = {"a": 10.0}  # estimated 100: things go ten times faster here
    assert observed_speed(plan(), durations) == 0.1
    states = {"a": "done"}
    assert remaining_s(plan(), states, {}, durations) == 30.0  # (200 + 100) / 10


def test_failed_and_blocked_do_not_count():
    states = {"a": "done", "b": "failed", "d": "blocked", "c": "waiting"}
    assert remaining_s(plan(), states, {}, {}) == 50.0


def test_descriptions():
    assert describe_remaining(0.4) == "finishing"
    assert describe_remaining(40) == "about 40 s left"
    assert describe_remaining(12 * 60 + 10) == "about 12 min left"
