"""The whole catalog installs on the lab: `thinkube-tui --demo --answers examples/answers-full.yaml`.

Runs the real program in a subprocess (plain output: stdout is a pipe) and checks that every
component of the catalog ran to its end -- its `done in` line, printed once its installer,
verification included, returned -- and is listed as done in the summary. Then the same command
again: nothing to do, and none of the lab's side-effect counters moved.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from thinkube_tui.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[2]
ANSWERS = ROOT / "examples" / "answers-full.yaml"


def _demo(state: Path) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable,
        "-m",
        "thinkube_tui",
        "--demo",
        "--answers",
        str(ANSWERS),
        "--state-dir",
        str(state),
        "--lab-speed",
        "50",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINKUBE_LAB_")}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _counters(state: Path) -> dict[str, dict[str, int]]:
    data = json.loads((state / "demo" / "lab" / "lab-state.json").read_text())
    return {name: node["counters"] for name, node in data["nodes"].items()}


def test_full_demo_installs_every_component_then_has_nothing_to_do(tmp_path):
    catalog = {c.id for c in load_catalog()}
    first = _demo(tmp_path)
    out = first.stdout + first.stderr
    assert first.returncode == 0, out[-6000:]
    assert f"install finished: {len(catalog)} done, 0 failed, 0 blocked" in out, out[-3000:]

    finished = set(re.findall(r"^\S+ \[([a-z0-9-]+)\] done in [\d.]+ s$", first.stdout, re.M))
    assert finished == catalog, f"no 'done in' line for {sorted(catalog - finished)}"
    components = first.stdout.split("## Components\n", 1)[-1]  # the handover summary's last section
    summary = dict(re.findall(r"^- ([a-z0-9-]+): (\w+)$", components, re.M))
    assert {cid for cid, status in summary.items() if status == "done"} == catalog, summary
    # Verifications that end with the platform answering: a few components' last words.
    for line in (
        "[model-serving] | KServe v0.15.0 is ready in RawDeployment mode",
        "[keycloak-k8s-oidc] | the API server restarted with the OIDC flags and answers again",
        "[keycloak-k8s-oidc] | the API server accepts Keycloak tokens from https://auth.thinkube-lab.lan",
    ):
        assert line in first.stdout, line
    before = _counters(tmp_path)
    control = before["tk-control"]
    assert control["snap-install:microk8s"] == 1 and control["kubelite-stop"] == 1 == control["kubelite-start"]
    # Every worker joined with the control node's certificate fingerprint (MicroK8s verifies it then).
    workers = {name: c for name, c in before.items() if name != "tk-control"}
    assert workers and all(c.get("join-verified") == 1 and not c.get("join-unverified") for c in workers.values())

    second = _demo(tmp_path)
    out2 = second.stdout + second.stderr
    assert second.returncode == 0, out2[-6000:]
    assert "Everything selected is installed already: nothing to do." in second.stdout, out2[-3000:]
    assert not re.search(r"\] (step|started)", second.stdout), out2[-3000:]
    assert "Unclosed" not in out2  # the Kube client opened to adopt the cluster's state is closed
    assert _counters(tmp_path) == before
