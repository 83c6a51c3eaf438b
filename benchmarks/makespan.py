"""Makespan of the full plan: does the scheduler keep to the dependency graph's critical path?

Every installer of the full example's plan is replaced by one that takes its catalog estimate
(scaled down: 1 estimated minute = SCALE seconds). The engine runs the real plan, journal and
event stream. Printed: the makespan, the critical path, their ratio (target <= 1.05), and how
much faster than running everything one after another.

    .venv/bin/python benchmarks/makespan.py [--scale 0.02] [--concurrency 4] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from thinkube_tui.catalog import load_catalog  # noqa: E402
from thinkube_tui.engine import Engine, EngineSettings  # noqa: E402
from thinkube_tui.events import EventBus  # noqa: E402
from thinkube_tui.journal import Journal  # noqa: E402
from thinkube_tui.plan import make_plan  # noqa: E402
from thinkube_tui.spec import load_answers  # noqa: E402


async def measure(scale: float, concurrency: int) -> dict[str, float | int | str]:
    catalog = load_catalog()
    spec = load_answers(ROOT / "examples" / "answers-full.yaml")
    estimates = {c.id: c.estimate_s * scale / 60 for c in catalog}
    plan = make_plan(catalog, spec, gpu_present=True, estimates=estimates)

    def installer(seconds: float):
        async def install(steps) -> None:
            await steps.step("work", lambda: asyncio.sleep(seconds))

        return install

    installers = {p.id: installer(p.estimate_s) for p in plan.items}
    engine = Engine(
        plan,
        installers,
        configs={},
        journal=Journal(None),
        bus=EventBus(),
        settings=EngineSettings(concurrency=concurrency),
    )
    began = time.perf_counter()
    result = await engine.run()
    makespan = time.perf_counter() - began
    assert result.ok
    return {
        "components": len(plan),
        "concurrency": concurrency,
        "makespan_s": makespan,
        "critical_path_s": plan.critical_path_s,
        "sequential_s": plan.sequential_s,
        "makespan_over_critical_path": makespan / plan.critical_path_s,
        "sequential_over_makespan": plan.sequential_s / makespan,
        "critical_path": " -> ".join(plan.critical_path),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.02, help="seconds per estimated minute")
    parser.add_argument("--concurrency", type=int, action="append", help="repeatable; default 4 and 32")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [asyncio.run(measure(args.scale, c)) for c in (args.concurrency or [4, 32])]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"critical path: {rows[0]['critical_path']}")
    print(
        f"{'concurrency':>11} {'components':>10} {'makespan s':>10} {'crit.path s':>11} {'ratio':>6} "
        f"{'target':>7} {'seq/ours':>8}"
    )
    for r in rows:
        ratio = float(r["makespan_over_critical_path"])
        print(
            f"{r['concurrency']:>11} {r['components']:>10} {r['makespan_s']:>10.3f} {r['critical_path_s']:>11.3f} "
            f"{ratio:>6.3f} {'PASS' if ratio <= 1.05 else 'MISS':>7} {r['sequential_over_makespan']:>8.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
