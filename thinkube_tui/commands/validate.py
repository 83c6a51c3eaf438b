"""`thinkube-tui validate FILE...`: every problem as FILE:LINE:COL: path: message."""

from __future__ import annotations

import sys

from ..spec import AnswersError, load_answers
from ..wording import plural


def run_validate(files: list[str], *, secrets: str | None = None) -> int:
    invalid = False
    for path in files:
        try:
            spec = load_answers(path, secrets=secrets)
        except AnswersError as exc:
            invalid = True
            for problem in exc.problems:
                print(problem.format(exc.source), file=sys.stderr)
            continue
        enabled = sum(1 for c in spec.components.values() if c.enabled is True)
        print(f"{path}: valid ({plural(len(spec.nodes), 'node')}, {plural(enabled, 'component')} on)")
    return 2 if invalid else 0
