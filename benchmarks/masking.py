"""Secrets masking as a cluster grows: registering a secret per node, masking every log line.

The trace follows a measured `--answers … --only microk8s-workers` lab install with 60
workers (61 nodes): 122 registrations (each node's sudo password, the same 16-character value
every time, and 61 of 32 characters: 60 join tokens and the kubeconfig's token) and 3,057
masked lines of 88 characters (median), about 50 per node. Here, per node: register the password and a fresh token, then
mask 50 lines of 88 characters, one in ten holding the token. Timed: the whole trace, with
the `Secrets` of this tree ("new") and, as the same-run baseline, a copy of the masker it
replaced ("old": one regex of every secret, longest first, recompiled at each registration).
Both must give the same text for every line (the trace has no overlapping secrets, where the
new one masks more). Median and spread (max - min) of --runs runs per size.

    .venv/bin/python benchmarks/masking.py [--workers 3,60,300] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import secrets as random_tokens
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from thinkube_tui.secrets import MASK, MIN_MASKED_LENGTH, Secrets

LINES_PER_NODE = 50
LINE_LENGTH = 88


class OldSecrets:
    """The masker before issue 15 (baseline): the whole regex rebuilt for every new secret."""

    def __init__(self) -> None:
        self._known: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def register(self, value: str) -> None:
        if len(value) >= MIN_MASKED_LENGTH and value not in self._known:
            self._known.add(value)
            alternatives = sorted(self._known, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in alternatives))

    def mask(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)


Step = tuple[str, str]  # ("register", value) or ("mask", line)


def trace(workers: int) -> list[Step]:
    password = random_tokens.token_urlsafe(12)[:16]
    steps: list[Step] = []
    for node in range(workers + 1):
        name = "tk-control" if node == 0 else f"tk-worker-{node}"
        token = random_tokens.token_hex(16)
        steps += [("register", password), ("register", token)]
        for i in range(LINES_PER_NODE):
            line = (
                f"{name}: microk8s join 10.42.0.11:25000/{token}/check --worker"
                if i % 10 == 0
                else (f"{name}: snap install microk8s --classic --channel=1.33/stable: step {i} of {LINES_PER_NODE}")
            )
            steps.append(("mask", (line + " " + "x" * LINE_LENGTH)[:LINE_LENGTH]))
    return steps


def replay(make: Callable[[], Secrets | OldSecrets], steps: list[Step]) -> tuple[float, list[str]]:
    masker = make()
    out: list[str] = []
    began = time.perf_counter()
    for kind, text in steps:
        if kind == "register":
            masker.register(text)
        else:
            out.append(masker.mask(text))
    return time.perf_counter() - began, out


def measure(workers: int, runs: int) -> dict[str, float | int]:
    old_s, new_s = [], []
    for run in range(runs):
        steps = trace(workers)
        # Alternate which goes first, so neither always gets the warmer caches.
        if run % 2:
            old_t, old_out = replay(OldSecrets, steps)
            new_t, new_out = replay(lambda: Secrets(environ={}), steps)
        else:
            new_t, new_out = replay(lambda: Secrets(environ={}), steps)
            old_t, old_out = replay(OldSecrets, steps)
        if new_out != old_out:
            raise SystemExit(f"{workers} workers: the two maskers disagree")
        if sum(MASK in line for line in new_out) != (workers + 1) * LINES_PER_NODE // 10:
            raise SystemExit(f"{workers} workers: not every token was masked")
        old_s.append(old_t)
        new_s.append(new_t)
    old, new = statistics.median(old_s), statistics.median(new_s)
    return {
        "workers": workers,
        "secrets": 1 + workers + 1,
        "masked_lines": (workers + 1) * LINES_PER_NODE,
        "old_s": old,
        "old_spread_s": max(old_s) - min(old_s),
        "new_s": new,
        "new_spread_s": max(new_s) - min(new_s),
        "new_over_old": new / old,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="3,60,300")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [measure(int(n), args.runs) for n in args.workers.split(",")]
    if args.json:
        print(json.dumps({"runs": args.runs, "rows": rows}, indent=2))
        return 0
    print(f"register + mask, median (spread) of {args.runs} runs")
    print(f"{'workers':>8} {'secrets':>8} {'lines':>7} {'old (regex rebuilt)':>22} {'new (index)':>20} {'new/old':>8}")
    for r in rows:
        print(
            f"{r['workers']:>8} {r['secrets']:>8} {r['masked_lines']:>7} "
            f"{r['old_s']:>12.4f} s ({r['old_spread_s']:.4f}) {r['new_s']:>10.4f} s ({r['new_spread_s']:.4f}) "
            f"{r['new_over_old']:>8.2f}"
        )
    small, large = rows[0], rows[-1]
    if len(rows) > 1:
        per = large["workers"] / small["workers"]
        print(
            f"{large['workers']} vs {small['workers']} workers ({per:g}x the nodes): "
            f"old {large['old_s'] / small['old_s']:.1f}x, new {large['new_s'] / small['new_s']:.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
