"""`microk8s inspect` on a simulated node.

As MicroK8s' inspect script does: root only ("Elevated permissions are needed for this
command. Please use sudo."), a progress line per step, each service's state, then a gzipped
tar of an `inspection-report/` directory written to `$SNAP_DATA/../<revision>/` and named
by the time, its path printed as "Report tarball is at PATH". The report holds what the lab
knows: each service's state and journal, the args files, snap and OS facts and the cluster's
nodes and workloads. The tarball is binary, stored byte for byte on the node's disk.
"""

from __future__ import annotations

import io
import json
import tarfile
import time

from ..shell import Ctx
from ..snapdata import ARGS

SERVICES = (
    "snap.microk8s.daemon-cluster-agent",
    "snap.microk8s.daemon-containerd",
    "snap.microk8s.daemon-kubelite",
    "snap.microk8s.daemon-k8s-dqlite",
    "snap.microk8s.daemon-apiserver-kicker",
)
WORKER_SERVICES = SERVICES[:3]  # a worker runs no datastore and no kicker


async def inspect(ctx: Ctx, args: list[str]) -> int:
    if not ctx.is_root:
        ctx.err("Elevated permissions are needed for this command. Please use sudo.")
        return 1
    node, m = ctx.node, ctx.node.microk8s
    files: dict[str, str] = {}
    ctx.out("Inspecting system\nInspecting Certificates\nInspecting services\n")
    for service in WORKER_SERVICES if m.role == "worker" else SERVICES:
        state = "running" if m.running else "not running"
        ctx.out(f"  Service {service} is {state}\n")
        active = "active (running)" if m.running else "inactive (dead)"
        files[f"{service}/systemctl.log"] = f"● {service}.service\n     Active: {active}\n"
        files[f"{service}/journal.log"] = f"-- {service} on {node.name} (simulated by thinkube-lab) --\n"
    ctx.out("  Copy service arguments to the final report tarball\n")
    for name in await node.fs.listdir(ARGS):
        text = await node.fs.read(f"{ARGS}/{name}")
        if text is not None:
            files[f"args/{name}"] = text
    ctx.out("Gathering system information\n")
    for what in ("processes list", "disk usage information", "memory usage information", "snap list"):
        ctx.out(f"  Copy {what} to the final report tarball\n")
    files["sys/snap-list"] = (
        "Name      Version  Rev   Tracking  Publisher  Notes\n"
        f"microk8s  {m.version}  {m.revision}  {m.channel}  canonical✓  classic\n"
    )
    files["sys/meminfo"] = (await node.fs.read("/proc/meminfo")) or ""
    if node.lab is not None and m.role != "worker" and m.running:
        ctx.out("Inspecting kubernetes cluster\n  Inspect kubernetes cluster\n")
        kube = node.lab.kube
        files["k8s/nodes.json"] = json.dumps(kube.list("v1", "Node"), indent=1)
        workloads = [o for kind in ("Deployment", "StatefulSet", "DaemonSet") for o in kube.list("apps/v1", kind)]
        files["k8s/workloads.json"] = json.dumps(workloads, indent=1)
    ctx.out("\nBuilding the report tarball\n")
    now = time.strftime("%Y%m%d_%H%M%S")
    path = f"/var/snap/microk8s/{m.revision}/inspection-report-{now}.tar.gz"
    await node.fs.write_bytes(path, report(files))
    ctx.out(f"  Report tarball is at {path}\n")
    return 0


def report(files: dict[str, str]) -> bytes:
    """The files under `inspection-report/`, as a tar.gz."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"inspection-report/{name}")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
