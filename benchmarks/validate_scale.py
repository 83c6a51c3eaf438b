"""`thinkube-tui validate` as the cluster grows: the whole process, on answers files of 3, 300
and 1,000 workers.

Each answers file is examples/answers-full.yaml with its nodes replaced by a control node and
N workers written the way `lab up` writes them (block style: name, host, port, user, role,
key auth, host key, sudo password reference; every fourth a GPU worker with a label and a
taint). Timed: `thinkube-tui validate FILE` (as `python -c`, calling the CLI's entry point)
from start to exit (it must print "valid"), --runs times per size, interleaved; median and
spread (max - min). The same-run baseline is the same process with libyaml hidden from
`yamlpos`, which then composes in pure Python as it did before issue 15.

Gate (issue 15): the median at 1,000 workers <= 1.6x the median at 3 workers, in CPU seconds of
the process (user + system: what the work costs, steadier than wall time on a busy machine;
wall time is printed beside it); the exit status is 1 when it fails. `--json` prints the figures instead of the table.

    .venv/bin/python benchmarks/validate_scale.py [--workers 3,300,1000] [--runs 3] [--json]
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

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "answers-full.yaml"
GATE = 1.6


def answers(workers: int) -> str:
    """examples/answers-full.yaml with a control node and `workers` workers."""
    head, rest = EXAMPLE.read_text().split("\nnodes:\n", 1)
    tail = rest[rest.index("\ncomponents:") :]
    nodes = ["nodes:"]
    for i in range(workers + 1):
        name = "tk-control" if i == 0 else f"tk-worker-{i}"
        nodes += [
            f"- name: {name}",
            f"  host: 10.{40 + i // 62500}.{i // 250 % 250}.{i % 250 + 1}",
            f"  port: {22 if i % 2 else 2222}",
            "  user: thinkube",
            f"  role: {'control' if i == 0 else 'worker'}",
            "  auth:",
            "    method: key",
            "    keyFile: ~/.ssh/id_ed25519",
            f"  hostKey: SHA256:{(f'{i:06d}' * 8)[:43]}",
            "  sudoPassword:",
            "    env: TK_SUDO_PASSWORD",
        ]
        if i and i % 4 == 0:
            nodes += [
                "  labels:",
                "    thinkube.io/accelerator: nvidia",
                "  taints:",
                "  - nvidia.com/gpu=present:NoSchedule",
            ]
    return head + "\n" + "\n".join(nodes) + tail


# The CLI's entry point; the baseline first hides libyaml from yamlpos (only there).
LAUNCH = "from thinkube_tui.cli import entry; entry()"
LAUNCH_PURE = "from thinkube_tui import yamlpos; yamlpos._LIBYAML_LOADER = None; " + LAUNCH


def run_once(path: Path, *, pure: bool = False) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process: user + system) of one `validate`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", LAUNCH_PURE if pure else LAUNCH, "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    elapsed = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if out.returncode != 0 or "valid" not in out.stdout:
        raise SystemExit(f"validate {path} failed (exit {out.returncode}):\n{out.stdout}{out.stderr[-2000:]}")
    return elapsed, cpu


def measure(sizes: list[int], runs: int) -> list[dict[str, float | int]]:
    with tempfile.TemporaryDirectory(prefix="validate-scale-") as tmp:
        files = {}
        for n in sizes:
            files[n] = Path(tmp) / f"answers-{n}.yaml"
            files[n].write_text(answers(n))
        run_once(files[sizes[0]])  # warm the page cache and the bytecode cache once
        samples: dict[int, list[tuple[float, float]]] = {n: [] for n in sizes}
        pure: dict[int, list[float]] = {n: [] for n in sizes}
        for _ in range(runs):
            for n in sizes:  # interleaved: a slow moment of the machine hits every size alike
                samples[n].append(run_once(files[n]))
                pure[n].append(run_once(files[n], pure=True)[1])
        rows: list[dict[str, float | int]] = []
        for n in sizes:
            wall, cpu = [w for w, _ in samples[n]], [c for _, c in samples[n]]
            rows.append(
                {
                    "workers": n,
                    "bytes": os.path.getsize(files[n]),
                    "median_s": statistics.median(cpu),
                    "spread_s": max(cpu) - min(cpu),
                    "wall_median_s": statistics.median(wall),
                    "wall_spread_s": max(wall) - min(wall),
                    "pure_python_median_s": statistics.median(pure[n]),
                    "pure_python_spread_s": max(pure[n]) - min(pure[n]),
                }
            )
        return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="3,300,1000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = [int(n) for n in args.workers.split(",")]
    rows = measure(sizes, args.runs)
    ratio = rows[-1]["median_s"] / rows[0]["median_s"]
    passed = ratio <= GATE
    if args.json:
        print(json.dumps({"runs": args.runs, "rows": rows, "ratio": ratio, "gate": GATE, "pass": passed}, indent=2))
    else:
        print(f"thinkube-tui validate, whole process: CPU seconds (user + system), median (spread) of {args.runs}")
        print(f"{'workers':>7} {'bytes':>8}  {'CPU':>17}  {'wall':>17}  {'CPU, no libyaml':>17}")
        for r in rows:
            print(
                f"{r['workers']:>7} {r['bytes']:>8,}  {r['median_s']:>7.3f} s ({r['spread_s']:.3f})  "
                f"{r['wall_median_s']:>7.3f} s ({r['wall_spread_s']:.3f})  "
                f"{r['pure_python_median_s']:>7.3f} s ({r['pure_python_spread_s']:.3f})"
            )
        print(
            f"{rows[-1]['workers']} vs {rows[0]['workers']} workers (CPU): {ratio:.2f}x "
            f"(gate <= {GATE}x): {'PASS' if passed else 'FAIL'}"
        )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
