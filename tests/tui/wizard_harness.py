"""Shared pieces of the wizard's Pilot and snapshot tests: a lab, fake installers, form filling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from thinkube_tui.catalog import load_catalog
from thinkube_tui.engine import InstallError

LAB_CLUSTER = {
    "name": "thinkube-lab",
    "domain": "thinkube-lab.lan",
    "adminEmail": "admin@thinkube-lab.lan",
    "metallbRange": "10.42.0.200-10.42.0.220",
    "ingressIP": "10.42.0.200",
    "ingressKnIP": "10.42.0.201",
}


def fake_installers(fail: Iterable[str] = (), fail_times: int = 1) -> dict[str, Any]:
    """An installer per catalog component that logs and finishes one journaled step; those in
    `fail` raise the first `fail_times` times they run."""
    failures = dict.fromkeys(fail, fail_times)

    def make(cid: str) -> Any:
        async def install(ctx: Any) -> None:
            ctx.log(f"installing {cid} (fake installer)")
            if failures.get(cid, 0) > 0:
                failures[cid] -= 1
                raise InstallError(
                    f"{cid}: simulated failure",
                    node=ctx.spec.control.name,
                    output_tail="error: the chart did not become ready",
                )

            async def apply() -> None:
                await asyncio.sleep(0)
                ctx.log(f"{cid} applied")

            await ctx.step("apply", apply)

        return install

    return {c.id: make(c.id) for c in load_catalog()}


async def wait_until(pilot: Any, predicate: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Let the app run until `predicate()` holds (message-driven pauses, bounded)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.02)


def lab_known_hosts_without(lab: Any, path: Path, unknown: str) -> Path:
    """The lab's known-hosts lines except `unknown`'s, so that node's key is asked about."""
    port = lab.addresses()[unknown]["port"]
    lines = [s.known_hosts_line() for s in lab.servers.values()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines if not line.startswith(f"[127.0.0.1]:{port} ")))
    path.chmod(0o600)
    return path


# ---------------------------------------------------------------- fixed data for snapshots

GPU_SMI = (
    "0, NVIDIA H100 80GB HBM3, GPU-00000000-0000-0000-0000-000000000000, 81559, 590.48.01, 9.0, Disabled, "
    "00000000:00:09.0, 0x233010DE"
)
GPU_LSPCI = (
    "0000:00:09.0 3D controller [0302]: NVIDIA Corporation GH100 [H100 SXM5 80GB] [10de:2330] (rev a1)\n"
    "\tKernel driver in use: nvidia"
)


def snapshot_model(*, discovered: bool = True, with_cluster: bool = True) -> Any:
    """A model with three nodes (one with an H100), discovered, ready for any screen."""
    from tests.discovery.helpers import probe_output, ubuntu_sections
    from thinkube_tui.discovery import parse_probe_output
    from thinkube_tui.preflight import Finding
    from thinkube_tui.wizard import NodeDraft, WizardModel

    model = WizardModel()
    for i, name in enumerate(("tk-control", "tk-worker-1", "tk-gpu-1")):
        model.add_node(
            NodeDraft(name, f"10.42.0.{11 + i}", "thinkube", auth_method="key", key_file="~/.ssh/id_ed25519")
        )
        if discovered:
            sections = ubuntu_sections(hostname=name, address=f"10.42.0.{11 + i}")
            if "gpu" in name:
                sections.update({"lspci": GPU_LSPCI, "nvidia_smi_csv": GPU_SMI})
            model.facts[name] = parse_probe_output(name, probe_output(sections))
    if discovered:
        model.findings = [
            Finding(
                "ram",
                "warning",
                "tk-worker-1",
                "tk-worker-1 has 62 GiB of RAM; 64 GiB is recommended for the full platform",
                "Add memory, or install fewer components.",
            )
        ]
    if with_cluster:
        model.set_cluster_settings({k: v for k, v in LAB_CLUSTER.items()})
    return model


def blocking_installers(fail: str, hang: str) -> dict[str, Any]:
    """Fake installers where `fail` fails and `hang` never finishes (an install caught mid-run)."""
    installers = fake_installers(fail=[fail], fail_times=99)

    async def never(ctx: Any) -> None:
        ctx.log(f"waiting for {hang}'s pods to become ready…")
        await asyncio.Event().wait()

    installers[hang] = never
    return installers
