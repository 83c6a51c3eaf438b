"""5.1 MicroK8s control plane: the snap, the microk8s group, readiness, core addons, API access."""

from __future__ import annotations

from functools import partial

from .base import InstallContext
from .support.microk8s import ensure_addon, ensure_group, ensure_snap, wait_ready
from .support.nodes import label_and_taint

CORE_ADDONS = ("dns", "hostpath-storage", "helm3")  # metallb:<range> belongs to the metallb component


async def install(ctx: InstallContext) -> None:
    node = ctx.control
    await ctx.step("install the MicroK8s snap", lambda: ensure_snap(ctx, node))
    await ctx.step("add the SSH user to the microk8s group", lambda: ensure_group(ctx, node))
    await ctx.step("wait until MicroK8s is ready", lambda: wait_ready(ctx, node))
    addons: list[str] = [*CORE_ADDONS, *ctx.config["extraAddons"]]
    for addon in addons:
        await ctx.step(f"enable {addon}", partial(ensure_addon, ctx, node, addon))
    # Verify from this machine, through the kubeconfig `microk8s config` gives (whose server is
    # the node's own address): the API server is reachable and the node is Ready.
    kube = await ctx.kube()
    await ctx.step("label the control node", lambda: label_and_taint(ctx, node))
    await kube.wait_node_ready(ctx.hostname(node), timeout=600)
    ctx.log(f"API server reachable; node {ctx.hostname(node)} is Ready")
