"""Headless mode: validate -> connect -> discover -> preflight -> plan -> install -> summary.

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
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .catalog import Catalog, load_catalog
from .cluster_lock import EXIT_LOCKED, ClusterLocked, ClusterLockError, install_lock
from .cluster_state import ClusterMirror, adopt, read_state
from .discovery import NodeResult, discover_all, resolve_hostnames
from .engine import Engine, EngineSettings
from .events import EventBus, RunFinished
from .facts import Facts
from .journal import Journal, JournalError, JournalWriteError
from .plan import Plan, make_plan, plan_for
from .preflight import Finding, has_errors, run_preflight, unreachable
from .printer import LiveView, LogFile, PlainPrinter
from .secrets import Secrets
from .spec import AnswersError, Spec, load_answers, load_secrets
from .transport import Transport
from .wording import plural

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_PREFLIGHT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


@dataclass(frozen=True)
class HeadlessOptions:
    answers: Path
    secrets: Path | None = None
    yes: bool = False
    dry_run: bool = False
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


@dataclass
class Gathered:
    facts: dict[str, Facts] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


def state_dir_for(spec: Spec, base: Path | None) -> Path:
    from .files import default_state_dir

    return (base or default_state_dir()) / spec.cluster.name


def load_inputs(options: HeadlessOptions, err: IO[str]) -> tuple[Spec, Secrets] | None:
    try:
        spec = load_answers(options.answers, secrets=options.secrets)
        path = options.secrets or (options.answers.parent / spec.secrets_file if spec.secrets_file else None)
        values = load_secrets(path) if path else {}
    except AnswersError as exc:
        for problem in exc.problems:
            print(problem.format(exc.source), file=err)
        return None
    return spec, Secrets(values)


async def gather(
    spec: Spec,
    transports: Mapping[str, Transport],
    connect_errors: Mapping[str, str],
    skip: frozenset[str],
    say: IO[str],
    missing: Mapping[tuple[str, str], list[str]] | None = None,
) -> Gathered:
    """Discover every reachable node concurrently, check sudo, run preflight.

    `missing` is where the prompts recorded secret references they could not resolve: a sudo
    password that is missing is reported once, naming what is missing, not as a sudo problem
    on every node."""
    out = Gathered()
    results: list[NodeResult] = []
    async for result in discover_all(list(transports.values())):
        results.append(result)
        if result.facts is not None:
            out.facts[result.node] = result.facts
            gpus = ", ".join(g.label for g in result.facts.gpus) or "no GPU"
            say.write(f"discovered {result.node}: {result.facts.os.pretty_name or 'unknown OS'}, {gpus}\n")
        else:
            say.write(f"could not discover {result.node}: {result.error}\n")
    say.flush()
    out.findings += [unreachable(node, message) for node, message in connect_errors.items()]
    out.findings += [unreachable(r.node, r.error or "discovery failed") for r in results if r.facts is None]

    sudo_ok: dict[str, bool | None] = {}
    no_password: set[str] = set()
    for name, transport in transports.items():
        try:
            sudo_ok[name] = (await transport.run("true", sudo=True, timeout=60)).ok
        except Exception as exc:  # SudoRefused and friends: the check reports it
            if any(name in nodes for (kind, _), nodes in (missing or {}).items() if kind == "sudo"):
                no_password.add(name)  # reported below, once for all nodes
            else:
                say.write(f"{name}: {exc}\n")
            sudo_ok[name] = False
    control = spec.control.name
    resolutions = None
    others = [f.hostname for n, f in out.facts.items() if n != control and f.hostname]
    if control in transports and others:
        try:
            resolutions = await resolve_hostnames(transports[control], others)
        except Exception:
            resolutions = None
    findings = run_preflight(
        out.facts.values(),
        control=control,
        skip=skip,
        sudo_ok=sudo_ok,
        resolutions=resolutions,
        microk8s_channel=spec.cluster.microk8s_channel,
        metallb_range=spec.cluster.metallb_range,
    )
    out.findings += [f for f in findings if not (f.check == "sudo" and f.node in no_password)]
    out.findings += _missing_sudo_passwords(missing or {}, no_password)
    return out


def _missing_sudo_passwords(missing: Mapping[tuple[str, str], list[str]], nodes: set[str]) -> list[Finding]:
    """One finding per missing sudo password reference, naming it and the nodes that need it."""
    out = []
    for (kind, what), needing in sorted(missing.items()):
        names = sorted(set(needing) & nodes)
        if kind != "sudo" or not names:
            continue
        out.append(
            Finding(
                "sudo",
                "error",
                None,
                f"no sudo password for {', '.join(names)}: {what}",
                "Export it (the answers file's sudoPassword, or the login password, names it), "
                "or reference a key of the 0600 secrets file instead; or run with a terminal to be asked.",
            )
        )
    return out


def print_findings(findings: Sequence[Finding], out: IO[str]) -> None:
    for f in findings:
        out.write(f"preflight {f.severity}: [{f.check}] {f.message}\n    what to do: {f.fix}\n")
    out.flush()


async def run_install(
    spec: Spec,
    catalog: Catalog,
    plan: Plan,
    journal: Journal,
    cluster: object,
    *,
    settings: EngineSettings,
    bus: EventBus,
) -> RunFinished:
    from .installers import registry
    from .installers.base import Cluster, InstallContext

    assert isinstance(cluster, Cluster)
    configs = {cid: comp.config for cid, comp in spec.components.items()}
    engine = Engine(
        plan,
        registry(),
        configs=configs,
        journal=journal,
        bus=bus,
        make_context=lambda steps: InstallContext(steps, cluster),
        settings=settings,
    )
    return await engine.run()


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

        await print_dry_run(spec, catalog, out)
        return EXIT_OK

    from .access import headless_prompts, node_target
    from .hostkeys import KnownHosts
    from .ssh import SshPool, SshSettings

    state = state_dir_for(spec, options.state_dir)
    from .files import UnsafePathError, check_state_dir

    try:
        check_state_dir(state)  # OpenSSH's rules for ~/.ssh: ours alone, inside directories only we can change
        journal = Journal.open(state / "journal.json")
        journal.save()  # the state directory takes a write before any node is touched
    except JournalWriteError as exc:  # a full disk: "no space on ..."
        print(f"thinkube-tui: {exc}", file=err)
        return EXIT_FAILED
    except (JournalError, UnsafePathError) as exc:
        print(f"thinkube-tui: {exc}", file=err)
        return EXIT_INVALID
    settings = SshSettings(accept_new_host_keys=options.accept_new_host_keys)
    host_keys = KnownHosts(options.known_hosts) if options.known_hosts else KnownHosts()
    missing: dict[tuple[str, str], list[str]] = {}  # secret references the prompts could not resolve
    async with (
        SshPool(settings, headless_prompts(spec, secrets, missing), host_keys=host_keys) as pool,
        AsyncExitStack() as held,
    ):
        targets = {n.name: node_target(n) for n in spec.nodes}
        connected = await pool.connect_all(targets.values())
        transports = {name: c for name, c in connected.items() if not isinstance(c, Exception)}
        errors = {name: f"{c}" for name, c in connected.items() if isinstance(c, Exception)}
        gathered = await gather(spec, transports, errors, options.skip_checks, out, missing)
        if gathered.findings:
            print_findings(gathered.findings, out)
        if has_errors(gathered.findings):
            out.write(
                "preflight found errors: nothing was changed. Fix them, or skip a check with "
                "--skip-check NAME if you know better.\n"
            )
            return EXIT_PREFLIGHT

        from .installers.base import Cluster

        cluster = Cluster(
            spec=spec, catalog=catalog, nodes=transports, facts=gathered.facts, secrets=secrets, state_dir=state
        )
        held.push_async_callback(cluster.close)
        # One install per cluster: held from here to the end, released on every way out.
        lock = install_lock(cluster, lambda: journal.installed, lambda t: out.write(t + "\n"))
        await held.enter_async_context(lock)
        try:
            journal = Journal.open(state / "journal.json")  # as the run that held the lock before left it
        except JournalError as exc:
            print(f"thinkube-tui: {exc}", file=err)
            return EXIT_INVALID
        control_facts = gathered.facts.get(spec.control.name)
        if control_facts is not None and control_facts.microk8s.installed:
            await _adopt_cluster_state(cluster, journal, out)
        gpu_present = any(f.gpus for f in gathered.facts.values())
        if options.only:
            plan = plan_for(
                catalog,
                {cid: "asked for with --only" for cid in options.only - journal.installed},
                installed=journal.installed,
            )
        else:
            plan = make_plan(catalog, spec, installed=journal.installed, gpu_present=gpu_present)
        for cid in sorted(journal.installed):
            if cid in spec.components and journal.changed_config(cid, spec.components[cid].config):
                out.write(
                    f"note: {cid}'s settings changed since it was installed; they are not re-applied "
                    "automatically (re-entry installs only what is missing)\n"
                )
        if not plan.items:
            out.write("Everything selected is installed already: nothing to do.\n")
            await cluster.close()  # _adopt_cluster_state opened the Kube client
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
        bus.subscribe(lock)  # takes the cluster's Lease as soon as its API exists
        mirror = ClusterMirror(journal, cluster.kube, lambda text: out.write(f"warning: {text}\n"))
        bus.subscribe(mirror)
        log = LogFile(state / "logs" / time.strftime("install-%Y%m%d-%H%M%S.log"), secrets.mask)
        unsubscribe_log = bus.subscribe(log)
        live = options.interactive_output if options.interactive_output is not None else out.isatty()
        view = LiveView(len(plan), secrets.mask) if live else None
        bus.subscribe(view if view is not None else PlainPrinter(out, secrets.mask))
        from .ssh import ConnectionLost, ConnectTimeout, HostUnreachable

        settings_engine = EngineSettings(
            concurrency=options.concurrency,
            component_timeout_s=options.component_timeout_s,
            transient_errors=(ConnectionLost, ConnectTimeout, HostUnreachable),
        )
        try:
            if view is not None:
                with view:
                    result = await run_install(spec, catalog, plan, journal, cluster, settings=settings_engine, bus=bus)
            else:
                result = await run_install(spec, catalog, plan, journal, cluster, settings=settings_engine, bus=bus)
        finally:
            await mirror.close()
            unsubscribe_log()
            log.close()
            await cluster.close()
        summary(spec, catalog, result, log.path, out, cluster.handovers, rerun_command(options), state_dir=state)
        if log.error is not None:
            print(f"warning: the log {log.path} is incomplete: {log.error.strerror or log.error}", file=err)
        if result.error:
            print(f"thinkube-tui: the install stopped: {result.error}", file=err)
        if result.cancelled:
            print(INTERRUPTED, file=err)
            return EXIT_INTERRUPTED
        return EXIT_OK if result.ok else EXIT_FAILED


async def _adopt_cluster_state(cluster: object, journal: Journal, out: IO[str]) -> None:
    """Re-entry from another machine: what the cluster's copy of the journal says is done."""
    from .installers.base import Cluster

    assert isinstance(cluster, Cluster)
    try:
        adopted = adopt(journal, await read_state(await cluster.kube()))
    except Exception as exc:  # an unreadable copy only means less to skip, never a failed run
        out.write(f"note: could not read the cluster's install state ({exc}); using the local journal only\n")
        return
    if adopted:
        out.write(f"the cluster says these are installed already: {', '.join(sorted(adopted))}\n")


async def _confirm(out: IO[str]) -> bool:
    if not sys.stdin.isatty():
        return False
    answer = await asyncio.to_thread(input, "Install now? [y/N] ")
    return answer.strip().lower() in ("y", "yes")
