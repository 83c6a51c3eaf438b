"""Adding a GPU worker to an installed cluster (re-entry with one more node in the answers), on the
lab over real SSH: the new node is joined, labelled and gets its GPUs from the GPU operator, and
nothing else changes -- the other workers are not joined again, no Helm release is upgraded, and
a run after that has nothing to do."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import yaml

from thinkube_lab.cluster import Lab
from thinkube_tui.commands.lab import demo_answers
from thinkube_tui.headless import HeadlessOptions, run
from thinkube_tui.journal import Journal

SPEED = 0.01
FULL = Path(__file__).resolve().parents[2] / "examples" / "answers-full.yaml"
NEW = "tk-gpu-2"


async def test_a_gpu_worker_added_later_is_joined_and_the_gpu_operator_converges_for_it(tmp_path, monkeypatch) -> None:
    async with Lab(tmp_path / "lab", nodes=4, gpus=2, speed=SPEED, log=lambda _m: None) as lab:
        monkeypatch.setenv("TK_LAB_SUDO_PASSWORD", lab.sudo_password)
        whole = demo_answers(lab.answers(), FULL)
        first = {**whole, "nodes": [n for n in whole["nodes"] if n["name"] != NEW]}
        answers = tmp_path / "answers.yaml"
        known_hosts = lab.write_known_hosts(tmp_path / "known_hosts")

        async def install(doc: dict) -> str:
            answers.write_text(yaml.safe_dump(doc, sort_keys=False))
            out = io.StringIO()
            options = HeadlessOptions(
                answers=answers,
                yes=True,
                state_dir=tmp_path / "state",
                known_hosts=known_hosts,
                interactive_output=False,
                only=frozenset({"microk8s-workers", "gpu-operator"}),
            )
            assert await asyncio.wait_for(run(options, out=out, err=out), 300) == 0, out.getvalue()[-3000:]
            return out.getvalue()

        await install(first)
        assert lab.kube.get("v1", "Node", NEW) is None
        releases = {key: r.get("revision") for key, r in lab.releases.items()}

        said = await install(whole)
        assert f"new node {NEW}: microk8s-workers runs again" in said
        assert f"new node {NEW}: gpu-operator runs again" in said
        node = lab.kube.get("v1", "Node", NEW)
        assert node is not None and any(
            c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"]
        )
        assert node["metadata"]["labels"].get("thinkube.io/accelerator") == "nvidia"
        assert int(node["status"]["allocatable"].get("nvidia.com/gpu", "0")) >= 1, node["status"]["allocatable"]
        for name in ("tk-worker-1", "tk-gpu-1"):  # joined once, by the first install
            counters = lab.nodes[name].counters
            assert counters["join"] == 1 and counters["snap-install:microk8s"] == 1, (name, dict(counters))
        assert lab.nodes[NEW].counters["join"] == 1
        assert {key: r.get("revision") for key, r in lab.releases.items()} == releases, "no release changed"
        journal = Journal.open(tmp_path / "state" / "thinkube-lab" / "journal.json")
        for cid in ("microk8s-workers", "gpu-operator"):
            assert NEW in (journal.components[cid].nodes or []), cid

        again = await install(whole)
        assert "runs again" not in again and "nothing to do" in again
