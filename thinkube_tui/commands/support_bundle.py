"""`thinkube-tui support-bundle`: collect a masked diagnostic bundle (see support_bundle.py).

It only reads: no lock is taken (a bundle is wanted most while an install hangs), nothing on
the nodes changes except the report `microk8s inspect` leaves where it always does.
Exit codes: 0 the bundle was written (what could not be collected is listed in it and on
stderr), 1 it could not be written, 2 invalid input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..catalog import load_catalog
from ..secrets import Secrets
from ..session import read_secrets, state_dir_for
from ..spec import AnswersError, Spec, load_answers

if TYPE_CHECKING:
    from ..support_bundle import BundleResult

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "support-bundle",
        help="collect microk8s inspect, status, facts, failing pods, the journal and logs into one "
        "tar.gz, secrets masked",
    )
    p.add_argument("--answers", type=Path, metavar="FILE", help="the cluster's answers file (names its nodes)")
    p.add_argument("--secrets", type=Path, metavar="FILE")
    p.add_argument("--state-dir", type=Path, metavar="DIR", help="where the cluster's journal and logs live")
    p.add_argument("--known-hosts", type=Path, metavar="FILE")
    p.add_argument("--accept-new-host-keys", action="store_true")
    p.add_argument("--output", "-o", type=Path, metavar="FILE", help="default: in the cluster's state directory")
    p.add_argument("--demo", action="store_true", help="of the demo's lab (`--demo`, `make demo`)")
    p.add_argument("--lab-speed", type=float, default=1.0, help=argparse.SUPPRESS)
    p.add_argument("--dry-run", action="store_true", help="say what would be collected; connect to nothing")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def stamp(now: Callable[[], float] = time.time) -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.localtime(now()))


async def run_support_bundle(args: argparse.Namespace, now: Callable[[], float] = time.time) -> int:
    if args.demo:
        from .lab import DemoRun, with_demo

        async def of_demo(demo: DemoRun) -> int:
            demo_args = argparse.Namespace(**{**vars(args), "answers": demo.answers, "state_dir": demo.state_dir})
            demo_args.known_hosts = demo.known_hosts
            return await _run(demo_args, now)

        return await with_demo(args, of_demo)
    if args.answers is None:
        print("thinkube-tui support-bundle: --answers FILE names the cluster's nodes (or --demo)", file=sys.stderr)
        return EXIT_INVALID
    return await _run(args, now)


async def _run(args: argparse.Namespace, now: Callable[[], float]) -> int:
    try:
        spec = load_answers(args.answers, secrets=args.secrets)
        file_values = read_secrets(args.answers, spec, args.secrets)
    except AnswersError as exc:
        for problem in exc.problems:
            print(problem.format(exc.source), file=sys.stderr)
        return EXIT_INVALID
    secrets = Secrets(file_values)
    for value in file_values.values():  # unlike an install, a bundle masks what it never used too
        secrets.register(value)
    state = state_dir_for(spec.cluster.name, args.state_dir)
    output = args.output or state / f"support-bundle-{stamp(now)}.tar.gz"
    if output.exists():
        print(f"thinkube-tui support-bundle: {output} exists; give another --output", file=sys.stderr)
        return EXIT_INVALID
    if args.dry_run:
        print(_plan(spec, state, output))
        return EXIT_OK
    try:
        result = await _collect(args, spec, secrets, state, output, now)
    except OSError as exc:
        print(f"thinkube-tui support-bundle: could not write {output}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps({"path": str(result.path), "files": result.files, "gaps": list(result.gaps)}, indent=2))
    else:
        print(f"support bundle: {result.path} ({result.files} files, mode 0600)")
        print("Secrets known to the run are masked; review it before sharing.")
    for gap in result.gaps:
        print(f"not collected: {gap}", file=sys.stderr)
    return EXIT_OK


def _plan(spec: Spec, state: Path, output: Path) -> str:
    nodes = ", ".join(n.name for n in spec.nodes)
    return "\n".join(
        [
            f"support bundle of cluster {spec.cluster.name} (dry run: nothing is contacted)",
            f"  on every node ({nodes}), as root: microk8s status --format yaml; microk8s inspect;",
            "    base64 of the report inspect names; discovery's read-only commands",
            f"  on {spec.control.name}: microk8s config (the API client), microk8s kubectl logs of failing pods",
            "  through the API: Secrets (to mask their values), Deployments, StatefulSets, DaemonSets, Pods, Events",
            f"  from {state}: journal.json, logs/*.log, crash-*.txt",
            f"  written to {output} (mode 0600)",
        ]
    )


async def _collect(
    args: argparse.Namespace, spec: Spec, secrets: Secrets, state: Path, output: Path, now: Callable[[], float]
) -> BundleResult:
    from ..access import headless_prompts, node_target
    from ..hostkeys import KnownHosts
    from ..phases import Connect, Discover, Session, make_cluster, run_phases
    from ..ssh import SshPool
    from ..support_bundle import build
    from ..targets import SshSettings

    session = Session.for_spec(spec, load_catalog(), secrets=secrets, state_dir=state)
    settings = SshSettings(accept_new_host_keys=args.accept_new_host_keys)
    host_keys = KnownHosts(args.known_hosts) if args.known_hosts else KnownHosts()
    async with SshPool(settings, headless_prompts(spec, secrets, {}), host_keys=host_keys) as pool:
        await run_phases(session, [Connect(pool, [node_target(n) for n in spec.nodes]), Discover()])
        cluster = make_cluster(session)
        try:
            return await build(
                nodes=session.transports,
                facts=session.facts,
                unreachable={**session.connect_errors, **session.discovery_errors},
                control=spec.control.name,
                kube=cluster.kube,
                secrets=secrets,
                state_dir=state,
                output=output,
                now=time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(now())),
            )
        finally:
            await cluster.close()
