"""The command line as an operator uses it: exit codes and output."""

import json
import subprocess
import sys

import pytest

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


# ---------------------------------------------------------------- status


def _journal(directory, *done):
    from thinkube_tui.journal import Journal

    journal = Journal.open(directory / "journal.json")
    for cid in done:
        journal.started(cid, None)
        journal.finished(cid)


def test_status_of_an_unknown_cluster_names_the_recorded_ones_and_fails(tmp_path):
    _journal(tmp_path / "alpha", "coredns")
    _journal(tmp_path / "beta", "coredns")
    out = cli("status", "--state-dir", str(tmp_path), "--cluster", "nope")
    assert out.returncode == 2, out.stdout
    assert f"no install of cluster 'nope' is recorded under {tmp_path}" in out.stderr
    assert "clusters recorded there: alpha, beta" in out.stderr
    assert "┏" not in out.stdout  # no empty table
    assert cli("status", "--state-dir", str(tmp_path), "--cluster", "beta").returncode == 0


def test_status_finds_the_demos_installs(tmp_path):
    _journal(tmp_path / "demo" / "state" / "thinkube-lab", "coredns")
    out = cli("status", "--state-dir", str(tmp_path))
    assert out.returncode == 0
    assert "No install recorded" in out.stdout
    assert f"the demo's installs (thinkube-lab): thinkube-tui status --demo --state-dir {tmp_path}" in out.stdout
    out = cli("status", "--state-dir", str(tmp_path), "--demo")
    assert out.returncode == 0 and "cluster thinkube-lab" in out.stdout and "coredns" in out.stdout


# ---------------------------------------------------------------- bad options, no tracebacks


def test_a_lab_speed_of_zero_is_refused_with_a_message(tmp_path):
    for value in ("0", "-1", "nan", "fast"):
        out = cli("--demo", "--lab-speed", value, "--state-dir", str(tmp_path))
        assert out.returncode == 2, value
        assert "argument --lab-speed:" in out.stderr and "Traceback" not in out.stderr
    out = cli("lab", "up", "--lab-speed", "0", "--state-dir", str(tmp_path))
    assert out.returncode == 2 and "must be above 0" in out.stderr


def test_fresh_is_only_for_the_demo(tmp_path):
    out = cli("--fresh", "--answers", str(EXAMPLES / "answers-minimal.yaml"), "--state-dir", str(tmp_path))
    assert out.returncode == 2 and "use it with --demo" in out.stderr


# ---------------------------------------------------------------- the retry hint


def test_the_retry_hint_is_a_command_that_works_as_is(tmp_path):
    import io

    from thinkube_tui.catalog import load_catalog
    from thinkube_tui.events import RunFinished
    from thinkube_tui.headless import HeadlessOptions, rerun_command, summary
    from thinkube_tui.spec import load_answers

    options = HeadlessOptions(
        answers=EXAMPLES / "answers-minimal.yaml",
        state_dir=tmp_path / "my state",
        known_hosts=tmp_path / "kh",
        skip_checks=frozenset({"ram"}),
        yes=True,
    )
    command = rerun_command(options)
    assert command == (
        f"thinkube-tui --answers {EXAMPLES / 'answers-minimal.yaml'} --state-dir '{tmp_path / 'my state'}' "
        f"--known-hosts {tmp_path / 'kh'} --skip-check ram --yes"
    )
    out = io.StringIO()
    spec = load_answers(EXAMPLES / "answers-minimal.yaml")
    summary(spec, load_catalog(), RunFinished(None, done=(), failed=("coredns",), blocked=()), None, out, rerun=command)
    assert f"run the same command again: finished steps are not repeated.\n    {command}\n" in out.getvalue()


def test_a_fifo_or_device_as_secrets_file_is_refused_not_waited_on(tmp_path):
    import os

    fifo = tmp_path / "secrets.yaml"
    os.mkfifo(fifo, 0o600)
    answers = str(EXAMPLES / "answers-minimal.yaml")
    out = cli("--answers", answers, "--secrets", str(fifo), "--dry-run")
    assert out.returncode == 2 and "secrets file is not a regular file" in out.stderr, out.stderr
    out = cli("validate", answers, "--secrets", "/dev/zero")
    assert out.returncode == 2 and "Traceback" not in out.stderr and "MemoryError" not in out.stderr


def test_the_wizards_retry_hint_names_its_state_dir_and_known_hosts(tmp_path):
    from thinkube_tui.rerun import wizard_retry_commands

    again, headless = wizard_retry_commands(
        tmp_path / "state" / "lab", state_base=tmp_path / "state", known_hosts=tmp_path / "kh", secrets=None
    )
    assert again == f"thinkube-tui --state-dir {tmp_path / 'state'} --known-hosts {tmp_path / 'kh'}"
    assert headless == (
        f"thinkube-tui --answers {tmp_path / 'state' / 'lab' / 'answers.yaml'} "
        f"--state-dir {tmp_path / 'state'} --known-hosts {tmp_path / 'kh'}"
    )
    assert wizard_retry_commands(tmp_path / "x")[0] == "thinkube-tui"


@pytest.mark.parametrize("command", [["remove", "qdrant"], ["upgrade"], ["reset"], ["node", "remove", "tk-worker-1"]])
def test_options_before_a_day_two_command_are_kept(command) -> None:
    """`thinkube-tui --demo remove qdrant --answers FILE --yes` (the issue's own example): the
    top level's --demo, --answers and --dry-run are not overridden by the command's defaults."""
    from thinkube_tui.cli import build_parser

    args = build_parser().parse_args(["--demo", "--dry-run", "--answers", "a.yaml", *command])
    assert args.demo is True and args.dry_run is True and str(args.answers) == "a.yaml"
    args = build_parser().parse_args([*command, "--demo", "--answers", "b.yaml"])
    assert args.demo is True and str(args.answers) == "b.yaml" and args.dry_run is False
