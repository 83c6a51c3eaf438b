"""`thinkube-tui support-bundle` against the lab over real SSH: every node's inspect report,
status and facts, the cluster's broken workloads and Warning events, the local journal and
logs -- and no secret, wherever it was planted (a node's args file read by inspect, a
Kubernetes Secret echoed in an event, an install log, the secrets file)."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import tarfile
from pathlib import Path

import pytest
import yaml

from thinkube_lab.cluster import Lab
from thinkube_tui.cli import main
from thinkube_tui.commands.lab import demo_answers
from thinkube_tui.commands.support_bundle import run as run_support_bundle
from thinkube_tui.headless import HeadlessOptions, run

SUDO_CANARY = "canary-sudo-Bx7q2Lm9"
FILE_CANARY = "canary-file-Hn4w8Ks1"  # in the secrets file, used by nothing
CLUSTER_CANARY = "canary-cluster-Tz6p3Vd5"  # a generated password: only in a Kubernetes Secret
SPEED = 0.01
FIXED_TIME = 1_800_000_000.0


@pytest.fixture
async def lab(tmp_path: Path):
    async with Lab(
        tmp_path / "lab", nodes=3, gpus=1, speed=SPEED, sudo_password=SUDO_CANARY, log=lambda _m: None
    ) as lab:
        yield lab


def _members(path: Path) -> dict[str, str]:
    with tarfile.open(path) as tar:
        return {
            m.name.removeprefix("support-bundle/"): tar.extractfile(m).read().decode()  # type: ignore[union-attr]
            for m in tar
            if m.isfile()
        }


async def test_a_bundle_holds_every_nodes_inspect_report_and_no_secret(lab: Lab, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TK_LAB_SUDO_PASSWORD", SUDO_CANARY)
    secrets_file = tmp_path / "secrets.yaml"
    secrets_file.write_text(f"unused-key: {FILE_CANARY}\n")
    os.chmod(secrets_file, 0o600)
    data = demo_answers(lab.answers(), None)
    data["secretsFile"] = str(secrets_file)
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump(data, sort_keys=False))
    known_hosts = lab.write_known_hosts(tmp_path / "known_hosts")
    state = tmp_path / "state"
    out = io.StringIO()
    options = HeadlessOptions(
        answers=answers,
        yes=True,
        state_dir=state,
        known_hosts=known_hosts,
        interactive_output=False,
        only=frozenset({"microk8s-workers"}),
    )
    assert await asyncio.wait_for(run(options, out=out, err=out), 120) == 0, out.getvalue()[-3000:]

    # Plant the secrets where a bundle reads: a node's args file (inspect copies it), a generated
    # password in a Secret that an event then echoes, and an install log of this machine.
    control = lab.nodes[lab.control_name]
    kubelet_args = "/var/snap/microk8s/current/args/kubelet"
    await control.fs.write(kubelet_args, f"--sneaky={CLUSTER_CANARY}\n", append=True)
    lab.kube.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "app-admin", "namespace": "default"},
            "stringData": {"password": CLUSTER_CANARY},
        }
    )
    lab.kube.put(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "web.1", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web-0", "namespace": "default"},
            "type": "Warning",
            "reason": "Failed",
            "message": f"login failed with password {CLUSTER_CANARY} (sudo {SUDO_CANARY})",
        }
    )
    log = next((state / "thinkube-lab" / "logs").glob("*.log"))
    with log.open("a") as f:
        f.write(f"a careless line: {FILE_CANARY}\n")

    output = tmp_path / "out" / "bundle.tar.gz"
    args = argparse.Namespace(
        answers=answers,
        secrets=None,
        state_dir=state,
        known_hosts=known_hosts,
        accept_new_host_keys=False,
        output=output,
        demo=False,
        dry_run=False,
        json=False,
    )
    assert await run_support_bundle(args, now=lambda: FIXED_TIME) == 0
    assert output.stat().st_mode & 0o777 == 0o600

    files = _members(output)
    for node in lab.nodes:
        assert "Report tarball is at /var/snap/microk8s/" in files[f"nodes/{node}/microk8s-inspect.txt"]
        assert f"nodes/{node}/inspect/inspection-report/snap.microk8s.daemon-kubelite/systemctl.log" in files
        assert "running: true" in files[f"nodes/{node}/microk8s-status.yaml"] or node != lab.control_name
        assert f"nodes/{node}/facts.json" in files
    # The control node's args came through inspect, masked.
    args_file = files[f"nodes/{lab.control_name}/inspect/inspection-report/args/kubelet"]
    assert "--sneaky=******" in args_file
    assert "Failed" in files["cluster/events-warning.json"]
    assert "local/journal.json" in files and any(name.startswith("local/logs/") for name in files)
    assert "a careless line: ******" in next(v for k, v in files.items() if k.startswith("local/logs/"))
    everything = "\n".join(files.values())
    for canary in (SUDO_CANARY, FILE_CANARY, CLUSTER_CANARY):
        assert canary not in everything, canary


async def test_a_bundle_of_an_unreachable_node_says_so_and_keeps_the_rest(
    lab: Lab, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("TK_LAB_SUDO_PASSWORD", SUDO_CANARY)
    data = demo_answers(lab.answers(), None)
    data["nodes"][1]["port"] = 1  # nothing listens there
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump(data, sort_keys=False))
    output = tmp_path / "bundle.tar.gz"
    args = argparse.Namespace(
        answers=answers,
        secrets=None,
        state_dir=tmp_path / "state",
        known_hosts=lab.write_known_hosts(tmp_path / "known_hosts"),
        accept_new_host_keys=False,
        output=output,
        demo=False,
        dry_run=False,
        json=False,
    )
    assert await run_support_bundle(args, now=lambda: FIXED_TIME) == 0
    files = _members(output)
    unreachable = data["nodes"][1]["name"]
    assert f"{unreachable}: not reached" in files["README.txt"]
    reached = [n["name"] for n in data["nodes"] if n["name"] != unreachable]
    assert all(f"nodes/{n}/microk8s-inspect.txt" in files for n in reached)


def test_the_dry_run_contacts_nothing_and_writes_nothing(tmp_path: Path, capsys) -> None:
    answers = Path(__file__).resolve().parents[2] / "examples" / "answers-minimal.yaml"
    code = main(["support-bundle", "--answers", str(answers), "--state-dir", str(tmp_path / "state"), "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "microk8s inspect" in out and "mode 0600" in out
    assert not (tmp_path / "state").exists()


def test_without_answers_or_demo_it_says_what_names_the_cluster(capsys) -> None:
    assert main(["support-bundle"]) == 2
    assert "--answers FILE names the cluster's nodes" in capsys.readouterr().err
