"""`make bench`: every benchmark, one table — each figure, its target, its same-run baseline.

Runs benchmarks/{startup,makespan,discovery,tui_log,joins,masking,journal_sync,validate_scale,wizard_vs_headless}.py
with --json and prints a Markdown table
(the form docs/performance.md keeps). `--only NAME` runs a subset.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
Row = dict[str, Any]


def run(script: str, *args: str) -> Any:
    out = subprocess.run(
        [sys.executable, str(HERE / script), *args, "--json"], capture_output=True, text=True, cwd=HERE.parent
    )
    try:
        return json.loads(out.stdout)
    except ValueError:
        raise SystemExit(f"{script} failed (exit {out.returncode}):\n{out.stderr[-2000:]}") from None


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def median(value: Any) -> Any:
    """A figure given as {median, min, max} (the scripts that repeat their runs) -> its median."""
    return value["median"] if isinstance(value, dict) else value


def startup() -> list[Row]:
    rows = []
    for r in run("startup.py", "--runs", "5"):
        value, base = median(r["value"]), median(r["baseline"])
        rows.append(
            {
                "figure": r["figure"],
                "value": value,
                "baseline": base,
                "ratio": median(r.get("ratio")) or (value / base if base else None),
                "target": r["target"],
                "pass": r["pass"],
            }
        )
    return rows


def makespan() -> list[Row]:
    rows = []
    for r in run("makespan.py"):
        rows.append(
            {
                "figure": f"makespan, concurrency {r['concurrency']} (s)",
                "value": r["makespan_s"],
                "baseline": r["critical_path_s"],
                "ratio": r["makespan_over_critical_path"],
                "target": "<= 1.05x critical path",
                "pass": r["makespan_over_critical_path"] <= 1.05,
            }
        )
        rows.append(
            {
                "figure": f"sequential / ours, concurrency {r['concurrency']}",
                "value": r["sequential_s"],
                "baseline": r["makespan_s"],
                "ratio": r["sequential_over_makespan"],
                "target": "-",
                "pass": None,
            }
        )
    return rows


def discovery() -> list[Row]:
    data = run("discovery.py", "--nodes", "32,64", "--reps", "3")  # medians; as a plain user with /bin/sh
    rows = []
    for r in data["rows"]:
        top = r["nodes"] == 64
        rows.append(
            {
                "figure": f"discovery, {r['nodes']} nodes, wall (s, median of 3)",
                "value": r["ours_s"],
                "baseline": r["bare_s"],
                "ratio": r["ratio_ours_bare"],
                "target": "<= 1.10x bare asyncssh at 64" if top else "-",
                "pass": r["ratio_ours_bare"] <= 1.10 if top else None,
            }
        )
        rows.append(
            {
                "figure": f"discovery, {r['nodes']} nodes, client CPU (s, median of 3)",
                "value": r["ours_cpu_s"],
                "baseline": r["bare_cpu_s"],
                "ratio": r["ratio_cpu_ours_bare"],
                "target": "<= 1.25x bare asyncssh at 64" if top else "-",
                "pass": r["ratio_cpu_ours_bare"] <= 1.25 if top else None,
            }
        )
        if r.get("ansible_s"):
            rows.append(
                {
                    "figure": f"discovery vs ansible -m raw, {r['nodes']} nodes",
                    "value": r["ours_s"],
                    "baseline": r["ansible_s"],
                    "ratio": r["ratio_ours_ansible"],
                    "target": "<= 0.6x" if top else "-",
                    "pass": r["ratio_ours_ansible"] <= 0.6 if top else None,
                }
            )
    return rows


def joins() -> list[Row]:
    data = run("joins.py", "--workers", "3,20,30,60", "--reps", "3")
    base = next(r for r in data["rows"] if r["workers"] == 3)
    return [
        {
            "figure": f"`--only microk8s-workers`, {r['workers']} workers in the lab (s, median of 3)",
            "value": r["median_s"],
            "baseline": base["median_s"],
            "ratio": r["median_s"] / base["median_s"],
            "target": "<= 1.5x the 3-worker run (gate)" if r["workers"] == 30 else "-",
            "pass": data["gate"]["pass"] if r["workers"] == 30 else None,
        }
        for r in data["rows"]
    ]


def tui_log() -> list[Row]:
    rows = []
    for r in run("tui_log.py")["rows"]:
        rows.append(
            {
                "figure": f"TUI log: {r['figure']}",
                "value": median(r["value"]),
                "baseline": median(r["baseline"]),
                "ratio": median(r["ratio"]),
                "target": r["target"],
                "pass": None if r["result"] == "-" else r["result"] == "PASS",
            }
        )
    return rows


def masking() -> list[Row]:
    return [
        {
            "figure": f"secrets masking, register + mask, {r['workers']} workers (s, median of 3)",
            "value": r["new_s"],
            "baseline": r["old_s"],
            "ratio": r["new_over_old"],
            "target": "linear (old: regex rebuilt per secret)",
            "pass": None,
        }
        for r in run("masking.py", "--workers", "60,300")["rows"]
    ]


def journal_sync() -> list[Row]:
    data = run("journal_sync.py", "--runs", "3")
    old, new = data["old"], data["new"]
    return [
        {
            "figure": f"journal, {data['workers']}-worker lab install: {label}",
            "value": new[key],
            "baseline": old[key],
            "ratio": new[key] / old[key] if old[key] else None,
            "target": "off the event loop, coalesced",
            "pass": None,
        }
        for label, key in (
            ("fsyncs", "fsyncs"),
            ("fsyncs on the loop", "fsyncs_on_loop"),
            ("loop s in journal", "loop_s"),
        )
    ]


def validate_scale() -> list[Row]:
    data = run("validate_scale.py")
    first, rows = data["rows"][0], []
    for r in data["rows"][1:]:
        rows.append(
            {
                "figure": f"validate, whole process, {r['workers']} vs {first['workers']} workers (CPU s)",
                "value": r["median_s"],
                "baseline": first["median_s"],
                "ratio": r["median_s"] / first["median_s"],
                "target": f"<= {data['gate']}x at 1,000" if r["workers"] == 1000 else "-",
                "pass": data["pass"] if r["workers"] == 1000 else None,
            }
        )
        rows.append(
            {
                "figure": f"validate, {r['workers']} workers: libyaml events vs pure-Python composer (CPU s)",
                "value": r["median_s"],
                "baseline": r["pure_python_median_s"],
                "ratio": r["median_s"] / r["pure_python_median_s"],
                "target": "-",
                "pass": None,
            }
        )
    return rows


def wizard() -> list[Row]:
    return [
        {**r, **{k: median(r[k]) for k in ("value", "baseline", "ratio")}} for r in run("wizard_vs_headless.py")["rows"]
    ]


BENCHMARKS = {"startup": startup, "makespan": makespan, "discovery": discovery, "tui_log": tui_log, "joins": joins}
BENCHMARKS.update(masking=masking, journal_sync=journal_sync, validate_scale=validate_scale)  # issue 15, core


def lab_api() -> list[Row]:
    data = run("lab_api.py")
    return [
        {
            "figure": "headless full install on the lab, one process: CPU s (lab API before issue 15 = baseline)",
            "value": data["new_cpu_s"],
            "baseline": data["old_cpu_s"],
            "ratio": data["ratio"],
            "target": f"<= {data['target']}x",
            "pass": data["pass"],
        }
    ]


BENCHMARKS["lab_api"] = lab_api  # the lab's API server: reads without copies, saves incrementally
BENCHMARKS["wizard"] = wizard  # the wizard's install vs the same install headless (CPU, RSS, layouts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS))
    args = parser.parse_args()
    began = time.perf_counter()
    rows: list[Row] = []
    for name in args.only or BENCHMARKS:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows += [{"benchmark": name, **r} for r in BENCHMARKS[name]()]
    print(
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.platform(terse=True)}; "
        f"{time.perf_counter() - began:.0f} s in all.\n"
    )
    print("| benchmark | figure | value | baseline (same run) | ratio | target | result |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        result = "-" if r["pass"] is None else ("PASS" if r["pass"] else "MISS")
        print(
            f"| {r['benchmark']} | {r['figure']} | {fmt(r['value'])} | {fmt(r['baseline'])} | "
            f"{fmt(r['ratio'])} | {r['target']} | {result} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
