"""What the wizard costs over headless: the same install of the full example onto the lab, both ways.

Each run starts a fresh lab in a process of its own (`thinkube-tui lab up`, 3 nodes, one GPU,
`--lab-speed` high), so that the CPU measured is the client's alone, then installs the full
example's components onto it in a child process:

- headless: `headless.run` (plain output to a file), measured from taking the cluster's lock to
  the end of the Install phase;
- wizard: `ThinkubeApp` under `App.run_test` (120×40, Textual's headless driver: every frame is
  laid out and rendered, nothing is written to a terminal), the nodes discovered through the
  app's session, measured from `start_install()` (the Install screen composed, the lock, the
  engine) until the screen shows the install finished and has drawn it.

Per run: CPU seconds of the child in that window (user + system), RSS before it, peak RSS in it
(VmHWM, reset at the start) and RSS after it (after `gc.collect()`); for the wizard also full
layouts (`Compositor.reflow`), scroll-only reflows, and `Static.update` calls. Runs alternate
between the two ways; 3 each by default. Figures: median and spread (min–max).

    .venv/bin/python benchmarks/wizard_vs_headless.py [--runs 3] [--lab-speed 50] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TOOL = [sys.executable, "-m", "thinkube_tui"]
ANSWERS = ROOT / "examples" / "answers-full.yaml"
SIZE = (120, 40)
MODES = ("headless", "wizard")
PROFILE = os.environ.get("WIZARD_BENCH_PROFILE")  # a file: cProfile the measured window into it
PROFILER = cProfile.Profile(time.process_time)  # CPU time: waiting is not cost


# ---------------------------------------------------------------- measuring, in the child


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class Window:
    """CPU and memory of this process over one stretch of the run."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cpu = self.rss_before = self.peak = self.rss_after = 0.0
        self._cpu0 = 0.0

    def open(self) -> None:
        gc.collect()
        self.rss_before = _status_kib("VmRSS") / 1024
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM starts again from the current RSS
        self._cpu0 = time.process_time()
        if PROFILE:
            PROFILER.enable()

    def close(self) -> None:
        self.cpu = time.process_time() - self._cpu0
        if PROFILE:
            PROFILER.disable()
            PROFILER.dump_stats(f"{PROFILE}.{self.name}")
        self.peak = _status_kib("VmHWM") / 1024
        gc.collect()
        self.rss_after = _status_kib("VmRSS") / 1024

    def figures(self) -> dict[str, float]:
        return {
            "cpu_s": self.cpu,
            "rss_before_mib": self.rss_before,
            "peak_rss_mib": self.peak,
            "rss_after_mib": self.rss_after,
        }


async def child_headless(answers: Path, known_hosts: Path, state: Path) -> dict[str, Any]:
    from thinkube_tui import headless
    from thinkube_tui.phases import install as install_phases

    window = Window("headless")
    take_lock, install = install_phases.TakeLock.run, install_phases.Install.run

    async def timed_lock(self: Any, session: Any) -> None:
        window.open()
        await take_lock(self, session)

    async def timed_install(self: Any, session: Any) -> None:
        await install(self, session)
        window.close()

    install_phases.TakeLock.run = timed_lock  # type: ignore[method-assign]
    install_phases.Install.run = timed_install  # type: ignore[method-assign]
    options = headless.HeadlessOptions(
        answers=answers, yes=True, state_dir=state, known_hosts=known_hosts, interactive_output=False
    )
    with open(state / "headless.out", "w") as out:
        code = await headless.run(options, out=out, err=out)
    if code != 0:
        raise SystemExit(f"headless install failed ({code}): see {state / 'headless.out'}")
    return window.figures()


async def child_wizard(answers: Path, known_hosts: Path, state: Path) -> dict[str, Any]:
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    from textual._compositor import Compositor
    from textual.widgets import Static

    from thinkube_tui.app import ThinkubeApp
    from thinkube_tui.screens.install import InstallScreen
    from thinkube_tui.wizard import WizardModel

    counts = {"full_layouts": 0, "scroll_reflows": 0, "static_updates": 0}
    counting = False

    def counted(name: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if counting:
                counts[name] += 1
            return function(*args, **kwargs)

        return wrapper

    Compositor.reflow = counted("full_layouts", Compositor.reflow)  # type: ignore[method-assign]
    Compositor.reflow_visible = counted("scroll_reflows", Compositor.reflow_visible)  # type: ignore[method-assign]
    Static.update = counted("static_updates", Static.update)  # type: ignore[method-assign]

    model = WizardModel.from_answers_file(answers)
    app = ThinkubeApp(model=model, state_dir=state, known_hosts=known_hosts)
    window = Window("wizard")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        async for result in app.session.discover(list(model.nodes)):
            model.record_discovery(result)
        model.findings = await app.session.preflight(model)
        if not model.discovered or model.blocking_findings:
            raise SystemExit(f"the lab's nodes were not discovered: {model.discovery_errors} {model.findings}")
        await pilot.pause()
        window.open()
        counting = True
        app.start_install()
        while not (isinstance(app.screen, InstallScreen) and app.screen.finished and not app.install_running):
            await asyncio.sleep(0.01)
        await pilot.pause()  # every message handled and the last frame drawn
        counting = False
        window.close()
        finished = app.screen.finished
        assert isinstance(app.screen, InstallScreen)
        if finished is None or not finished.ok:
            raise SystemExit(f"wizard install failed: {finished}")
        await app.close_connections()
        app.exit(0)
    return {**window.figures(), **counts}


def child(mode: str, lab: Path, state: Path) -> None:
    from thinkube_tui.commands.lab import SUDO_ENV

    os.environ[SUDO_ENV] = (lab / "sudo-password").read_text().strip()
    answers, known_hosts = state / "answers.yaml", lab / "known_hosts"
    run = child_headless if mode == "headless" else child_wizard
    figures = asyncio.run(run(answers, known_hosts, state))
    print(json.dumps(figures))


# ---------------------------------------------------------------- one run: a lab, a child


def one_run(mode: str, lab_speed: float, workdir: Path) -> dict[str, Any]:
    from thinkube_tui.commands.lab import ANSWERS as LAB_ANSWERS
    from thinkube_tui.commands.lab import demo_answers

    lab, state = workdir / "lab", workdir / "state"
    state.mkdir(mode=0o700)
    up = [*TOOL, "lab", "up", "--state-dir", str(lab), "--nodes", "3", "--gpus", "1", "--lab-speed", str(lab_speed)]
    subprocess.run(up, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    try:
        import yaml

        merged = demo_answers(yaml.safe_load((lab / LAB_ANSWERS).read_text()), ANSWERS)  # as `--demo --answers`
        (state / "answers.yaml").write_text(yaml.safe_dump(merged, sort_keys=False))
        out = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--lab", str(lab), "--state", str(state)],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if out.returncode != 0:
            raise SystemExit(f"{mode} run failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        subprocess.run([*TOOL, "lab", "down", "--state-dir", str(lab)], stdout=subprocess.DEVNULL, cwd=ROOT)


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise(runs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    head, wiz = runs["headless"], runs["wizard"]

    def of(rows: list[dict[str, Any]], key: str) -> list[float]:
        return [float(r[key]) for r in rows]

    def ratio(key: str) -> dict[str, float]:
        return spread([w / h for w, h in zip(of(wiz, key), of(head, key), strict=True)])

    def kept(rows: list[dict[str, Any]]) -> list[float]:
        return [r["rss_after_mib"] - r["rss_before_mib"] for r in rows]

    cpu_ratio = ratio("cpu_s")
    kept_w = spread(kept(wiz))
    kept_h = spread(kept(head))
    return [
        {
            "figure": "install CPU s, wizard vs headless",
            "value": spread(of(wiz, "cpu_s")),
            "baseline": spread(of(head, "cpu_s")),
            "ratio": cpu_ratio,
            "target": "≤ 1.15× headless",
            "pass": cpu_ratio["median"] <= 1.15,
        },
        {
            "figure": "peak RSS MiB in the install",
            "value": spread(of(wiz, "peak_rss_mib")),
            "baseline": spread(of(head, "peak_rss_mib")),
            "ratio": ratio("peak_rss_mib"),
            "target": "-",
            "pass": None,
        },
        {
            "figure": "RSS kept after the install MiB (after − before, after gc)",
            "value": kept_w,
            "baseline": kept_h,
            "ratio": None,
            "target": "≤ headless + 5 MiB",
            "pass": kept_w["median"] <= kept_h["median"] + 5,
        },
        {
            "figure": "full layouts in the wizard's install",
            "value": spread(of(wiz, "full_layouts")),
            "baseline": None,
            "ratio": None,
            "target": "not one per log batch",
            "pass": None,
        },
        {
            "figure": "scroll-only reflows in the wizard's install",
            "value": spread(of(wiz, "scroll_reflows")),
            "baseline": None,
            "ratio": None,
            "target": "-",
            "pass": None,
        },
        {
            "figure": "Static.update calls in the wizard's install",
            "value": spread(of(wiz, "static_updates")),
            "baseline": None,
            "ratio": None,
            "target": "-",
            "pass": None,
        },
    ]


def show(value: object) -> str:
    if isinstance(value, dict):
        return f"{value['median']:.3g} ({value['min']:.3g}–{value['max']:.3g})"
    return "-" if value is None else str(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lab-speed", type=float, default=50.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--lab", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--state", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.lab, args.state)
        return 0
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    for number in range(args.runs):
        order = MODES if number % 2 == 0 else MODES[::-1]  # neither way always goes first
        for mode in order:
            with tempfile.TemporaryDirectory() as tmp:
                runs[mode].append(one_run(mode, args.lab_speed, Path(tmp)))
    rows = summarise(runs)
    if args.json:
        print(json.dumps({"rows": rows, "runs": runs}, indent=2))
        return 0
    print(
        f"full example onto the lab (3 nodes, --lab-speed {args.lab_speed:g}), {args.runs} runs each; median (min–max)"
    )
    for r in rows:
        result = "-" if r["pass"] is None else ("PASS" if r["pass"] else "MISS")
        print(
            f"{r['figure']:<58} {show(r['value']):>22}  headless {show(r['baseline']):>22}  "
            f"ratio {show(r['ratio']):>20}  {r['target']:<22} {result}"
        )
    for mode, rows_ in runs.items():
        for r in rows_:
            print(f"  {mode:<9} " + "  ".join(f"{k}={v:.3g}" for k, v in r.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
