"""`thinkube-tui reset` against the lab over real SSH: refused headless without --yes-really, the
dry run changes nothing, and a reset leaves every node without MicroK8s (workers left and were
forgotten first), the platform's /etc/hosts lines gone and other lines kept, and the local state
archived, not deleted."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml

from thinkube_tui.commands.reset import run as run_reset
from thinkube_tui.journal import Journal

SPEED = 0.01
FULL = Path(__file__).resolve().parents[2] / "examples" / "answers-full.yaml"


@pytest.fixture
async def installed(installed_lab):
    lab, args = await installed_lab({"valkey"}, yes_really=False)
    return lab, args, yaml.safe_load(args.answers.read_text())["cluster"]


async def test_reset_removes_the_platform_from_every_node_and_archives_the_state(installed, capsys) -> None:
    lab, args, cluster = installed
    state = args.state_dir / "thinkube-lab"
    platform_line = f"{cluster['ingressIP']} registry.{cluster['domain']}\n"
    for node in lab.nodes.values():  # as harbor's installer adds it, beside a line of the operator's
        await node.fs.write("/etc/hosts", platform_line + "10.9.9.9 nas.home.lan\n", append=True)

    assert await run_reset(args) == 2, "headless without --yes-really: refused"
    assert "pass --yes-really" in capsys.readouterr().err
    assert all(node.microk8s.installed for node in lab.nodes.values())

    args.dry_run, args.json = True, False
    assert await run_reset(args) == 0
    dry = capsys.readouterr().out
    sections = {part.split("\n", 1)[0]: part for part in dry.split("\n== ")[1:]}
    worker = sections["tk-worker-1"]
    assert worker.index("[microk8s-workers] sudo microk8s leave") < worker.index("sudo snap remove --purge microk8s")
    control = sections["tk-control"]
    assert control.index("sudo microk8s remove-node tk-worker-1") < control.index("microk8s reset --destroy-storage")
    assert control.index("microk8s reset --destroy-storage") < control.index("sudo snap remove --purge microk8s")
    assert "valkey" in dry.split("\n", 1)[0], "the first line names what goes with the reset"
    assert all(node.microk8s.installed for node in lab.nodes.values()), "the dry run changes nothing"

    args.dry_run, args.json, args.yes_really = False, True, True
    assert await run_reset(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["done"] == ["microk8s-workers", "microk8s-control"]
    for name, node in lab.nodes.items():
        assert not node.microk8s.installed, name
        hosts = await node.fs.read("/etc/hosts") or ""
        assert platform_line not in hosts and "10.9.9.9 nas.home.lan" in hosts, (name, hosts)
    for worker in ("tk-worker-1", "tk-gpu-1"):
        assert lab.nodes[worker].counters["leave"] == 1
        assert lab.nodes["tk-control"].counters[f"remove-node:{worker}"] == 1
    assert lab.nodes["tk-control"].counters["microk8s-reset"] == 1

    assert not state.exists()
    (archived,) = args.state_dir.glob("thinkube-lab.reset-*")
    assert stat.S_IMODE(archived.stat().st_mode) == 0o700
    assert Journal.open(archived / "journal.json").installed == frozenset()
    assert list((archived / "logs").glob("reset-*.log"))
