"""What every day-two command shares: the options naming a cluster, and a connected session.

`--answers FILE` names the cluster and its nodes (as the install did), `--demo` the demo's
lab (started in this process as `--demo` does); the secrets file, state directory and
known-hosts file are the install's. `open_cluster` loads the answers, connects to every node
and discovers it, and hands the session over; nodes that cannot be reached are in
`session.connect_errors` / `session.discovery_errors`, not fatal: a command that diagnoses a
broken cluster must work on one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the parser is built for every command: what runs one loads when it runs
    from ..events import RunFinished
    from ..installers.base import Cluster
    from ..journal import Journal
    from ..operation import Operation
    from ..phases import Phase, Session
    from ..secrets import Secrets
    from ..spec import Spec

EXIT_INVALID = 2


def add_cluster_options(p: argparse.ArgumentParser) -> None:
    # Options the top level has too default to "not given" here, so that `thinkube-tui --demo
    # remove X` keeps the top level's --demo (a subcommand's default would override it).
    keep = argparse.SUPPRESS
    p.add_argument(
        "--answers", type=Path, metavar="FILE", default=keep, help="the cluster's answers file (names its nodes)"
    )
    p.add_argument(
        "--secrets", type=Path, metavar="FILE", default=keep, help="secrets file (mode 0600) for {secret: KEY}"
    )
    p.add_argument(
        "--state-dir", type=Path, metavar="DIR", default=keep, help="where the cluster's journal and logs live"
    )
    p.add_argument("--known-hosts", type=Path, metavar="FILE", default=keep, help="thinkube-tui's own known-hosts file")
    p.add_argument(
        "--accept-new-host-keys", action="store_true", default=keep, help="trust host keys seen for the first time"
    )
    p.add_argument("--demo", action="store_true", default=keep, help="the demo's lab (`--demo`, `make demo`)")
    p.add_argument("--lab-speed", type=float, default=keep, help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def add_change_options(p: argparse.ArgumentParser, *, yes: bool = True) -> None:
    """--dry-run and --yes of a command that changes the cluster (both known to the top level too)."""
    keep = argparse.SUPPRESS
    p.add_argument(
        "--dry-run", action="store_true", default=keep, help="print every command and API call; change nothing"
    )
    if yes:
        p.add_argument("--yes", action="store_true", default=keep, help="do not ask for confirmation")


@dataclass(frozen=True)
class Inputs:
    """The answers, their secrets (every value of the secrets file registered for masking)
    and the cluster's state directory."""

    spec: Spec
    secrets: Secrets
    state_dir: Path


async def with_inputs(args: argparse.Namespace, command: str, body: Callable[[Inputs], Awaitable[int]]) -> int:
    """Run `body` on the cluster `args` name (`--answers`, or the demo's lab); exit 2 on bad input."""
    from ..secrets import Secrets
    from ..session import read_secrets, state_dir_for
    from ..spec import AnswersError, load_answers

    if args.demo:
        from .lab import DemoRun, with_demo

        async def of_demo(demo: DemoRun) -> int:
            given = {"answers": demo.answers, "state_dir": demo.state_dir, "known_hosts": demo.known_hosts}
            demo_args = argparse.Namespace(**{**vars(args), **given, "demo": False})
            return await with_inputs(demo_args, command, body)

        return await with_demo(args, of_demo)
    if args.answers is None:
        print(f"thinkube-tui {command}: --answers FILE names the cluster's nodes (or --demo)", file=sys.stderr)
        return EXIT_INVALID
    try:
        spec = load_answers(args.answers, secrets=args.secrets)
        file_values = read_secrets(args.answers, spec, args.secrets)
    except AnswersError as exc:
        for problem in exc.problems:
            print(problem.format(exc.source), file=sys.stderr)
        return EXIT_INVALID
    secrets = Secrets(file_values)
    for value in file_values.values():  # masked even where the run never used them
        secrets.register(value)
    return await body(Inputs(spec, secrets, state_dir_for(spec.cluster.name, args.state_dir)))


@asynccontextmanager
async def open_cluster(
    args: argparse.Namespace, inputs: Inputs, checks: Sequence[Phase] | None = None, skip: frozenset[str] = frozenset()
) -> AsyncIterator[tuple[Session, Cluster]]:
    """Connect to every node, discover it (or run `checks`, with `skip` the preflight checks not
    to run), and yield the session and the installers' Cluster (its API client made on first
    use, closed on the way out)."""
    from ..access import headless_prompts, node_target
    from ..catalog import load_catalog
    from ..hostkeys import KnownHosts
    from ..phases import Connect, Discover, Session, make_cluster, run_phases
    from ..ssh import SshPool
    from ..targets import SshSettings

    missing: dict[tuple[str, str], list[str]] = {}  # sudo passwords the prompts could not find
    session = Session.for_spec(
        inputs.spec,
        load_catalog(),
        secrets=inputs.secrets,
        state_dir=inputs.state_dir,
        missing_secrets=missing,
        skip=skip,
    )
    settings = SshSettings(accept_new_host_keys=args.accept_new_host_keys)
    host_keys = KnownHosts(args.known_hosts) if args.known_hosts else KnownHosts()
    async with SshPool(settings, headless_prompts(inputs.spec, inputs.secrets, missing), host_keys=host_keys) as pool:
        targets = [node_target(n) for n in inputs.spec.nodes]
        await run_phases(session, [Connect(pool, targets), *(checks if checks is not None else [Discover()])])
        cluster = make_cluster(session)
        try:
            yield session, cluster
        finally:
            await cluster.close()


@dataclass(frozen=True)
class Prepared:
    """What a changing command makes of the journal (and, once connected, of the nodes): the
    operation to run and its plan for people, or the exit code to stop with (refusals printed)."""

    operation: Operation | None
    plan: str = ""
    exit: int = 0


Prepare = Callable[["Journal", "Session | None"], Prepared]


async def change_cluster(
    args: argparse.Namespace,
    inputs: Inputs,
    command: str,
    prepare: Prepare,
    *,
    question: str | None,
    lease: bool = True,
    may_be_away: frozenset[str] = frozenset(),
) -> tuple[int, RunFinished | None]:
    """THE way a command changes an installed cluster (remove, upgrade, node remove, reset):
    prepare from the journal; `--dry-run` prints every command and stops; else connect to every
    node (those in `may_be_away` may not answer), take the cluster's lock (`lease=False`: its
    file on the control node only), prepare again from the journal as the lock finds it, ask
    `question` (unless --yes, or None), run the operation (operation.py). The exit code, and the
    run's result when it ran."""
    from ..catalog import load_catalog
    from ..cluster_lock import EXIT_LOCKED, ClusterLocked, ClusterLockError, install_lock
    from ..files import UnsafePathError
    from ..journal import JournalError
    from ..operation import confirm, interrupted_exit
    from ..operation import run as run_operation
    from ..phases import open_journal

    try:
        prepared = prepare(open_journal(inputs.state_dir), None)
    except (JournalError, UnsafePathError) as exc:
        print(f"thinkube-tui {command}: {exc}", file=sys.stderr)
        return EXIT_INVALID, None
    if prepared.operation is None:
        return prepared.exit, None
    if args.dry_run:
        from ..dryrun import operation_dry_run, print_transcript

        transcript = await operation_dry_run(inputs.spec, load_catalog(), prepared.operation, inputs.secrets)
        print(f"Dry run: {prepared.plan}\nNothing was connected to or changed.")
        print_transcript(transcript, inputs.spec, sys.stdout)
        return 0, None
    shown = sys.stderr if args.json else sys.stdout  # --json: stdout holds the result alone
    async with open_cluster(args, inputs) as (session, cluster):
        away = {**session.discovery_errors, **session.connect_errors}
        if set(away) - may_be_away:
            for node, why in away.items():
                print(f"thinkube-tui {command}: {node}: {why}", file=sys.stderr)
            print("nothing was changed: the nodes must answer first", file=sys.stderr)
            return 1, None
        journal_now = open_journal(inputs.state_dir)
        say: Callable[[str], None] = lambda text: print(text, file=sys.stderr)  # noqa: E731
        try:
            async with install_lock(cluster, lambda: journal_now.installed, say, lease=lease):
                prepared = prepare(open_journal(inputs.state_dir), session)  # as the lock finds it
                if prepared.operation is None:
                    return prepared.exit, None
                print(prepared.plan, file=shown)
                if question and not args.yes and not await confirm(question, sys.stdout):
                    print(
                        f"not confirmed: nothing was changed (pass --yes to {command} without asking)", file=sys.stderr
                    )
                    return EXIT_INVALID, None
                result = await run_operation(prepared.operation, session, cluster, out=sys.stdout, json_out=args.json)
        except ClusterLockError as exc:  # refused before any change, or taken over while running
            print(f"thinkube-tui: {exc}", file=sys.stderr)
            return (EXIT_LOCKED if isinstance(exc, ClusterLocked) else 1), None
    return interrupted_exit(result), result
