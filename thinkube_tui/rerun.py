"""The command line that runs an install again, as is: every option the run depended on.

Printed after a failure or an interruption (headless and wizard summaries), so an operator can
copy it: the answers and secrets files, the state directory (which holds the journal: without
it a run starts from nothing) and the known-hosts file the run trusted, as absolute paths.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable
from pathlib import Path

PROGRAM = "thinkube-tui"


def _path(path: Path) -> str:
    return shlex.quote(os.path.abspath(path))


def headless_command(
    answers: Path,
    *,
    secrets: Path | None = None,
    state_dir: Path | None = None,
    known_hosts: Path | None = None,
    skip_checks: Iterable[str] = (),
    only: Iterable[str] = (),
    yes: bool = False,
) -> str:
    """`thinkube-tui --answers FILE ...` with the options that decide what the run finds and trusts."""
    parts = [PROGRAM, "--answers", _path(answers)]
    if secrets is not None:
        parts += ["--secrets", _path(secrets)]
    if state_dir is not None:
        parts += ["--state-dir", _path(state_dir)]
    if known_hosts is not None:
        parts += ["--known-hosts", _path(known_hosts)]
    for name in sorted(skip_checks):
        parts += ["--skip-check", shlex.quote(name)]
    for cid in sorted(only):
        parts += ["--only", shlex.quote(cid)]
    if yes:
        parts.append("--yes")
    return " ".join(parts)


def demo_command(answers: Path | None, *, state_dir: Path | None = None, lab_speed: float = 1.0) -> str:
    """`thinkube-tui --demo ...`: the demo's lab lives in its process, so the demo runs again whole."""
    parts = [PROGRAM, "--demo"]
    if answers is not None:
        parts += ["--answers", _path(answers)]
    if state_dir is not None:
        parts += ["--state-dir", _path(state_dir)]
    if lab_speed != 1.0:
        parts += ["--lab-speed", f"{lab_speed:g}"]
    return " ".join(parts)


def wizard_command(*, state_dir: Path | None = None, known_hosts: Path | None = None) -> str:
    """`thinkube-tui` (the wizard) with the state directory and known-hosts file a run used."""
    parts = [PROGRAM]
    if state_dir is not None:
        parts += ["--state-dir", _path(state_dir)]
    if known_hosts is not None:
        parts += ["--known-hosts", _path(known_hosts)]
    return " ".join(parts)


def wizard_retry_commands(
    cluster_dir: Path, *, state_base: Path | None = None, known_hosts: Path | None = None, secrets: Path | None = None
) -> tuple[str, str]:
    """After a wizard install failed: the wizard to open again (Retry failed on Welcome), and the
    headless command that retries from the answers saved beside the journal."""
    headless = headless_command(
        cluster_dir / "answers.yaml", secrets=secrets, state_dir=state_base, known_hosts=known_hosts
    )
    return wizard_command(state_dir=state_base, known_hosts=known_hosts), headless
