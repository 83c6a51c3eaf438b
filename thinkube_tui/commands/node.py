"""`thinkube-tui node remove NAME`: take a worker out of the cluster.

Through the same engine, lock and events as an install (operation.py): the worker is drained
(cordoned, its pods evicted with their disruption budgets honoured), leaves the cluster
(`microk8s leave`), the control node forgets it (`microk8s remove-node`) and MicroK8s is removed
from it; the journal no longer counts it among the nodes the per-node components ran for.
`--force`, for a worker that is gone for good: only `microk8s remove-node --force` on the
control node. Refused (exit 2, nothing touched): a node not in the answers, the control node,
and the last GPU node while the GPU operator is installed. Afterwards, take the node out of the
answers file: an install run with it still there joins it again.

Adding a node needs no command: add it to the answers (or on the wizard's Nodes screen) and run
the install again (docs/day-two.md, "Add nodes").

Exit codes: 0 removed, 1 a step failed (run the same command again: it resumes), 2 refused or
bad input, 4 another run holds the cluster's lock, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
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
    from ..facts import Facts
    from ..installers.base import Cluster
    from ..journal import Journal
    from ..operation import Operation
    from ..phases import Session
    from ..spec import Spec

NAME = "node-remove"
UNIT = "microk8s-workers"  # the component whose work it undoes for one node


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("node", help="the cluster's nodes: remove one (add one: put it in the answers, install again)")
    nodes = p.add_subparsers(dest="node_command", metavar="remove", required=True)
    q = nodes.add_parser("remove", help="drain a worker, take it out of the cluster and remove MicroK8s from it")
    q.add_argument("node", metavar="NAME", help="the node's name in the answers file")
    q.add_argument("--force", action="store_true", help="the node is gone for good: only forget it")
    add_change_options(q)
    add_cluster_options(q)


def refusals(spec: Spec, name: str, installed: frozenset[str], facts: Mapping[str, Facts] | None) -> list[str]:
    """Why `name` cannot be removed; `facts` (discovery) None before nodes were reached."""
    names = [n.name for n in spec.nodes]
    if name not in names:
        return [f"{name}: not a node of the answers ({', '.join(names)})"]
    if name == spec.control.name:
        return [
            f"{name} is the control node: the cluster runs on it and cannot lose it "
            "(`thinkube-tui reset` removes the whole platform)"
        ]
    if facts is not None and "gpu-operator" in installed and facts.get(name) and facts[name].gpus:
        others = [n for n in names if n != name and facts.get(n) and facts[n].gpus]
        if not others:
            return [
                f"{name} is the cluster's last GPU node and the GPU operator is installed: remove the GPU "
                "operator first (`thinkube-tui remove gpu-operator`) or add another GPU node"
            ]
    return []


def operation(catalog: Catalog, spec: Spec, journal: Journal, name: str, *, reachable: bool) -> Operation:
    from ..cluster_state import write_state
    from ..installers.base import InstallContext
    from ..installers.microk8s_workers import remove_worker
    from ..operation import Operation
    from ..plan import removal_plan

    worker = next(n for n in spec.nodes if n.name == name)

    async def unit(ctx: InstallContext) -> None:
        await remove_worker(ctx, worker, reachable=reachable)

    async def forget(cluster: Cluster, _cid: str) -> None:
        for record in journal.components.values():
            if record.nodes is not None and name in record.nodes:
                record.nodes = [n for n in record.nodes if n != name]
        await journal.commit()
        await write_state(await cluster.kube(), journal)

    plan = removal_plan(catalog, {UNIT: f"remove node {name}"}, installed=journal.installed)
    return Operation(NAME, plan, {UNIT: unit}, staying=journal.installed, after=forget)


async def run(args: argparse.Namespace) -> int:
    return await with_inputs(args, "node remove", lambda inputs: _remove(args, inputs))


def _refused(problems: list[str]) -> int | None:
    if not problems:
        return None
    for problem in problems:
        print(f"thinkube-tui node remove: {problem}", file=sys.stderr)
    print("nothing was changed", file=sys.stderr)
    return EXIT_INVALID


async def _remove(args: argparse.Namespace, inputs: Inputs) -> int:
    from ..catalog import load_catalog
    from ..operation import take_up

    catalog, spec, name = load_catalog(), inputs.spec, args.node
    after = f"Then take {name} out of the answers file: an install with it still there joins it again."

    def prepare(journal: Journal, session: Session | None) -> Prepared:
        facts = session.facts if session is not None else None
        if (refused := _refused(refusals(spec, name, journal.installed, facts))) is not None:
            return Prepared(None, exit=refused)
        take_up(inputs.state_dir, NAME)
        away = session is not None and name in {**session.connect_errors, **session.discovery_errors}
        op = operation(catalog, spec, journal, name, reachable=not (args.force or away))
        how = (
            "forget it on the control node (--force)" if args.force or away else "drain, leave, forget, remove MicroK8s"
        )
        return Prepared(op, f"remove node {name} from cluster {spec.cluster.name}: {how}. {after}")

    away = frozenset({name}) if args.force else frozenset()
    code, result = await change_cluster(
        args, inputs, "node remove", prepare, question=f"Remove {name} from the cluster now?", may_be_away=away
    )
    if result is not None and result.ok:
        print(after, file=sys.stderr)
    return code
