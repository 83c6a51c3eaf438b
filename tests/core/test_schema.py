"""The schema reader: one answer to every question about the answers schema (no Textual)."""

from __future__ import annotations

import subprocess
import sys

from thinkube_tui import schema
from thinkube_tui.catalog import load_catalog
from thinkube_tui.schema import UNSET, SchemaReader, answers, answers_schema, with_defaults


def test_refs_are_followed_but_secret_references_stay_what_they_are():
    reader = answers()
    assert reader.at(("cluster", "domain"))["pattern"].startswith("^(?=.{1,253}$)")
    assert reader.at(("nodes", 0, "host"))["type"] == "string"
    sudo = reader.at(("nodes", 0, "sudoPassword"))
    assert sudo is not None and schema.is_secret(sudo)
    assert reader.at(("nodes", 0, "sudoPassword", "env")) is None  # nothing is read inside a secret
    assert reader.at(("cluster", "no-such-key")) is None


def test_values_inside_a_secret_reference_are_known_as_secret():
    reader = answers()
    assert reader.under_secret(("nodes", 0, "sudoPassword", "env"))
    assert reader.under_secret(("components", "grafana", "adminPassword"))
    assert not reader.under_secret(("nodes", 0, "user"))


def test_defaults_fill_nested_objects_and_never_a_secret():
    fragment = load_catalog().schema("gpu-operator")
    filled = with_defaults(fragment, {"timeSlicing": {"replicas": 2}})
    assert filled["timeSlicing"] == {"replicas": 2, "renameByDefault": False}
    assert filled["driver"] == fragment["properties"]["driver"]["default"]
    grafana = with_defaults(load_catalog().schema("grafana"), {})
    assert "adminPassword" not in grafana


def test_settings_say_what_a_form_needs():
    reader = answers()
    cluster = {s.key: s for s in reader.settings(answers_schema()["$defs"]["cluster"])}
    assert cluster["domain"].required and cluster["domain"].kind == "string"
    assert cluster["domain"].default is UNSET
    assert cluster["dnsResolvers"].kind == "list" and cluster["dnsResolvers"].default == ["1.1.1.1", "9.9.9.9"]
    assert cluster["certificates"].kind == "enum" and "letsencrypt" in cluster["certificates"].choices
    assert cluster["domain"].missing() == "missing required key 'domain'"
    grafana = answers_schema()["properties"]["components"]["properties"]["grafana"]
    by_key = {s.key: s for s in reader.settings(grafana, ("grafana",))}
    assert by_key["adminPassword"].kind == "secret" and by_key["adminPassword"].path == ("grafana", "adminPassword")
    gpu = answers_schema()["properties"]["components"]["properties"]["gpu-operator"]
    slicing = next(s for s in reader.settings(gpu) if s.key == "timeSlicing")
    assert slicing.kind == "object" and next(c.path for c in slicing.children()) == ("timeSlicing", "replicas")


def test_a_setting_reports_what_validate_reports():
    reader = answers()
    resolvers = next(s for s in reader.settings(answers_schema()["$defs"]["cluster"]) if s.key == "dnsResolvers")
    assert resolvers.problem(["1.1.1.1"]) is None
    assert resolvers.problem([]) == "needs at least 1 item"
    assert resolvers.problem(["1.1.1.1", "x"]) == "[1]: 'x' is not an IPv4 address, e.g. 192.168.1.10"
    replicas = SchemaReader({}).settings({"properties": {"n": {"type": "integer", "minimum": 0}}})[0]
    assert replicas.unreadable("abc") == "expected an integer, got a string"
    assert replicas.unreadable("1.5") == "expected an integer, got a number"


def test_a_password_rule_is_read_from_the_settings_beside_it():
    keycloak = answers_schema()["properties"]["components"]["properties"]["keycloak"]
    secret = next(s for s in answers().settings(keycloak) if s.password_rules)
    assert secret.password_problem("short", {}) is None  # no policy given: nothing to refuse
    policy = {"passwordPolicy": "length(14) and digits(2)"}
    assert secret.password_problem("short1", policy) == "Keycloak refuses passwords shorter than 14 characters"
    assert secret.password_problem("longenoughpassword12", policy) is None
    assert secret.password_warning("short") is not None


def test_the_reader_never_loads_textual():
    code = (
        "import sys, thinkube_tui.schema, thinkube_tui.spec; print(any(m.startswith('textual') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
