"""`thinkube-tui remove COMPONENT...`: take installed components away, in reverse dependency order.

Refused (exit 2, nothing touched): an unknown id, a core component (`reset` removes the
platform), one this release cannot remove (no uninstall), one still required by an installed
component that is not removed with it. A component not installed is said and left out. Data
(volume claims, databases, buckets) stays unless `--purge`. After each component the install's
journal forgets it and the cluster's copy is written, so re-entry offers it again.

Exit codes: 0 removed (or nothing to do), 1 a removal failed (run the same command again: it
resumes), 2 refused or bad input, 4 another run holds the cluster's lock, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection
from dataclasses import dataclass, field
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
    from ..installers.base import Cluster
    from ..journal import Journal
    from ..operation import Operation

NAME = "remove"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("remove", help="remove installed components, in reverse dependency order")
    p.add_argument("components", nargs="+", metavar="COMPONENT")
    p.add_argument("--purge", action="store_true", help="delete their data too (volume claims, databases)")
    add_change_options(p)
    add_cluster_options(p)


@dataclass
class Decision:
    removing: dict[str, str] = field(default_factory=dict)  # id -> why it is in the plan
    staying: frozenset[str] = frozenset()
    notes: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)


def decide(catalog: Catalog, asked: Collection[str], installed: frozenset[str], pending: frozenset[str]) -> Decision:
    """What `remove` does with `asked`, given what is `installed` and what an earlier run left
    `pending` (started, not finished: taken up again)."""
    from ..installers import uninstaller

    d = Decision()
    for cid in dict.fromkeys(asked):
        if cid not in catalog:
            d.refusals.append(f"{cid}: not a component; installed: {', '.join(sorted(installed)) or 'none'}")
        elif catalog[cid].core:
            d.refusals.append(
                f"{cid}: part of the platform's core, which the other components stand on; "
                "`thinkube-tui reset` removes the whole platform"
            )
        elif uninstaller(cid) is None:
            d.refusals.append(
                f"{cid}: this release of thinkube-tui cannot remove it (its installer has no uninstall yet); "
                "nothing was changed"
            )
        elif cid in installed or cid in pending:
            d.removing[cid] = "asked for" if cid in installed else "asked for; an earlier remove did not finish it"
        else:
            d.notes.append(f"{cid} is not installed: nothing to remove")
    for cid in sorted(pending - set(d.removing)):
        if cid in installed or uninstaller(cid) is not None:
            d.removing[cid] = "an earlier remove did not finish it"
    d.staying = installed - set(d.removing)
    for cid in sorted(d.removing):
        needing = sorted(s for s in d.staying if cid in catalog[s].requires)
        if needing:
            together = " ".join(sorted({*d.removing, *needing}))
            d.refusals.append(
                f"{cid} is required by {', '.join(needing)} (installed): remove them together "
                f"(`thinkube-tui remove {together}`) or keep {cid}"
            )
    return d


def operation(catalog: Catalog, decision: Decision, journal: Journal, purge: bool) -> Operation:
    from ..cluster_state import write_state
    from ..installers import uninstaller
    from ..operation import Operation
    from ..plan import removal_plan

    async def forget(cluster: Cluster, cid: str) -> None:
        await journal.aforget(cid)
        await write_state(await cluster.kube(), journal)  # else re-entry would adopt it back

    units = {cid: fn for cid in decision.removing if (fn := uninstaller(cid)) is not None}
    return Operation(
        NAME,
        removal_plan(catalog, decision.removing, installed=decision.staying),
        units,
        purge=purge,
        staying=decision.staying,
        after=forget,
    )


async def run(args: argparse.Namespace) -> int:
    return await with_inputs(args, NAME, lambda inputs: _remove(args, inputs))


def _refused(decision: Decision) -> int | None:
    for note in decision.notes:
        print(note, file=sys.stderr)
    if decision.refusals:
        for refusal in decision.refusals:
            print(f"thinkube-tui remove: {refusal}", file=sys.stderr)
        print("nothing was changed", file=sys.stderr)
        return EXIT_INVALID
    return None


def describe(op: Operation, purge: bool) -> str:
    order = ", ".join(op.plan.ids)
    data = "their data too (--purge)" if purge else "keeping their data (volume claims, databases, buckets)"
    return f"remove {order} in this order, {data}."


async def _remove(args: argparse.Namespace, inputs: Inputs) -> int:
    from ..catalog import load_catalog
    from ..operation import discard, take_up

    catalog = load_catalog()

    def prepare(journal: Journal, _session: object) -> Prepared:
        decision = decide(catalog, args.components, journal.installed, take_up(inputs.state_dir, NAME))
        if (refused := _refused(decision)) is not None:
            return Prepared(None, exit=refused)
        if not decision.removing:
            discard(inputs.state_dir, NAME)
            return Prepared(None, exit=0)
        op = operation(catalog, decision, journal, args.purge)
        plan = describe(op, args.purge)
        if args.dry_run:
            plan += "\n(A namespace holding volume claims is kept without --purge; the dry run does not look.)"
        return Prepared(op, plan)

    code, _result = await change_cluster(args, inputs, NAME, prepare, question="Remove them now?")
    return code
