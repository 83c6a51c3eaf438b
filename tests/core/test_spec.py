"""Answers file validation, the Spec, and export."""

import os
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from thinkube_tui.catalog import load_catalog
from thinkube_tui.spec import (
    AnswersError,
    SecretRef,
    answers_schema,
    dump_spec,
    load_answers,
    parse_answers,
)

from .conftest import EXAMPLES


def problems(text: str) -> list:
    with pytest.raises(AnswersError) as err:
        parse_answers(text, "answers.yaml")
    return err.value.problems


def edit(text: str, old: str, new: str) -> str:
    assert old in text, f"test setup: {old!r} not in the example"
    return text.replace(old, new, 1)


def test_schema_is_valid_draft_2020_12_and_covers_every_component():
    schema = answers_schema()
    Draft202012Validator.check_schema(schema)
    assert set(schema["properties"]["components"]["properties"]) == set(load_catalog().ids)


@pytest.mark.parametrize("name", ["answers-minimal.yaml", "answers-full.yaml"])
def test_examples_validate(name):
    spec = load_answers(EXAMPLES / name)
    assert spec.control.role == "control"


def test_full_example_has_every_component_on_and_a_gpu_worker(full_text):
    spec = parse_answers(full_text)
    assert len(spec.nodes) == 3 and len(spec.workers) == 2
    assert all(c.enabled in (True, "auto") for c in spec.components.values())


def test_minimal_fills_defaults(minimal_text):
    spec = parse_answers(minimal_text)
    assert spec.cluster.microk8s_channel == "1.33/stable"
    assert spec.nodes[0].port == 22 and spec.nodes[0].auth.method == "agent"
    assert spec.components["microk8s-workers"].config["joinTimeoutSeconds"] == 600
    # Optional components keep their catalog default.
    catalog = load_catalog()
    for comp in catalog:
        if not comp.core and not comp.core_when:
            assert spec.components[comp.id].enabled is comp.default


@pytest.mark.parametrize("name", ["answers-minimal.yaml", "answers-full.yaml"])
def test_export_revalidates_and_reloads_equal(name):
    spec = load_answers(EXAMPLES / name)
    text = dump_spec(spec)
    assert text.startswith("# yaml-language-server: $schema=")
    again = parse_answers(text, "exported.yaml")
    assert again == spec
    assert dump_spec(again) == text


def test_wrong_type_names_path_and_line(minimal_text):
    text = edit(minimal_text, "    role: control", "    role: control\n    port: twenty-two")
    (p,) = problems(text)
    assert p.json_path == "nodes[0].port"
    assert "expected an integer, got a string" in p.message
    assert p.mark.line == text.splitlines().index("    port: twenty-two") + 1


def test_unknown_key_suggests_the_right_one(minimal_text):
    text = edit(minimal_text, "  domain:", "  domian:")
    found = problems(text)
    messages = [p.format("answers.yaml") for p in found]
    assert any("cluster.domian: unknown key 'domian' (did you mean 'domain'?)" in m for m in messages)
    # The missing 'domain' is reported too: every error, not just the first.
    assert any("missing required key 'domain'" in m for m in messages)
    unknown = next(p for p in found if "domian" in p.message)
    assert unknown.mark.line == text.splitlines().index("  domian: thinkube.lan") + 1


def test_unknown_component_suggests(minimal_text):
    text = minimal_text + "components:\n  grafanna:\n    enabled: true\n"
    (p,) = problems(text)
    assert p.json_path == "components.grafanna" and "did you mean 'grafana'" in p.message


def test_two_control_nodes(minimal_text):
    text = minimal_text + "  - name: tk-two\n    host: 192.168.1.11\n    user: thinkube\n    role: control\n"
    (p,) = problems(text)
    assert p.json_path == "nodes[1].role" and "second control node" in p.message
    assert p.mark.line == len(text.splitlines())


def test_duplicate_node_names_and_hosts(minimal_text):
    text = minimal_text + "  - name: tk-control\n    host: 192.168.1.10\n    user: thinkube\n    role: worker\n"
    paths = {p.json_path for p in problems(text)}
    assert paths == {"nodes[1].name", "nodes[1].host"}


def test_ingress_ips_outside_range_and_equal(minimal_text):
    text = edit(minimal_text, "ingressIP: 192.168.1.200", "ingressIP: 10.0.0.5")
    (p,) = problems(text)
    assert p.json_path == "cluster.ingressIP" and "outside metallbRange" in p.message
    text = edit(minimal_text, "ingressKnIP: 192.168.1.201", "ingressKnIP: 192.168.1.200")
    (p,) = problems(text)
    assert p.json_path == "cluster.ingressKnIP" and "must differ" in p.message


def test_metallb_cidr_range_is_understood(minimal_text):
    text = edit(minimal_text, "192.168.1.200-192.168.1.220", "192.168.1.192/27")
    assert parse_answers(text).cluster.metallb_range == "192.168.1.192/27"


def test_requirement_switched_off(minimal_text):
    text = minimal_text + "components:\n  grafana:\n    enabled: true\n  prometheus:\n    enabled: false\n"
    (p,) = problems(text)
    assert p.json_path == "components.grafana.enabled"
    assert "requires prometheus, which is switched off" in p.message


def test_core_component_cannot_be_switched_off(minimal_text):
    text = minimal_text + "components:\n  keycloak:\n    enabled: false\n"
    (p,) = problems(text)
    assert p.json_path == "components.keycloak.enabled" and "core component" in p.message


def test_inline_secret_is_refused_without_echoing_it(minimal_text):
    text = edit(minimal_text, "    role: control", "    role: control\n    sudoPassword: hunter2-canary")
    (p,) = problems(text)
    assert p.json_path == "nodes[0].sudoPassword"
    assert "never written inline" in p.message
    assert "hunter2-canary" not in p.format("answers.yaml")


def test_malformed_yaml(minimal_text):
    text = edit(minimal_text, "  domain: thinkube.lan", "  domain: [thinkube.lan")
    (p,) = problems(text)
    assert p.message.startswith("YAML syntax") and p.mark is not None


def test_not_a_mapping():
    (p,) = problems("- just\n- a list\n")
    assert p.json_path == "$" and "expected a mapping" in p.message


def test_secrets_file_must_be_private(tmp_path: Path, minimal_text):
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("sudo: s3cret\n")
    os.chmod(secrets, 0o644)
    answers = tmp_path / "answers.yaml"
    answers.write_text(minimal_text + "secretsFile: secrets.yaml\n")
    with pytest.raises(AnswersError) as err:
        load_answers(answers)
    (p,) = err.value.problems
    assert "readable by others (mode 644)" in p.message and "chmod 600" in p.message
    os.chmod(secrets, 0o600)
    assert load_answers(answers).secrets_file == "secrets.yaml"


def test_secret_reference_must_exist_in_the_secrets_file(tmp_path: Path, minimal_text):
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("other: x\n")
    os.chmod(secrets, 0o600)
    answers = tmp_path / "answers.yaml"
    answers.write_text(
        edit(minimal_text, "    role: control", "    role: control\n    sudoPassword: {secret: sudo}")
        + "secretsFile: secrets.yaml\n"
    )
    with pytest.raises(AnswersError) as err:
        load_answers(answers)
    (p,) = err.value.problems
    assert "refers to key 'sudo'" in p.message and "secrets.yaml does not have" in p.message
    # Where to fix it: the line of the reference in the answers file.
    line = next(i for i, text in enumerate(answers.read_text().splitlines(), 1) if "{secret: sudo}" in text)
    assert p.format(err.value.source).startswith(f"{answers}:{line}:")


def test_secret_refs_are_typed(minimal_text):
    text = edit(minimal_text, "    role: control", "    role: control\n    sudoPassword: {env: TK_SUDO}")
    spec = parse_answers(text)
    assert spec.nodes[0].sudo_password == SecretRef(env="TK_SUDO")
    assert ("nodes.tk-control.sudoPassword", SecretRef(env="TK_SUDO")) in list(spec.secret_refs())


def test_spec_is_frozen(minimal_text):
    spec = parse_answers(minimal_text)
    with pytest.raises(Exception):
        spec.cluster.domain = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.components["microk8s-workers"].config["joinTimeoutSeconds"] = 1  # type: ignore[index]


def test_every_error_at_once(minimal_text):
    text = edit(minimal_text, "  adminEmail: admin@thinkube.lan", "  adminEmail: not-an-email")
    text = edit(text, "    user: thinkube", "    user: thinkube\n    port: 70000")
    paths = {p.json_path for p in problems(text)}
    assert paths == {"cluster.adminEmail", "nodes[0].port"}


def test_example_yaml_parses_as_plain_yaml(full_text):
    # The examples must stay plain YAML that any tool can read.
    assert yaml.safe_load(full_text)["apiVersion"] == "thinkube.io/v1alpha1"
