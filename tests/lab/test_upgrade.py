"""`thinkube-tui upgrade` against the lab over real SSH, with a test-only catalog that pins a newer
Qdrant chart (the lab's chart data offers the versions Qdrant's repository publishes): the dry
run shows from -> to and changes nothing; the upgrade moves the release to the new chart version
and the journal with it, touching nothing else; a pin the repository does not publish fails
loudly and the journal keeps what is installed."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
from importlib import resources
from pathlib import Path

import pytest
import yaml

import thinkube_tui.catalog
from thinkube_lab.cluster import Lab
from thinkube_tui.catalog import Catalog, parse_catalog
from thinkube_tui.commands.lab import demo_answers
from thinkube_tui.commands.upgrade import run as run_upgrade
from thinkube_tui.headless import HeadlessOptions, run
from thinkube_tui.journal import Journal

SPEED = 0.01
FULL = Path(__file__).resolve().parents[2] / "examples" / "answers-full.yaml"


def pinned(component: str, version: str) -> Catalog:
    """This release's catalog with `component`'s chart pinned at `version`."""
    data = yaml.safe_load(resources.files("thinkube_tui").joinpath("catalog.yaml").read_text())
    (entry,) = (c for c in data["components"] if c["id"] == component)
    entry["install"]["version"] = version
    return parse_catalog(data)


@pytest.fixture
async def installed(installed_lab):
    return await installed_lab({"valkey", "qdrant"}, json=False, yes=True, components=[])


def recorded_version(args: argparse.Namespace, cid: str) -> str | None:
    return Journal.open(args.state_dir / "thinkube-lab" / "journal.json").components[cid].version


async def test_upgrade_moves_a_component_to_its_new_pin_and_nothing_else(installed, capsys, monkeypatch) -> None:
    lab, args = installed
    assert await run_upgrade(args) == 0
    assert "nothing to upgrade" in capsys.readouterr().err
    before = {key: (r["version"], r["revision"]) for key, r in lab.releases.items()}
    assert before["qdrant/qdrant"] == ("1.15.4", 1)

    monkeypatch.setattr(thinkube_tui.catalog, "load_catalog", lambda: pinned("qdrant", "1.19.0"))
    args.dry_run = True
    assert await run_upgrade(args) == 0
    dry = capsys.readouterr().out
    assert "qdrant: qdrant 1.15.4 -> qdrant 1.19.0 (read first: https://github.com/qdrant/qdrant-helm/releases)" in dry
    assert "--version 1.19.0" in dry and "valkey" not in dry.split("Nothing was connected")[0]
    assert {key: (r["version"], r["revision"]) for key, r in lab.releases.items()} == before

    args.dry_run, args.json = False, True
    assert await run_upgrade(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["done"] == ["qdrant"]
    after = {key: (r["version"], r["revision"]) for key, r in lab.releases.items()}
    assert after["qdrant/qdrant"] == ("1.19.0", 2)
    assert {k: v for k, v in after.items() if k != "qdrant/qdrant"} == {
        k: v for k, v in before.items() if k != "qdrant/qdrant"
    }
    assert recorded_version(args, "qdrant") == "qdrant 1.19.0"
    assert recorded_version(args, "valkey") == before_valkey(before)

    args.json = False
    assert await run_upgrade(args) == 0
    assert "nothing to upgrade" in capsys.readouterr().err


def before_valkey(before: dict[str, tuple[str, int]]) -> str:
    return f"valkey {before['valkey/valkey'][0]}"


async def test_a_pin_the_repository_does_not_publish_fails_and_the_journal_keeps_what_is_installed(
    installed, capsys, monkeypatch
) -> None:
    lab, args = installed
    monkeypatch.setattr(thinkube_tui.catalog, "load_catalog", lambda: pinned("qdrant", "9.9.9"))
    assert await run_upgrade(args) == 1
    out = capsys.readouterr().out
    assert 'chart "qdrant" version "9.9.9" not found' in out and "FAILED" in out
    assert lab.releases["qdrant/qdrant"]["version"] == "1.15.4"
    assert recorded_version(args, "qdrant") == "qdrant 1.15.4"
    assert (args.state_dir / "thinkube-lab" / "upgrade.journal.json").exists(), "kept: the next run resumes"


async def test_microk8s_moves_to_the_next_channel_node_by_node(tmp_path, capsys, monkeypatch) -> None:
    """A new cluster.microk8sChannel: the control node first, then one worker at a time, each
    drained before its refresh (the lab records whether it was cordoned) and uncordoned after."""
    async with Lab(tmp_path / "lab", nodes=3, gpus=1, speed=SPEED, log=lambda _m: None) as lab:
        monkeypatch.setenv("TK_LAB_SUDO_PASSWORD", lab.sudo_password)
        data = demo_answers(lab.answers(), FULL)
        answers = tmp_path / "answers.yaml"
        answers.write_text(yaml.safe_dump(data, sort_keys=False))
        known_hosts = lab.write_known_hosts(tmp_path / "known_hosts")
        out = io.StringIO()
        options = HeadlessOptions(
            answers=answers,
            yes=True,
            state_dir=tmp_path / "state",
            known_hosts=known_hosts,
            interactive_output=False,
            only=frozenset({"microk8s-workers"}),
        )
        assert await asyncio.wait_for(run(options, out=out, err=out), 300) == 0, out.getvalue()[-3000:]
        assert data["cluster"].get("microk8sChannel", "1.33/stable") == "1.33/stable"
        data["cluster"]["microk8sChannel"] = "1.34/stable"
        answers.write_text(yaml.safe_dump(data, sort_keys=False))
        args = argparse.Namespace(
            answers=answers,
            secrets=None,
            state_dir=tmp_path / "state",
            known_hosts=known_hosts,
            accept_new_host_keys=False,
            demo=False,
            json=True,
            dry_run=False,
            yes=True,
            components=[],
        )
        assert await run_upgrade(args) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["done"] == ["microk8s-control", "microk8s-workers"], report
        assert lab.refreshed == [
            ("tk-control", "1.34/stable", True),
            ("tk-worker-1", "1.34/stable", True),
            ("tk-gpu-1", "1.34/stable", True),
        ]
        for name in lab.nodes:
            node = lab.kube.get("v1", "Node", name)
            assert node is not None and not node["spec"].get("unschedulable"), name
            assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.34.0"
        journal = Journal.open(tmp_path / "state" / "thinkube-lab" / "journal.json")
        assert journal.components["microk8s-workers"].version == "microk8s 1.34/stable"
        assert journal.components["microk8s-control"].version == "microk8s 1.34/stable"


async def test_an_upgrade_cut_off_for_another_pin_redoes_its_steps_for_this_one(installed, capsys, monkeypatch) -> None:
    """A run upgrading Qdrant to 1.15.5 was killed after its chart step; this release pins 1.19.0.
    The chart step runs again at 1.19.0: the journal never records a version the cluster lacks."""
    lab, args = installed
    cut_off = Journal(args.state_dir / "thinkube-lab" / "upgrade.journal.json")
    cut_off.started("qdrant", None, "qdrant 1.15.5")
    for step in ("namespace", "keep the API key", "install the Qdrant chart"):
        cut_off.step_finished("qdrant", step)
    monkeypatch.setattr(thinkube_tui.catalog, "load_catalog", lambda: pinned("qdrant", "1.19.0"))
    assert await run_upgrade(args) == 0, capsys.readouterr()
    assert lab.releases["qdrant/qdrant"]["version"] == "1.19.0"
    assert recorded_version(args, "qdrant") == "qdrant 1.19.0"


async def test_a_journal_left_by_an_upgrade_cut_off_after_its_record_is_discarded(installed, capsys) -> None:
    """Killed after the install's journal recorded the new version but before its own journal
    said done: the next run has nothing to upgrade and must not keep that journal (its finished
    steps would be skipped by a later upgrade)."""
    _lab, args = installed
    left = Journal.open(args.state_dir / "thinkube-lab" / "upgrade.journal.json")
    left.started("qdrant", None, "qdrant 1.15.4")
    left.step_finished("qdrant", "install the Qdrant chart")
    assert await run_upgrade(args) == 0
    assert "nothing to upgrade" in capsys.readouterr().err
    assert not (args.state_dir / "thinkube-lab" / "upgrade.journal.json").exists()
