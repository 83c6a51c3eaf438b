"""Headless mode: the session's phases in a row (see session.py), printed, asking nothing.

validate -> state directory -> connect -> discover -> sudo -> resolve -> preflight -> lock ->
adopt cluster state -> plan -> install -> summary.

`thinkube-tui --answers FILE [--secrets FILE] [--yes]`. Exit codes: 0 installed, 1 install
failed (or stopped: the journal could not be written), 2 invalid input, 3 preflight failed,
130 interrupted (SIGINT or SIGTERM: the installers are stopped first, the journal stays
consistent, and the same command resumes), 4 another install holds the cluster's lock (the
refusal names it; nothing was changed -- see docs/reliability.md, "The lock").
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .catalog import Catalog, load_catalog
from .cluster_lock import EXIT_LOCKED, ClusterLocked, ClusterLockError
from .cluster_state import ClusterMirror
from .engine import EngineSettings
from .events import EventBus, RunFinished
from .journal import JournalError, JournalWriteError
from .phases import (
    AdoptClusterState,
    Connect,
    Install,
    OpenState,
    PlanInstall,
    Session,
    TakeLock,
    make_cluster,
    node_checks,
    run_phases,
)
from .preflight import Finding, has_errors
from .printer import LiveView, LogFile, PlainPrinter
from .secrets import Secrets
from .session import load_inputs as session_inputs
from .session import state_dir_for
from .spec import AnswersError, Spec
from .wording import plural

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_PREFLIGHT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


@dataclass(frozen=True)
class HeadlessOptions:
    answers: Path
    secrets: Path | None = None
    yes: bool = False
    dry_run: bool = False
    show_input: bool = False  # with dry_run: each command's stdin, secrets masked
    state_dir: Path | None = None
    skip_checks: frozenset[str] = frozenset()
    accept_new_host_keys: bool = False
    known_hosts: Path | None = None
    concurrency: int = 4
    component_timeout_s: float = 3600.0
    interactive_output: bool | None = None  # None: a live view when stdout is a terminal
    only: frozenset[str] = frozenset()  # install just these (and what they require)
    rerun: str | None = None  # the command that runs this again, when not this one (the demo's)


def rerun_command(options: HeadlessOptions) -> str:
    """The command that runs this install again as is (printed after a failure)."""
    from .rerun import headless_command

    return options.rerun or headless_command(
        options.answers,
        secrets=options.secrets,
        state_dir=options.state_dir,
        known_hosts=options.known_hosts,
        skip_checks=options.skip_checks,
        only=options.only,
        yes=options.yes,
    )


def print_findings(findings: Sequence[Finding], out: IO[str]) -> None:
    for f in findings:
        out.write(f"preflight {f.severity}: [{f.check}] {f.message}\n    what to do: {f.fix}\n")
    out.flush()


def summary(
    spec: Spec,
    catalog: Catalog,
    result: RunFinished,
    log_path: Path | None,
    out: IO[str],
    handovers: Sequence[tuple[str, list[str]]] = (),
    rerun: str | None = None,
    state_dir: Path | None = None,
) -> None:
    out.write("\n")
    for title, lines in handovers:  # shown here once, never logged
        out.write(f"{title}:\n" + "".join(f"    {line}\n" for line in lines))
    out.write(handover_text(spec, catalog, result, log_path, state_dir))  # the wizard's summary, same text
    if not result.ok:
        out.write("Fix what the log says, then run the same command again: finished steps are not repeated.\n")
        if rerun:
            out.write(f"    {rerun}\n")
    out.flush()


def handover_text(
    spec: Spec, catalog: Catalog, result: RunFinished, log_path: Path | None, state_dir: Path | None
) -> str:
    from .summary import build_handover, render, vault_keys_file

    states: dict[str, str] = {}
    for name, ids in (("done", result.done), ("failed", result.failed), ("blocked", result.blocked)):
        states.update(dict.fromkeys(ids, name))
    states.update(dict.fromkeys(result.not_run, "waiting"))
    state = state_dir or (log_path.parent.parent if log_path else Path("."))  # logs are <state>/logs/
    order = [cid for cid in catalog.ids if cid in states]
    return render(
        build_handover(
            spec,
            catalog,
            order,
            states,
            state_dir=state,
            log_path=log_path,
            journal_path=state / "journal.json",
            vault_keys=vault_keys_file(spec, state, states),
        )
    )


INTERRUPTED = "interrupted — run the same command to resume: finished steps are not repeated"


async def run(options: HeadlessOptions, out: IO[str] = sys.stdout, err: IO[str] = sys.stderr) -> int:
    """The headless install. SIGINT and SIGTERM stop it the same way: the running installers
    are cancelled and awaited (the journal keeps every finished step), then exit 130."""
    task = asyncio.current_task()
    assert task is not None
    received: list[int] = []

    def interrupt(signum: int) -> None:
        received.append(signum)
        task.cancel()

    handled = _handle_signals(interrupt)
    try:
        return await _run(options, out, err)
    except ClusterLockError as exc:  # refused before any change, or taken over while running
        print(f"thinkube-tui: {exc}", file=err)
        return EXIT_LOCKED if isinstance(exc, ClusterLocked) else EXIT_FAILED
    except asyncio.CancelledError:
        if not received:
            raise
        task.uncancel()
        print(INTERRUPTED, file=err)
        return EXIT_INTERRUPTED
    finally:
        loop = asyncio.get_running_loop()
        for sig in handled:
            loop.remove_signal_handler(sig)


def _handle_signals(interrupt: Callable[[int], None]) -> list[int]:
    """Route SIGINT and SIGTERM to `interrupt` (only the main thread's loop can; elsewhere none)."""
    loop = asyncio.get_running_loop()
    handled: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.add_signal_handler(sig, interrupt, sig)
            handled.append(sig)
    return handled


def load_inputs(options: HeadlessOptions, err: IO[str]) -> tuple[Spec, Secrets] | None:
    try:
        return session_inputs(options.answers, options.secrets)
    except AnswersError as exc:
        for problem in exc.problems:
            print(problem.format(exc.source), file=err)
        return None


async def _run(options: HeadlessOptions, out: IO[str], err: IO[str]) -> int:
    loaded = load_inputs(options, err)
    if loaded is None:
        return EXIT_INVALID
    spec, secrets = loaded
    catalog = load_catalog()
    unknown = sorted(cid for cid in options.only if cid not in catalog or spec.components[cid].enabled is False)
    if unknown:
        print(f"--only: {', '.join(unknown)}: not a component of the catalog, or switched off in the answers", file=err)
        return EXIT_INVALID
    if options.dry_run:
        from .dryrun import print_dry_run

        await print_dry_run(spec, catalog, out, secrets=secrets, show_input=options.show_input)
        return EXIT_OK

    from .access import headless_prompts, node_target
    from .files import UnsafePathError
    from .hostkeys import KnownHosts
    from .ssh import SshPool
    from .targets import SshSettings

    def note(text: str) -> None:
        out.write(text + "\n")
        out.flush()

    missing: dict[tuple[str, str], list[str]] = {}  # secret references the prompts could not resolve
    session = Session.for_spec(
        spec,
        catalog,
        secrets=secrets,
        skip=options.skip_checks,
        state_dir=state_dir_for(spec.cluster.name, options.state_dir),
        note=note,
        missing_secrets=missing,
    )
    state = session.state_dir
    assert state is not None
    try:
        # OpenSSH's rules for ~/.ssh: ours alone; and a write before any node is touched.
        await OpenState(save=True).run(session)
    except JournalWriteError as exc:  # a full disk: "no space on ..."
        print(f"thinkube-tui: {exc}", file=err)
        return EXIT_FAILED
    except (JournalError, UnsafePathError) as exc:
        print(f"thinkube-tui: {exc}", file=err)
        return EXIT_INVALID
    settings = SshSettings(accept_new_host_keys=options.accept_new_host_keys)
    host_keys = KnownHosts(options.known_hosts) if options.known_hosts else KnownHosts()
    async with (
        SshPool(settings, headless_prompts(spec, secrets, missing), host_keys=host_keys) as pool,
        AsyncExitStack() as held,
    ):
        await run_phases(session, [Connect(pool, [node_target(n) for n in spec.nodes]), *node_checks()])
        if session.findings:
            print_findings(session.findings, out)
        if has_errors(session.findings):
            out.write(
                "preflight found errors: nothing was changed. Fix them, or skip a check with "
                "--skip-check NAME if you know better.\n"
            )
            return EXIT_PREFLIGHT

        cluster = make_cluster(session)
        held.push_async_callback(cluster.close)
        lock = TakeLock(held, note)  # one install per cluster: held to the end, released on every way out
        try:
            await run_phases(session, [lock, AdoptClusterState(), PlanInstall(only=options.only)])
        except JournalError as exc:  # as the run that held the lock before left it
            print(f"thinkube-tui: {exc}", file=err)
            return EXIT_INVALID
        plan, journal = session.plan, session.journal
        assert plan is not None and journal is not None and lock.lock is not None
        if not plan.items:
            out.write("Everything selected is installed already: nothing to do.\n")
            await cluster.close()  # adopting the cluster's state opened the Kube client
            return EXIT_OK
        out.write(
            f"plan: {plural(len(plan), 'component')}, about {plan.critical_path_s / 60:.0f} min "
            f"({', '.join(plan.ids)})\n"
        )
        if not options.yes and not await _confirm(out):
            out.write("not confirmed: nothing was changed (pass --yes to install without asking)\n")
            await cluster.close()
            return EXIT_INVALID

        bus = EventBus()
        bus.subscribe(lock.lock)  # takes the cluster's Lease as soon as its API exists
        mirror = ClusterMirror(journal, cluster.kube, lambda text: note(f"warning: {text}"))
        bus.subscribe(mirror)
        log = LogFile(state / "logs" / time.strftime("install-%Y%m%d-%H%M%S.log"), secrets.mask)
        unsubscribe_log = bus.subscribe(log)
        live = options.interactive_output if options.interactive_output is not None else out.isatty()
        view = LiveView(len(plan), secrets.mask) if live else None
        bus.subscribe(view if view is not None else PlainPrinter(out, secrets.mask))
        from .installers import registry
        from .ssh import ConnectionLost, ConnectTimeout, HostUnreachable

        install = Install(
            registry(),
            bus,
            EngineSettings(
                concurrency=options.concurrency,
                component_timeout_s=options.component_timeout_s,
                transient_errors=(ConnectionLost, ConnectTimeout, HostUnreachable),
            ),
        )
        try:
            with view if view is not None else contextlib.nullcontext():
                await install.run(session)
        finally:
            await mirror.close()
            unsubscribe_log()
            log.close()
            await cluster.close()
        result = session.result
        assert result is not None
        summary(spec, catalog, result, log.path, out, cluster.handovers, rerun_command(options), state_dir=state)
        if log.error is not None:
            print(f"warning: the log {log.path} is incomplete: {log.error.strerror or log.error}", file=err)
        if result.error:
            print(f"thinkube-tui: the install stopped: {result.error}", file=err)
        if result.cancelled:
            print(INTERRUPTED, file=err)
            return EXIT_INTERRUPTED
        return EXIT_OK if result.ok else EXIT_FAILED


async def _confirm(out: IO[str]) -> bool:
    if not sys.stdin.isatty():
        return False
    answer = await asyncio.to_thread(input, "Install now? [y/N] ")
    return answer.strip().lower() in ("y", "yes")
