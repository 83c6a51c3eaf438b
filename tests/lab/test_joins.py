"""Joins in the lab as MicroK8s' cluster agent takes them: single-use and TTL tokens, joins side by
side with only the agent's own sections serialised, and a 30-worker install where every worker
joins once with a verified `<ip>:25000/<token>/<check>`."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from tests.lab.test_cluster import SPEED, install_control, run
from thinkube_lab.cluster import Lab
from thinkube_tui.installers.microk8s_workers import JOIN_CONCURRENCY

WORKERS = [f"tk-worker-{i}" for i in range(1, 5)]


@pytest.fixture
async def lab4(tmp_path: Path) -> AsyncIterator[Lab]:
    async with Lab(tmp_path / "lab", nodes=5, gpus=0, speed=SPEED, log=lambda m: None) as lab:
        await install_control(lab)
        for worker in WORKERS:
            r = await run(lab, worker, "snap install microk8s --classic --channel=1.33/stable", sudo=True)
            assert r.exit_status == 0, r.stderr
        yield lab


async def add_node(lab: Lab, token: str, ttl: int | None = None) -> str:
    """The `<ip>:25000/<token>/<check>` add-node prints for `token`."""
    ttl_arg = f"--token-ttl {ttl} " if ttl is not None else ""
    r = await run(lab, "tk-control", f"microk8s add-node {ttl_arg}--format yaml --token {token}", sudo=True)
    assert r.exit_status == 0, r.stdout + r.stderr
    return str(yaml.safe_load(r.stdout)["urls"][0])


async def test_a_token_without_ttl_is_used_up_by_its_first_join_request(lab4: Lab) -> None:
    url = await add_node(lab4, "a" * 32)
    # A wrong fingerprint is refused by join.py before it sends the request: the token stays.
    host, token, _check = url.split("/")
    r = await run(lab4, "tk-worker-1", f"microk8s join {host}/{token}/{'0' * 12} --worker", sudo=True)
    assert r.exit_status == 4 and "Could not verify the identity" in r.stdout
    # A request whose hostname the agent cannot resolve is refused after the token check: used up.
    lab4.nodes["tk-control"].unresolvable.add("tk-worker-1")
    r = await run(lab4, "tk-worker-1", f"microk8s join {url} --worker", sudo=True)
    assert r.exit_status == 6 and "does not resolve" in r.stdout
    lab4.nodes["tk-control"].unresolvable.discard("tk-worker-1")
    r = await run(lab4, "tk-worker-1", f"microk8s join {url} --worker", sudo=True)
    assert r.exit_status == 6 and "Invalid token (500)" in r.stdout
    assert "join" not in lab4.nodes["tk-worker-1"].counters
    # A fresh token joins it.
    r = await run(lab4, "tk-worker-1", f"microk8s join {await add_node(lab4, 'b' * 32)} --worker", sudo=True)
    assert r.exit_status == 0, r.stdout
    assert lab4.nodes["tk-worker-1"].counters["join-verified"] == 1


async def test_joins_run_side_by_side_and_only_the_agents_sections_take_turns(lab4: Lab) -> None:
    urls = [await add_node(lab4, f"{i:x}" * 32, ttl=3600) for i in range(len(WORKERS))]
    agent = lab4.agent
    # Hold the agent's dqlite section (as the first join's dqlite restart does) until all four
    # requests are in: the lab admits them together, it does not queue whole joins.
    dqlite_mu = agent.lock("dqlite")
    await dqlite_mu.acquire()
    joins = [
        asyncio.ensure_future(run(lab4, w, f"microk8s join {u} --worker", sudo=True))
        for w, u in zip(WORKERS, urls, strict=True)
    ]
    async with asyncio.timeout(30):
        while agent.in_flight < len(WORKERS):
            await asyncio.sleep(0.01)  # polling the condition: every request is with the agent
    dqlite_mu.release()
    results = await asyncio.gather(*joins)
    assert all(r.exit_status == 0 for r in results), [r.stdout for r in results]
    assert agent.peak_in_flight == len(WORKERS)
    # Each section held by one join at a time: enter and leave alternate, one per join.
    for section in ("tokens", "dqlite", "calico", "cert-tokens"):
        events = [(what, node) for s, what, node in agent.trace if s == section]
        assert len(events) == 2 * len(WORKERS), (section, events)
        for enter, leave in zip(events[::2], events[1::2], strict=True):
            assert enter[0] == "enter" and leave == ("leave", enter[1]), (section, events)
    assert agent.dqlite_rebound and agent.calico_patched
    # Only the first join moved dqlite and patched Calico: the others, queued behind it, found it
    # done (deciding before taking the mutex made every queued join restart dqlite in turn).
    assert (agent.dqlite_rebinds, agent.calico_applies) == (1, 1)
    assert all(lab4.nodes[w].counters["join-verified"] == 1 for w in WORKERS)


async def test_the_agents_first_join_state_survives_a_lab_restart(tmp_path: Path) -> None:
    async with Lab(tmp_path / "lab", nodes=2, gpus=0, speed=SPEED, log=lambda m: None) as lab:
        await install_control(lab)
        await run(lab, "tk-worker-1", "snap install microk8s --classic --channel=1.33/stable", sudo=True)
        r = await run(lab, "tk-worker-1", f"microk8s join {await add_node(lab, 'c' * 32)} --worker", sudo=True)
        assert r.exit_status == 0 and lab.agent.dqlite_rebound
    async with Lab(tmp_path / "lab", nodes=2, gpus=0, speed=SPEED, log=lambda m: None) as lab:
        assert lab.agent.dqlite_rebound and lab.agent.calico_patched


async def test_thirty_workers_all_join_in_parallel_each_verified(tmp_path: Path) -> None:
    """The real installer (`--only microk8s-workers`) against a lab of the control node and 30
    workers: each worker joins once, with the certificate fingerprint, and as many joins as the
    installer's bound allows are at the agent at once (the test holds the agent's dqlite section,
    as a slow first join does, until they are), never more."""
    async with Lab(tmp_path / "lab", nodes=31, gpus=0, speed=SPEED, log=lambda m: None) as lab:
        answers = lab.write_answers(tmp_path / "answers.yaml")
        dqlite = lab.agent.lock("dqlite")
        await dqlite.acquire()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "thinkube_tui", "--answers", str(answers), "--yes",
            "--only", "microk8s-workers", "--state-dir", str(tmp_path / "state"),
            "--known-hosts", str(tmp_path / "known_hosts"),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "TK_LAB_SUDO_PASSWORD": lab.sudo_password},
        )  # fmt: skip
        output = asyncio.ensure_future(proc.communicate())
        try:
            async with asyncio.timeout(120):
                while lab.agent.in_flight < JOIN_CONCURRENCY:
                    assert not output.done(), (await output)[0].decode()[-3000:]
                    await asyncio.sleep(0.01)  # polling the condition: the bound's worth of joins waiting
        finally:
            dqlite.release()
        out, _ = await asyncio.wait_for(output, 300)
        assert proc.returncode == 0, out.decode()[-3000:]
        workers = [n for name, n in lab.nodes.items() if name != "tk-control"]
        assert len(workers) == 30
        for node in workers:
            assert node.counters["join"] == 1 and node.counters["join-verified"] == 1, (node.name, node.counters)
            assert "join-unverified" not in node.counters
        assert lab.agent.peak_in_flight == JOIN_CONCURRENCY
        ready = {
            n["metadata"]["name"]
            for n in lab.kube.list("v1", "Node")
            if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
        }
        assert ready == set(lab.nodes)
