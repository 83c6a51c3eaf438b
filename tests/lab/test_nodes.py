"""Simulated nodes over real SSH (asyncssh client, host keys checked against known_hosts)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import asyncssh
import pytest

from thinkube_lab.cluster import Lab
from thinkube_lab.commands.hardware import capture_sections
from thinkube_tui.discovery import parse_lsblk, parse_os_release
from thinkube_tui.gpu import NVIDIA_SMI_FIELDS, parse_nvidia_smi_csv

SPEED = 0.01


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[Lab]:
    async with Lab(tmp_path / "lab", nodes=3, gpus=1, speed=SPEED, log=lambda m: None) as lab:
        lab.write_known_hosts(tmp_path / "known_hosts")
        yield lab


def connect(lab: Lab, name: str, **kw):
    port = lab.addresses()[name]["port"]
    return asyncssh.connect(
        "127.0.0.1",
        port,
        username="thinkube",
        client_keys=[str(lab.client_key)],
        known_hosts=str(lab.state_dir.parent / "known_hosts"),
        agent_path=None,
        **kw,
    )


async def run(lab: Lab, name: str, command: str, input: str | None = None) -> asyncssh.SSHCompletedProcess:
    async with connect(lab, name) as conn:
        return await conn.run(command, input=input or "")


def sudo(lab: Lab, command: str) -> tuple[str, str]:
    return f"sudo -k -S -p '' {command}", lab.sudo_password + "\n"


async def test_unknown_host_key_is_refused(lab: Lab, tmp_path: Path) -> None:
    other = tmp_path / "other_known_hosts"
    other.write_text("")
    port = lab.addresses()["tk-control"]["port"]
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        async with asyncssh.connect(
            "127.0.0.1",
            port,
            username="thinkube",
            client_keys=[str(lab.client_key)],
            known_hosts=str(other),
            agent_path=None,
        ):
            pass


async def test_os_release_and_identity(lab: Lab) -> None:
    r = await run(lab, "tk-control", "cat /etc/os-release; echo; cat /etc/machine-id; uname -r; id -un; id -u")
    osr = parse_os_release(r.stdout)
    assert (osr.id, osr.version_id, osr.codename) == ("ubuntu", "24.04", "noble")
    lines = r.stdout.strip().splitlines()
    assert lines[-2:] == ["thinkube", "1000"]
    ids = {(await run(lab, n, "cat /etc/machine-id")).stdout for n in lab.nodes}
    assert len(ids) == 3


async def test_hardware_outputs_parse(lab: Lab) -> None:
    r = await run(lab, "tk-gpu-1", "lsblk -J -b -d -o NAME,SIZE,TYPE,MODEL,ROTA,TRAN")
    disks = parse_lsblk(r.stdout)
    assert [d.name for d in disks] == ["nvme0n1", "nvme1n1"]
    r = await run(
        lab, "tk-worker-1", "getconf _NPROCESSORS_ONLN; grep '^MemTotal:' /proc/meminfo; ip -j route show default"
    )
    cores, mem, route = r.stdout.splitlines()
    assert cores == "8" and mem.startswith("MemTotal:") and '"gateway":"10.42.0.1"' in route
    r = await run(lab, "tk-control", "getent hosts tk-worker-1 tk-gpu-1")
    assert r.stdout.split() == ["10.42.0.12", "tk-worker-1", "10.42.0.13", "tk-gpu-1"]


async def test_nvidia_smi_matches_the_h100_capture(lab: Lab) -> None:
    fields = ",".join(NVIDIA_SMI_FIELDS)
    r = await run(lab, "tk-gpu-1", f"nvidia-smi --query-gpu={fields} --format=csv,noheader,nounits")
    assert r.exit_status == 0
    (gpu,) = parse_nvidia_smi_csv(r.stdout)
    assert gpu.name == "NVIDIA H100 80GB HBM3" and gpu.memory_mib == 81559 and gpu.driver_version == "590.48.01"
    assert gpu.compute_capability == "9.0" and gpu.pci_device_id == "2330" and gpu.mig_mode == "Disabled"
    # The same cells as the capture's own --query-gpu row, field by field.
    sections = capture_sections("nvidia-h100-80gb-hbm3__590.48.01.txt")
    key = next(k for k in sections if k.startswith("nvidia-smi --query-gpu="))
    _header, row = list(csv.reader(io.StringIO(sections[key]), skipinitialspace=True))[:2]
    captured = dict(zip(key.split("=", 1)[1].split(" ")[0].split(","), row, strict=False))
    r = await run(lab, "tk-gpu-1", "nvidia-smi --query-gpu=name,memory.total,pci.bus_id,compute_cap --format=csv")
    head, values = r.stdout.splitlines()
    assert head == "name, memory.total [MiB], pci.bus_id, compute_cap"
    assert values.split(", ") == [captured[f] for f in ("name", "memory.total", "pci.bus_id", "compute_cap")]
    assert (await run(lab, "tk-worker-1", "nvidia-smi -L")).exit_status == 127
    r = await run(lab, "tk-gpu-1", "lspci -Dnn -d 10de:")
    assert r.stdout.strip() == (
        "0000:00:09.0 3D controller [0302]: NVIDIA Corporation GH100 [H100 SXM5 80GB] [10de:2330] (rev a1)"
    )


async def test_sudo_password(lab: Lab) -> None:
    cmd, pw = sudo(lab, "id -u")
    r = await run(lab, "tk-control", cmd, pw)
    assert (r.exit_status, r.stdout) == (0, "0\n")
    r = await run(lab, "tk-control", cmd, "wrong\n")
    assert r.exit_status == 1 and "Sorry, try again." in r.stderr
    r = await run(lab, "tk-control", "sudo -n true")
    assert r.exit_status == 1 and "a password is required" in r.stderr
    node = lab.nodes["tk-control"]
    assert not any(lab.sudo_password in " ".join(argv) for _, argv in node.argv_log)
    assert not any(lab.sudo_password in line for line in node.history)


async def test_snap_install_needs_root_and_is_idempotent(lab: Lab) -> None:
    install = "snap install microk8s --classic --channel=1.33/stable"
    r = await run(lab, "tk-worker-1", install)
    assert r.exit_status == 1 and "access denied" in r.stderr
    r = await run(lab, "tk-worker-1", "snap list microk8s")
    assert r.exit_status == 1 and r.stderr == "error: no matching snaps installed\n"
    cmd, pw = sudo(lab, install)
    r = await run(lab, "tk-worker-1", cmd, pw)
    assert r.exit_status == 0 and "microk8s (1.33/stable) v1.33.3 from Canonical** installed" in r.stdout
    r = await run(lab, "tk-worker-1", cmd, pw)
    assert r.exit_status == 0 and "is already installed" in r.stdout
    assert lab.nodes["tk-worker-1"].counters["snap-install:microk8s"] == 1
    r = await run(lab, "tk-worker-1", "snap list microk8s")
    header, row = r.stdout.splitlines()
    assert header.split() == ["Name", "Version", "Rev", "Tracking", "Publisher", "Notes"]
    assert row.split()[:4] == ["microk8s", "v1.33.3", "8205", "1.33/stable"]


async def test_microk8s_group_takes_effect_on_next_login(lab: Lab) -> None:
    for c in ("snap install microk8s --classic --channel=1.33/stable", "usermod -a -G microk8s thinkube"):
        cmd, pw = sudo(lab, c)
        assert (await run(lab, "tk-control", cmd, pw)).exit_status == 0
    async with connect(lab, "tk-control") as conn:
        r = await conn.run("microk8s status --format yaml")
        assert r.exit_status == 0 and "running: true" in r.stdout
    r = await run(lab, "tk-control", "microk8s enable hostpath-storage metallb:10.42.0.200-10.42.0.220")
    assert r.exit_status == 0 and "Addon hostpath-storage is enabled" in r.stdout
    r = await run(lab, "tk-control", "microk8s enable hostpath-storage")
    assert "Addon core/hostpath-storage is already enabled" in r.stdout
    assert lab.nodes["tk-control"].counters["addon-enable:hostpath-storage"] == 1
