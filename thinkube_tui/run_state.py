"""A face's picture of a run, kept from the event stream: each component's state (the engine's
vocabulary, `events.State`), when it started and how long it took, how the run ended.

The wizard's Install screen and graph read the same `states` dict; nothing else keeps a
copy. The engine's own `state` stays the truth inside the engine; this is what the events
said, which is all a face may know.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from .events import (
    SETTLED,
    ComponentBlocked,
    ComponentDone,
    ComponentFailed,
    ComponentRetried,
    ComponentSkipped,
    ComponentStarted,
    ComponentUnblocked,
    Event,
    RunFinished,
    State,
)
from .plan import Plan


class RunState:
    def __init__(
        self, plan: Plan, installed: Iterable[str] = frozenset(), clock: Callable[[], float] = time.monotonic
    ) -> None:
        """`installed`: components installed before this run (besides `plan.installed`)."""
        self.plan = plan
        self.before = sorted(set(installed) | set(plan.installed))
        self.states: dict[str, State] = {cid: "installed" for cid in self.before}
        self.states.update({p.id: "waiting" for p in plan.items})
        self.started_at: dict[str, float] = {}  # by `clock`
        self.durations: dict[str, float] = {}
        self.finished: RunFinished | None = None
        self._clock = clock

    def apply(self, event: Event) -> State | None:
        """Take one event; returns the component's new state when it changed."""
        cid = event.component
        new: State | None = None
        match event:
            case ComponentStarted():
                self.started_at[cid] = self._clock()
                new = "running"
            case ComponentDone():
                self.durations[cid] = self._clock() - self.started_at.get(cid, self._clock())
                new = "done"
            case ComponentFailed():
                new = "failed"
            case ComponentBlocked():
                new = "blocked"
            case ComponentRetried() | ComponentUnblocked():
                new = "waiting"
            case ComponentSkipped() if cid in self.states:
                new = "installed"
            case RunFinished():
                self.finished = event
        if new is None or self.states.get(cid) == new:
            return None
        self.states[cid] = new
        return new

    def skip(self, cid: str) -> None:
        """The operator gave up on a failed component for this run."""
        self.states[cid] = "skipped"

    def in_state(self, *states: State) -> list[str]:
        """Planned components in one of `states`, in plan order."""
        return [cid for cid in self.plan.ids if self.states.get(cid) in states]

    @property
    def settled(self) -> int:
        return sum(1 for cid in self.plan.ids if self.states.get(cid) in SETTLED)

    @property
    def unresolved_failures(self) -> list[str]:
        """The run's failures the operator has not skipped."""
        failed = self.finished.failed if self.finished is not None else ()
        return [cid for cid in failed if self.states.get(cid) != "skipped"]

    def running_for(self, now: float) -> dict[str, float]:
        return {cid: now - at for cid, at in self.started_at.items() if self.states.get(cid) == "running"}
