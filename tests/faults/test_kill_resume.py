"""Kill -9 at random moments of an install on the lab, then resume: it converges, nothing runs twice.

Each trial starts a fresh lab, runs the real `thinkube-tui --answers ... --only microk8s-workers`
in a subprocess, SIGKILLs it after a seeded random delay, checks the journal still parses, and
runs it again until it finishes. The lab counts side effects (snaps installed, addons enabled,
joins), so a step repeated in a non-idempotent way shows. 20 trials; more: TK_KILL_TRIALS=100.
"""

import asyncio
import os
import random
import signal
import sys
from pathlib import Path

import pytest

from thinkube_lab.cluster import Lab
from thinkube_tui.installers.microk8s_workers import JOIN_CONCURRENCY
from thinkube_tui.journal import Journal

TRIALS = int(os.environ.get("TK_KILL_TRIALS", "20"))
SPEED = 0.1  # the lab's commands take 10 % of their simulated time


def steps_done(journal_path: Path) -> int:
    try:
        return sum(len(rec.steps_done) for rec in Journal.open(journal_path).components.values())
    except FileNotFoundError:
        return 0


async def install(
    answers: Path, state: Path, known_hosts: Path, env: dict[str, str], kill: tuple[int, float] | None
) -> int | None:
    """Run the installer; with `kill` = (steps, jitter), SIGKILL it `jitter` seconds after the
    journal records that many steps. None when it was killed before it finished."""
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
        str(known_hosts),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    journal_path = state / "thinkube-lab" / "journal.json"

    async def kill_when_due() -> None:
        assert kill is not None
        while steps_done(journal_path) < kill[0]:
            await asyncio.sleep(0.02)  # polling the journal file: the condition we wait for
        await asyncio.sleep(kill[1])
        proc.send_signal(signal.SIGKILL)

    killer = asyncio.create_task(kill_when_due()) if kill else None
    try:
        await asyncio.wait_for(proc.wait(), 120)
    finally:
        if killer:
            killer.cancel()
    if proc.returncode == -signal.SIGKILL:
        return None
    return proc.returncode


@pytest.mark.parametrize("seed", range(TRIALS))
async def test_killed_install_resumes_and_converges(tmp_path, seed):
    rng = random.Random(seed)
    async with Lab(tmp_path / "lab", nodes=3, gpus=1, speed=SPEED, log=lambda _m: None) as lab:
        answers = lab.write_answers(tmp_path / "answers.yaml")
        known_hosts = tmp_path / "known_hosts"
        env = {**os.environ, "TK_LAB_SUDO_PASSWORD": lab.sudo_password}
        state = tmp_path / "state"
        journal_path = state / "thinkube-lab" / "journal.json"

        kills = 0
        for _ in range(8):
            # Kill at a random point: after 0..12 recorded steps (a full run records about 12),
            # plus up to 0.3 s into the next one.
            kill = (rng.randint(0, 12), rng.uniform(0, 0.3)) if kills < 3 and rng.random() < 0.85 else None
            code = await install(answers, state, known_hosts, env, kill)
            if journal_path.exists():
                Journal.open(journal_path)  # never left torn: raises if it does not parse
            if code is None:
                kills += 1
                continue
            assert code == 0
            break
        else:
            raise AssertionError("the install never finished")
        print(f"seed {seed}: killed {kills} times before the install finished")

        journal = Journal.open(journal_path)
        assert {"microk8s-control", "microk8s-workers"} <= journal.installed
        # Converged: every node runs MicroK8s, both workers are Ready members.
        nodes = {n["metadata"]["name"]: n for n in lab.kube.list("v1", "Node")}
        assert set(nodes) == {"tk-control", "tk-worker-1", "tk-gpu-1"}
        assert nodes["tk-gpu-1"]["metadata"]["labels"]["nvidia.com/gpu.present"] == "true"
        # Nothing that was done ran twice.
        for name, node in lab.nodes.items():
            assert node.counters["snap-install:microk8s"] == 1, (name, dict(node.counters))
        control = lab.nodes["tk-control"]
        for addon in ("dns", "hostpath-storage", "helm3"):
            assert addon in control.microk8s.addons  # some are on from the start, as in MicroK8s
            assert control.counters[f"addon-enable:{addon}"] <= 1, dict(control.counters)
        for worker in ("tk-worker-1", "tk-gpu-1"):
            assert lab.nodes[worker].counters["join"] == 1, dict(lab.nodes[worker].counters)


JOIN_TRIALS = int(os.environ.get("TK_KILL_JOIN_TRIALS", "4"))
JOIN_WORKERS = JOIN_CONCURRENCY + 4  # more than the installer joins at once: a second wave follows


@pytest.mark.parametrize("seed", range(JOIN_TRIALS))
async def test_killed_during_parallel_joins_resumes_and_converges(tmp_path, seed):
    """SIGKILL while several workers are joining at once (the lab's cluster agent counts the
    joins in flight), then run again -- at once, or after the cut-off joins have ended on the
    nodes -- and every worker is a Ready member, joined with the certificate fingerprint.

    A join cut off by the kill goes on on its node (as `microk8s join` does once its request is
    sent). A run resumed after it ended finds the Node and joins nothing twice. One resumed while
    it still runs cannot tell (nothing in the cluster says so yet) and joins that worker again,
    which MicroK8s takes (join.py re-joins a joined worker): at most once more, and only there."""
    rng = random.Random(seed)
    async with Lab(tmp_path / "lab", nodes=JOIN_WORKERS + 1, gpus=0, speed=SPEED, log=lambda _m: None) as lab:
        answers = lab.write_answers(tmp_path / "answers.yaml")
        known_hosts = tmp_path / "known_hosts"
        env = {**os.environ, "TK_LAB_SUDO_PASSWORD": lab.sudo_password}
        state = tmp_path / "state"
        journal_path = state / "thinkube-lab" / "journal.json"
        workers = [name for name in lab.nodes if name != "tk-control"]
        joined = rng.choice([0, 4])  # joins recorded before the kill
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "thinkube_tui", "--answers", str(answers), "--yes",
            "--only", "microk8s-workers", "--state-dir", str(state), "--known-hosts", str(known_hosts),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, env=env,
        )  # fmt: skip

        def joins_recorded() -> int:
            rec = Journal.open(journal_path).components.get("microk8s-workers")  # written atomically
            return sum(step.endswith(": join the cluster") for step in rec.steps_done) if rec else 0

        # Joins reach the agent and wait at one of its sections, which the test holds: they are
        # in flight together when the kill comes, whatever the machine's speed.
        held = lab.agent.lock(rng.choice(["tokens", "dqlite", "calico"]))
        try:
            async with asyncio.timeout(120):
                while joined and joins_recorded() < joined:
                    assert proc.returncode is None, "the install finished too soon"
                    await asyncio.sleep(0.005)  # polling the condition: that many joins recorded
                await held.acquire()
                while lab.agent.in_flight < (1 if joined else 2) or not all(
                    lab.nodes[w].counters["snap-install:microk8s"] for w in workers
                ):
                    assert proc.returncode is None, "the install finished before joins overlapped"
                    await asyncio.sleep(0.005)  # polling: joins in flight, every snap installed
            proc.send_signal(signal.SIGKILL)
            assert await proc.wait() == -signal.SIGKILL
            held.release()
        finally:
            if proc.returncode is None:  # a failed wait: no install left running
                proc.kill()
                await proc.wait()
        async with asyncio.timeout(30):  # the lab has seen the killed run's connections close
            while any(server.connections for server in lab.servers.values()):
                await asyncio.sleep(0.005)
        # Cut off: a join ran or still runs that the killed run did not record.
        journal = Journal.open(journal_path)
        recorded = {w for w in workers if f"{w}: join the cluster" in journal.components["microk8s-workers"].steps_done}
        cut_off = {w for w in workers if lab.nodes[w].counters["join"] or lab.nodes[w].processes} - recorded
        wait_for_cut_off = seed % 2 == 1
        if wait_for_cut_off:
            async with asyncio.timeout(30):
                while any(lab.nodes[w].processes for w in workers):
                    await asyncio.sleep(0.005)  # polling: the cut-off commands have ended on their nodes
        assert len(recorded) < JOIN_WORKERS, "killed after every join: nothing left to resume"

        assert await install(answers, state, known_hosts, env, None) == 0
        assert "microk8s-workers" in Journal.open(journal_path).installed
        ready = {
            n["metadata"]["name"]
            for n in lab.kube.list("v1", "Node")
            if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
        }
        assert ready == set(lab.nodes)
        for name, node in lab.nodes.items():
            assert node.counters["snap-install:microk8s"] == 1, (name, dict(node.counters))
        for w in workers:
            joins = lab.nodes[w].counters
            assert joins["join-verified"] == joins["join"] and not joins["join-unverified"], (w, dict(joins))
            most = 2 if w in cut_off and not wait_for_cut_off else 1
            assert 1 <= joins["join"] <= most, (w, dict(joins), sorted(cut_off))
        print(f"seed {seed}: killed with {len(recorded)} joins recorded, {len(cut_off)} cut off")
