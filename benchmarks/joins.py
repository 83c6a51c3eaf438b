"""Benchmark (a gate): worker joins at 3, 20, 30 and 60 workers in the lab.

For each worker count N it starts a fresh lab (`thinkube-tui lab up --nodes N+1 --gpus 0
--lab-speed 50`: the control node plus N workers), times the whole
`thinkube-tui --answers … --yes --only microk8s-workers` run against it (the control node's
MicroK8s, then every worker: snap, join, Ready, labels), checks that every worker joined once
with a verified `<ip>:25000/<token>/<check>`, and stops the lab. Each figure is the median of
--reps runs (spread: min–max); the worker counts alternate between runs.

The gate: the run at 30 workers takes at most 1.5x the run at 3 workers (the same run, same
machine). Exits 1 when it fails (the figures are printed either way).

    .venv/bin/python benchmarks/joins.py [--workers 3,20,30,60] [--reps 3] [--baseline DIR] [--json]

--baseline DIR also measures another checkout (e.g. `git -C REPO archive main | tar -x -C DIR`),
its runs interleaved with this one's, so a before/after comparison shares the machine's load.
--source measures another checkout instead of this one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
GATE_WORKERS, GATE_BASE, GATE_RATIO = 30, 3, 1.5  # the 30-worker run <= 1.5x the 3-worker run
LAB_SPEED = 50


def _env(source: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(source), str(source / "lab"), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    return env


def _tui(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    # In the measured checkout: `-m` puts the working directory first on sys.path.
    source = Path(env["PYTHONPATH"].split(os.pathsep)[0])
    proc = subprocess.run(
        [sys.executable, "-m", "thinkube_tui", *args],
        env=env,
        cwd=source,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"thinkube-tui {' '.join(args)} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _process_cpu(pid: int) -> float:
    """CPU seconds of a process that is not our child (the lab: `lab up` detaches it)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(workers: int, source: Path, work: Path) -> tuple[float, float, float]:
    """(wall, installer CPU, lab CPU) seconds of one `--only microk8s-workers` run against a
    fresh lab of `workers` workers."""
    env = _env(source)
    lab, state = work / "lab", work / "state"
    _tui("lab", "up", "--state-dir", str(lab), "--nodes", str(workers + 1), "--gpus", "0",
         "--lab-speed", str(LAB_SPEED), env=env)  # fmt: skip
    try:
        env["TK_LAB_SUDO_PASSWORD"] = (lab / "sudo-password").read_text().strip()
        args = ["--answers", str(lab / "answers.yaml"), "--yes", "--only", "microk8s-workers",
                "--state-dir", str(state), "--known-hosts", str(lab / "known_hosts")]  # fmt: skip
        lab_pid = int((lab / "lab.pid").read_text())
        lab_cpu, cpu, start = _process_cpu(lab_pid), _children_cpu(), time.perf_counter()
        proc = _tui(*args, env=env, check=False)
        elapsed = time.perf_counter() - start
        cpu, lab_cpu = _children_cpu() - cpu, _process_cpu(lab_pid) - lab_cpu
        if proc.returncode != 0:
            tail = proc.stdout[-2000:] + proc.stderr[-2000:]
            raise RuntimeError(f"the install failed (exit {proc.returncode}):\n{tail}")
    finally:
        _tui("lab", "down", "--state-dir", str(lab), env=env, check=False)
    _check_joins(lab, workers)
    return elapsed, cpu, lab_cpu


def _check_joins(lab: Path, workers: int) -> None:
    """Every worker joined exactly once, with the control node's certificate fingerprint."""
    nodes = json.loads((lab / "lab-state.json").read_text())["nodes"]
    counters = [n.get("counters", {}) for name, n in nodes.items() if name != "tk-control"]
    bad = [c for c in counters if c.get("join-verified") != 1 or c.get("join-unverified")]
    if len(counters) != workers or bad:
        raise RuntimeError(f"not every worker joined once, verified: {bad[:3]} ({len(counters)} workers)")


def summary(runs: list[tuple[float, float, float]]) -> dict[str, Any]:
    times = [r[0] for r in runs]
    return {
        "median_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
        "max_s": round(max(times), 3),
        "runs_s": [round(t, 3) for t in times],
        # This machine's other load shows in wall time; CPU time much less.
        "installer_cpu_s": round(statistics.median(r[1] for r in runs), 3),
        "lab_cpu_s": round(statistics.median(r[2] for r in runs), 3),
    }


def result(times: dict[int, list[tuple[float, float, float]]], source: Path) -> dict[str, Any]:
    rows = [{"workers": n, **summary(t)} for n, t in sorted(times.items())]
    by = {r["workers"]: r for r in rows}
    ratio = by[GATE_WORKERS]["median_s"] / by[GATE_BASE]["median_s"]
    return {
        "source": str(source),
        "rows": rows,
        "gate": {
            "figure": f"{GATE_WORKERS} vs {GATE_BASE} workers (medians)",
            "ratio": round(ratio, 3),
            "target": GATE_RATIO,
            "pass": ratio <= GATE_RATIO,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="3,20,30,60", help="comma-separated worker counts (default 3,20,30,60)")
    parser.add_argument("--reps", type=int, default=3, help="runs per worker count; the median counts (default 3)")
    parser.add_argument("--source", type=Path, default=REPO, help="the checkout to measure (default: this one)")
    parser.add_argument("--baseline", type=Path, help="another checkout, measured in the same run (before/after)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    counts = sorted({int(x) for x in args.workers.split(",") if x.strip()} | {GATE_BASE, GATE_WORKERS})
    sources = {"this": args.source.resolve()}
    if args.baseline:
        sources["baseline"] = args.baseline.resolve()
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    times: dict[str, dict[int, list[tuple[float, float, float]]]] = {k: {n: [] for n in counts} for k in sources}
    with tempfile.TemporaryDirectory(prefix="tk-bench-joins-") as tmp:
        for rep in range(args.reps):
            order = counts if rep % 2 == 0 else counts[::-1]  # alternate which size goes first
            for n in order:
                for k in list(sources) if (rep + n) % 2 == 0 else list(sources)[::-1]:  # and which checkout
                    times[k][n].append(one_run(n, sources[k], Path(tmp) / f"{k}-{n}-{rep}"))
                    if not args.json:
                        wall, cpu, lab_cpu = times[k][n][-1]
                        print(
                            f"  {k}: {n} workers, run {rep + 1}: {wall:.2f} s (CPU: installer {cpu:.2f} s, "
                            f"lab {lab_cpu:.2f} s)",
                            file=sys.stderr,
                        )
    results = {k: result(times[k], sources[k]) for k in sources}
    passed = bool(results["this"]["gate"]["pass"])
    if args.json:
        print(
            json.dumps(
                {
                    "benchmark": "joins",
                    "cpus": os.cpu_count(),
                    "lab_speed": LAB_SPEED,
                    "reps": args.reps,
                    **results["this"],
                    "baseline": results.get("baseline"),
                    "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                    "total_s": round(time.perf_counter() - started, 1),
                },
                indent=2,
            )
        )
    else:
        print(f"`--only microk8s-workers` against a lab (--lab-speed {LAB_SPEED}), median of {args.reps} (min-max):")
        for k, res in results.items():
            print(f"{k} ({res['source']}):")
            for r in res["rows"]:
                print(
                    f"  {r['workers']:>3} workers: {r['median_s']:6.2f} s  ({r['min_s']:.2f}-{r['max_s']:.2f})  "
                    f"CPU: installer {r['installer_cpu_s']:.2f} s, lab {r['lab_cpu_s']:.2f} s"
                )
            gate = res["gate"]
            verdict = "PASS" if gate["pass"] else "FAIL"
            print(f"  {verdict}  {gate['figure']}: {gate['ratio']:.2f}x (target <= {GATE_RATIO}x)")
        print(
            f"total {time.perf_counter() - started:.0f} s on {os.cpu_count()} CPUs; load average "
            f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (other work on the machine shows in wall time)"
        )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
