"""The plan: what to install, in which order, and how long the longest chain takes.

Selected components plus everything they require (each pulled-in one knows who pulled it
in), minus what is installed already, as a DAG over `requires` and the soft `after` order.
The scheduler runs it by readiness, not by wave; waves and the critical path are for people
and for judging the scheduler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .catalog import Catalog, Component, find_cycle
from .spec import AUTO, Spec


class PlanError(Exception):
    """The selection cannot be planned (a cycle: a bug in the catalog)."""


@dataclass(frozen=True)
class Planned:
    component: Component
    reason: str  # why it is in the plan, for people
    required_by: tuple[str, ...]  # the selected components that pulled it in, if any
    deps: tuple[str, ...]  # what must finish first (requires and after, within the plan)
    wave: int
    estimate_s: float
    finish_s: float  # earliest finish if everything ran as soon as it could

    @property
    def id(self) -> str:
        return self.component.id


@dataclass(frozen=True)
class Plan:
    items: tuple[Planned, ...]  # topological order: each after all its deps
    installed: frozenset[str]
    critical_path: tuple[str, ...]
    critical_path_s: float

    def __getitem__(self, component_id: str) -> Planned:
        return next(p for p in self.items if p.id == component_id)

    def __contains__(self, component_id: object) -> bool:
        return any(p.id == component_id for p in self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.items)

    @property
    def waves(self) -> tuple[tuple[str, ...], ...]:
        count = max((p.wave for p in self.items), default=-1) + 1
        return tuple(tuple(p.id for p in self.items if p.wave == w) for w in range(count))

    def by_group(self, catalog: Catalog) -> list[tuple[str, list[Planned]]]:
        return [
            (g.id, members) for g in catalog.groups if (members := [p for p in self.items if p.component.group == g.id])
        ]

    @property
    def sequential_s(self) -> float:
        return sum(p.estimate_s for p in self.items)

    def to_json(self) -> dict[str, Any]:
        return {
            "components": [
                {
                    "id": p.id,
                    "group": p.component.group,
                    "reason": p.reason,
                    "requiredBy": list(p.required_by),
                    "dependsOn": list(p.deps),
                    "waveNumber": p.wave + 1,  # 1-based, as every screen and `plan` show it
                    "estimateSeconds": p.estimate_s,
                }
                for p in self.items
            ],
            "waves": [list(w) for w in self.waves],
            "installed": sorted(self.installed),
            "criticalPath": list(self.critical_path),
            "criticalPathSeconds": self.critical_path_s,
            "sequentialSeconds": self.sequential_s,
        }


def selected(catalog: Catalog, spec: Spec, gpu_present: bool | None) -> dict[str, str]:
    """The components the Spec asks for, with the reason for each."""
    out: dict[str, str] = {}
    for comp in catalog:
        enabled = spec.components[comp.id].enabled
        if enabled is True:
            out[comp.id] = "core" if comp.core else "selected"
        elif enabled == AUTO:
            if gpu_present is None:
                out[comp.id] = f"auto: installed if discovery finds an {comp.core_when}"
            elif gpu_present:
                out[comp.id] = f"auto: an {comp.core_when} was found"
    return out


def make_plan(
    catalog: Catalog,
    spec: Spec,
    *,
    installed: frozenset[str] = frozenset(),
    gpu_present: bool | None = None,
    estimates: Mapping[str, float] | None = None,
) -> Plan:
    wanted = {cid: why for cid, why in selected(catalog, spec, gpu_present).items() if cid not in installed}
    return plan_for(catalog, wanted, installed=installed, estimates=estimates)


def plan_for(
    catalog: Catalog,
    wanted: Mapping[str, str],
    *,
    installed: frozenset[str] = frozenset(),
    estimates: Mapping[str, float] | None = None,
) -> Plan:
    """Plan `wanted` (id -> reason) plus its requirements, leaving out what is `installed`."""
    required_by: dict[str, list[str]] = {}
    members = dict(wanted)
    queue = list(wanted)
    while queue:
        cid = queue.pop()
        roots = required_by.get(cid) or [cid]
        for dep in catalog[cid].requires:
            if dep in installed:
                continue  # an installed requirement is satisfied, and so are its own
            if dep not in members:
                members[dep] = ""
                queue.append(dep)
            if dep not in wanted:
                known = required_by.setdefault(dep, [])
                before = len(known)
                known.extend(r for r in roots if r not in known)
                if len(known) != before:
                    queue.append(dep)  # pass the new roots on to its own requirements

    edges = {cid: tuple(d for d in (*catalog[cid].requires, *catalog[cid].after) if d in members) for cid in members}
    reasons = {cid: why or "required by " + ", ".join(sorted(required_by[cid])) for cid, why in members.items()}
    pulled_in = {cid: tuple(sorted(required_by.get(cid, ()))) for cid, why in members.items() if not why}
    return _ordered(catalog, reasons, edges, pulled_in, installed=installed, estimates=estimates)


def removal_plan(catalog: Catalog, removing: Mapping[str, str], *, installed: frozenset[str] = frozenset()) -> Plan:
    """Taking `removing` (id -> reason) away: each one after those of them that require it or
    run after it -- the install's order, reversed. `installed`: what stays."""
    edges = {
        cid: tuple(d for d in catalog.ids if d in removing and cid in (*catalog[d].requires, *catalog[d].after))
        for cid in removing
    }
    return _ordered(catalog, dict(removing), edges, {}, installed=installed, estimates=None)


def _ordered(
    catalog: Catalog,
    reasons: Mapping[str, str],
    edges: Mapping[str, tuple[str, ...]],
    pulled_in: Mapping[str, tuple[str, ...]],
    *,
    installed: frozenset[str],
    estimates: Mapping[str, float] | None,
) -> Plan:
    """The plan of `reasons`' components along `edges` (what each waits for): waves, estimates,
    the critical path."""
    members = reasons
    cycle = find_cycle(edges)
    if cycle:
        raise PlanError("dependency cycle: " + " -> ".join(cycle))

    estimate = {cid: float((estimates or {}).get(cid, catalog[cid].estimate_s)) for cid in members}
    wave: dict[str, int] = {}
    finish: dict[str, float] = {}
    for cid in _topological(catalog, edges):
        wave[cid] = 1 + max((wave[d] for d in edges[cid]), default=-1)
        finish[cid] = estimate[cid] + max((finish[d] for d in edges[cid]), default=0.0)

    order = sorted(members, key=lambda c: (wave[c], catalog.ids.index(c)))
    items = tuple(
        Planned(
            component=catalog[cid],
            reason=reasons[cid],
            required_by=pulled_in.get(cid, ()),
            deps=edges[cid],
            wave=wave[cid],
            estimate_s=estimate[cid],
            finish_s=finish[cid],
        )
        for cid in order
    )
    path = _critical_path(edges, finish)
    return Plan(
        items=items,
        installed=frozenset(installed),
        critical_path=tuple(path),
        critical_path_s=max(finish.values(), default=0.0),
    )


def _topological(catalog: Catalog, edges: Mapping[str, tuple[str, ...]]) -> list[str]:
    done: set[str] = set()
    out: list[str] = []
    pending = sorted(edges, key=catalog.ids.index)
    while pending:
        ready = [c for c in pending if all(d in done for d in edges[c])]
        out.extend(ready)
        done.update(ready)
        pending = [c for c in pending if c not in done]
    return out


def _critical_path(edges: Mapping[str, tuple[str, ...]], finish: Mapping[str, float]) -> list[str]:
    if not finish:
        return []
    node = max(finish, key=lambda c: finish[c])
    path = [node]
    while edges[node]:
        node = max(edges[node], key=lambda d: finish[d])
        path.append(node)
    return path[::-1]
