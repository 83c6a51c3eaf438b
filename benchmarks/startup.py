"""Start-up: how long the commands an operator types take before they answer.

Each figure is printed beside a baseline timed in the same run, as the median of `--runs`
with its spread (min–max):
- `thinkube-tui --version` against bare `python -c pass`   (target: at most 0.15 s more)
- `thinkube-tui validate examples/answers-full.yaml`        (target: at most 0.5 s)
- launch to the first painted screen of `thinkube-tui --demo` against a minimal Textual app
  with the same chrome (Header, Footer, one Static), both in a pseudo-terminal (target: at
  most 1.2x). Measured twice: from this checkout's editable install (its import hook costs
  15–20 ms per start) and from a built wheel installed into a temporary virtual environment
  (`pip wheel . ./lab --no-deps`, the dependencies read from this venv), as operators run it.

    .venv/bin/python benchmarks/startup.py [--runs 5] [--json] [--no-wheel]
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

# The first screen's chrome and nothing else: the header, one Static, the footer.
MINIMAL_APP = """
from textual.app import App
from textual.widgets import Footer, Header, Static

class Minimal(App):
    TITLE = "minimal"
    def compose(self):
        yield Header()
        yield Static("minimal app ready")
        yield Footer()

Minimal().run()
"""
FIRST_PAINT_TARGET = 1.2


def timed(command: list[str], runs: int) -> list[float]:
    """Wall times of `command` (output discarded), one per run."""
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - began)
    return samples


def spread(samples: list[float]) -> dict[str, float]:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples)}


def wheel_python(tmp: Path) -> str:
    """A temporary venv holding thinkube-tui and the lab as built wheels (no editable hook);
    the dependencies come from this venv's site-packages, added as a plain path."""
    import site
    import sysconfig

    wheels, venv = tmp / "wheels", tmp / "venv"
    pip = [PYTHON, "-m", "pip", "--quiet", "--disable-pip-version-check"]
    quiet = {"cwd": ROOT, "check": True, "stdout": subprocess.DEVNULL}
    subprocess.run([*pip, "wheel", ".", "./lab", "--no-deps", "--no-build-isolation", "-w", str(wheels)], **quiet)
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(venv)], **quiet)
    python = str(venv / "bin" / "python")
    subprocess.run(
        [*pip, "--python", python, "install", "--no-deps", "--no-index", *map(str, wheels.glob("*.whl"))], **quiet
    )
    target = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # A plain path line: this venv's .pth files (the editable hooks) are not run there.
    ours = sysconfig.get_path("purelib") or site.getsitepackages()[0]
    (Path(target) / "deps-from-dev-venv.pth").write_text(ours + "\n")
    return python


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


def first_paints(python: str, runs: int, env: dict[str, str], tmp: Path) -> tuple[list[float], list[float]]:
    """(demo, minimal) launch-to-first-paint times, alternating so that neither always goes first."""
    script = tmp / "minimal.py"
    script.write_text(MINIMAL_APP)
    demo_env = {**env, "XDG_STATE_HOME": str(tmp / "state")}
    demo, minimal = [], []
    for _ in range(runs):
        minimal.append(first_paint([python, str(script)], b"minimal app ready", env))
        demo.append(first_paint([python, "-m", "thinkube_tui", "--demo"], b"thinkube", demo_env))
    return demo, minimal


def measure(runs: int, wheel: bool = True) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    bare = spread(timed([PYTHON, "-c", "pass"], runs))
    version = spread(timed([*TOOL, "--version"], runs))
    rows.append(
        {
            "figure": "--version (s)",
            "value": version,
            "baseline": bare,
            "target": "<= baseline + 0.15 s",
            "pass": version["median"] <= bare["median"] + 0.15,
        }
    )
    validate = spread(timed([*TOOL, "validate", str(ROOT / "examples" / "answers-full.yaml")], runs))
    rows.append(
        {
            "figure": "validate full example (s)",
            "value": validate,
            "baseline": None,
            "target": "<= 0.5 s",
            "pass": validate["median"] <= 0.5,
        }
    )
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30", "TEXTUAL_ANIMATIONS": "none"}
    with tempfile.TemporaryDirectory() as tmp:
        installs = [("editable install", PYTHON)]
        if wheel:
            installs.append(("built wheel", wheel_python(Path(tmp))))
        for label, python in installs:
            # The wheel's venv imports thinkube_tui from the wheel only, never from a source tree.
            run_env = env if python == PYTHON else {k: v for k, v in env.items() if k != "PYTHONPATH"}
            demo, minimal = first_paints(python, runs, run_env, Path(tmp))
            ratios = spread([d / m for d, m in zip(demo, minimal, strict=True)])
            rows.append(
                {
                    "figure": f"--demo to first paint, {label} (s)",
                    "value": spread(demo),
                    "baseline": spread(minimal),
                    "ratio": ratios,
                    "target": f"<= {FIRST_PAINT_TARGET}x Header+Static+Footer app",
                    "pass": ratios["median"] <= FIRST_PAINT_TARGET,
                }
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-wheel", action="store_true", help="only the editable install")
    args = parser.parse_args()
    rows = measure(args.runs, wheel=not args.no_wheel)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0

    def show(value: object) -> str:
        if isinstance(value, dict):
            return f"{value['median']:.3f} ({value['min']:.3f}–{value['max']:.3f})"
        return "-"

    print(f"median (min–max) of {args.runs} runs")
    for r in rows:
        print(
            f"{r['figure']:<44} {show(r['value']):>22}  baseline {show(r['baseline']):>22}  "
            f"ratio {show(r.get('ratio')):>22}  {r['target']:<34} {'PASS' if r['pass'] else 'MISS'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
