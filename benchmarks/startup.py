"""Start-up: how long the commands an operator types take before they answer.

Each figure is printed beside a baseline timed in the same run:
- `thinkube-tui --version` against bare `python -c pass`   (target: at most 0.15 s more)
- `thinkube-tui validate examples/answers-full.yaml`        (target: at most 0.5 s)
- launch to the first painted screen of `thinkube-tui --demo` against a minimal Textual app's
  launch to its first paint, both in a pseudo-terminal       (target: at most 1.5x)

    .venv/bin/python benchmarks/startup.py [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
TOOL = [PYTHON, "-m", "thinkube_tui"]

MINIMAL_APP = """
from textual.app import App
from textual.widgets import Static

class Minimal(App):
    def compose(self):
        yield Static("minimal app ready")

Minimal().run()
"""


def timed(command: list[str], runs: int) -> float:
    """Median wall time of `command` (output discarded)."""
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


def first_paint(command: list[str], marker: bytes, env: dict[str, str], timeout: float = 60) -> float:
    """Seconds from launch until `marker` appears on the program's terminal."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the program, on the pseudo-terminal
        os.execvpe(command[0], command, env)
    began = time.perf_counter()
    seen = b""
    try:
        while marker not in seen:
            if time.perf_counter() - began > timeout:
                raise TimeoutError(f"{command}: {marker!r} did not appear within {timeout} s")
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(fd, 65536)
                except OSError:
                    break
        return time.perf_counter() - began
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)


def measure(runs: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    bare = timed([PYTHON, "-c", "pass"], runs)
    version = timed([*TOOL, "--version"], runs)
    rows.append(
        {
            "figure": "--version (s)",
            "value": version,
            "baseline": bare,
            "target": "<= baseline + 0.15 s",
            "pass": version <= bare + 0.15,
        }
    )
    validate = timed([*TOOL, "validate", str(ROOT / "examples" / "answers-full.yaml")], runs)
    rows.append(
        {
            "figure": "validate full example (s)",
            "value": validate,
            "baseline": None,
            "target": "<= 0.5 s",
            "pass": validate <= 0.5,
        }
    )
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30", "TEXTUAL_ANIMATIONS": "none"}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "minimal.py"
        script.write_text(MINIMAL_APP)
        minimal = statistics.median(first_paint([PYTHON, str(script)], b"minimal app ready", env) for _ in range(runs))
        demo_env = {**env, "XDG_STATE_HOME": tmp}
        demo = statistics.median(first_paint([*TOOL, "--demo"], b"thinkube", demo_env) for _ in range(runs))
    rows.append(
        {
            "figure": "--demo to first paint (s)",
            "value": demo,
            "baseline": minimal,
            "target": "<= 1.5x baseline",
            "pass": demo <= 1.5 * minimal,
        }
    )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = measure(args.runs)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        base = f"{r['baseline']:.3f}" if isinstance(r["baseline"], float) else "-"
        print(
            f"{r['figure']:<28} {r['value']:.3f}  baseline {base:>6}  {r['target']:<22} "
            f"{'PASS' if r['pass'] else 'MISS'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
