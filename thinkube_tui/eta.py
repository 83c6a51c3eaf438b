"""How long an install still needs: the catalog's estimates, corrected by how fast it really goes.

The estimate of what is left is the longest chain of unfinished components (each waits for
what it needs, as the scheduler does), where a running component has already used part of its
estimate. The estimates are for real clusters; `speed` scales them by what finished so far
(a lab, a fast network), so the figure converges as the install proceeds.
"""

from __future__ import annotations

from collections.abc import Mapping

from .plan import Plan

UNFINISHED = ("waiting", "running")  # failed and blocked wait for the operator, not the clock


def observed_speed(plan: Plan, durations: Mapping[str, float]) -> float:
    """Actual time over estimated time for the components that finished (1.0 before any did)."""
    estimated = sum(plan[cid].estimate_s for cid in durations if cid in plan)
    actual = sum(seconds for cid, seconds in durations.items() if cid in plan)
    if estimated <= 0 or actual <= 0:
        return 1.0
    return actual / estimated


def remaining_s(
    plan: Plan,
    states: Mapping[str, str],
    running_for: Mapping[str, float],
    durations: Mapping[str, float],
) -> float:
    """Seconds until everything that can still finish has finished.

    states: each component's state; running_for: seconds each running component has run;
    durations: seconds each finished component took."""
    speed = observed_speed(plan, durations)
    finish: dict[str, float] = {}
    for item in plan.items:  # topological: what it needs comes first
        if states.get(item.id, "waiting") not in UNFINISHED:
            finish[item.id] = 0.0
            continue
        own = max(item.estimate_s * speed - running_for.get(item.id, 0.0), 0.0)
        finish[item.id] = own + max((finish.get(dep, 0.0) for dep in item.deps), default=0.0)
    return max(finish.values(), default=0.0)


def describe_remaining(seconds: float) -> str:
    """`about 12 min left`, `about 40 s left`, or `finishing` — for a progress line."""
    if seconds < 1:
        return "finishing"
    if seconds < 90:
        return f"about {seconds:.0f} s left"
    return f"about {round(seconds / 60)} min left"
