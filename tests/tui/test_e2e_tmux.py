"""End to end, as a person would: the real `thinkube-tui --demo` in tmux, through a finished install."""

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (make test installs it)")


class Tmux:
    def __init__(self, command: str, env: dict[str, str]) -> None:
        self.name = f"tk-e2e-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={v}" for k, v in env.items())
        subprocess.run(
            [
                "tmux",
                "new-session",
                "-d",
                "-s",
                self.name,
                "-x",
                "100",
                "-y",
                "30",
                f"env {exports} {command}; sleep 600",
            ],
            check=True,
        )

    def screen(self) -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True, check=True
        ).stdout

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def wait_for(self, text: str, timeout: float = 60) -> str:
        """Poll the screen until `text` shows (the condition we wait on), or fail showing the screen."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not appear within {timeout} s; the screen:\n{screen}")
            time.sleep(0.2)

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], check=False)


def test_demo_wizard_installs_everything(tmp_path):
    command = f"{sys.executable} -m thinkube_tui --demo --lab-speed 20 --state-dir {tmp_path}"
    env = {
        "TEXTUAL_ANIMATIONS": "none",
        "TERM": "xterm-256color",
        "HOME": str(tmp_path),
        "PATH": os.environ.get("PATH", ""),
    }
    tmux = Tmux(command, env)
    try:
        tmux.wait_for("DEMO: the nodes below are a SIMULATED lab")
        tmux.keys("C-n")
        tmux.wait_for("Press d to discover")
        tmux.keys("d")
        screen = tmux.wait_for("3 of 3 nodes discovered")
        assert "NVIDIA H100 80GB HBM3" in screen, screen
        tmux.keys("C-n")
        tmux.wait_for("Make control plane")  # Roles
        tmux.keys("C-n")
        tmux.wait_for("Kubernetes foundation")  # Components, by group
        tmux.keys("C-n")
        tmux.wait_for("adminEmail")  # Configure
        tmux.keys("C-n")
        tmux.wait_for("components to install")  # Review
        tmux.keys("C-n")  # Install
        tmux.wait_for("Installing:")
        screen = tmux.wait_for("100%", timeout=240)
        tmux.keys("n")
        screen = tmux.wait_for("components installed")
        done, _, total = screen.split("components installed")[0].split()[-3:]
        assert done == total, screen
        assert "MicroK8s control plane" in screen and "done" in screen
    finally:
        tmux.close()
