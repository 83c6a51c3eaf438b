"""`thinkube-tui node remove` and the drain beneath it, against the lab over real SSH: the control
node and the last GPU node (with the GPU operator installed) are refused, changing nothing; a
worker is drained (its pods evicted, a DaemonSet's pod left alone), leaves, is forgotten and loses
MicroK8s, and the journal no longer counts it; a disruption budget holds a drain until it fails
naming the pod."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from thinkube_tui.commands.node import run as run_node
from thinkube_tui.drain import DrainError, drain
from thinkube_tui.journal import Journal
from thinkube_tui.kube import Kube

SPEED = 0.01
FULL = Path(__file__).resolve().parents[2] / "examples" / "answers-full.yaml"


@pytest.fixture
async def installed(installed_lab):
    return await installed_lab(
        {"microk8s-workers", "gpu-operator"}, nodes=4, gpus=1, yes=True, force=False, node="", node_command="remove"
    )


def pod(name: str, node: str, labels: dict[str, str], owner: str | None = None) -> dict:
    meta: dict = {"name": name, "namespace": "default", "labels": labels}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": owner, "uid": "u-1"}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"nodeName": node, "containers": [{"name": "web", "image": "nginx:1.27"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


async def test_the_control_node_and_the_last_gpu_node_are_refused(installed, capsys) -> None:
    lab, args = installed
    args.node = "tk-control"
    assert await run_node(args) == 2
    assert "tk-control is the control node" in capsys.readouterr().err
    args.node = "tk-gpu-1"
    assert await run_node(args) == 2
    err = capsys.readouterr().err
    assert "last GPU node and the GPU operator is installed" in err and "nothing was changed" in err
    assert all(lab.kube.get("v1", "Node", n) is not None for n in lab.nodes)
    assert not any(n.counters["leave"] for n in lab.nodes.values())


async def test_a_worker_is_drained_and_taken_out_of_the_cluster(installed, capsys) -> None:
    lab, args = installed
    lab.kube.put(pod("web-1", "tk-worker-1", {"app": "web"}))
    lab.kube.put(pod("agent-x", "tk-worker-1", {"app": "agent"}, owner="agent"))
    lab.kube.put(pod("web-2", "tk-worker-2", {"app": "web"}))
    releases = {key: r["revision"] for key, r in lab.releases.items()}

    args.node = "tk-worker-1"
    assert await run_node(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"], report
    assert lab.kube.get("v1", "Node", "tk-worker-1") is None
    assert not lab.nodes["tk-worker-1"].microk8s.installed and lab.nodes["tk-worker-1"].counters["leave"] == 1
    assert lab.kube.get("v1", "Pod", "web-1", "default") is None, "evicted"
    assert lab.kube.get("v1", "Pod", "agent-x", "default") is not None, "a DaemonSet's pod is left alone"
    assert lab.kube.get("v1", "Pod", "web-2", "default") is not None, "other nodes' pods untouched"
    assert {key: r["revision"] for key, r in lab.releases.items()} == releases
    journal = Journal.open(args.state_dir / "thinkube-lab" / "journal.json")
    assert "tk-worker-1" not in (journal.components["microk8s-workers"].nodes or [])
    assert "tk-worker-2" in (journal.components["microk8s-workers"].nodes or [])


async def test_a_disruption_budget_holds_a_drain_until_it_fails_naming_the_pod(installed) -> None:
    lab, _args = installed
    lab.kube.put(pod("db-0", "tk-worker-2", {"app": "db"}))
    lab.kube.put(
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "db", "namespace": "default"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "db"}}},
        }
    )
    kube = await Kube.from_kubeconfig(yaml.safe_dump(lab.kube.kubeconfig()))
    try:
        with pytest.raises(DrainError, match=r"pod default/db-0 cannot be evicted: its PodDisruptionBudget"):
            await drain(kube, "tk-worker-2", timeout=0.3, retry_s=0.1)
        node = lab.kube.get("v1", "Node", "tk-worker-2")
        assert node is not None and node["spec"].get("unschedulable") is True, "cordoned"
        assert lab.kube.get("v1", "Pod", "db-0", "default") is not None, "the budget kept it"
    finally:
        await kube.close()
