"""The component catalog: the table from the design holds, the graph is sound, every schema is usable."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from thinkube_tui.catalog import Catalog, find_cycle, load_catalog, parse_catalog
from thinkube_tui.catalog_doc import REGENERATE, components_markdown, detail_sections

REPO = Path(__file__).resolve().parents[2]

# The component table: id -> (group, requires, tier). Tier "optional+gpu" is optional with core_when nvidia-gpu.
TABLE: dict[str, tuple[str, set[str], str]] = {
    "microk8s-control": ("5.1", set(), "core"),
    "microk8s-workers": ("5.2", {"microk8s-control"}, "core"),
    "coredns": ("5.3", {"microk8s-workers"}, "core"),
    "metallb": ("5.3", {"microk8s-control"}, "core"),
    "ingress": ("5.3", {"metallb", "coredns"}, "core"),
    "ingress-kn": ("5.3", {"metallb", "coredns"}, "core"),
    "cert-manager": ("5.3", {"ingress"}, "core"),
    "gpu-operator": ("5.3", {"microk8s-workers"}, "optional+gpu"),
    "vault": ("5.4", {"microk8s-workers"}, "optional"),
    "keycloak": ("5.5", {"postgresql", "ssl-certificates"}, "core"),
    "harbor": ("5.6", {"keycloak", "minio"}, "core"),
    "argo-workflows": ("5.6", {"harbor", "minio", "keycloak"}, "core"),
    "argocd": ("5.6", {"harbor", "keycloak"}, "core"),
    "devpi": ("5.6", {"argo-workflows", "argocd", "keycloak"}, "core"),
    "postgresql": ("5.7", {"microk8s-workers"}, "core"),
    "minio": ("5.7", {"ssl-certificates"}, "core"),
    "qdrant": ("5.7", {"microk8s-workers"}, "optional"),
    "valkey": ("5.7", {"microk8s-workers"}, "optional"),
    "jupyterhub": ("5.8", {"postgresql", "minio", "harbor", "keycloak"}, "optional"),
    "code-server": ("5.8", {"harbor", "keycloak"}, "optional"),
    "prometheus": ("5.9", {"microk8s-workers"}, "optional"),
    "grafana": ("5.9", {"prometheus", "keycloak"}, "optional"),
    "loki": ("5.9", {"grafana", "minio"}, "optional"),
    "ssl-certificates": ("5.10", {"cert-manager"}, "core"),
    "keycloak-k8s-oidc": ("5.10", {"keycloak"}, "optional"),
    "mlflow": ("5.11", {"postgresql", "minio", "keycloak"}, "optional"),
    "model-serving": ("5.11", {"mlflow"}, "optional"),
    "pgadmin": ("5.12", {"postgresql", "keycloak"}, "optional"),
    "thinkube-dashboard": ("5.12", {"keycloak"}, "optional"),
    "opensearch": ("5.13", {"microk8s-workers"}, "optional"),
    "penpot": ("5.13", {"postgresql", "valkey", "keycloak"}, "optional"),
    "awx": ("5.13", {"postgresql", "keycloak"}, "optional"),
    "mkdocs": ("5.13", {"ingress"}, "optional"),
    "knative": ("5.14", {"ingress-kn"}, "optional"),
    "code-server-monitor": ("5.14", {"code-server"}, "optional"),
}

# Requirements added beyond the table, each commented in catalog.yaml with its reason.
ADDED_REQUIRES: dict[str, set[str]] = {
    "harbor": {"postgresql"},  # its database lives in the shared PostgreSQL
    "model-serving": {"cert-manager"},  # KServe's webhook certificates
    "opensearch": {"ssl-certificates"},  # Dashboards at opensearch.{domain}
    "mkdocs": {"ssl-certificates"},  # docs.{domain}
    "knative": {"ssl-certificates"},  # net-certmanager issues from the thinkube ClusterIssuer
}

OPTIONAL_DEFAULT_ON = {"jupyterhub", "code-server", "thinkube-dashboard"}
SSO = {
    "harbor",
    "argocd",
    "argo-workflows",
    "grafana",
    "jupyterhub",
    "code-server",
    "pgadmin",
    "thinkube-dashboard",
    "penpot",
    "awx",
    "mlflow",
}

SECRET_REF = {
    "oneOf": [
        {
            "type": "object",
            "properties": {"env": {"type": "string"}},
            "required": ["env"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"secret": {"type": "string"}},
            "required": ["secret"],
            "additionalProperties": False,
        },
    ]
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def with_defs(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """`schema` made standalone: the root's $defs plus the answers schema's secretRef."""
    out = copy.deepcopy(schema)
    out["$defs"] = {**root.get("$defs", {}), "secretRef": SECRET_REF}
    return out


def subschemas(schema: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object nested in `schema` (properties, items, $defs), with a readable path."""
    if not isinstance(schema, dict):
        return
    yield path or "<root>", schema
    for name, prop in schema.get("properties", {}).items():
        yield from subschemas(prop, f"{path}.{name}" if path else name)
    if isinstance(schema.get("items"), dict):
        yield from subschemas(schema["items"], f"{path}[]")
    for name, sub in schema.get("$defs", {}).items():
        yield from subschemas(sub, f"{path}$defs.{name}")


def test_catalog_loads_without_problems(catalog: Catalog) -> None:
    assert len(catalog.components) == len(TABLE)


@pytest.mark.parametrize("component_id", sorted(TABLE))
def test_table_row(catalog: Catalog, component_id: str) -> None:
    group, requires, tier = TABLE[component_id]
    c = catalog[component_id]
    assert c.group == group
    extras = set(c.requires) - requires
    assert requires <= set(c.requires), f"{component_id} lost requirements {requires - set(c.requires)}"
    assert extras == ADDED_REQUIRES.get(component_id, set()), f"{component_id}: undocumented extra requires {extras}"
    if tier == "optional+gpu":
        assert (c.tier, c.core_when) == ("optional", "nvidia-gpu")
        assert not c.core
    else:
        assert c.tier == tier and c.core_when is None
        assert c.core == (tier == "core")
    if c.tier == "core":
        assert c.default
    elif c.core_when is None:
        assert c.default == (component_id in OPTIONAL_DEFAULT_ON)


def test_no_component_outside_the_table(catalog: Catalog) -> None:
    assert set(catalog.ids) == set(TABLE)


def test_every_dependency_names_a_component(catalog: Catalog) -> None:
    for c in catalog:
        for dep in (*c.requires, *c.after):
            assert dep in catalog, f"{c.id} depends on unknown {dep!r}"
            assert dep != c.id


def test_graph_is_acyclic(catalog: Catalog) -> None:
    assert find_cycle({c.id: c.requires + c.after for c in catalog}) is None


def test_find_cycle_names_a_planted_cycle() -> None:
    edges = {"a": ("b",), "b": ("c",), "c": ("a",), "d": ("a",)}
    cycle = find_cycle(edges)
    assert cycle is not None
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {"a", "b", "c"}


def test_parse_catalog_rejects_a_cycle() -> None:
    raw = {
        "groups": [{"id": "5.1", "title": "g"}],
        "components": [
            {
                "id": "microk8s-control",
                "title": "x",
                "description": "x",
                "group": "5.1",
                "tier": "core",
                "namespace": "n",
                "install": {"method": "manifests"},
                "requires": ["microk8s-workers"],
            },
            {
                "id": "microk8s-workers",
                "title": "y",
                "description": "y",
                "group": "5.1",
                "tier": "core",
                "namespace": "n",
                "install": {"method": "manifests"},
                "after": ["microk8s-control"],
            },
        ],
    }
    with pytest.raises(Exception, match="dependency cycle: .*microk8s-"):
        parse_catalog(raw)


def test_keycloak_runs_after_vault(catalog: Catalog) -> None:
    assert "vault" in catalog["keycloak"].after


def test_sso_services_run_after_keycloak(catalog: Catalog) -> None:
    assert {c.id for c in catalog if c.sso} == SSO
    for cid in SSO:
        c = catalog[cid]
        assert "keycloak" in (*c.requires, *c.after), f"{cid} is SSO-protected but not ordered after keycloak"


def test_every_component_has_install_method_and_schema(catalog: Catalog) -> None:
    for c in catalog:
        assert c.install.method in {"snap", "addon", "helm", "manifests", "workflow"}
        assert (REPO / "thinkube_tui" / "schemas" / "components" / f"{c.schema}.json").is_file()
        assert c.title and c.description and c.namespace
        assert c.estimate_s > 0


def test_helm_components_pin_a_chart(catalog: Catalog) -> None:
    for c in catalog:
        if c.install.method == "helm":
            assert c.install.repo and c.install.repo.startswith("https://"), c.id
            assert c.install.chart, c.id
            assert c.install.version and c.install.version.strip() not in {"latest", "*"}, c.id


def test_metallb_is_an_addon(catalog: Catalog) -> None:
    assert catalog["metallb"].install.method == "addon"
    assert catalog["metallb"].install.addons == ("metallb",)


def test_hostnames_are_distinct_and_under_the_domain(catalog: Catalog) -> None:
    seen: dict[str, str] = {}
    for c in catalog:
        for host in c.hostnames:
            assert host.endswith(".{domain}"), f"{c.id}: {host}"
            assert host not in seen, f"{host} used by {seen.get(host)} and {c.id}"
            seen[host] = c.id


@pytest.mark.parametrize("component_id", sorted(TABLE))
def test_schema_fragment(catalog: Catalog, component_id: str) -> None:
    schema = catalog.schema(component_id)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema.get("type") == "object"
    assert schema.get("additionalProperties") is False
    full = with_defs(schema, schema)
    jsonschema.Draft202012Validator(full).validate({})
    for path, sub in subschemas(schema):
        if sub.get("type") == "object" and "properties" in sub:
            assert sub.get("additionalProperties") is False, f"{component_id}: {path} allows unknown keys"
            for name, prop in sub["properties"].items():
                assert name != "enabled", f"{component_id}: {path}.{name} collides with the answers' `enabled`"
                assert prop.get("description"), f"{component_id}: {path}.{name} has no description"
            for name in sub.get("required", ()):
                prop = sub["properties"][name]
                assert "$ref" not in prop, f"{component_id}: secret {path}.{name} must not be required"
            if path == "<root>":
                assert not sub.get("required"), f"{component_id}: top-level settings must all be optional"
        if "default" in sub:
            jsonschema.Draft202012Validator(with_defs(sub, schema)).validate(sub["default"])


def test_secret_settings_are_references(catalog: Catalog) -> None:
    secretish = ("password", "token", "secret", "apikey", "secretaccesskey")
    for c in catalog:
        for path, sub in subschemas(catalog.schema(c.id)):
            last = path.rsplit(".", 1)[-1].lower()
            if last.endswith(secretish):
                assert sub.get("$ref") == "#/$defs/secretRef", f"{c.id}: {path} looks secret but is inline"


def test_components_doc_is_up_to_date(catalog: Catalog) -> None:
    doc = REPO / "docs" / "components.md"
    expected = components_markdown(catalog, detail_sections(REPO / "docs"))
    actual = doc.read_text() if doc.is_file() else ""
    assert actual == expected, f"docs/components.md is stale; regenerate it with: {REGENERATE}"


def test_components_doc_mentions_every_component(catalog: Catalog) -> None:
    doc = components_markdown(catalog)
    for c in catalog:
        assert f"(`{c.id}`)" in doc


def test_every_component_has_a_page_saying_how_it_is_installed_and_verified(catalog: Catalog) -> None:
    details = detail_sections(REPO / "docs")
    missing = [c.id for c in catalog if c.id not in details]
    assert missing == [], f"no section in docs/components/*.md for: {missing}"
    for page, section in details.values():
        text = (REPO / "docs" / page).read_text()
        part = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0].lower()
        assert "verif" in part, f"{page} § {section} does not say how it is verified"
