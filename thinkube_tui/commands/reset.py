"""`thinkube-tui reset`: take the platform off every node, and archive what this machine kept.

Through the same engine, lock and events as an install (operation.py): the workers leave the
cluster and lose MicroK8s (`microk8s leave`, `microk8s remove-node` on the control node,
`snap remove --purge microk8s`), then the control node is reset (`microk8s reset
--destroy-storage` takes every component's objects and data with it) and loses MicroK8s too;
the /etc/hosts lines the installers added go from every node. Then the cluster's state
directory (journal, logs, Vault's keys file) is renamed `<name>.reset-<time>`, mode 0700 --
archived, never deleted. It asks for the cluster's name to be typed back; headless, it needs
`--yes-really`. A run cut off resumes when started again.

Exit codes: 0 reset, 1 a step failed (run the same command again: it resumes), 2 refused, not
confirmed or bad input, 4 another run holds the cluster's lock, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .cluster_access import (
    EXIT_INVALID,
    Inputs,
    Prepared,
    add_change_options,
    add_cluster_options,
    change_cluster,
    with_inputs,
)

if TYPE_CHECKING:
    from ..catalog import Catalog
    from ..journal import Journal
    from ..operation import Operation

NAME = "reset"
NODES = ("microk8s-workers", "microk8s-control")  # what reset runs: the rest goes with MicroK8s' reset


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("reset", help="remove the platform from every node (the local state is archived)")
    add_change_options(p, yes=False)
    p.add_argument("--yes-really", action="store_true", help="do not ask for the cluster's name (headless)")
    add_cluster_options(p)


def operation(catalog: Catalog, journal: Journal) -> Operation:
    from ..installers import uninstaller
    from ..operation import Operation
    from ..plan import removal_plan

    async def forget_all(_cluster: object, cid: str) -> None:
        if cid == "microk8s-control":  # MicroK8s' reset took every component with it
            await journal.aforget(*journal.components)

    units = {cid: fn for cid in NODES if (fn := uninstaller(cid)) is not None}
    plan = removal_plan(catalog, {cid: "reset" for cid in NODES})
    return Operation(NAME, plan, units, purge=True, staying=frozenset(), after=forget_all)


def describe(spec_nodes: int, installed: frozenset[str]) -> str:
    others = sorted(installed - set(NODES))
    return (
        f"reset: every worker leaves the cluster and loses MicroK8s, then the control node is reset "
        f"(`microk8s reset --destroy-storage`) and loses MicroK8s: {spec_nodes} nodes. "
        f"Going with it: {', '.join(others) or 'no other component'} (their objects and data)."
    )


def archive(state_dir: Path, now: float) -> Path:
    """Rename the cluster's state directory `<name>.reset-<time>` (mode 0700); its path."""
    from ..session import ARCHIVED

    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    target = state_dir.with_name(f"{state_dir.name}{ARCHIVED}{stamp}")
    extra = 1
    while target.exists():
        extra += 1
        target = target.with_name(f"{target.name.split('~')[0]}~{extra}")
    os.rename(state_dir, target)
    os.chmod(target, 0o700)
    return target


async def run(args: argparse.Namespace) -> int:
    return await with_inputs(args, NAME, lambda inputs: _reset(args, inputs))


async def _confirmed(args: argparse.Namespace, name: str) -> bool:
    if args.yes_really:
        return True
    if not sys.stdin.isatty():
        print(
            "thinkube-tui reset: removes the platform from every node; headless, pass --yes-really. "
            "Nothing was changed.",
            file=sys.stderr,
        )
        return False
    typed = await asyncio.to_thread(input, f"Type the cluster's name ({name}) to remove the platform: ")
    if typed.strip() != name:
        print("not the cluster's name: nothing was changed", file=sys.stderr)
        return False
    return True


async def _reset(args: argparse.Namespace, inputs: Inputs) -> int:
    from ..catalog import load_catalog

    catalog, spec = load_catalog(), inputs.spec
    kept = f"Then {inputs.state_dir} is renamed {inputs.state_dir.name}.reset-<time> (kept, mode 0700)."

    def prepare(journal: Journal, _session: object) -> Prepared:
        return Prepared(operation(catalog, journal), f"{describe(len(spec.nodes), journal.installed)} {kept}")

    if not args.dry_run and not await _confirmed(args, spec.cluster.name):
        return EXIT_INVALID
    # The Lease lives in the cluster MicroK8s' reset deletes: the control node's lock file holds it.
    code, result = await change_cluster(args, inputs, NAME, prepare, question=None, lease=False)
    if result is not None and result.ok:
        archived = archive(inputs.state_dir, time.time())
        print(
            f"the cluster's state (journal, logs, Vault's keys file if any) is archived in {archived}", file=sys.stderr
        )
    return code
