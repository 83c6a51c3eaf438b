"""`--dry-run` on the full example: the commands and API calls of a first install, per node."""

import subprocess
import sys
from pathlib import Path

from thinkube_tui.catalog import load_catalog
from thinkube_tui.dryrun import dry_run
from thinkube_tui.spec import load_answers

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


async def test_full_example_transcript():
    spec = load_answers(EXAMPLES / "answers-full.yaml")
    transcript = await dry_run(spec, load_catalog())
    control = transcript.lines["tk-control"]
    assert "[microk8s-control] sudo snap install microk8s --classic --channel=1.33/stable" in control
    for addon in ("dns", "hostpath-storage", "helm3"):
        assert f"[microk8s-control] sudo microk8s enable {addon}" in control
    # One fresh join token per worker, handed over on stdin, never on the command line.
    adds = [line for line in control if "add-node" in line]
    assert len(adds) == 2 and all('--token "$(cat)" (input on stdin)' in line for line in adds)
    for worker in ("tk-worker", "tk-gpu"):
        assert '[microk8s-workers] sudo microk8s join "$(cat)" --worker (input on stdin)' in transcript.lines[worker]
    api = transcript.lines["kubernetes API"]
    assert "[microk8s-workers] wait until node tk-gpu is Ready (at most 600 s)" in api
    assert "[microk8s-workers] patch Node tk-gpu: ['taints']" in api
    # Components without an installer are reported, never silently done.
    from thinkube_tui.installers import registry

    missing = transcript.lines.get("not installed", [])
    without = [c.id for c in load_catalog() if c.id not in registry()]
    for cid in without:
        assert any(line.startswith(f"{cid}: ") for line in missing), f"{cid} is not reported as not installed"
    assert all("not implemented" in line or "waits for" in line for line in missing)


def test_cli_dry_run_changes_nothing(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "thinkube_tui",
            "--answers",
            str(EXAMPLES / "answers-full.yaml"),
            "--dry-run",
            "--state-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Dry run:") and "== tk-control" in out.stdout
    assert list(tmp_path.iterdir()) == []  # no journal, no log
