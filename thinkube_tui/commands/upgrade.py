"""`thinkube-tui upgrade [COMPONENT...]`: bring installed components to the versions this release pins.

The journal records what each component was installed at; the catalog pins what this release
installs. For each one out of date (all of them, or those named), in dependency order: its own
installer runs again with the new pin -- `helm upgrade` of its chart, then the verification it
ends with -- through the same engine, lock and events as an install (operation.py), and the
journal records the new version. Its settings are those of the answers file.

MicroK8s itself (a new `cluster.microk8sChannel` in the answers) moves node by node, the control
node first, then one worker at a time: drain, `snap refresh microk8s --channel=...`, Ready
again, uncordon (https://microk8s.io/docs/upgrading); a run cut off resumes with the node it
was on. Its addons (MetalLB) come with the snap; their installers converge after.

Exit codes: 0 upgraded (or nothing out of date), 1 an upgrade failed (run the same command
again: it resumes), 2 refused or bad input, 4 another run holds the cluster's lock, 130
interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection, Mapping
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
    from ..engine import Installer
    from ..installers.base import Cluster, InstallContext
    from ..journal import Journal
    from ..operation import Operation

NAME = "upgrade"


async def refresh_control(ctx: InstallContext) -> None:
    from ..installers.support.microk8s import refresh_to_channel

    await refresh_to_channel(ctx, ctx.control)


async def refresh_workers(ctx: InstallContext) -> None:
    """One worker at a time: the others keep running what was moved off it."""
    from ..installers.support.microk8s import refresh_to_channel

    for worker in ctx.workers:
        await refresh_to_channel(ctx, worker)


# MicroK8s itself moves to a new channel node by node, the control node first (the workers
# require it); its addons (metallb) come with the snap, and their installers converge after.
REFRESH: dict[str, Installer] = {"microk8s-control": refresh_control, "microk8s-workers": refresh_workers}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("upgrade", help="upgrade installed components to the versions this release pins")
    p.add_argument("components", nargs="*", metavar="COMPONENT", help="only these (default: every one out of date)")
    add_change_options(p)
    add_cluster_options(p)


@dataclass
class Decision:
    upgrading: dict[str, tuple[str | None, str]] = field(default_factory=dict)  # id -> (from, to)
    notes: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)


def decide(catalog: Catalog, journal: Journal, pins: Mapping[str, str], asked: Collection[str]) -> Decision:
    d = Decision()
    out_of_date = journal.out_of_date(pins)
    for cid in asked:
        if cid not in catalog:
            d.refusals.append(f"{cid}: not a component")
        elif cid not in journal.installed:
            d.refusals.append(f"{cid}: not installed (install it: `thinkube-tui --answers FILE --only {cid}`)")
        elif cid not in out_of_date:
            d.notes.append(f"{cid} is up to date ({pins[cid]})")
    for cid in catalog.ids:
        if cid not in out_of_date or (asked and cid not in asked):
            continue
        d.upgrading[cid] = out_of_date[cid]
    return d


def operation(catalog: Catalog, decision: Decision, journal: Journal) -> Operation:
    from ..cluster_state import write_state
    from ..installers import installer
    from ..operation import Operation
    from ..plan import plan_for

    async def record(cluster: Cluster, cid: str) -> None:
        await journal.aupgraded(cid, decision.upgrading[cid][1])
        await write_state(await cluster.kube(), journal)

    wanted = {cid: f"{was or 'unrecorded'} -> {now}" for cid, (was, now) in decision.upgrading.items()}
    plan = plan_for(catalog, wanted, installed=journal.installed - set(wanted))
    units = {cid: fn for cid in wanted if (fn := REFRESH.get(cid) or installer(cid)) is not None}
    return Operation(NAME, plan, units, staying=journal.installed, after=record)


def describe(catalog: Catalog, op: Operation, decision: Decision) -> str:
    lines = ["upgrade, in this order:"]
    for cid in op.plan.ids:
        was, now = decision.upgrading[cid]
        notes = catalog[cid].upgrade_notes
        lines.append(
            f"  {cid}: {was or 'an unrecorded version'} -> {now}" + (f" (read first: {notes})" if notes else "")
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    return await with_inputs(args, NAME, lambda inputs: _upgrade(args, inputs))


def _decided(catalog: Catalog, inputs: Inputs, journal: Journal, asked: Collection[str]) -> Decision:
    from ..operation import take_up

    take_up(inputs.state_dir, NAME)  # what is still out of date is planned again anyway
    channel = inputs.spec.cluster.microk8s_channel
    return decide(catalog, journal, {c.id: c.pinned_version(channel) for c in catalog.components}, asked)


def _refused(decision: Decision) -> int | None:
    for note in decision.notes:
        print(note, file=sys.stderr)
    if decision.refusals:
        for refusal in decision.refusals:
            print(f"thinkube-tui upgrade: {refusal}", file=sys.stderr)
        print("nothing was changed", file=sys.stderr)
        return EXIT_INVALID
    return None


async def _upgrade(args: argparse.Namespace, inputs: Inputs) -> int:
    from ..catalog import load_catalog
    from ..operation import discard

    catalog = load_catalog()

    def prepare(journal: Journal, _session: object) -> Prepared:
        decision = _decided(catalog, inputs, journal, args.components)
        if (refused := _refused(decision)) is not None:
            return Prepared(None, exit=refused)
        if not decision.upgrading:
            discard(inputs.state_dir, NAME)
            print("nothing to upgrade: every installed component is at the version this release pins", file=sys.stderr)
            return Prepared(None, exit=0)
        op = operation(catalog, decision, journal)
        return Prepared(op, describe(catalog, op, decision))

    code, _result = await change_cluster(args, inputs, NAME, prepare, question="Upgrade them now?")
    return code
