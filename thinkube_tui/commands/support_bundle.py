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

from .cluster_access import Inputs, add_cluster_options, open_cluster, with_inputs

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "support-bundle",
        help="collect microk8s inspect, status, facts, failing pods, the journal and logs into one "
        "tar.gz, secrets masked",
    )
    add_cluster_options(p)
    p.add_argument("--output", "-o", type=Path, metavar="FILE", help="default: in the cluster's state directory")
    p.add_argument(
        "--dry-run",
        action="store_true",
        default=argparse.SUPPRESS,
        help="say what would be collected; connect to nothing",
    )


async def run(args: argparse.Namespace, now: Callable[[], float] = time.time) -> int:
    async def bundle(inputs: Inputs) -> int:
        return await _bundle(args, inputs, now)

    return await with_inputs(args, "support-bundle", bundle)


async def _bundle(args: argparse.Namespace, inputs: Inputs, now: Callable[[], float]) -> int:
    from ..support_bundle import build, default_output, made_at

    output = args.output or default_output(inputs.state_dir, now())
    if output.exists():
        print(f"thinkube-tui support-bundle: {output} exists; give another --output", file=sys.stderr)
        return EXIT_INVALID
    if args.dry_run:
        print(_plan(inputs, output))
        return EXIT_OK
    try:
        async with open_cluster(args, inputs) as (session, cluster):
            result = await build(
                nodes=session.transports,
                facts=session.facts,
                unreachable={**session.connect_errors, **session.discovery_errors},
                control=inputs.spec.control.name,
                kube=cluster.kube,
                secrets=inputs.secrets,
                state_dir=inputs.state_dir,
                output=output,
                now=made_at(now()),
            )
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


def _plan(inputs: Inputs, output: Path) -> str:
    spec = inputs.spec
    nodes = ", ".join(n.name for n in spec.nodes)
    return "\n".join(
        [
            f"support bundle of cluster {spec.cluster.name} (dry run: nothing is contacted)",
            f"  on every node ({nodes}), as root: microk8s status --format yaml; microk8s inspect;",
            "    base64 of the report inspect names; discovery's read-only commands",
            f"  on {spec.control.name}: microk8s config (the API client), microk8s kubectl logs of failing pods",
            "  through the API: Secrets (to mask their values), Deployments, StatefulSets, DaemonSets, Pods, Events",
            f"  from {inputs.state_dir}: journal.json, logs/*.log, crash-*.txt",
            f"  written to {output} (mode 0600)",
        ]
    )
