"""`--dry-run` transcripts held as golden files: restructuring must leave what a first install
would do unchanged. A change here is either a bug or an intended fix named in its commit.

To accept an intended change: TK_UPDATE_GOLDEN=1 python -m pytest tests/golden
"""

import difflib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize(
    ("example", "flags", "name"),
    [
        ("answers-full", [], "answers-full"),
        ("answers-minimal", [], "answers-minimal"),
        # What each command would send (Helm values, manifests), secrets masked: reviewable, diffable.
        ("answers-full", ["--show-input"], "answers-full-show-input"),
    ],
)
def test_dry_run_transcript_is_unchanged(example, flags, name, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "thinkube_tui",
            "--answers",
            str(ROOT / "examples" / f"{example}.yaml"),
            "--dry-run",
            *flags,
            "--state-dir",
            str(tmp_path / "state"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    golden = HERE / f"dry-run-{name}.txt"
    if os.environ.get("TK_UPDATE_GOLDEN") == "1":
        golden.write_text(result.stdout)
    diff = "".join(
        difflib.unified_diff(
            golden.read_text().splitlines(keepends=True),
            result.stdout.splitlines(keepends=True),
            fromfile=str(golden.relative_to(ROOT)),
            tofile="--dry-run now",
        )
    )
    assert not diff, f"the dry run changed (TK_UPDATE_GOLDEN=1 accepts an intended change):\n{diff}"
