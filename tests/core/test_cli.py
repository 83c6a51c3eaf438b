"""The command line as an operator uses it: exit codes and output."""

import json
import subprocess
import sys

from .conftest import EXAMPLES


def cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "thinkube_tui", *args], capture_output=True, text=True, timeout=60, cwd=cwd
    )


def test_version_and_help():
    out = cli("--version")
    assert out.returncode == 0 and out.stdout.startswith("thinkube-tui ")
    out = cli("--help")
    assert out.returncode == 0
    for command in ("validate", "plan", "schema", "discover"):
        assert command in out.stdout


def test_validate_valid_and_invalid(tmp_path):
    assert cli("validate", str(EXAMPLES / "answers-minimal.yaml")).returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (EXAMPLES / "answers-minimal.yaml").read_text().replace("  domain:", "  domian:").replace("port: 22", "port: x")
    )
    out = cli("validate", str(bad))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert any("cluster.domian: unknown key 'domian' (did you mean 'domain'?)" in line for line in lines)
    for line in lines:
        file_, line_no, col, rest = line.split(":", 3)
        assert file_ == str(bad) and line_no.isdigit() and col.isdigit() and ": " in rest
    assert "Traceback" not in out.stderr


def test_validate_missing_file_is_not_a_traceback(tmp_path):
    out = cli("validate", str(tmp_path / "nope.yaml"))
    assert out.returncode == 2 and "cannot read the file" in out.stderr and "Traceback" not in out.stderr


def test_plan_json_orders_every_component_after_its_requirements():
    out = cli("plan", "--answers", str(EXAMPLES / "answers-full.yaml"), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    position = {c["id"]: i for i, c in enumerate(data["components"])}
    for c in data["components"]:
        for dep in c["dependsOn"]:
            assert position[dep] < position[c["id"]]


def test_plan_tree_shows_groups_and_waves():
    out = cli("plan", "--answers", str(EXAMPLES / "answers-full.yaml"))
    assert out.returncode == 0, out.stderr
    assert "5.14 Advanced" in out.stdout and "wave 1: microk8s-control" in out.stdout
    assert "Critical path: microk8s-control ->" in out.stdout


def test_schema_is_json():
    out = cli("schema")
    assert out.returncode == 0
    assert json.loads(out.stdout)["$schema"].endswith("2020-12/schema")
