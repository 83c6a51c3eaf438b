"""The installers against upstream's own charts and CRDs, at the versions catalog.yaml pins.

tests/data/upstream_facts/ holds facts extracted by tools/chart_facts.py from each chart's
values.yaml (and values.schema.*) and each CRD at the pinned version: the key paths a chart
reads, the field paths a custom resource may have. The dry run of the full example and of a GPU
example (tests/data/answers-gpu.yaml) gives every Helm values document the installers send and
every custom resource they apply; each key must exist in that chart version (or be in
tests/data/upstream_values_allowed.yaml with the reason the chart reads it anyway), each field in
the CRD. Pins and facts move together: a pin without facts of that version fails.
"""

from __future__ import annotations

import copy
import functools
import json
import shlex
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from thinkube_tui.catalog import load_catalog
from thinkube_tui.dryrun import Transcript, dry_run
from thinkube_tui.spec import load_answers
from tools import chart_facts

ROOT = Path(__file__).resolve().parents[2]
FACTS = ROOT / "tests" / "data" / "upstream_facts"
ALLOWED = ROOT / "tests" / "data" / "upstream_values_allowed.yaml"
EXAMPLES = {"full": ROOT / "examples" / "answers-full.yaml", "gpu": ROOT / "tests" / "data" / "answers-gpu.yaml"}
REGENERATE = "python tools/chart_facts.py"
#: Custom resources the installers apply whose CRDs are not in ../shared/upstream, and why.
WITHOUT_CRD_FACTS = {
    ("minio.min.io/v2", "Tenant"): "MinIO's operator is AGPL-3.0: not stored (checked from its docs)",
    ("argoproj.io/v1alpha1", "WorkflowTemplate"): "argo-workflows' CRDs are not stored, only its values.yaml",
    ("argoproj.io/v1alpha1", "Workflow"): "argo-workflows' CRDs are not stored, only its values.yaml",
}


@functools.cache
def committed_facts() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(FACTS.glob("*.json"))}


def charts_by_name() -> dict[str, dict[str, Any]]:
    return {c["chart"]: c for facts in committed_facts().values() for c in facts["charts"]}


def crds_by_kind() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the CRD's facts."""
    return {(f"{c['group']}/{c['version']}", c["kind"]): c for f in committed_facts().values() for c in f["crds"]}


def allowed() -> dict[str, list[str]]:
    """chart -> key paths (and everything below them) the chart's templates read though values.yaml lacks them."""
    out: dict[str, list[str]] = {}
    for entry in yaml.safe_load(ALLOWED.read_text()):
        assert entry.get("reason"), f"{ALLOWED.name}: {entry} gives no reason"
        out.setdefault(entry["chart"], []).append(entry["key"])
    return out


_transcripts: dict[str, Transcript] = {}


async def transcript(example: str) -> Transcript:
    if example not in _transcripts:
        _transcripts[example] = await dry_run(load_answers(EXAMPLES[example]), load_catalog())
    return _transcripts[example]


def helm_values(t: Transcript) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(component, chart, version, values) of every `helm upgrade --install ... -f -` of the dry run."""
    for records in t.records.values():
        for record in records:
            if "helm3 upgrade --install" not in record.line or record.stdin is None:
                continue
            component, _, command = record.line.partition("] ")
            words = shlex.split(command.removesuffix(" (input on stdin)"))
            assert words[-2:] == ["-f", "-"], record.line
            chart = words[words.index("--install") + 2]
            yield component.lstrip("["), chart, words[words.index("--version") + 1], yaml.safe_load(record.stdin) or {}


def custom_resources(t: Transcript) -> Iterator[dict[str, Any]]:
    """Every object the dry run applies: through the API, or as manifests on a command's stdin."""
    for records in t.records.values():
        for record in records:
            if record.body is not None and "apiVersion" in record.body:
                yield dict(record.body)
            elif record.stdin and " apply " in record.line and "-f -" in record.line:
                yield from (d for d in yaml.safe_load_all(record.stdin) if isinstance(d, dict))


def problems_in_values(chart: dict[str, Any], values: Any, allow: list[str]) -> list[str]:
    out = []
    keys = chart["keys"] + chart["documented_keys"]
    for path, near in chart_facts.undeclared(values, keys, chart["open"]):
        if any(path == a or path.startswith((a + ".", a + "[]")) for a in allow):
            continue
        hint = f" (nearest real key: {near})" if near else ""
        out.append(f"{chart['chart']} {chart['version']}: {path} is not a value of the chart{hint}")
    return out


def problems_in_resource(crd: dict[str, Any], obj: dict[str, Any]) -> list[str]:
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata", "status")}
    name = (obj.get("metadata") or {}).get("name")
    return [
        f"{obj['kind']} {name} ({obj['apiVersion']}, CRD of {crd['release']}): {path} is not a field"
        + (f" (nearest real field: {near})" if near else "")
        for path, near in chart_facts.undeclared(body, crd["fields"], crd["open"])
    ]


@pytest.mark.parametrize("example", sorted(EXAMPLES))
async def test_every_helm_value_is_a_key_of_the_pinned_chart(example):
    charts, allow = charts_by_name(), allowed()
    seen, problems = [], []
    for component, chart, version, values in helm_values(await transcript(example)):
        facts = charts.get(chart)
        if facts is None:
            problems.append(f"{component}: no facts for chart {chart} {version}: {REGENERATE} (after adding its files)")
            continue
        if not chart_facts.same_version(facts["pinned_version"], version):
            problems.append(f"{component}: installs {chart} {version}, the facts are for {facts['pinned_version']}")
            continue
        if facts.get("unavailable"):
            continue  # MinIO's operator: AGPL, not stored (docs/pins.md)
        seen.append(chart)
        problems += problems_in_values(facts, values, allow.get(chart, []))
    assert len(seen) >= 20, seen  # the dry run really sent values
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("example", sorted(EXAMPLES))
async def test_every_custom_resource_has_only_declared_fields(example):
    crds = crds_by_kind()
    checked, problems = set(), []
    for obj in custom_resources(await transcript(example)):
        crd = crds.get((obj["apiVersion"], obj["kind"]))
        if crd is None:
            group = obj["apiVersion"].rpartition("/")[0]
            custom = "." in group and not group.endswith("k8s.io")  # built-in groups are *.k8s.io
            if custom and (obj["apiVersion"], obj["kind"]) not in WITHOUT_CRD_FACTS:
                problems.append(
                    f"{obj['kind']} ({obj['apiVersion']}): no CRD facts; store its CRD and run {REGENERATE}"
                )
            continue
        checked.add(obj["kind"])
        problems += problems_in_resource(crd, obj)
    # cert-manager, CloudNativePG, Keycloak, AWX, Knative, Argo CD, MetalLB resources
    assert {"ClusterIssuer", "Certificate", "Cluster", "Keycloak", "AWX", "KnativeServing"} <= checked, checked
    assert not problems, "\n".join(problems)


def test_pins_and_facts_move_together():
    charts = charts_by_name()
    pinned = chart_facts.pins()
    problems = []
    for name, version in sorted(pinned.items()):
        owner = charts.get(name)
        if owner is None:
            continue  # the CRD-only pins are checked below
        if not chart_facts.same_version(owner["pinned_version"], version):
            problems.append(
                f"{name}: pinned {version}, facts for pin {owner['pinned_version']}: put the chart's files at "
                f"{version} under ../shared/upstream/<component>/ (SOURCES.md), then run {REGENERATE}"
            )
    for component in load_catalog():
        install = component.install
        if install.method == "helm" and install.chart not in charts:
            problems.append(
                f"{component.id}: chart {install.chart} {install.version} has no facts: put its values.yaml under "
                f"../shared/upstream/<component>/ (SOURCES.md), add it to tools/chart_facts.py UPSTREAM, run {REGENERATE}"
            )
    for facts in committed_facts().values():
        for crd in facts["crds"]:
            now = pinned.get(crd["pinned_by"])
            if not chart_facts.same_version(now, crd["pinned_version"]):
                problems.append(
                    f"CRD {crd['kind']}: facts for {crd['pinned_by']} {crd['pinned_version']}, pinned now {now}: "
                    f"put its files under ../shared/upstream/ (SOURCES.md), then run {REGENERATE}"
                )
    assert not problems, "\n".join(problems)
    nearby = [
        f"chart {c['chart']}: facts from {c['version']}, pinned {c['pinned_version']}"
        for f in committed_facts().values()
        for c in f["charts"]
        if c.get("from_nearby_version") and not c.get("unavailable")
    ] + [
        f"CRD {c['kind']} ({c['group']}/{c['version']}): facts from {c['release']}, pinned {c['pinned_version']}"
        for f in committed_facts().values()
        for c in f["crds"]
        if c["from_nearby_version"]
    ]
    if nearby:
        warnings.warn("facts from a nearby version: " + "; ".join(sorted(set(nearby))), stacklevel=1)


def test_facts_are_what_the_tool_extracts_now():
    upstream = chart_facts.default_upstream()
    if not upstream.is_dir():
        pytest.skip(f"no upstream files at {upstream} (../shared/upstream): the committed facts are used as they are")
    fresh = chart_facts.extract_all(upstream)
    committed = committed_facts()
    assert sorted(fresh) == sorted(committed), f"run {REGENERATE}"
    stale = [name for name, data in fresh.items() if chart_facts.dumps(data) != chart_facts.dumps(committed[name])]
    assert not stale, f"facts out of date for {stale}: run {REGENERATE}"


# --- the checks can fail: a misspelled key, as an installer could send it ---------------------------------


def _rename(doc: dict[str, Any], path: str, new: str) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node[key]
    node[new] = node.pop(last)
    return out


@pytest.mark.parametrize(
    ("component", "path", "misspelled", "expected"),
    [
        ("harbor", "expose.ingress.hosts.core", "cor", "harbor 1.18.2: expose.ingress.hosts.cor is not a value"),
        ("vault", "server.ha.raft.enabled", "enable", "vault 0.32.0: server.ha.raft.enable is not a value"),
        ("coredns", "replicaCount", "replicas", "coredns 1.46.2: replicas is not a value"),
    ],
)
async def test_a_misspelled_value_is_named_with_the_nearest_real_key(component, path, misspelled, expected):
    values = next(v for c, _, _, v in helm_values(await transcript("full")) if c == component)
    chart = charts_by_name()[component]
    assert not problems_in_values(chart, values, allowed().get(component, []))
    found = problems_in_values(chart, _rename(values, path, misspelled), allowed().get(component, []))
    assert len(found) == 1 and found[0].startswith(expected), found
    assert f"nearest real key: {path}" in found[0], found


async def test_a_misspelled_field_of_a_custom_resource_is_named():
    keycloak = next(o for o in custom_resources(await transcript("full")) if o["kind"] == "Keycloak")
    crd = crds_by_kind()[(keycloak["apiVersion"], "Keycloak")]
    assert not problems_in_resource(crd, keycloak)
    found = problems_in_resource(crd, _rename(keycloak, "spec.hostname", "hostnme"))
    assert found and "spec.hostnme" in found[0] and "nearest real field: spec.hostname" in found[0], found


async def test_every_allowed_key_is_still_needed():
    """An allow-list entry goes when the installers stop setting the key or the chart gains it."""
    charts, allow, needed = charts_by_name(), allowed(), set()
    for example in sorted(EXAMPLES):
        for _, chart, _, values in helm_values(await transcript(example)):
            if chart not in allow:
                continue
            facts = charts[chart]
            for path, _ in chart_facts.undeclared(values, facts["keys"] + facts["documented_keys"], facts["open"]):
                needed |= {(chart, a) for a in allow[chart] if path == a or path.startswith((a + ".", a + "[]"))}
    stale = [f"{chart}: {key}" for chart, keys in allow.items() for key in keys if (chart, key) not in needed]
    assert not stale, f"no longer needed (not set, or the chart has it now); remove from {ALLOWED.name}:\n" + "\n".join(
        stale
    )
