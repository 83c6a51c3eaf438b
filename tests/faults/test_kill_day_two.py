"""Kill -9 during day-two operations on the lab (remove, reset), then run the same command again: it converges.

Each trial installs on a fresh lab, runs the real `thinkube-tui remove ...` (or `reset`) in a
subprocess, SIGKILLs it after a seeded number of steps recorded in the operation's journal (plus
a random moment into the next one), checks every journal still parses, and runs it again until
it finishes. 4 trials each; more: TK_KILL_DAY_TWO_TRIALS=20.
"""

from __future__ import annotations

import asyncio
import io
import os
import random
import signal
import sys
from pathlib import Path

import pytest
import yaml

from thinkube_lab.cluster import Lab
from thinkube_tui.commands.lab import demo_answers
from thinkube_tui.headless import HeadlessOptions, run
from thinkube_tui.journal import Journal

TRIALS = int(os.environ.get("TK_KILL_DAY_TWO_TRIALS", "4"))
SPEED = 0.1
FULL = Path(__file__).resolve().parents[2] / "examples" / "answers-full.yaml"


def steps_done(journal_path: Path) -> int:
    try:
        return sum(len(rec.steps_done) for rec in Journal.open(journal_path).components.values())
    except FileNotFoundError:
        return 0


async def command(
    argv: list[str], env: dict[str, str], kill_at: tuple[Path, int, float] | None, output: Path
) -> int | None:
    """Run `thinkube-tui ARGV` (its output to `output`); with `kill_at` = (journal, steps, jitter),
    SIGKILL it `jitter` seconds after that journal records that many steps. None when it was
    killed first."""
    with output.open("wb") as sink:
        return await _command(argv, env, kill_at, sink)


async def _command(argv: list[str], env: dict[str, str], kill_at: tuple[Path, int, float] | None, sink) -> int | None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "thinkube_tui",
        *argv,
        stdout=sink,
        stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL,
        env=env,
    )

    async def kill_when_due() -> None:
        assert kill_at is not None
        journal, steps, jitter = kill_at
        while steps_done(journal) < steps:
            await asyncio.sleep(0.02)  # polling the journal file: the condition we wait for
        await asyncio.sleep(jitter)
        proc.send_signal(signal.SIGKILL)

    killer = asyncio.create_task(kill_when_due()) if kill_at else None
    try:
        await asyncio.wait_for(proc.wait(), 120)
    finally:
        if killer:
            killer.cancel()
    return None if proc.returncode == -signal.SIGKILL else proc.returncode


async def until_done(argv: list[str], env: dict[str, str], journal: Path, rng: random.Random, most_steps: int) -> int:
    """Run `argv` until it exits 0, killing it up to three times; every journal parses after each kill."""
    kills = 0
    for _ in range(8):
        kill = (journal, rng.randint(0, most_steps), rng.uniform(0, 0.3)) if kills < 3 and rng.random() < 0.85 else None
        output = journal.parent.parent / f"output-{kills}.txt"
        code = await command(argv, env, kill, output)
        for path in journal.parent.glob("*.json"):
            Journal.open(path)  # never left torn: raises if it does not parse
        if code is None:
            kills += 1
            continue
        assert code == 0, output.read_text()[-3000:]
        return kills
    raise AssertionError(f"{' '.join(argv[:2])} never finished")


@pytest.fixture
async def installed(tmp_path: Path, monkeypatch):
    """A lab with Valkey and Qdrant installed; the options every command takes, and its env."""
    async with Lab(tmp_path / "lab", nodes=3, gpus=1, speed=SPEED, log=lambda _m: None) as lab:
        answers = tmp_path / "answers.yaml"
        answers.write_text(yaml.safe_dump(demo_answers(lab.answers(), FULL), sort_keys=False))
        known_hosts = lab.write_known_hosts(tmp_path / "known_hosts")
        env = {**os.environ, "TK_LAB_SUDO_PASSWORD": lab.sudo_password}
        monkeypatch.setenv("TK_LAB_SUDO_PASSWORD", lab.sudo_password)
        state = tmp_path / "state"
        out = io.StringIO()
        options = HeadlessOptions(
            answers=answers,
            yes=True,
            state_dir=state,
            known_hosts=known_hosts,
            interactive_output=False,
            only=frozenset({"valkey", "qdrant"}),
        )
        assert await asyncio.wait_for(run(options, out=out, err=out), 300) == 0, out.getvalue()[-3000:]
        common = ["--answers", str(answers), "--state-dir", str(state), "--known-hosts", str(known_hosts)]
        yield lab, common, env, state / "thinkube-lab"


@pytest.mark.parametrize("seed", range(TRIALS))
async def test_killed_remove_resumes_and_converges(installed, seed):
    lab, common, env, cluster_dir = installed
    rng = random.Random(seed)
    argv = ["remove", "valkey", "qdrant", "--yes", *common]
    kills = await until_done(argv, env, cluster_dir / "remove.journal.json", rng, most_steps=4)
    print(f"seed {seed}: killed {kills} times before remove finished")

    assert not {"valkey", "qdrant"} & Journal.open(cluster_dir / "journal.json").installed
    assert not (cluster_dir / "remove.journal.json").exists()
    assert "valkey/valkey" not in lab.releases and "qdrant/qdrant" not in lab.releases
    assert lab.kube.get("v1", "Namespace", "valkey") is None and lab.kube.get("v1", "Namespace", "qdrant") is None
    assert "microk8s-workers" in Journal.open(cluster_dir / "journal.json").installed


@pytest.mark.parametrize("seed", range(TRIALS))
async def test_killed_reset_resumes_and_converges(installed, seed):
    lab, common, env, cluster_dir = installed
    rng = random.Random(seed)
    argv = ["reset", "--yes-really", *common]
    kills = await until_done(argv, env, cluster_dir / "reset.journal.json", rng, most_steps=10)
    print(f"seed {seed}: killed {kills} times before reset finished")

    assert not any(node.microk8s.installed for node in lab.nodes.values())
    assert not cluster_dir.exists(), "the state is archived once the reset finished"
    # Cut off after archiving, the run started again archives its own (empty) state as well.
    archives = sorted(cluster_dir.parent.glob("thinkube-lab.reset-*"))
    assert archives and list((archives[0] / "logs").glob("install-*.log")), "the install's logs are kept"
    for archived in archives:
        assert Journal.open(archived / "journal.json").installed == frozenset()
        assert not (archived / "reset.journal.json").exists()
    for worker in ("tk-worker-1", "tk-gpu-1"):
        assert lab.nodes[worker].counters["leave"] == 1, "a worker leaves once, however often the run is cut off"


@pytest.mark.parametrize("seed", range(TRIALS))
async def test_killed_upgrade_resumes_and_converges(installed, seed):
    """The journal and the release say Qdrant runs chart 1.15.5 where this release pins 1.15.4 (a
    subprocess cannot be given a test-only catalog): `upgrade` moves it to the pin, cut off and
    run again."""
    lab, common, env, cluster_dir = installed
    rng = random.Random(seed)
    journal = Journal.open(cluster_dir / "journal.json")
    journal.components["qdrant"].version = "qdrant 1.15.5"
    journal.save()
    lab.releases["qdrant/qdrant"]["version"] = "1.15.5"
    argv = ["upgrade", "--yes", *common]
    kills = await until_done(argv, env, cluster_dir / "upgrade.journal.json", rng, most_steps=3)
    print(f"seed {seed}: killed {kills} times before upgrade finished")

    assert Journal.open(cluster_dir / "journal.json").components["qdrant"].version == "qdrant 1.15.4"
    assert lab.releases["qdrant/qdrant"]["version"] == "1.15.4"
    assert not (cluster_dir / "upgrade.journal.json").exists()
