"""How headless mode shows install events: a Rich live view on a terminal, plain lines elsewhere,
and the full log file. Every text passes through the secrets mask before it is shown or written.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from .events import (
    ComponentBlocked,
    ComponentDone,
    ComponentFailed,
    ComponentRetried,
    ComponentSkipped,
    ComponentStarted,
    ComponentUnblocked,
    Event,
    LogLines,
    Progress,
    RunFinished,
    StepDone,
    StepStarted,
)
from .files import open_append

Mask = Callable[[str], str]


def describe(event: Event, run: str = "install") -> list[str]:
    """An event as the plain lines a person reads (without timestamp and component prefix);
    `run` names what runs (install, remove, upgrade, ...)."""
    match event:
        case ComponentStarted(attempt=attempt):
            return ["started" + (f" (attempt {attempt})" if attempt > 1 else "")]
        case StepStarted(step=step):
            return [f"step: {step}"]
        case StepDone(step=step, skipped=True):
            return [f"step done in an earlier run, skipped: {step}"]
        case StepDone():
            return []
        case LogLines(lines=lines):
            return [f"| {line}" for line in lines]
        case Progress(done=done, total=total, message=message):
            return [f"progress {done}/{total if total is not None else '?'} {message}".rstrip()]
        case ComponentDone(elapsed_s=elapsed):
            return [f"done in {elapsed:.1f} s"]
        case ComponentFailed(error=error, step=step, node=node, output_tail=tail):
            where = ", ".join(
                part for part in (f"node {node}" if node else "", f"step '{step}'" if step else "") if part
            )
            failed = [f"FAILED{f' ({where})' if where else ''}: {error}"]
            return failed + [f"  last output: {line}" for line in tail.splitlines()[-10:]]
        case ComponentBlocked(blocked_by=blockers):
            return [f"blocked: waits for {', '.join(blockers)}, which did not finish"]
        case ComponentSkipped(reason=reason):
            return [f"skipped: {reason}"]
        case ComponentRetried():
            return ["retrying: waits for a free slot"]
        case ComponentUnblocked(by=by):
            return [f"waiting again: {by} is being retried"]
        case RunFinished() as fin:
            return _finished_lines(fin, run)
    return [repr(event)]


def _finished_lines(fin: RunFinished, run: str = "install") -> list[str]:
    """The run's end: every planned component counted (done + failed + blocked + not run)."""
    if fin.cancelled:
        state = "interrupted"
    elif fin.error:
        state = "stopped"
    else:
        state = "finished" if fin.ok else "finished with failures"
    counts = f"{len(fin.done)} done, {len(fin.failed)} failed, {len(fin.blocked)} blocked, {len(fin.not_run)} not run"
    lines = [f"{run} {state}: {counts}"]  # why it stopped is on the failed component's line
    if fin.not_run:
        lines.append(f"not run: {', '.join(fin.not_run)}")
    return lines


def _stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PlainPrinter:
    """One timestamped line per event line, prefixed by the component: for CI logs and pipes."""

    def __init__(self, out: IO[str], mask: Mask, run: str = "install") -> None:
        self._out = out
        self._mask = mask
        self._run = run

    def __call__(self, event: Event) -> None:
        prefix = f"{_stamp(event.at)} [{event.component}] " if event.component else f"{_stamp(event.at)} "
        for line in describe(event, self._run):
            self._out.write(self._mask(prefix + line) + "\n")
        self._out.flush()


class LogFile:
    """The full install log, mode 0600, every line masked."""

    def __init__(self, path: Path, mask: Mask, run: str = "install") -> None:
        self.path = path
        self._mask = mask
        self.error: OSError | None = None  # why the log stopped being written, if it did
        self._file: IO[str] = io.StringIO()  # written nowhere, until the file is open
        try:
            fd = open_append(path, 0o600)  # never through a symlink planted at the log's name
            self._file = os.fdopen(fd, "a", encoding="utf-8")
        except OSError as exc:  # a full disk: the install goes on, the summary says the log is missing
            self.error = exc
        self._printer = PlainPrinter(self._file, mask, run)

    def __call__(self, event: Event) -> None:
        if self.error is None:
            try:
                self._printer(event)
            except OSError as exc:
                self._broken(exc)

    def write(self, line: str) -> None:
        """A line that is not an event (the run's header, discovery results)."""
        if self.error is None:
            try:
                self._file.write(f"{_stamp(time.time())} {self._mask(line)}\n")
                self._file.flush()
            except OSError as exc:
                self._broken(exc)

    def _broken(self, exc: OSError) -> None:
        # A full disk must not crash the install from inside an event subscriber: the log stops
        # here (`error` says why), and the journal, on the same disk, stops the run if it cannot write.
        self.error = exc
        with contextlib.suppress(OSError):
            self._file.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):  # what a full disk kept in the buffer is lost either way
            self._file.close()


class LiveView:
    """Rich live view: running components with their step and elapsed time, progress, last lines."""

    def __init__(self, total: int, mask: Mask, console: Any = None) -> None:
        from rich.console import Console
        from rich.live import Live

        self._console = console or Console()
        self._mask = mask
        self._total = total
        self._finished = 0
        self._started = time.monotonic()
        self._running: dict[str, tuple[str, float]] = {}
        self._tail: deque[str] = deque(maxlen=8)
        self._live = Live(console=self._console, refresh_per_second=8, get_renderable=self._render, transient=False)

    def __enter__(self) -> LiveView:
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.stop()

    def __call__(self, event: Event) -> None:
        name = event.component
        if isinstance(event, ComponentStarted):
            self._running[name] = ("starting", time.monotonic())
        elif isinstance(event, StepStarted) and name in self._running:
            self._running[name] = (event.step, self._running[name][1])
        elif isinstance(event, LogLines):
            self._tail.extend(self._mask(f"[{name}] {line}") for line in event.lines[-8:])
        elif isinstance(event, (ComponentDone, ComponentFailed, ComponentBlocked)):
            self._running.pop(name, None)
            self._finished += 1
            for line in describe(event)[:1]:
                self._console.print(self._mask(f"[{name}] {line}"), markup=False, highlight=False)

    def _render(self) -> Any:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        now = time.monotonic()
        table = Table.grid(padding=(0, 2))
        for name, (step, since) in sorted(self._running.items()):
            table.add_row(Text(name, style="cyan"), Text(step), Text(f"{now - since:5.0f} s", style="dim"))
        elapsed = now - self._started
        bar = ProgressBar(total=max(self._total, 1), completed=self._finished, width=40)
        head = Text(f"{self._finished}/{self._total} components   {elapsed // 60:.0f}:{elapsed % 60:02.0f} elapsed")
        tail = Text("\n".join(self._tail), style="dim")
        return Group(table, bar, head, tail)
