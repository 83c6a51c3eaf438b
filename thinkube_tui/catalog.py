"""The component catalog: every installable component, read from `catalog.yaml`.

`catalog.yaml` is the only place where dependencies live. This module turns it into frozen
dataclasses and checks it for the mistakes a hand-edited data file invites: unknown
requirements, missing schemas, a dependency cycle.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

InstallMethod = Literal["snap", "addon", "helm", "manifests", "workflow"]
Tier = Literal["core", "optional"]


@dataclass(frozen=True)
class Group:
    id: str
    title: str


@dataclass(frozen=True)
class Install:
    """How a component is installed.

    snap: the MicroK8s snap itself; addon: `microk8s enable <addons>`; helm: a chart from a
    repository at a pinned version; manifests: Kubernetes objects the installer builds;
    workflow: deployed through Argo Workflows / ArgoCD.
    """

    method: InstallMethod
    addons: tuple[str, ...] = ()
    repo: str | None = None
    chart: str | None = None
    version: str | None = None
    source: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Component:
    id: str
    title: str
    description: str
    group: str
    tier: Tier
    default: bool
    namespace: str
    install: Install
    schema: str
    requires: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    hostnames: tuple[str, ...] = ()
    core_when: str | None = None
    sso: bool = False
    per_node: bool = False  # does work on each node: runs again, converging, when nodes are added
    upgrade_notes: str | None = None  # what to read before upgrading it (`thinkube-tui upgrade`)
    estimate_s: float = 60.0

    @property
    def core(self) -> bool:
        return self.tier == "core" and self.core_when is None

    def pinned_version(self, microk8s_channel: str) -> str:
        """What this catalog installs it at, as the journal records it: the chart and its
        version, the MicroK8s channel (the snap, and addons that come with it), or the
        thinkube-tui release whose installer builds its objects."""
        if self.install.method == "helm" and self.install.chart and self.install.version:
            return f"{self.install.chart} {self.install.version}"
        if self.install.method in ("snap", "addon"):
            return f"microk8s {microk8s_channel}"
        from . import __version__

        return f"thinkube-tui {__version__}"

    def urls(self, domain: str) -> tuple[str, ...]:
        return tuple(f"https://{h.format(domain=domain)}" for h in self.hostnames)


@dataclass(frozen=True)
class Catalog:
    groups: tuple[Group, ...]
    components: tuple[Component, ...]
    _by_id: Mapping[str, Component] = field(repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {c.id: c for c in self.components})

    def __getitem__(self, component_id: str) -> Component:
        return self._by_id[component_id]

    def __contains__(self, component_id: object) -> bool:
        return component_id in self._by_id

    def __iter__(self) -> Iterator[Component]:
        return iter(self.components)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._by_id)

    def group(self, group_id: str) -> Group:
        return next(g for g in self.groups if g.id == group_id)

    def in_group(self, group_id: str) -> tuple[Component, ...]:
        return tuple(c for c in self.components if c.group == group_id)

    def schema(self, component_id: str) -> dict[str, Any]:
        """The JSON Schema fragment for a component's config."""
        return component_schema(self[component_id].schema)


class CatalogError(Exception):
    """The catalog data file is inconsistent (a bug in thinkube-tui, not in the operator's input)."""


@cache
def component_schema(name: str) -> dict[str, Any]:
    text = _schema_path(name).read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def _schema_path(name: str) -> Any:
    return resources.files("thinkube_tui") / "schemas" / "components" / f"{name}.json"


def schema_exists(name: str) -> bool:
    return bool(_schema_path(name).is_file())


@cache
def load_catalog() -> Catalog:
    text = resources.files("thinkube_tui").joinpath("catalog.yaml").read_text()
    # Our own data file: the C loader (when PyYAML has it) reads it about 8x faster.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return parse_catalog(yaml.load(text, Loader=loader))


def parse_catalog(data: Mapping[str, Any]) -> Catalog:
    groups = tuple(Group(id=str(g["id"]), title=g["title"]) for g in data["groups"])
    components = tuple(_component(raw) for raw in data["components"])
    catalog = Catalog(groups=groups, components=components)
    problems = list(check_catalog(catalog))
    if problems:
        raise CatalogError("catalog.yaml is inconsistent:\n  " + "\n  ".join(problems))
    return catalog


def _component(raw: Mapping[str, Any]) -> Component:
    install = dict(raw["install"])
    if "addons" in install:
        install["addons"] = tuple(install["addons"])
    return Component(
        id=raw["id"],
        title=raw["title"],
        description=raw["description"],
        group=str(raw["group"]),
        tier=raw["tier"],
        default=bool(raw.get("default", raw["tier"] == "core")),
        namespace=raw["namespace"],
        install=Install(**install),
        schema=raw.get("schema", raw["id"]),
        requires=tuple(raw.get("requires", ())),
        after=tuple(raw.get("after", ())),
        hostnames=tuple(raw.get("hostnames", ())),
        core_when=raw.get("core_when"),
        sso=bool(raw.get("sso", False)),
        per_node=bool(raw.get("per_node", False)),
        upgrade_notes=raw.get("upgrade_notes"),
        estimate_s=float(raw.get("estimate_s", 60.0)),
    )


def check_catalog(catalog: Catalog) -> Iterator[str]:
    """Every inconsistency in the catalog, as a sentence."""
    group_ids = {g.id for g in catalog.groups}
    seen: set[str] = set()
    for c in catalog:
        if c.id in seen:
            yield f"{c.id}: listed twice"
        seen.add(c.id)
        if c.group not in group_ids:
            yield f"{c.id}: unknown group {c.group!r}"
        for dep in (*c.requires, *c.after):
            if dep not in catalog:
                yield f"{c.id}: requires/after names unknown component {dep!r}"
        if c.id in c.requires or c.id in c.after:
            yield f"{c.id}: depends on itself"
        if not schema_exists(c.schema):
            yield f"{c.id}: no schema fragment schemas/components/{c.schema}.json"
        if c.install.method == "helm" and not (c.install.repo and c.install.chart and c.install.version):
            yield f"{c.id}: a helm install needs repo, chart and a pinned version"
        if c.install.method == "addon" and not c.install.addons:
            yield f"{c.id}: an addon install needs the addon names"
    cycle = find_cycle({c.id: c.requires + c.after for c in catalog})
    if cycle:
        yield "dependency cycle: " + " -> ".join(cycle)


def find_cycle(edges: Mapping[str, tuple[str, ...]]) -> list[str] | None:
    """A cycle in the graph `node -> what it depends on`, as a path that ends where it starts."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(edges, WHITE)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = GREY
        stack.append(node)
        for dep in edges.get(node, ()):
            if colour.get(dep, BLACK) == GREY:
                return [*stack[stack.index(dep) :], dep]
            if colour.get(dep) == WHITE:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        colour[node] = BLACK
        return None

    for node in edges:
        if colour[node] == WHITE:
            found = visit(node)
            if found:
                return found
    return None
