"""The scheduler: runs installer coroutines along the plan's dependency graph.

A component starts as soon as everything it depends on is done — not wave by wave — with at
most `concurrency` running at once; among those ready, the one heading the longest remaining
chain goes first. A failure blocks only what depends on it; the rest goes on. A failed
component can be retried alone, and resumes after its last finished step.

What the engine cannot vouch for stops the run: a journal write that failed (the journal is
the truth: a step it could not record did not happen as far as a resume knows), or any
exception escaping a task it started. Then nothing new starts, what runs is cancelled, and the
final event names what was not done: done + failed + blocked + not run = planned, always.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .events import (
    ComponentBlocked,
    ComponentDone,
    ComponentFailed,
    ComponentRetried,
    ComponentSkipped,
    ComponentStarted,
    ComponentUnblocked,
    EventBus,
    LineBatcher,
    Progress,
    RunFinished,
    State,
    StepDone,
    StepStarted,
)
from .journal import Journal, JournalError
from .plan import Plan

T = TypeVar("T")


class InstallError(Exception):
    """An installer failed in a way it can explain: where, and the output that shows why."""

    def __init__(self, message: str, *, node: str | None = None, output_tail: str = "") -> None:
        super().__init__(message)
        self.node = node
        self.output_tail = output_tail


class NotImplementedInstaller(InstallError):
    pass


class StepTimeout(InstallError):
    pass


class Steps:
    """What the engine gives an installer for one component: named, journaled steps and a log."""

    def __init__(
        self,
        component: str,
        config: Any,
        journal: Journal,
        bus: EventBus,
        batcher: LineBatcher,
        settings: EngineSettings,
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self.component = component
        self.config = config
        self._journal = journal
        self._bus = bus
        self._batcher = batcher
        self._settings = settings
        self._stopping = stopping  # true once the run is cancelled or stopped: no more retries
        self._index = 0

    def log(self, line: str) -> None:
        self._batcher.add(self.component, line)

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        self._bus.publish(Progress(self.component, done, total, message))

    async def step(self, name: str, action: Callable[[], Awaitable[T]], *, timeout: float | None = None) -> T | None:
        """Run `action` as the step `name` unless an earlier run finished it; record it when done.

        A step's result is not journaled, so a step whose result later steps need must be cheap
        to repeat: make it a plain call, not a step.
        """
        self._index += 1
        if self._journal.step_done(self.component, name):
            self._bus.publish(StepDone(self.component, name, skipped=True))
            return None
        self._bus.publish(StepStarted(self.component, name, self._index))
        limit = timeout or self._settings.step_timeout_s
        attempt = 1
        while True:
            try:
                async with asyncio.timeout(limit):
                    result = await action()
                break
            except TimeoutError:
                raise _in_step(StepTimeout(f"step '{name}' did not finish within {limit:g} s"), name) from None
            except self._settings.transient_errors as exc:
                # Steps check before they act, so running one again is safe; a dropped
                # connection or a node that is briefly away is worth another try -- unless the
                # run is being stopped (Ctrl-C closes connections: that is no reason to retry).
                if attempt >= self._settings.step_attempts or self._stopping():
                    _in_step(exc, name)
                    raise
                delay = self._settings.retry_delay_s * 2 ** (attempt - 1)
                self.log(
                    f"step '{name}': {exc}; trying again in {delay:g} s "
                    f"(attempt {attempt + 1} of {self._settings.step_attempts})"
                )
                await asyncio.sleep(delay)
                attempt += 1
            except Exception as exc:
                _in_step(exc, name)
                raise
        await self._journal.astep_finished(self.component, name)  # on disk before the next step
        self._bus.publish(StepDone(self.component, name))
        return result


def _in_step(exc: BaseException, name: str) -> BaseException:
    """Remember in which step `exc` happened (steps of one component may run side by side)."""
    if not hasattr(exc, "thinkube_step"):
        exc.thinkube_step = name  # type: ignore[attr-defined]
    return exc


Installer = Callable[[Any], Awaitable[None]]
ContextFactory = Callable[[Steps], Any]


@dataclass(frozen=True)
class EngineSettings:
    concurrency: int = 4
    component_timeout_s: float = 3600.0
    step_timeout_s: float = 1800.0
    log_interval_s: float = 0.05
    # Errors after which a step is tried again (the transport's "connection lost" and the like).
    transient_errors: tuple[type[Exception], ...] = ()
    step_attempts: int = 3
    retry_delay_s: float = 2.0


class Engine:
    def __init__(
        self,
        plan: Plan,
        installers: Mapping[str, Installer],
        *,
        configs: Mapping[str, Any],
        journal: Journal,
        bus: EventBus,
        make_context: ContextFactory = lambda steps: steps,
        settings: EngineSettings = EngineSettings(),
        versions: Mapping[str, str] | None = None,
        nodes: Sequence[str] = (),
    ) -> None:
        self.plan = plan
        self._nodes = list(nodes)  # the cluster's nodes, recorded with each component (journal)
        self._installers = installers
        self._configs = configs
        self._versions = versions or {}  # what each is installed at, for the journal
        self._journal = journal
        self._bus = bus
        self._make_context = make_context
        self._settings = settings
        self._batcher = LineBatcher(bus, settings.log_interval_s)
        self.state: dict[str, State] = {cid: "waiting" for cid in plan.ids}
        self._dependents: dict[str, list[str]] = {cid: [] for cid in plan.ids}
        for item in plan.items:
            for dep in item.deps:
                self._dependents[dep].append(item.id)
        self._priority = self._remaining_chain()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._cancelled = False
        self._active: asyncio.Future[RunFinished] | None = None  # the run in progress, if any
        self._wake = asyncio.Event()  # set when a retry adds work to the run in progress
        self._error: str | None = None  # why the run stopped early, if it did

    def _remaining_chain(self) -> dict[str, float]:
        """Longest estimated time from a component's start to the end of the plan."""
        chain: dict[str, float] = {}
        for item in reversed(self.plan.items):
            chain[item.id] = item.estimate_s + max((chain[d] for d in self._dependents[item.id]), default=0.0)
        return chain

    # ------------------------------------------------------------ public

    async def run(self) -> RunFinished:
        """Run every waiting component; returns when nothing more can start."""
        if self._active is not None:  # one run at a time: a second caller gets its result
            return await asyncio.shield(self._active)
        active = self._active = asyncio.get_running_loop().create_future()
        self._cancelled = False
        self._error = None
        for cid in sorted(self.plan.installed):
            self._bus.publish(ComponentSkipped(cid))
        try:
            await self._schedule()
        except asyncio.CancelledError:
            # Our caller was cancelled (Ctrl-C through asyncio.run): stop the installers and wait
            # for them first, so that none of them sees its connection closed under it.
            self.cancel()
            await self._drain()
            self._active = None
            active.cancel()
            self._bus.publish(self._result())  # the log still says how the run ended
            raise
        except Exception as exc:  # a bug in the scheduling itself: the run stops, as failed
            self._error = self._error or f"internal error: {type(exc).__name__}: {exc}"
            self._cancel_running()
            await self._drain()
        result = self._result()
        self._active = None
        active.set_result(result)
        self._bus.publish(result)
        return result

    def _result(self) -> RunFinished:
        self._batcher.flush()
        return RunFinished(
            component="",
            done=self._in("done"),
            failed=self._in("failed"),
            blocked=self._in("blocked"),
            cancelled=self._cancelled,
            not_run=self._in("waiting", "cancelled", "running"),
            error=self._error,
        )

    async def _schedule(self) -> None:
        """Start what is ready and collect what finishes, until nothing runs (a retry wakes it)."""
        while True:
            self._start_ready()
            if not self._running:
                return
            self._wake.clear()
            woken = asyncio.ensure_future(self._wake.wait())
            try:
                finished, _ = await asyncio.wait([*self._running.values(), woken], return_when=asyncio.FIRST_COMPLETED)
            finally:
                woken.cancel()
            for task in finished:
                if task is not woken:
                    self._collect(task)  # type: ignore[arg-type]

    async def retry(self, component: str) -> RunFinished:
        """Run a failed component again, and then whatever its failure had blocked.

        During a run, the component starts right away (as soon as a slot is free) within that
        run, and this returns the run's result; what it blocked waits for it as usual."""
        if self.state.get(component) != "failed":
            raise ValueError(f"{component} has not failed (it is {self.state.get(component, 'not in the plan')})")
        self.state[component] = "waiting"
        self._bus.publish(ComponentRetried(component))
        self._unblock(component, component)
        if self._active is not None:
            self._wake.set()
            return await asyncio.shield(self._active)
        return await self.run()

    @property
    def running(self) -> bool:
        """A run is in progress (retries join it)."""
        return self._active is not None

    def cancel(self) -> None:
        """Stop running installers; their journal keeps the steps that finished."""
        self._cancelled = True
        self._cancel_running()

    def _cancel_running(self) -> None:
        for task in self._running.values():
            task.cancel()

    async def _drain(self) -> None:
        while self._running:
            finished, _ = await asyncio.wait(self._running.values())
            for task in finished:
                self._collect(task)

    def _collect(self, task: asyncio.Task[None]) -> None:
        """A finished task: its exception, if any, stops the run (it is never left unretrieved)."""
        cid = task.get_name()
        self._running.pop(cid, None)
        if task.cancelled():
            if self.state[cid] == "running":
                self.state[cid] = "cancelled"
        elif (exc := task.exception()) is not None:
            self._stop(cid, exc)
        if self._journal.write_error is not None and self._error is None:
            self._stop(cid, self._journal.write_error)  # raised in a step and swallowed by an installer

    def _stop(self, cid: str, exc: BaseException) -> None:
        """Something the engine cannot vouch for happened while running `cid`: stop the run."""
        message = str(exc) if isinstance(exc, JournalError) else f"internal error: {type(exc).__name__}: {exc}"
        if self._error is None:
            self._error = message
        if self.state[cid] == "running":
            self.state[cid] = "failed"
            with contextlib.suppress(Exception):  # the subscriber that raised may raise again
                self._bus.publish(ComponentFailed(cid, error=f"the install stopped: {message}"))
        self._cancel_running()

    # ------------------------------------------------------------ scheduling

    def _in(self, *states: State) -> tuple[str, ...]:
        return tuple(cid for cid in self.plan.ids if self.state[cid] in states)

    def _ready(self) -> list[str]:
        ready = [
            item.id
            for item in self.plan.items
            if self.state[item.id] == "waiting" and all(self.state[d] == "done" for d in item.deps)
        ]
        return sorted(ready, key=lambda cid: -self._priority[cid])

    def _start_ready(self) -> None:
        if self._cancelled or self._error is not None:
            return
        for cid in self._ready():
            if len(self._running) >= self._settings.concurrency:
                return
            self.state[cid] = "running"
            self._running[cid] = asyncio.create_task(self._run_one(cid), name=cid)

    async def _run_one(self, cid: str) -> None:
        try:
            await self._install(cid)
        except asyncio.CancelledError:
            self.state[cid] = "cancelled"
            self._batcher.flush()
            raise

    async def _install(self, cid: str) -> None:
        """Run one component. Installer failures become events; journal failures escape (see `_collect`)."""
        steps = Steps(
            cid,
            self._configs.get(cid),
            self._journal,
            self._bus,
            self._batcher,
            self._settings,
            stopping=lambda: self._cancelled or self._error is not None,
        )
        attempt = self._journal.components[cid].attempts + 1 if cid in self._journal.components else 1
        await self._journal.astarted(cid, self._configs.get(cid), self._versions.get(cid), self._nodes or None)
        self._bus.publish(ComponentStarted(cid, attempt=attempt))
        began = time.monotonic()
        try:
            installer = self._installers.get(cid)
            if installer is None:
                raise NotImplementedInstaller(
                    "not implemented: thinkube-tui has no installer for this component yet; "
                    "switch it off in the answers file or wait for a release that has one"
                )
            async with asyncio.timeout(self._settings.component_timeout_s):
                await installer(self._make_context(steps))
        except JournalError:
            raise  # a step could not be recorded: the run stops
        except Exception as exc:  # every failure becomes an event; the rest of the graph goes on
            if self._cancelled:  # a connection closed by the cancel, not a failure of the component
                self.state[cid] = "cancelled"
                self._batcher.flush()
                return
            await self._fail(cid, steps, exc, time.monotonic() - began)
            return
        self._batcher.flush()
        await self._journal.afinished(cid)
        self.state[cid] = "done"
        self._bus.publish(ComponentDone(cid, elapsed_s=time.monotonic() - began))

    async def _fail(self, cid: str, steps: Steps, exc: Exception, elapsed: float) -> None:
        if isinstance(exc, TimeoutError):
            message = f"did not finish within {self._settings.component_timeout_s:g} s"
        elif isinstance(exc, InstallError):
            message = str(exc)
        else:
            message = f"{type(exc).__name__}: {exc}"
        node = getattr(exc, "node", None)
        tail = getattr(exc, "output_tail", "")
        self._batcher.flush()
        try:
            await self._journal.afailed_with(cid, message)
        except JournalError as journal_error:
            self._stop(cid, journal_error)
        self.state[cid] = "failed"
        step = getattr(exc, "thinkube_step", None)
        self._bus.publish(ComponentFailed(cid, error=message, step=step, node=node, output_tail=tail))
        self._block_dependents(cid)

    def _block_dependents(self, cid: str) -> None:
        for dependent in self._dependents[cid]:
            if self.state[dependent] == "waiting":
                self.state[dependent] = "blocked"
                blockers = tuple(d for d in self.plan[dependent].deps if self.state[d] in ("failed", "blocked"))
                self._bus.publish(ComponentBlocked(dependent, blocked_by=blockers))
                self._block_dependents(dependent)

    def _unblock(self, cid: str, retried: str) -> None:
        """What `cid` blocked waits again, unless something else it needs is still failed or
        blocked; each one published, so that a face shows exactly these as waiting."""
        for dependent in self._dependents[cid]:
            if self.state[dependent] == "blocked" and not any(
                self.state[d] in ("failed", "blocked") for d in self.plan[dependent].deps
            ):
                self.state[dependent] = "waiting"
                self._bus.publish(ComponentUnblocked(dependent, by=retried))
                self._unblock(dependent, retried)
