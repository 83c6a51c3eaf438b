"""`thinkube-tui doctor`'s health checks of an installed cluster, each problem with its fix.

Nodes: every node of the answers is a Kubernetes Node and Ready. Components: for each
component the journal records, a failed install is reported with its error; for each one
installed, its namespace exists and every Deployment, StatefulSet and DaemonSet in it has
the replicas it asks for ready -- what the installers' own rollout waits check before they
call a component done. Components sharing a namespace share its workloads' findings.
Preflight's checks of the nodes run beside these (commands/doctor.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .catalog import Catalog
from .journal import Journal
from .kube import Kube
from .spec import Spec

WORKLOADS = (("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"))


@dataclass(frozen=True)
class Problem:
    """One thing wrong: where (a node or a component), what, and what to do."""

    where: str
    message: str
    fix: str


def ready_counts(obj: Mapping[str, Any]) -> tuple[int, int]:
    """(ready, wanted) pods of a Deployment, StatefulSet or DaemonSet, from its status."""
    status, spec = obj.get("status") or {}, obj.get("spec") or {}
    if obj.get("kind") == "DaemonSet":
        return int(status.get("numberReady", 0)), int(status.get("desiredNumberScheduled", 0))
    return int(status.get("readyReplicas", 0)), int(spec.get("replicas", 1))


def node_problems(spec: Spec, nodes: Iterable[Mapping[str, Any]]) -> list[Problem]:
    by_name = {n["metadata"]["name"]: n for n in nodes}
    out = []
    for node in spec.nodes:
        found = by_name.get(node.name)
        if found is None:
            out.append(
                Problem(
                    node.name,
                    f"{node.name} is not a node of the cluster",
                    f"Run the install again to join it: thinkube-tui --answers FILE --only "
                    f"{'microk8s-control' if node.role == 'control' else 'microk8s-workers'}",
                )
            )
            continue
        conditions = {c.get("type"): c for c in (found.get("status") or {}).get("conditions") or []}
        ready = conditions.get("Ready") or {}
        if ready.get("status") != "True":
            why = ready.get("message") or ready.get("reason") or "no Ready condition"
            out.append(
                Problem(
                    node.name,
                    f"{node.name} is not Ready: {why}",
                    f"On {node.name}: `sudo microk8s inspect` names the failing service; "
                    "`thinkube-tui support-bundle` collects it with the rest.",
                )
            )
    return out


async def component_problems(kube: Kube, catalog: Catalog, journal: Journal) -> list[Problem]:
    out = []
    for cid, record in sorted(journal.components.items()):
        if record.status == "failed":
            out.append(
                Problem(
                    cid,
                    f"{cid}: its last install failed: {record.error or 'no error recorded'}",
                    f"Fix what the install log says, then: thinkube-tui --answers FILE --only {cid}",
                )
            )
    installed = [catalog[cid] for cid in sorted(journal.installed) if cid in catalog]
    by_namespace: dict[str, list[str]] = {}
    for component in installed:
        by_namespace.setdefault(component.namespace, []).append(component.id)
    for namespace, ids in sorted(by_namespace.items()):
        owners = ", ".join(ids)
        if await kube.get("v1", "Namespace", namespace) is None:
            out.append(
                Problem(
                    owners,
                    f"{owners}: namespace {namespace} is gone",
                    f"Install again: thinkube-tui --answers FILE {' '.join(f'--only {i}' for i in ids)}",
                )
            )
            continue
        for api_version, kind in WORKLOADS:
            for obj in await kube.list(api_version, kind, namespace):
                ready, wanted = ready_counts(obj)
                if ready < wanted:
                    name = obj["metadata"]["name"]
                    out.append(
                        Problem(
                            owners,
                            f"{owners}: {kind} {namespace}/{name} has {ready} of {wanted} pods ready",
                            f"See why: microk8s kubectl describe {kind.lower()} -n {namespace} {name} "
                            f"(and its pods' logs); `thinkube-tui support-bundle` collects them.",
                        )
                    )
    return out
