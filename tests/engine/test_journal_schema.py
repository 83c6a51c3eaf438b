"""The journal is read only if it matches its own versioned schema: damaged files (torn, nested
past reason, NaN, wrong types) are "damaged" with the documented exit 2 -- never a traceback,
never half-read -- and a file from a newer thinkube-tui is refused by its version."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from thinkube_tui.headless import EXIT_INVALID, HeadlessOptions, run
from thinkube_tui.journal import FORMAT, Journal, JournalError

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "format": FORMAT,
    "components": {
        "microk8s-control": {
            "status": "done",
            "config_hash": "0123456789abcdef",
            "steps_done": ["install the snap"],
            "attempts": 1,
            "started_at": 1764640000.0,
            "finished_at": 1764640100.5,
            "error": None,
            "version": "microk8s 1.33/stable",
            "nodes": ["tk-control", "tk-worker-1"],
        }
    },
}


def record(**changes):
    data = json.loads(json.dumps(GOOD))
    data["components"]["microk8s-control"].update(changes)
    return json.dumps(data)


DEEP = (
    '{"format": 1, "components": {"a": {"status": "done", "config_hash": "x", "error": '
    + "[" * 200_000
    + "]" * 200_000
    + "}}}"
)

DAMAGED = {
    "deeply nested": DEEP,
    "NaN time": record(started_at="NaN").replace('"NaN"', "NaN"),
    "Infinity time": record(finished_at="Infinity").replace('"Infinity"', "Infinity"),
    "attempts as text": record(attempts="3"),
    "attempts as a boolean": record(attempts=True),
    "steps as a string": record(steps_done="install the snap"),
    "unknown status": record(status="maybe"),
    "hash as a number": record(config_hash=5),
    "unknown field": record(extra=1),
    "components a list": json.dumps({"format": FORMAT, "components": []}),
    "a list": "[]",
    "format as text": json.dumps({"format": "1", "components": {}}),
    "no format": json.dumps({"components": {}}),
    "torn": record()[:-20],
    "not UTF-8": b'{"format": 1, "components": {"\xff": {}}}',
}


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_a_damaged_journal_is_refused_with_what_to_do(tmp_path, name):
    path = tmp_path / "journal.json"
    content = DAMAGED[name]
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(JournalError, match=r"damaged .*Move it aside"):
        Journal.open(path)


def test_the_message_says_where_the_journal_is_wrong(tmp_path):
    path = tmp_path / "journal.json"
    path.write_text(record(attempts="3"))
    with pytest.raises(JournalError, match=r"at components/microk8s-control/attempts: '3' is not of type 'integer'"):
        Journal.open(path)


def test_a_journal_from_a_newer_thinkube_tui_is_refused_by_its_version(tmp_path):
    path = tmp_path / "journal.json"
    path.write_text(json.dumps({"format": FORMAT + 1, "components": {}, "lock": {"new": "field"}}))
    with pytest.raises(
        JournalError, match=rf"newer thinkube-tui \(format {FORMAT + 1}; this one reads format {FORMAT}"
    ):
        Journal.open(path)


def test_a_good_journal_round_trips(tmp_path):
    path = tmp_path / "journal.json"
    path.write_text(json.dumps(GOOD))
    journal = Journal.open(path)
    assert journal.installed == {"microk8s-control"}
    journal.save()
    assert json.loads(path.read_text()) == GOOD


def test_a_format_1_journal_is_migrated_with_versions_unknown(tmp_path):
    """Format 1 recorded no versions: read, its components' versions are None ("not recorded"),
    and the next write is the current format."""
    old = json.loads(json.dumps(GOOD))
    old["format"] = 1
    del old["components"]["microk8s-control"]["version"]
    del old["components"]["microk8s-control"]["nodes"]
    path = tmp_path / "journal.json"
    path.write_text(json.dumps(old))
    journal = Journal.open(path)
    assert journal.components["microk8s-control"].version is None
    assert journal.out_of_date({"microk8s-control": "microk8s 1.33/stable"}) == {
        "microk8s-control": (None, "microk8s 1.33/stable")
    }
    journal.save()
    saved = json.loads(path.read_text())
    assert saved["format"] == FORMAT and saved["components"]["microk8s-control"]["version"] is None


def test_a_format_2_journal_is_migrated_with_nodes_unknown(tmp_path):
    """Format 2 recorded no nodes: read, they are None ("not recorded"), so no node counts as new
    for its components, and the next write is format 3."""
    old = json.loads(json.dumps(GOOD))
    old["format"] = 2
    del old["components"]["microk8s-control"]["nodes"]
    path = tmp_path / "journal.json"
    path.write_text(json.dumps(old))
    journal = Journal.open(path)
    assert journal.components["microk8s-control"].nodes is None
    journal.save()
    saved = json.loads(path.read_text())
    assert saved["format"] == 3 and saved["components"]["microk8s-control"]["nodes"] is None


def test_a_component_installed_at_another_version_is_out_of_date(tmp_path):
    path = tmp_path / "journal.json"
    path.write_text(json.dumps(GOOD))
    journal = Journal.open(path)
    assert journal.out_of_date({"microk8s-control": "microk8s 1.33/stable"}) == {}
    assert journal.out_of_date({"microk8s-control": "microk8s 1.34/stable"}) == {
        "microk8s-control": ("microk8s 1.33/stable", "microk8s 1.34/stable")
    }


def _cluster_state(tmp_path: Path, name: str) -> Path:
    state = tmp_path / "state"
    (state / name).mkdir(parents=True, mode=0o700)
    os.chmod(state, 0o700)
    (state / name / "journal.json").write_text(DEEP)
    return state


@pytest.mark.parametrize("content", ["deep", "nan"])
def test_status_reports_a_damaged_journal_with_exit_2(tmp_path, content):
    state = _cluster_state(tmp_path, "thinkube")
    if content == "nan":
        (state / "thinkube" / "journal.json").write_text(DAMAGED["NaN time"])
    proc = subprocess.run(
        [sys.executable, "-m", "thinkube_tui", "status", "--state-dir", str(state)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "damaged" in proc.stdout + proc.stderr and "Traceback" not in proc.stderr


async def test_headless_reports_a_damaged_journal_with_exit_2(tmp_path):
    # The cluster of the minimal example is "thinkube"; the journal is read before any node is reached.
    state = _cluster_state(tmp_path, "thinkube")
    out = io.StringIO()
    code = await run(
        HeadlessOptions(answers=ROOT / "examples" / "answers-minimal.yaml", yes=True, state_dir=state),
        out=out,
        err=out,
    )
    assert code == EXIT_INVALID, out.getvalue()
    assert "damaged (nested too deeply)" in out.getvalue()


async def test_the_clusters_copy_is_checked_by_the_same_schema():
    from thinkube_tui.cluster_state import KEY, read_state

    class Kube:
        def __init__(self, text):
            self.text = text

        async def get(self, *_args):
            return {"data": {KEY: self.text}}

    assert set(await read_state(Kube(json.dumps(GOOD)))) == {"microk8s-control"}
    assert await read_state(Kube(record(attempts="3"))) == {}  # adopting it would misread the cluster
    assert await read_state(Kube(DEEP)) == {}


def test_a_fifo_at_the_journals_place_is_refused_not_waited_on(tmp_path):
    path = tmp_path / "journal.json"
    os.mkfifo(path)
    with pytest.raises(JournalError, match="not a regular file"):
        Journal.open(path)
