"""The lab's cost in a headless full install: CPU of one process running the lab (3 nodes, one
GPU) and the install of examples/answers-full.yaml against it.

Same-run baseline: the same install with the lab's API server as it was before issue 15 --
every get and list handing out deep copies, and every save writing the whole store -- put
back by patching those two places. Runs alternate (baseline, ours), 3 of each; median and
spread (max - min) of CPU seconds.

Target (issue 15): the headless full demo's CPU -30 % (ratio <= 0.70).

    .venv/bin/python benchmarks/lab_api.py [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.70


def _copying(patch: bool) -> list[tuple[Any, str, Any]]:
    """Put the old behaviour back (or not); returns what to restore."""
    from thinkube_lab.kubeapi import KubeApiEmulator
    from thinkube_lab.kubeapi_store import StateFiles

    if not patch:
        return []
    saved = [(KubeApiEmulator, n, getattr(KubeApiEmulator, n)) for n in ("get", "list")]
    saved.append((StateFiles, "save", StateFiles.save))
    get, list_, save = (s[2] for s in saved)

    def copying_get(self: Any, *a: Any, **k: Any) -> Any:
        return copy.deepcopy(get(self, *a, **k))

    def copying_list(self: Any, *a: Any, **k: Any) -> Any:
        return copy.deepcopy(list_(self, *a, **k))

    def whole_save(self: Any, counters: Any, everything: Any, changed: Any) -> None:
        self._seq += 1
        self._write_snapshot({**counters, "save": self._seq, "objects": list(everything)})

    KubeApiEmulator.get, KubeApiEmulator.list = copying_get, copying_list  # type: ignore[method-assign]
    StateFiles.save = whole_save  # type: ignore[method-assign]
    del save
    return saved


async def _install(tmp: Path) -> float:
    from thinkube_lab.cluster import Lab
    from thinkube_tui.commands.lab import demo_answers
    from thinkube_tui.headless import HeadlessOptions, run

    async with Lab(tmp / "lab", nodes=3, gpus=1, speed=0.01, log=lambda _m: None) as lab:
        os.environ["TK_LAB_SUDO_PASSWORD"] = lab.sudo_password
        answers = tmp / "answers.yaml"
        data = demo_answers(lab.answers(), ROOT / "examples" / "answers-full.yaml")
        answers.write_text(yaml.safe_dump(data, sort_keys=False))
        out = io.StringIO()
        options = HeadlessOptions(
            answers=answers,
            yes=True,
            state_dir=tmp / "state",
            known_hosts=lab.write_known_hosts(tmp / "known_hosts"),
            interactive_output=False,
        )
        began = time.process_time()
        code = await run(options, out=out, err=out)
        cpu = time.process_time() - began
        if code != 0:
            raise SystemExit(f"the install failed (exit {code}):\n{out.getvalue()[-3000:]}")
    return cpu


def once(old: bool) -> float:
    restore = _copying(old)
    try:
        with tempfile.TemporaryDirectory(prefix="lab-api-") as tmp:
            return asyncio.run(_install(Path(tmp)))
    finally:
        for owner, name, value in restore:
            setattr(owner, name, value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    old: list[float] = []
    new: list[float] = []
    for _ in range(args.runs):
        old.append(once(True))
        new.append(once(False))
    ratio = statistics.median(new) / statistics.median(old)
    result = {
        "runs": args.runs,
        "old_cpu_s": statistics.median(old),
        "old_spread_s": max(old) - min(old),
        "new_cpu_s": statistics.median(new),
        "new_spread_s": max(new) - min(new),
        "ratio": ratio,
        "target": TARGET,
        "pass": ratio <= TARGET,
        "load_average": os.getloadavg()[0],
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"headless full install on the lab, one process, CPU s: median (spread) of {args.runs}")
        for label, key in (("before issue 15 (copies, whole saves)", "old"), ("now (no copies, log)", "new")):
            print(f"  lab API {label:<38} {result[key + '_cpu_s']:.2f} ({result[key + '_spread_s']:.2f})")
        print(f"  ratio {ratio:.2f} (target <= {TARGET}): {'PASS' if result['pass'] else 'MISS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
