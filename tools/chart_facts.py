"""Facts about the charts and CRDs thinkube-tui installs, extracted from upstream's own files.

Reads <upstream>/<component>/ (each chart's values.yaml, values.schema.json|yaml, CRDs; its
SOURCES.md names repository, path and tag of every file) and writes
tests/data/upstream_facts/<component>.json: per chart version the set of value key paths, per
CRD kind and version the set of field paths. Facts only -- names and paths, never upstream text.

Paths are dotted keys; a list is `key[]`, its items' keys below it (`servers[].zones`). A path in
`open` takes any key below it: a free-form map (`podAnnotations: {}`, a null default, a Kubernetes
object the chart passes through toYaml such as `resources`), a schema's additionalProperties, a
CRD's x-kubernetes-preserve-unknown-fields.

    python tools/chart_facts.py [--upstream DIR] [--out DIR] [--check]

--check compares with the committed facts instead of writing them (exit 1 when they differ).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python tools/chart_facts.py` from a checkout
    sys.path.insert(0, str(REPO))


def default_upstream() -> Path:
    """../shared/upstream beside the repository (for a git worktree: beside its main checkout)."""
    here = REPO.parent / "shared" / "upstream"
    if here.is_dir():
        return here
    import subprocess

    try:
        common = subprocess.run(
            ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return here
    return Path(common).parent.parent / "shared" / "upstream" if common else here


DEFAULT_OUT = REPO / "tests" / "data" / "upstream_facts"
ABOUT = (
    "Facts (value key paths, CRD field paths) extracted by tools/chart_facts.py from the upstream files "
    "named in `source`; not upstream text. Regenerate: python tools/chart_facts.py"
)

# Keys whose maps the charts pass whole to Kubernetes (toYaml): Kubernetes' own objects and string
# maps, so any key below them is allowed, whatever the defaults show. (Other maps are open only
# when their default is empty or null: `env: {email: ...}` is read key by key in some charts.)
PASS_THROUGH = re.compile(r"(annotations|labels|nodeselector|resources|securitycontext|affinity|tolerations)$", re.I)


@dataclass(frozen=True)
class ChartFiles:
    chart: str
    values: str  # relative to the component's folder
    schema: str | None = None
    subcharts: tuple[tuple[str, str, str], ...] = ()  # (values key, chart, its values file)


@dataclass(frozen=True)
class Upstream:
    charts: tuple[ChartFiles, ...] = ()
    crds: tuple[str, ...] = ()
    crd_pin: str = ""  # the pin the CRDs come with: a chart name, or a name of extra_pins()
    unavailable: str = ""  # why nothing is stored (a licence): the chart is listed, unchecked


# Which upstream files are which chart (the folder names are upstream/'s).
UPSTREAM: dict[str, Upstream] = {
    "argo-cd": Upstream((ChartFiles("argo-cd", "values.yaml"),), ("crd-application.yaml",), "argo-cd"),
    "argo-workflows": Upstream((ChartFiles("argo-workflows", "values.yaml"),)),
    "awx": Upstream((ChartFiles("awx-operator", "values.yaml"),), ("awx.ansible.com_awxs.yaml",), "awx-operator"),
    "cert-manager": Upstream(
        (ChartFiles("cert-manager", "values.yaml", "values.schema.json"),),
        ("cert-manager.io_certificates.yaml", "cert-manager.io_clusterissuers.yaml"),
        "cert-manager",
    ),
    "coredns": Upstream((ChartFiles("coredns", "values.yaml"),)),
    "gpu-operator": Upstream((ChartFiles("gpu-operator", "values.yaml"),)),
    "grafana": Upstream((ChartFiles("grafana", "values.yaml"),)),
    "harbor": Upstream((ChartFiles("harbor", "values.yaml"),)),
    "ingress-nginx": Upstream((ChartFiles("ingress-nginx", "values.yaml"),)),
    "jupyterhub": Upstream((ChartFiles("jupyterhub", "values.yaml", "values.schema.yaml"),)),
    "keycloak": Upstream(
        crds=("keycloaks.k8s.keycloak.org-v1.yml", "keycloakrealmimports.k8s.keycloak.org-v1.yml"),
        crd_pin="keycloak-operator",
    ),
    # Only the CRD is stored: the chart's values are checked as having no keys (the installer sends none).
    "knative": Upstream((ChartFiles("knative-operator", ""),), ("knativeservings.yaml",), "knative-operator"),
    "loki": Upstream((ChartFiles("loki", "values.yaml"),)),
    "metallb": Upstream(crds=("crd.yaml",), crd_pin="microk8s-core-addons"),
    "minio": Upstream((ChartFiles("operator", ""),), unavailable="AGPL-3.0: no file stored; checked from its docs"),
    "mlflow": Upstream((ChartFiles("mlflow", "values.yaml", "values.schema.json"),)),
    "opensearch": Upstream(
        (
            ChartFiles("opensearch", "opensearch/values.yaml"),
            ChartFiles("opensearch-dashboards", "opensearch-dashboards/values.yaml"),
        )
    ),
    "penpot": Upstream((ChartFiles("penpot", "values.yaml"),)),
    "pgadmin": Upstream((ChartFiles("pgadmin4", "values.yaml"),)),
    "postgresql": Upstream(
        (ChartFiles("cloudnative-pg", "values.yaml", "values.schema.json"),), ("crds.yaml",), "cloudnative-pg"
    ),
    "prometheus": Upstream(
        (
            ChartFiles(
                "kube-prometheus-stack",
                "values.yaml",
                subcharts=(
                    ("kube-state-metrics", "kube-state-metrics", "kube-state-metrics/values.yaml"),
                    ("prometheus-node-exporter", "prometheus-node-exporter", "prometheus-node-exporter/values.yaml"),
                ),
            ),
        )
    ),
    "qdrant": Upstream((ChartFiles("qdrant", "values.yaml"),)),
    "valkey": Upstream((ChartFiles("valkey", "values.yaml", "values.schema.json"),)),
    "vault": Upstream((ChartFiles("vault", "values.yaml", "values.schema.json"),)),
}


# ----------------------------------------------------------------------------- pins


def pins() -> dict[str, str]:
    """What thinkube-tui pins: chart name -> version (catalog.yaml), and the pins kept in installers."""
    from thinkube_tui.catalog import load_catalog
    from thinkube_tui.installers import keycloak, opensearch
    from thinkube_tui.spec import ClusterSpec

    out: dict[str, str] = {}
    for component in load_catalog():
        if component.install.method == "helm" and component.install.chart and component.install.version:
            out.setdefault(component.install.chart, component.install.version)
    out["opensearch-dashboards"] = opensearch.DASHBOARDS_VERSION
    out["keycloak-operator"] = keycloak.VERSION
    # MetalLB comes with MicroK8s' addon: its CRDs are those of the addons' branch of the channel's track.
    out["microk8s-core-addons"] = ClusterSpec.microk8s_channel.split("/")[0]
    return out


def same_version(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.lstrip("v") == b.lstrip("v")


def spelled_as_pinned(version: str | None, pinned: str | None) -> str | None:
    """The version as the pin spells it (tags say v1.18.2 where the chart is 1.18.2)."""
    return pinned if same_version(version, pinned) else version


# ----------------------------------------------------------------------------- SOURCES.md


@dataclass(frozen=True)
class Source:
    file: str
    repo: str
    path: str
    ref: str
    commit: str
    version: str | None

    def as_json(self) -> dict[str, str]:
        return {"repo": self.repo, "path": self.path, "ref": self.ref, "commit": self.commit}


ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|\s*([^|]+?)\s*\|\s*`([^`]+)`\s*\|\s*([^|(]+?)\s*\(`([0-9a-f]+)`\)")
VERSION_AT_END = re.compile(r"(v?\d+(?:\.\d+)+)$")


def read_sources(folder: Path) -> dict[str, Source]:
    """file -> where it came from, as the folder's SOURCES.md table says."""
    text = (folder / "SOURCES.md").read_text()
    # A ref that is a bare commit: the prose names the chart version it carries ("`version: X`").
    stated = re.search(r"`version: (v?\d+(?:\.\d+)+)`", text)
    out = {}
    for line in text.splitlines():
        m = ROW.match(line)
        if not m:
            continue
        file, repo, path, ref, commit = (g.strip() for g in m.groups())
        found = VERSION_AT_END.search(ref)
        version = found.group(1) if found and not re.fullmatch(r"[0-9a-f]{40}", ref) else None
        out[file] = Source(file, repo, path, ref, commit, version or (stated.group(1) if stated else None))
    return out


# ----------------------------------------------------------------------------- extraction


def join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


@dataclass
class Paths:
    keys: set[str] = field(default_factory=set)
    open: set[str] = field(default_factory=set)

    def merge(self, other: Paths, prefix: str = "") -> None:
        self.keys |= {join(prefix, k) for k in other.keys}
        self.open |= {join(prefix, k) for k in other.open}


def values_paths(node: Any, prefix: str = "", into: Paths | None = None) -> Paths:
    """Key paths of a values document (the chart's defaults)."""
    out = into if into is not None else Paths()
    leaf = prefix.rsplit(".", 1)[-1].removesuffix("[]")
    if prefix and PASS_THROUGH.search(leaf) and not isinstance(node, (str, int, float, bool)):
        out.open.add(prefix)
    if isinstance(node, dict):
        if not node and prefix:
            out.open.add(prefix)
        for key, value in node.items():
            path = join(prefix, str(key))
            out.keys.add(path)
            values_paths(value, path, out)
    elif isinstance(node, list):
        path = f"{prefix}[]"
        out.keys.add(path)
        items = [item for item in node if isinstance(item, dict)]
        if not items:  # an empty list, or one of scalars: its items are the operator's
            out.open.add(path)
        for item in items:
            values_paths(item, path, out)
    elif node is None and prefix:
        out.open.add(prefix)  # a null default: whatever the operator puts there
    return out


def schema_paths(
    schema: Any, prefix: str = "", into: Paths | None = None, root: Any = None, seen: tuple[str, ...] = ()
) -> Paths:
    """Key paths a JSON schema (values.schema.* or a CRD's openAPIV3Schema) declares."""
    out = into if into is not None else Paths()
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return out
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and ref not in seen:
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        schema_paths(target, prefix, out, root, (*seen, ref))
    for combined in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(combined) or []:
            schema_paths(sub, prefix, out, root, seen)
    props = schema.get("properties") or {}
    for key, sub in props.items():
        path = join(prefix, key)
        out.keys.add(path)
        schema_paths(sub, path, out, root, seen)
    extra = schema.get("additionalProperties")
    types = schema.get("type")
    types = set(types) if isinstance(types, list) else {types}
    is_object = "object" in types or bool(props)
    if prefix and (
        schema.get("x-kubernetes-preserve-unknown-fields")
        or extra not in (None, False)
        or schema.get("patternProperties")
        or (is_object and not props and extra is None and "$ref" not in schema)
    ):
        out.open.add(prefix)
    items = schema.get("items")
    if "array" in types or items is not None:
        path = f"{prefix}[]"
        out.keys.add(path)
        if isinstance(items, dict) and (items.get("properties") or items.get("$ref") or items.get("allOf")):
            schema_paths(items, path, out, root, seen)
        else:
            out.open.add(path)
    return out


KEY_LINE = re.compile(r"^(?P<indent> *)(?P<hash>#+(?P<gap> *))?(?P<key>[A-Za-z_][A-Za-z0-9_.-]*):(\s|$)")


PROSE = re.compile(r"^[A-Z][a-z]+$|^[A-Z]+$|^SPDX-|^yaml-language-server$|\.$")  # `# Note: ...`, `# IMPORTANT: ...`


def documented_keys(text: str, real: set[str]) -> set[str]:
    """Keys values.yaml documents as commented-out examples (`# fullnameOverride: ""`, `#secure: true`).

    A commented key sits at the column of its `#` (plus the indentation after it, beyond one space);
    its parent is the nearest key line above with less indentation, and must be a real key (or none).
    """
    stack: list[tuple[int, str, bool]] = []  # (indent, path, commented)
    out: set[str] = set()
    for line in text.splitlines():
        m = KEY_LINE.match(line)
        if not m:
            continue
        indent = len(m["indent"])
        commented = m["hash"] is not None
        if commented:
            indent += max(0, len(m["gap"]) - 1)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1] if stack else ""
        path = join(parent, m["key"])
        if commented and PROSE.search(m["key"]):
            continue
        if commented and (not parent or parent in real or parent in out) and path not in real:
            out.add(path)
        stack.append((indent, path, commented))
    return out


TEMPLATE_LINE = re.compile(r"^\s*\{\{.*\}\}\s*$")
TEMPLATE = re.compile(r"\{\{.*?\}\}")


def load_yaml_documents(path: Path) -> list[Any]:
    """YAML documents of a file; a chart template's directives ({{ }}) are dropped first."""
    text = path.read_text()
    if "{{" in text:
        lines = [line for line in text.splitlines() if not TEMPLATE_LINE.match(line)]
        text = TEMPLATE.sub("templated", "\n".join(lines))
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def crd_facts(path: Path) -> Iterator[dict[str, Any]]:
    for doc in load_yaml_documents(path):
        if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
            continue
        spec = doc["spec"]
        for version in spec.get("versions") or []:
            if not version.get("served", True):
                continue
            schema = (version.get("schema") or spec.get("validation") or {}).get("openAPIV3Schema") or {}
            paths = schema_paths(schema)
            yield {
                "group": spec["group"],
                "kind": spec["names"]["kind"],
                "version": version["name"],
                "fields": sorted(paths.keys),
                "open": sorted(paths.open),
            }


def chart_facts(folder: Path, files: ChartFiles, sources: Mapping[str, Source], pinned: str | None) -> dict[str, Any]:
    source = sources[files.values] if files.values else next(iter(sources.values()))
    text = (folder / files.values).read_text() if files.values else ""
    paths = values_paths(yaml.safe_load(text) or {})
    documented = documented_keys(text, paths.keys)
    if files.schema:
        raw = (folder / files.schema).read_text()
        schema_paths(json.loads(raw) if files.schema.endswith(".json") else yaml.safe_load(raw), into=paths)
    subcharts = []
    for key, chart, values in files.subcharts:
        sub = sources[values]
        sub_text = (folder / values).read_text()
        sub_paths = values_paths(yaml.safe_load(sub_text) or {})
        documented |= {join(key, k) for k in documented_keys(sub_text, sub_paths.keys)}
        paths.merge(sub_paths, key)
        subcharts.append({"key": key, "chart": chart, "version": sub.version, "source": sub.as_json()})
    return {
        "chart": files.chart,
        "version": spelled_as_pinned(source.version, pinned),
        "pinned_version": pinned,
        "from_nearby_version": not same_version(source.version, pinned),
        "source": source.as_json(),
        "values_stored": bool(files.values),  # false: no key is known, every key fails
        "schema": files.schema is not None,
        "subcharts": subcharts,
        "keys": sorted(paths.keys),
        "documented_keys": sorted(documented),  # commented-out examples in values.yaml
        "open": sorted(paths.open),
    }


def component_facts(upstream: Path, component: str, pinned: Mapping[str, str]) -> dict[str, Any]:
    spec = UPSTREAM[component]
    folder = upstream / component
    out: dict[str, Any] = {"about": ABOUT, "component": component}
    if spec.unavailable:
        out["charts"] = [
            {"chart": c.chart, "version": None, "pinned_version": pinned.get(c.chart), "unavailable": spec.unavailable}
            for c in spec.charts
        ]
        out["crds"] = []
        return out
    sources = read_sources(folder)
    out["charts"] = [chart_facts(folder, files, sources, pinned.get(files.chart)) for files in spec.charts]
    crds = []
    for file in spec.crds:
        source = sources[file]
        for crd in crd_facts(folder / file):
            crds.append(
                {
                    **{k: crd[k] for k in ("group", "kind", "version")},
                    "release": spelled_as_pinned(source.version, pinned.get(spec.crd_pin)),
                    "pinned_by": spec.crd_pin,
                    "pinned_version": pinned.get(spec.crd_pin),
                    "from_nearby_version": not same_version(source.version, pinned.get(spec.crd_pin)),
                    "source": source.as_json(),
                    "fields": crd["fields"],
                    "open": crd["open"],
                }
            )
    out["crds"] = crds
    return out


def extract_all(upstream: Path) -> dict[str, dict[str, Any]]:
    pinned = pins()
    return {component: component_facts(upstream, component, pinned) for component in sorted(UPSTREAM)}


def dumps(facts: Mapping[str, Any]) -> str:
    return json.dumps(facts, indent=1) + "\n"


# ----------------------------------------------------------------------------- checking against facts


def flatten(node: Any, prefix: str = "") -> Iterator[str]:
    """The key paths a values document (or a resource) sets: its leaves and empty maps and lists."""
    if isinstance(node, Mapping):
        if not node and prefix:
            yield prefix
        for key, value in node.items():
            yield from flatten(value, join(prefix, str(key)))
    elif isinstance(node, list):
        path = f"{prefix}[]"
        if not any(isinstance(item, (Mapping, list)) for item in node):
            yield path
        for item in node:
            if isinstance(item, (Mapping, list)):
                yield from flatten(item, path)
    elif prefix:
        yield prefix


def prefixes(path: str) -> Iterator[str]:
    """`a.b[].c` -> `a`, `a.b`, `a.b[]`, `a.b[].c`."""
    current = ""
    for part in path.split("."):
        name = part.removesuffix("[]")
        current = join(current, name)
        yield current
        if part.endswith("[]"):
            current += "[]"
            yield current


def declared(path: str, keys: set[str], open_: set[str]) -> bool:
    chain = list(prefixes(path))
    return path in keys or any(p in open_ for p in chain[:-1]) or (path in open_)


def nearest(path: str, keys: Iterable[str]) -> str | None:
    """The real key most like `path`: among the children of its longest declared parent, else anywhere."""
    keys = set(keys)
    parent = ""
    for p in prefixes(path):
        if p in keys:
            parent = p
    ordered = sorted(keys)  # ties go the same way every run
    siblings = [k for k in ordered if k.startswith(parent) and k.count(".") == path.count(".")] if parent else []
    for pool in (siblings, ordered):
        match = difflib.get_close_matches(path, pool, n=1, cutoff=0.6)
        if match:
            return match[0]
    return None


def undeclared(document: Any, keys: Iterable[str], open_: Iterable[str]) -> list[tuple[str, str | None]]:
    """(path, nearest real key) for each path of `document` the facts do not declare."""
    known, free = set(keys), set(open_)
    return [(p, nearest(p, known)) for p in sorted(set(flatten(document))) if not declared(p, known, free)]


# ----------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", type=Path, default=None, help="default ../shared/upstream beside the repository")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    parser.add_argument("--check", action="store_true", help="compare with the facts in --out; write nothing")
    args = parser.parse_args(argv)
    args.upstream = args.upstream or default_upstream()
    if not args.upstream.is_dir():
        print(f"chart_facts: no upstream files at {args.upstream} (give --upstream DIR)", file=sys.stderr)
        return 2
    facts = extract_all(args.upstream)
    stale = []
    for component, data in facts.items():
        target = args.out / f"{component}.json"
        text = dumps(data)
        if args.check:
            if not target.exists() or target.read_text() != text:
                stale.append(str(target))
            continue
        args.out.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        charts = ", ".join(f"{c['chart']} {c['version']}" for c in data["charts"])
        kinds = len(data["crds"])
        print(f"{target}: {charts or '-'}; {kinds} CRD kind-versions")
    if stale:
        print("out of date (run python tools/chart_facts.py):\n  " + "\n  ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
