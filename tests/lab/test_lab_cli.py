"""`thinkube-tui lab up` / `lab down`: a lab of its own process, usable by hand and by discover."""

import json
import os
import subprocess
import sys


def cli(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "thinkube_tui", *args], capture_output=True, text=True, timeout=120, env=env
    )


def test_lab_up_discover_down(tmp_path):
    state = tmp_path / "lab"
    up = cli("lab", "up", "--state-dir", str(state), "--nodes", "2", "--gpus", "1", "--lab-speed", "20")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "SIMULATED" in up.stdout and "tk-gpu-1" in up.stdout
        answers, known_hosts = state / "answers.yaml", state / "known_hosts"
        assert answers.is_file() and known_hosts.is_file()
        again = cli("lab", "up", "--state-dir", str(state))
        assert again.returncode == 2 and "already runs" in again.stdout
        # The lab answers a real discovery, from another process, with its host keys pinned.
        env = {
            **os.environ,
            "TK_LAB_SUDO_PASSWORD": (state / "sudo-password").read_text().strip(),
            "XDG_STATE_HOME": str(tmp_path / "xdg"),
        }
        found = cli("discover", "--answers", str(answers), "--json", env=env)
        report = json.loads(found.stdout)
        assert found.returncode == 0, found.stdout + found.stderr
        gpus = {n["node"]: n["facts"]["gpus"] for n in report["nodes"]}
        assert gpus["tk-control"] == [] and gpus["tk-gpu-1"][0]["model"] == "NVIDIA H100 80GB HBM3"
    finally:
        down = cli("lab", "down", "--state-dir", str(state))
    assert down.returncode == 0 and "lab stopped" in down.stdout
    assert not (state / "lab.pid").exists()
