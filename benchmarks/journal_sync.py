"""The install journal in a 60-worker lab install: how many fsyncs, and how long the event loop
waits on the journal.

A lab of 61 nodes (no GPU, `--lab-speed 50`) and the headless install of `--only
microk8s-workers` (the control node and 60 workers), in this process, with the state
directory in the temporary directory (check that it is a disk, not a tmpfs, where fsync
costs nothing). Counted: every
os.fsync, and the time the event loop's thread spends in the journal (snapshotting the
records, and writing them where that happens on the loop), in all and the longest single
stall. "new" is the journal of this tree (written off the loop, coalesced); "old", in the same
run, the same journal writing each record at once on the loop, as it did before issue 15.
Runs alternate old/new; median and spread (max - min) of --runs each. A fresh lab per run.

    .venv/bin/python benchmarks/journal_sync.py [--workers 60] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from thinkube_lab.cluster import Lab  # noqa: E402
from thinkube_tui.headless import HeadlessOptions, run  # noqa: E402
from thinkube_tui.journal import Journal  # noqa: E402

SPEED = 1 / 50  # Lab multiplies simulated durations by this: `--lab-speed 50`


class Meter:
    """The journal's writes and fsyncs (the lab, in this process too, writes files of its own),
    and the time the event loop's thread spends in the journal's snapshot/write."""

    def __init__(self) -> None:
        self.writes = 0
        self.fsyncs = 0
        self.fsyncs_on_loop = 0
        self.in_write = threading.local()
        self.loop_s = 0.0
        self.longest_s = 0.0
        self.loop_thread = threading.get_ident()
        self._depth = 0

    @contextmanager
    def on_loop(self) -> Iterator[None]:
        if threading.get_ident() != self.loop_thread or self._depth:
            yield
            return
        self._depth += 1
        began = time.perf_counter()
        try:
            yield
        finally:
            self._depth -= 1
            spent = time.perf_counter() - began
            self.loop_s += spent
            self.longest_s = max(self.longest_s, spent)


@contextmanager
def instrumented(meter: Meter, *, old: bool) -> Iterator[None]:
    real_fsync, real_snapshot, real_write, real_commit = os.fsync, Journal._snapshot, Journal._write, Journal.commit

    def fsync(fd: int) -> None:
        if getattr(meter.in_write, "yes", False):
            meter.fsyncs += 1
            meter.fsyncs_on_loop += threading.get_ident() == meter.loop_thread
        real_fsync(fd)

    def snapshot(self: Journal) -> tuple[int, str]:
        with meter.on_loop():
            return real_snapshot(self)

    def write(self: Journal, number: int, text: str) -> None:
        meter.writes += 1
        meter.in_write.yes = True
        try:
            with meter.on_loop():
                real_write(self, number, text)
        finally:
            meter.in_write.yes = False

    async def commit_at_once(self: Journal) -> None:
        """Before issue 15: every record written at once, on the event loop."""
        self.save()

    os.fsync = fsync
    Journal._snapshot, Journal._write = snapshot, write  # type: ignore[method-assign]
    if old:
        Journal.commit = commit_at_once  # type: ignore[method-assign]
    try:
        yield
    finally:
        os.fsync = real_fsync
        Journal._snapshot, Journal._write, Journal.commit = real_snapshot, real_write, real_commit  # type: ignore[method-assign]


async def one_install(workers: int, *, old: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="journal-sync-") as tmp:
        base = Path(tmp)
        async with Lab(base / "lab", nodes=workers + 1, gpus=0, speed=SPEED, log=lambda _m: None) as lab:
            os.environ["TK_LAB_SUDO_PASSWORD"] = lab.sudo_password
            answers = lab.write_answers(base / "answers.yaml")
            options = HeadlessOptions(
                answers=answers,
                yes=True,
                state_dir=base / "state",
                known_hosts=base / "known_hosts",
                interactive_output=False,
                only=frozenset({"microk8s-workers"}),
            )
            meter = Meter()
            out = io.StringIO()
            began = time.perf_counter()
            with instrumented(meter, old=old):
                code = await run(options, out=out, err=out)
            wall = time.perf_counter() - began
        if code != 0:
            raise SystemExit(f"the install failed (exit {code}):\n{out.getvalue()[-3000:]}")
        journal = Journal.open(base / "state" / "thinkube-lab" / "journal.json")  # it holds every step
        steps = sum(len(r.steps_done) for r in journal.components.values())
    return {
        "writes": meter.writes,
        "fsyncs": meter.fsyncs,
        "fsyncs_on_loop": meter.fsyncs_on_loop,
        "loop_s": meter.loop_s,
        "longest_s": meter.longest_s,
        "wall_s": wall,
        "steps": steps,
    }


def summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        out[key] = statistics.median(values)
        out[f"{key}_spread"] = max(values) - min(values)
    return out


async def measure(workers: int, runs: int) -> dict[str, Any]:
    old: list[dict[str, Any]] = []
    new: list[dict[str, Any]] = []
    for i in range(runs):
        for variant in ("old", "new") if i % 2 == 0 else ("new", "old"):
            (old if variant == "old" else new).append(await one_install(workers, old=variant == "old"))
    return {"workers": workers, "runs": runs, "old": summary(old), "new": summary(new)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(measure(args.workers, args.runs))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"lab install, control + {args.workers} workers, median (spread) of {args.runs} runs each")
    rows = [
        ("journal writes", "writes", "{:.0f}"),
        ("journal fsyncs", "fsyncs", "{:.0f}"),
        ("journal fsyncs on the event loop", "fsyncs_on_loop", "{:.0f}"),
        ("event loop in the journal (s)", "loop_s", "{:.4f}"),
        ("longest single stall (s)", "longest_s", "{:.4f}"),
        ("install wall time (s)", "wall_s", "{:.2f}"),
        ("steps in the journal", "steps", "{:.0f}"),
    ]
    print(f"{'':32} {'old (on the loop)':>24} {'new (thread, coalesced)':>26}")
    for label, key, form in rows:
        o, n = result["old"], result["new"]
        print(
            f"{label:32} {form.format(o[key]):>14} ({form.format(o[key + '_spread'])})"
            f" {form.format(n[key]):>16} ({form.format(n[key + '_spread'])})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
