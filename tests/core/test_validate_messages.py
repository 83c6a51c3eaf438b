"""`validate` as an operator meets it: every problem at once, in words (never a regular
expression), patterns anchored as JSON Schema means them, Kubernetes' rules for labels and
taints, addresses that cannot work, secret references resolved, and files it must not read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from thinkube_tui import messages
from thinkube_tui.commands.validate import run_validate
from thinkube_tui.schema import ecma_pattern
from thinkube_tui.spec import AnswersError, load_answers, parse_answers, read_answers_document

from .conftest import EXAMPLES


def problems(text: str) -> list:
    with pytest.raises(AnswersError) as err:
        parse_answers(text, "answers.yaml")
    return err.value.problems


def edit(text: str, old: str, new: str) -> str:
    assert old in text, f"test setup: {old!r} not in the text"
    return text.replace(old, new, 1)


def schema_patterns() -> dict[str, list[str]]:
    """Every `pattern` in the answers schema and the component fragments, with where it is."""
    folder = resources.files("thinkube_tui") / "schemas"
    files = [folder / "answers.schema.json", *sorted((folder / "components").iterdir(), key=lambda f: f.name)]
    found: dict[str, list[str]] = {}

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "pattern" and isinstance(value, str):
                    found.setdefault(value, []).append(where)
                else:
                    walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for value in node:
                walk(value, where)

    for file in files:
        walk(json.loads(file.read_text()), file.name)
    return found


PATTERNS = schema_patterns()


# ---------------------------------------------------------------- one table of messages


def test_every_schema_pattern_has_a_human_message_with_an_example_that_fits():
    missing = {p: w for p, w in PATTERNS.items() if p not in messages.PATTERNS}
    assert not missing, f"patterns without a message in messages.PATTERNS: {missing}"
    for pattern, expected in messages.PATTERNS.items():
        assert ecma_pattern(pattern).search(expected.example), f"{expected.example!r} does not fit {pattern}"


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_every_pattern_refuses_a_trailing_newline(pattern: str):
    example = messages.PATTERNS[pattern].example
    assert ecma_pattern(pattern).search(example)
    assert not ecma_pattern(pattern).search(example + "\n"), f"{pattern} accepts {example!r} + newline"


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("    user: thinkube", '    user: "thinkube\\n"', "nodes[0].user"),
        ("  domain: thinkube.lan", '  domain: "thinkube-lab.lan\\n"', "cluster.domain"),
        ("  - name: tk-control", '  - name: "tk-control\\n"', "nodes[0].name"),
    ],
)
def test_a_trailing_newline_is_refused_in_the_answers(minimal_text, old, new, path):
    found = problems(edit(minimal_text, old, new))
    assert [p.json_path for p in found] == [path]
    assert "line break" in found[0].message


def test_messages_say_what_is_expected_with_an_example_not_the_regex(minimal_text):
    text = edit(minimal_text, "  domain: thinkube.lan", "  domain: Thinkube_Lab")
    text = edit(text, "    user: thinkube", "    user: ''")
    text = text + "components:\n  gpu-operator:\n    enabled: maybe\n"
    found = {p.json_path: p.message for p in problems(text)}
    assert found["cluster.domain"] == (
        "'Thinkube_Lab' has the wrong form: expected a DNS name in lower case: labels of letters, digits and '-' "
        "joined by dots, e.g. thinkube.lan"
    )
    assert found["components.gpu-operator.enabled"] == "expected true, false or auto; got 'maybe'"
    assert "e.g. thinkube" in found["nodes[0].user"]
    for message in found.values():
        assert "^" not in message and "must match" not in message and "imum length" not in message


def test_a_look_alike_key_is_shown_with_its_code_point(minimal_text):
    found = problems(edit(minimal_text, "cluster:", "\u0441luster:") + "cluster: {}\n")
    assert "U+0441 CYRILLIC SMALL LETTER ES at position 0" in found[0].message


def test_each_missing_key_is_named_once(minimal_text):
    found = problems(edit(minimal_text, "cluster:", "other:") + "cluster: {}\n")
    missing = sorted(p.message for p in found if p.message.startswith("missing"))
    assert missing == sorted(
        f"missing required key {k!r}" for k in ("domain", "adminEmail", "metallbRange", "ingressIP", "ingressKnIP")
    )


def test_a_secret_env_name_is_not_repeated_in_its_message(minimal_text):
    text = edit(minimal_text, "    role: control", '    role: control\n    sudoPassword: {env: "hunter2 is my pw"}')
    (p,) = problems(text)
    assert p.json_path == "nodes[0].sudoPassword.env"
    assert "hunter2" not in p.message and "environment variable" in p.message


# ---------------------------------------------------------------- every problem at once


def test_schema_and_cross_field_problems_are_reported_together(minimal_text):
    text = edit(minimal_text, "  domain: thinkube.lan", "  domain: not a domain")
    text = edit(text, "    role: control", "    role: worker")
    text += "components:\n  loki:\n    enabled: true\n  grafana:\n    enabled: false\n"
    messages_by_path = {p.json_path: p.message for p in problems(text)}
    assert "cluster.domain" in messages_by_path
    assert "no node has role 'control'" in messages_by_path["nodes"]
    assert "loki requires grafana" in messages_by_path["components.loki.enabled"]


def test_validate_exits_2_listing_every_problem(tmp_path: Path, minimal_text, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(edit(edit(minimal_text, "  domain: thinkube.lan", "  domain: x_y"), "role: control", "role: worker"))
    assert run_validate([str(bad)]) == 2
    err = capsys.readouterr().err
    assert "cluster.domain" in err and "no node has role 'control'" in err


def test_a_requirement_left_out_is_pulled_in_not_reported(minimal_text):
    spec = parse_answers(minimal_text + "components:\n  grafana:\n    enabled: true\n")
    assert spec.components["grafana"].enabled is True


def test_a_requirement_switched_off_says_how_to_fix_it(minimal_text):
    text = minimal_text + "components:\n  grafana:\n    enabled: true\n  prometheus:\n    enabled: false\n"
    (p,) = problems(text)
    assert "switched off (enabled: false)" in p.message and "leave it out" in p.message


# ---------------------------------------------------------------- labels and taints as Kubernetes checks them


@pytest.mark.parametrize(
    "labels",
    [
        '{role: "$(touch /tmp/pwned); rm -rf /tmp/x"}',
        "{role: " + "a" * 64 + "}",
        "{role: -gpu}",
        '{"bad key": x}',
        "{" + "a" * 64 + ": x}",
        '{"Example.com/x": y}',
    ],
)
def test_label_keys_and_values_follow_kubernetes(minimal_text, labels):
    text = edit(minimal_text, "    role: control", f"    role: control\n    labels: {labels}")
    found = problems(text)
    assert found and all(p.json_path.startswith("nodes[0].labels") for p in found)
    assert all("Kubernetes label" in p.message for p in found)


@pytest.mark.parametrize(
    "taint", ["gpu=$(x):NoSchedule", "gpu=true:Sometimes", "gpu=" + "a" * 64 + ":NoSchedule", "-gpu:NoExecute"]
)
def test_taints_follow_kubernetes(minimal_text, taint):
    text = edit(minimal_text, "    role: control", f'    role: control\n    taints: ["{taint}"]')
    (p,) = problems(text)
    assert p.json_path == "nodes[0].taints[0]" and "Kubernetes taint" in p.message


def test_valid_labels_and_taints_pass(minimal_text):
    text = edit(
        minimal_text,
        "    role: control",
        "    role: control\n    labels: {example.com/gpu-type: a100, empty: ''}\n"
        "    taints: [nvidia.com/gpu=true:NoSchedule, dedicated:NoExecute]",
    )
    assert parse_answers(text).nodes[0].labels["example.com/gpu-type"] == "a100"


# ---------------------------------------------------------------- addresses that cannot work


@pytest.mark.parametrize(
    ("old", "new", "path", "words"),
    [
        ("192.168.1.200-192.168.1.220", "0.0.0.0/0", "cluster.metallbRange", "at most a /16"),
        (
            "192.168.1.200-192.168.1.220",
            "192.168.1.5-192.168.1.220",
            "cluster.metallbRange",
            "192.168.1.10 (tk-control)",
        ),
        ("  ingressIP: 192.168.1.200", "  ingressIP: 192.168.1.10", "cluster.ingressIP", "node 'tk-control'"),
    ],
)
def test_metallb_range_and_ingress_must_not_take_node_addresses(minimal_text, old, new, path, words):
    found = {p.json_path: p.message for p in problems(edit(minimal_text, old, new))}
    assert words in found[path]


# ---------------------------------------------------------------- secret references resolved


def ref_answers(tmp_path: Path, minimal_text: str, secrets_file: str | None) -> Path:
    text = edit(minimal_text, "    role: control", "    role: control\n    sudoPassword: {secret: sudo}")
    if secrets_file:
        text += f"secretsFile: {secrets_file}\n"
    answers = tmp_path / "answers.yaml"
    answers.write_text(text)
    return answers


def test_a_secret_reference_without_a_secrets_file_is_refused(tmp_path: Path, minimal_text, capsys):
    answers = ref_answers(tmp_path, minimal_text, None)
    assert run_validate([str(answers)]) == 2
    err = capsys.readouterr().err
    assert f"{answers}:16:" in err and "'sudo'" in err and "secretsFile" in err and "--secrets" in err


def test_a_missing_or_open_secrets_file_is_named(tmp_path: Path, minimal_text):
    answers = ref_answers(tmp_path, minimal_text, "secrets.yaml")
    with pytest.raises(AnswersError) as err:
        load_answers(answers)
    assert err.value.source == str(tmp_path / "secrets.yaml") and "No such file" in str(err.value)
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("sudo: s3cret\n")
    secrets.chmod(0o640)
    with pytest.raises(AnswersError, match="chmod 600"):
        load_answers(answers)
    secrets.chmod(0o600)
    assert load_answers(answers).nodes[0].sudo_password is not None


# ---------------------------------------------------------------- what the reader refuses


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thinkube_tui", *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_dev_zero_is_refused_without_reading_it_all(command):
    args = [command, "/dev/zero"] if command == "validate" else [command, "--answers", "/dev/zero"]
    out = cli(*args)
    assert out.returncode == 2 and "not a regular file" in out.stderr and "Traceback" not in out.stderr


def test_a_fifo_is_refused_not_waited_on(tmp_path: Path):
    fifo = tmp_path / "answers.yaml"
    os.mkfifo(fifo)
    with pytest.raises(AnswersError, match="not a regular file"):
        read_answers_document(fifo)


def test_a_file_over_the_limit_is_refused(tmp_path: Path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * (4 * 1024 * 1024) + b"\n")
    with pytest.raises(AnswersError, match="larger than 4 MiB"):
        read_answers_document(big)


def test_a_list_document_is_refused(tmp_path: Path):
    doc = tmp_path / "list.yaml"
    doc.write_text("- components\n")
    with pytest.raises(AnswersError, match="expected a mapping"):
        read_answers_document(doc)


def test_the_demo_reads_answers_with_the_strict_reader(tmp_path: Path):
    from thinkube_tui.commands.lab import demo_answers

    dup = tmp_path / "dup.yaml"
    dup.write_text("components: {}\ncomponents: {grafana: {enabled: true}}\n")
    with pytest.raises(AnswersError, match="duplicate key"):
        demo_answers({"cluster": {}}, dup)
    tagged = tmp_path / "tagged.yaml"
    tagged.write_text("components: !!python/object:os.system {}\n")
    with pytest.raises(AnswersError, match="unsupported YAML tag"):
        demo_answers({}, tagged)
    assert demo_answers({"nodes": []}, EXAMPLES / "answers-full.yaml")["nodes"] == []


# ---------------------------------------------------------------- passwords the components would refuse


def test_keycloak_policy_terms_become_rules():
    rules = messages.password_rules(
        {"policyFrom": "passwordPolicy", "userFrom": "adminUser", "who": "Keycloak"},
        {"passwordPolicy": "length(14) and digits(2) and notUsername", "adminUser": "admin"},
    )
    assert messages.password_problem("short1", rules) == "Keycloak refuses passwords shorter than 14 characters"
    assert messages.password_problem("longenoughpassword1", rules) == "Keycloak refuses passwords without 2 × digit"
    assert messages.password_problem("longenoughpassword12", rules) is None
    assert messages.password_warning("abc") is not None and messages.password_warning("a" * 12) is None


def test_validate_refuses_a_secrets_file_password_the_component_refuses(tmp_path: Path, minimal_text, capsys):
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("minio: short\n")
    secrets.chmod(0o600)
    answers = tmp_path / "answers.yaml"
    answers.write_text(
        minimal_text + "secretsFile: secrets.yaml\ncomponents:\n  minio:\n    rootPassword: {secret: minio}\n"
    )
    assert run_validate([str(answers)]) == 2
    err = capsys.readouterr().err
    assert "MinIO refuses passwords shorter than 8 characters" in err and "short" not in err.split("refuses")[1]
    assert f"{answers}:19:" in err
    secrets.write_text("minio: long-enough-password\n")
    assert run_validate([str(answers)]) == 0
