"""Two installs of one cluster at once: one runs, the other is refused naming the holder.

The real `thinkube-tui --answers ... --yes` runs twice at the same moment against one lab, from
the same state directory, from two state directories, and from two "workstations" (two state
roots: only the lock on the control node is shared). Exactly one exits 0; the other exits 4
(EXIT_LOCKED) with a message naming the holder's pid, and the lab's side-effect counters show
nothing ran twice: one `snap install microk8s` per node, one join per worker, one `add-node`
per worker, one Helm install. A workstation that finds the cluster's Lease held is refused too.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from thinkube_lab.cluster import Lab
from thinkube_tui.cluster_lock import EXIT_LOCKED, HOLDER_ANNOTATION, LEASE_NAME, LEASE_NAMESPACE, Holder

SPEED = 0.1  # the lab's commands take 10 % of their simulated time
WORKERS = ("tk-worker-1", "tk-gpu-1")


async def install(
    answers: Path, state: Path, known_hosts: Path, env: dict[str, str], *only: str
) -> tuple[int, int, str]:
    """(pid, exit status, stdout + stderr) of one headless run."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "thinkube_tui",
        "--answers",
        str(answers),
        "--yes",
        *[a for cid in only for a in ("--only", cid)],
        "--state-dir",
        str(state),
        "--known-hosts",
        str(known_hosts),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 180)
    assert proc.returncode is not None
    return proc.pid, proc.returncode, out.decode()


def assert_nothing_doubled(lab: Lab) -> None:
    for name, node in lab.nodes.items():
        assert node.counters["snap-install:microk8s"] == 1, (name, dict(node.counters))
    control = lab.nodes["tk-control"].counters
    assert control["add-node"] == len(WORKERS), dict(control)
    for worker in WORKERS:
        assert lab.nodes[worker].counters["join"] == 1, dict(lab.nodes[worker].counters)
    helm = {k: v for k, v in control.items() if k.startswith("helm-")}
    assert helm and all(k.startswith("helm-install:") and v == 1 for k, v in helm.items()), helm


@pytest.mark.parametrize("where", ["same state dir", "two state dirs", "two workstations"])
async def test_two_installs_at_once_one_is_refused_naming_the_holder(tmp_path, where):
    async with Lab(tmp_path / "lab", nodes=3, gpus=1, speed=SPEED, log=lambda _m: None) as lab:
        answers = lab.write_answers(tmp_path / "answers.yaml")
        env = {**os.environ, "TK_LAB_SUDO_PASSWORD": lab.sudo_password}
        runs = []
        for i in (1, 2):
            state = tmp_path / ("state" if where == "same state dir" else f"state-{i}")
            run_env = {**env, "XDG_STATE_HOME": str(tmp_path / f"root-{i}")} if where == "two workstations" else env
            runs.append(install(answers, state, tmp_path / f"known_hosts-{i}", run_env, "coredns"))
        (pid_a, code_a, out_a), (pid_b, code_b, out_b) = await asyncio.gather(*runs)

        assert sorted((code_a, code_b)) == [0, EXIT_LOCKED], (
            f"run A exit {code_a}:\n{out_a[-3000:]}\n\nrun B exit {code_b}:\n{out_b[-3000:]}"
        )
        winner, loser = (pid_a, out_b) if code_a == 0 else (pid_b, out_a)
        assert f"(pid {winner})" in loser and "is locked by another install" in loser, loser[-2000:]
        assert "Nothing was changed" in loser and "run the same command again" in loser
        if where == "two workstations":  # only the control node's lock is shared
            assert "/var/lib/thinkube-tui/install.lock on tk-control" in loser, loser[-2000:]
        assert "Traceback" not in loser
        assert_nothing_doubled(lab)
        assert not await lab.nodes["tk-control"].fs.exists("/var/lib/thinkube-tui/install.lock")  # released


async def test_a_workstation_is_refused_while_the_clusters_lease_is_held(tmp_path):
    async with Lab(tmp_path / "lab", nodes=3, gpus=1, speed=SPEED, log=lambda _m: None) as lab:
        answers = lab.write_answers(tmp_path / "answers.yaml")
        env = {**os.environ, "TK_LAB_SUDO_PASSWORD": lab.sudo_password}
        _, code, out = await install(answers, tmp_path / "state", tmp_path / "known_hosts", env, "microk8s-control")
        assert code == 0, out[-3000:]
        # Another workstation holds the cluster's Lease (it reached the cluster another way).
        now = time.time()
        far = Holder("t-far", "ws-far", 31337, "bob", now - 30, "thinkube-lab")
        renewed = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        lab.kube.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": LEASE_NAMESPACE}})
        lab.kube.put(
            {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {
                    "name": LEASE_NAME,
                    "namespace": LEASE_NAMESPACE,
                    "annotations": {HOLDER_ANNOTATION: far.to_json()},
                },
                "spec": {"holderIdentity": "bob@ws-far", "leaseDurationSeconds": 300, "renewTime": renewed},
            }
        )
        before = {name: dict(node.counters) for name, node in lab.nodes.items()}

        other_root = {**env, "XDG_STATE_HOME": str(tmp_path / "elsewhere")}
        _, code, out = await install(answers, tmp_path / "state-2", tmp_path / "known_hosts-2", other_root)
        assert code == EXIT_LOCKED, out[-3000:]
        assert "bob@ws-far (pid 31337)" in out and f"Lease {LEASE_NAMESPACE}/{LEASE_NAME}" in out, out[-2000:]
        assert {name: dict(node.counters) for name, node in lab.nodes.items()} == before  # nothing ran
        assert not await lab.nodes["tk-control"].fs.exists("/var/lib/thinkube-tui/install.lock")
