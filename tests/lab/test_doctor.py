"""`thinkube-tui doctor` against the lab over real SSH: quiet on a healthy cluster, and on one
the test breaks (a workload that lost its pods, a namespace deleted, a node gone NotReady)
names the component or node, what is wrong and what to do."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
from pathlib import Path

import pytest
import yaml

from thinkube_lab.cluster import Lab
from thinkube_tui.commands.doctor import run as run_doctor
from thinkube_tui.commands.lab import demo_answers
from thinkube_tui.headless import HeadlessOptions, run

SPEED = 0.01
FULL = Path(__file__).resolve().parents[2] / "examples" / "answers-full.yaml"


@pytest.fixture
async def installed(tmp_path: Path, monkeypatch):
    """A lab with MicroK8s, its workers and Valkey installed; the doctor's arguments."""
    async with Lab(tmp_path / "lab", nodes=3, gpus=1, speed=SPEED, log=lambda _m: None) as lab:
        monkeypatch.setenv("TK_LAB_SUDO_PASSWORD", lab.sudo_password)
        answers = tmp_path / "answers.yaml"
        answers.write_text(yaml.safe_dump(demo_answers(lab.answers(), FULL), sort_keys=False))
        known_hosts = lab.write_known_hosts(tmp_path / "known_hosts")
        out = io.StringIO()
        options = HeadlessOptions(
            answers=answers,
            yes=True,
            state_dir=tmp_path / "state",
            known_hosts=known_hosts,
            interactive_output=False,
            only=frozenset({"microk8s-workers", "valkey"}),
        )
        assert await asyncio.wait_for(run(options, out=out, err=out), 120) == 0, out.getvalue()[-3000:]
        args = argparse.Namespace(
            answers=answers,
            secrets=None,
            state_dir=tmp_path / "state",
            known_hosts=known_hosts,
            accept_new_host_keys=False,
            demo=False,
            json=True,
        )
        yield lab, args


async def _doctor(args: argparse.Namespace, capsys) -> tuple[int, dict]:
    code = await run_doctor(args)
    return code, json.loads(capsys.readouterr().out)


async def test_a_healthy_cluster_has_no_problems(installed, capsys) -> None:
    _lab, args = installed
    code, report = await _doctor(args, capsys)
    assert report["problems"] == [] and code == 0, report


async def test_a_broken_workload_is_reported_with_its_component_and_fix(installed, capsys) -> None:
    lab, args = installed
    valkey = lab.kube.get("apps/v1", "Deployment", "valkey", "valkey")
    assert valkey is not None
    lab.kube.put({**valkey, "status": {**valkey["status"], "readyReplicas": 0}})
    code, report = await _doctor(args, capsys)
    assert code == 1
    (problem,) = report["problems"]
    assert problem["where"] == "valkey"
    assert "Deployment valkey/valkey has 0 of 1 pods ready" in problem["message"]
    assert "microk8s kubectl describe deployment -n valkey valkey" in problem["fix"]


async def test_a_node_gone_not_ready_is_named(installed, capsys) -> None:
    lab, args = installed
    worker = next(n for n in lab.nodes if n != lab.control_name)
    node = lab.kube.get("v1", "Node", worker)
    assert node is not None
    conditions = [
        {**c, "status": "False", "message": "kubelet stopped posting node status"} if c["type"] == "Ready" else c
        for c in node["status"]["conditions"]
    ]
    lab.kube.put({**node, "status": {**node["status"], "conditions": conditions}})
    code, report = await _doctor(args, capsys)
    assert code == 1
    assert [p["where"] for p in report["problems"]] == [worker]
    assert "kubelet stopped posting node status" in report["problems"][0]["message"]


async def test_the_journal_records_what_each_component_was_installed_at(installed, capsys, monkeypatch) -> None:
    """Day two starts from here: the version each was installed at, which re-entry and
    `status` compare with the catalog's pins (out of date when they differ)."""
    from thinkube_tui.catalog import load_catalog
    from thinkube_tui.commands.status import run_status
    from thinkube_tui.journal import Journal

    _lab, args = installed
    journal = Journal.open(args.state_dir / "thinkube-lab" / "journal.json")
    valkey = load_catalog()["valkey"].install
    assert journal.components["valkey"].version == f"{valkey.chart} {valkey.version}"
    assert journal.components["microk8s-control"].version == "microk8s 1.33/stable"
    monkeypatch.setenv("COLUMNS", "200")  # one row per component, unwrapped
    assert run_status(args.state_dir, "thinkube-lab") == 0
    table = capsys.readouterr().out
    assert f"{valkey.chart} {valkey.version}" in table and "this release" not in table
