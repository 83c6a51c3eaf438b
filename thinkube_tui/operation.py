"""Day-two operations through the install's own machinery: the cluster's lock, the engine and
its events, a journal, the printer and the log (docs/day-two.md). `remove` and `reset` are
built on it.

An operation is a Plan (which components, in which order) and a coroutine per component. It
keeps a journal of its own, `<state dir>/<name>.journal.json`: a run cut off (kill -9, a node
lost) and started again skips the steps it finished; the file goes once the operation has
finished whole. After each component, `after` tells the install's journal (and the cluster's
copy of it) what happened, so that what the journal says is always what the cluster holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from .engine import Installer
    from .events import Event, RunFinished
    from .installers.base import Cluster, InstallContext
    from .phases import Session
    from .plan import Plan

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
After = Callable[["Cluster", str], Awaitable[None]]


@dataclass(frozen=True)
class Operation:
    name: str  # "remove", "reset": the journal's and the log's name
    plan: Plan
    units: Mapping[str, Installer]  # component id -> what is done to it
    purge: bool = False  # data goes too (volume claims, databases)
    staying: frozenset[str] = frozenset()  # installed components that stay
    after: After | None = None  # once a component's unit finished, before the next one that waits for it

    @property
    def verb(self) -> str:
        return {"remove": "removed", "reset": "reset"}.get(self.name, "done")


def journal_path(state_dir: Path, name: str) -> Path:
    return state_dir / f"{name}.journal.json"


def take_up(state_dir: Path, name: str) -> frozenset[str]:
    """The components an earlier run of this operation started and did not finish: what a run
    started again must take up even where the install's journal no longer lists them. A journal
    whose components all finished (the run was cut off before removing it) is removed: its
    finished steps must not be skipped by the next operation of that name."""
    from .journal import Journal, JournalError

    path = journal_path(state_dir, name)
    try:
        journal = Journal.open(path)
    except JournalError:
        return frozenset()
    pending = frozenset(cid for cid, rec in journal.components.items() if rec.status != "done")
    if not pending:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return pending


def discard(state_dir: Path, name: str) -> None:
    """Nothing is left to do: an earlier run's journal (cut off after its last change was
    recorded in the install's journal) must not hand its finished steps to the next run."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(journal_path(state_dir, name))


async def run(
    operation: Operation,
    session: Session,
    cluster: Cluster,
    *,
    out: IO[str],
    json_out: bool = False,
    concurrency: int = 4,
    subscribe: Callable[[Event], None] | None = None,
) -> RunFinished:
    """Run `operation` on the connected `session` (the caller holds the cluster's lock). Events
    go to `out` as plain lines, and to the log `<state dir>/logs/<name>-<time>.log`."""
    from .engine import EngineSettings
    from .events import EventBus
    from .installers.support.vault_kv import read_refs
    from .journal import Journal
    from .phases.install import build_engine
    from .printer import LogFile, PlainPrinter
    from .ssh import ConnectionLost, ConnectTimeout, HostUnreachable

    state_dir = session.state_dir
    assert state_dir is not None
    cluster.purge, cluster.staying = operation.purge, operation.staying
    journal = Journal.open(journal_path(state_dir, operation.name))

    def unit(cid: str, body: Installer) -> Installer:
        async def run_unit(ctx: InstallContext) -> None:
            await body(ctx)
            if operation.after is not None:
                await operation.after(cluster, cid)

        return run_unit

    bus = EventBus()
    name = operation.name.replace("-", " ")
    log = LogFile(state_dir / "logs" / time.strftime(f"{operation.name}-%Y%m%d-%H%M%S.log"), cluster.secrets.mask, name)
    bus.subscribe(log)
    if not json_out:
        bus.subscribe(PlainPrinter(out, cluster.secrets.mask, name))
    if subscribe is not None:  # a face of its own (the wizard's operation screen)
        bus.subscribe(subscribe)
    # What stays installed is not this run's business: no "skipped: already installed" lines.
    session.journal, session.plan = journal, replace(operation.plan, installed=frozenset())
    settings = EngineSettings(
        concurrency=concurrency, transient_errors=(ConnectionLost, ConnectTimeout, HostUnreachable)
    )
    units = {cid: unit(cid, body) for cid, body in operation.units.items()}
    engine = build_engine(session, units, bus, settings)  # its contexts share `cluster`
    await read_refs(cluster)  # an upgrade runs installers: the answers' {vault: ...} references
    try:
        result = await engine.run()
    finally:
        log.close()
    if result.ok and not result.cancelled:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(journal_path(state_dir, operation.name))  # finished whole: nothing to take up
    if json_out:
        json.dump(result_json(operation, result, log.path), out, indent=2)
        out.write("\n")
    else:
        out.write(summary_line(operation, result, log.path) + "\n")
    out.flush()
    return result


def result_json(operation: Operation, result: RunFinished, log: Path) -> dict[str, object]:
    return {
        "operation": operation.name,
        "ok": result.ok,
        "done": list(result.done),
        "failed": list(result.failed),
        "blocked": list(result.blocked),
        "notRun": list(result.not_run),
        "log": str(log),
        **({"error": result.error} if result.error else {}),
    }


def summary_line(operation: Operation, result: RunFinished, log: Path) -> str:
    parts = [f"{operation.verb}: {', '.join(result.done) or 'nothing'}"]
    if result.failed:
        parts.append(f"failed: {', '.join(result.failed)}")
    if result.blocked:
        parts.append(f"not started, waiting for a failed one: {', '.join(result.blocked)}")
    if result.not_run:
        parts.append(f"not run: {', '.join(result.not_run)}")
    line = f"{operation.name}: " + "; ".join(parts) + f" (log: {log})"
    if not result.ok:
        line += "\nFix what the log says, then run the same command again: finished steps are not repeated."
    return line


def interrupted_exit(result: RunFinished) -> int:
    if result.cancelled:
        return EXIT_INTERRUPTED
    return EXIT_OK if result.ok else EXIT_FAILED


async def confirm(question: str, out: IO[str]) -> bool:
    """Ask on the terminal; no terminal: no (the caller says to pass --yes)."""
    import sys

    if not sys.stdin.isatty():
        return False
    out.flush()
    answer = await asyncio.to_thread(input, f"{question} [y/N] ")
    return answer.strip().lower() in ("y", "yes")
