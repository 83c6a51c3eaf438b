"""The one stream of install events that the TUI, the headless printer, the journal and tests read.

Events are frozen dataclasses. The `EventBus` hands each event to every subscriber in order;
subscribers are plain callables and must be quick (a TUI posts a message, a printer prints).
Log lines go through `LineBatcher`, which gathers them and publishes one `LogLines` event
per component every `interval` seconds, so a chatty installer cannot flood subscribers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

# What a component is, in one vocabulary for the engine and every face. The engine moves a
# component through waiting, running, done, failed, blocked and cancelled; a face adds
# installed (before this run: `ComponentSkipped`) and skipped (the operator gave up on it).
State = Literal["waiting", "running", "done", "failed", "blocked", "cancelled", "installed", "skipped"]
SETTLED: frozenset[State] = frozenset({"done", "failed", "blocked", "skipped"})  # nothing more happens this run


@dataclass(frozen=True)
class Event:
    component: str
    at: float = field(default_factory=time.time, kw_only=True)


@dataclass(frozen=True)
class ComponentStarted(Event):
    attempt: int = 1


@dataclass(frozen=True)
class StepStarted(Event):
    step: str
    index: int = 0


@dataclass(frozen=True)
class StepDone(Event):
    step: str
    skipped: bool = False  # done in an earlier run, recorded in the journal


@dataclass(frozen=True)
class LogLines(Event):
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Progress(Event):
    done: int
    total: int | None = None
    message: str = ""


@dataclass(frozen=True)
class ComponentDone(Event):
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class ComponentFailed(Event):
    error: str
    step: str | None = None
    node: str | None = None
    output_tail: str = ""


@dataclass(frozen=True)
class ComponentBlocked(Event):
    blocked_by: tuple[str, ...]


@dataclass(frozen=True)
class ComponentRetried(Event):
    """A failed component waits again: it is retried as soon as a slot is free."""


@dataclass(frozen=True)
class ComponentUnblocked(Event):
    """A blocked component waits again: `by`, what it (indirectly) needs, is being retried."""

    by: str


@dataclass(frozen=True)
class ComponentSkipped(Event):
    reason: str = "already installed"


@dataclass(frozen=True)
class RunFinished(Event):
    """How a run ended. Every planned component is in exactly one of done, failed, blocked and
    not_run (never started, or stopped by a cancel or by `error`): they add up to the plan."""

    done: tuple[str, ...]
    failed: tuple[str, ...]
    blocked: tuple[str, ...]
    cancelled: bool = False
    not_run: tuple[str, ...] = ()
    error: str | None = None  # why the run stopped before its end (the journal could not be written)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.blocked or self.not_run or self.cancelled or self.error)


Subscriber = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def publish(self, event: Event) -> None:
        for subscriber in list(self._subscribers):
            subscriber(event)


class LineBatcher:
    """Collects log lines per component and publishes them in batches."""

    def __init__(self, bus: EventBus, interval: float = 0.05, max_batch: int = 2000) -> None:
        self._bus = bus
        self._interval = interval
        self._max_batch = max_batch
        self._pending: dict[str, list[str]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def add(self, component: str, line: str) -> None:
        pending = self._pending.setdefault(component, [])
        pending.append(line)
        if len(pending) >= self._max_batch:
            self._flush_one(component)
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._interval, self.flush)

    def flush(self) -> None:
        """Publish everything pending now (also called before a component's final event)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for component in list(self._pending):
            self._flush_one(component)

    def _flush_one(self, component: str) -> None:
        lines = self._pending.pop(component, None)
        if lines:
            self._bus.publish(LogLines(component, tuple(lines)))
