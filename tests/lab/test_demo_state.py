"""The demo keeps one lab and its installs in `<state dir>/demo/`, shared by the wizard and `make demo`.

A second run comes back to the installed cluster (re-entry), `status --demo` reads it,
`--demo --fresh` starts over, and nothing is left in the temporary directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from thinkube_tui.commands.lab import demo_dir, demo_state_dir

ROOT = Path(__file__).resolve().parents[2]
SMALL = """\
apiVersion: thinkube.io/v1alpha1
cluster: {domain: x.lan, adminEmail: a@x.lan, metallbRange: 10.0.0.1-10.0.0.9, ingressIP: 10.0.0.1, ingressKnIP: 10.0.0.2}
nodes: [{name: a, host: 10.0.0.10, user: u, role: control}]
components:
  gpu-operator: {enabled: false}
  valkey: {enabled: true}
"""


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINKUBE_LAB_")}
    env["TMPDIR"] = str(tmp_path / "tmp")  # where a temporary lab would have gone
    cmd = [sys.executable, "-m", "thinkube_tui", *args, "--state-dir", str(tmp_path / "state")]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)


@pytest.fixture
def answers(tmp_path: Path) -> Path:
    (tmp_path / "tmp").mkdir()
    (tmp_path / "state").mkdir(mode=0o700)
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


def test_the_demo_keeps_its_lab_and_installs_and_starts_over_when_asked(tmp_path: Path, answers: Path) -> None:
    demo = ["--demo", "--answers", str(answers), "--lab-speed", "200"]
    first = _run(tmp_path, *demo)
    assert first.returncode == 0, (first.stdout + first.stderr)[-4000:]
    assert "install finished:" in first.stdout
    state = demo_state_dir(tmp_path / "state")
    assert (state / "thinkube-lab" / "journal.json").is_file()
    assert not (tmp_path / "state" / "thinkube-lab").exists()  # apart from real clusters' state

    second = _run(tmp_path, *demo)
    assert second.returncode == 0, (second.stdout + second.stderr)[-4000:]
    assert "Everything selected is installed already: nothing to do." in second.stdout  # re-entry

    status = _run(tmp_path, "status", "--demo")
    assert status.returncode == 0 and "cluster thinkube-lab" in status.stdout and "valkey" in status.stdout

    fresh = _run(tmp_path, *demo, "--fresh")
    assert fresh.returncode == 0, (fresh.stdout + fresh.stderr)[-4000:]
    assert "demo: starting over" in fresh.stdout and "install finished:" in fresh.stdout
    assert "already part of a MicroK8s cluster" not in fresh.stdout  # a new lab, not the old one

    assert list((tmp_path / "tmp").iterdir()) == []  # no /tmp/thinkube-demo-* left behind
    assert sorted(p.name for p in demo_dir(tmp_path / "state").iterdir()) == [
        "demo.lock",
        "known_hosts",
        "lab",
        "lab-answers.yaml",
        "state",
    ]
    assert [p.name for p in tmp_path.glob("*.yaml")] == ["small.yaml"]  # nothing written into the cwd


async def test_the_wizard_demo_opens_with_the_answers_components_on_the_labs_nodes(
    tmp_path: Path, answers: Path
) -> None:
    from thinkube_tui.wizard_start import DemoLab

    answers.write_text(SMALL + "  grafana: {enabled: true}\n  keycloak: {enabled: true, adminUser: boss}\n")
    lab = DemoLab(tmp_path / "state", speed=0.005, answers=answers)
    assert lab.state_dir == demo_state_dir(tmp_path / "state")
    try:
        model = await lab.start()
    finally:
        await lab.stop()
    assert [n.name for n in model.nodes] == ["tk-control", "tk-worker-1", "tk-gpu-1"]  # the lab's nodes
    assert model.cluster["name"] == "thinkube-lab"  # and its cluster settings
    assert model.choices["grafana"] is True and model.choices["valkey"] is True  # FILE's components
    assert model.choices["gpu-operator"] is False
    assert model.component_config["keycloak"]["adminUser"] == "boss"  # and their settings


def test_a_second_demo_on_the_same_lab_is_refused_naming_the_first(tmp_path: Path, answers: Path) -> None:
    from thinkube_tui.commands.lab import DemoLock
    from thinkube_tui.wizard_start import WizardStartError, wizard_start

    root = demo_dir(tmp_path / "state")
    root.mkdir(mode=0o700)
    first = DemoLock(root)
    first.acquire()
    try:
        out = _run(tmp_path, "--demo", "--answers", str(answers))
        assert out.returncode == 2 and f"another demo runs from {root} (pid {os.getpid()})" in out.stderr
        with pytest.raises(WizardStartError, match="another demo runs from"):
            wizard_start(answers=None, secrets=None, demo=True, state_dir=tmp_path / "state")
    finally:
        first.release()
    start = wizard_start(answers=None, secrets=None, demo=True, state_dir=tmp_path / "state")
    assert start.demo is not None and start.demo.lock.held
    start.demo.lock.release()
