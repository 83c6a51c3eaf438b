"""5.1 MicroK8s control plane: the snap, the microk8s group, readiness, core addons, API access."""

from __future__ import annotations

from functools import partial

from .base import InstallContext
from .support.microk8s import (
    ensure_addon,
    ensure_group,
    ensure_snap,
    hosts_entries_gone,
    snap_channel,
    snap_removed,
    wait_ready,
)
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


async def uninstall(ctx: InstallContext) -> None:
    """Reset, once the workers are gone: `microk8s reset --destroy-storage` takes every
    component's objects and data away (MicroK8s refuses it while other nodes are joined), the
    /etc/hosts lines the installers added go from every node, then the snap itself."""
    control = ctx.control

    async def reset() -> None:
        if await snap_channel(ctx, control) is not None:
            await ctx.run(control, "microk8s reset --destroy-storage", sudo=True, timeout=1800)

    names = [h.format(domain=ctx.spec.cluster.domain) for c in ctx.cluster.catalog for h in c.hostnames]
    await ctx.step("reset MicroK8s (every component's objects and data)", reset)
    for node in ctx.spec.nodes:
        await ctx.step(
            f"{node.name}: the platform's /etc/hosts lines",
            partial(hosts_entries_gone, ctx, node, ctx.spec.cluster.ingress_ip, names),
        )
    await ctx.step("remove MicroK8s", lambda: snap_removed(ctx, control))
