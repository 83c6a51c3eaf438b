"""SIGTERM is handled like SIGINT: the installers are stopped before anything closes, the journal
stays consistent, the run says "interrupted — run the same command to resume" and exits 130;
the same command then finishes the install with nothing done twice.

The real program runs in a subprocess against the lab; the signal is sent once the journal
records a few steps (a condition, not a delay).
"""

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from thinkube_lab.cluster import Lab
from thinkube_tui.journal import Journal

SPEED = 0.1


def steps_done(journal_path: Path) -> int:
    try:
        return sum(len(rec.steps_done) for rec in Journal.open(journal_path).components.values())
    except FileNotFoundError:
        return 0


async def install(answers: Path, state: Path, env: dict[str, str], signum: int | None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "thinkube_tui",
        "--answers",
        str(answers),
        "--yes",
        "--only",
        "microk8s-workers",
        "--state-dir",
        str(state),
        "--known-hosts",
        str(state.parent / "known_hosts"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    journal_path = state / "thinkube-lab" / "journal.json"

    async def signal_when_due() -> None:
        while steps_done(journal_path) < 3:
            await asyncio.sleep(0.02)  # polling the journal file: the condition we wait for
        proc.send_signal(signum)

    sender = asyncio.create_task(signal_when_due()) if signum else None
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
    finally:
        if sender:
            sender.cancel()
    return proc.returncode, out.decode(errors="replace")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_interrupts_cleanly_and_the_same_command_resumes(tmp_path, signum):
    async with Lab(tmp_path / "lab", nodes=3, gpus=1, speed=SPEED, log=lambda _m: None) as lab:
        answers = lab.write_answers(tmp_path / "answers.yaml")
        env = {**os.environ, "TK_LAB_SUDO_PASSWORD": lab.sudo_password}
        state = tmp_path / "state"

        code, out = await install(answers, state, env, signum)
        assert code == 130, out[-3000:]
        assert "interrupted — run the same command to resume" in out
        assert "Traceback" not in out
        Journal.open(state / "thinkube-lab" / "journal.json")  # consistent: it parses
        (log,) = (state / "thinkube-lab" / "logs").glob("install-*.log")
        text = log.read_text()
        assert "trying again" not in text and "trying again" not in out  # no retry once cancelled
        assert "install interrupted:" in text  # the log says how the run ended

        code, out = await install(answers, state, env, None)
        assert code == 0, out[-3000:]
        for name, node in lab.nodes.items():
            assert node.counters["snap-install:microk8s"] == 1, (name, dict(node.counters))
