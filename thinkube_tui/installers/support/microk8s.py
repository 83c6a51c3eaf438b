"""MicroK8s on a node: the snap, the group, readiness, addons — each checked before it is done.

Commands and flags from the MicroK8s documentation:
https://microk8s.io/docs/getting-started (snap install, status --wait-ready, the microk8s group),
https://microk8s.io/docs/command-reference (status --format yaml, enable, add-node, join, config),
https://microk8s.io/docs/clustering (add-node / join --worker, tokens, hostname resolution).
"""

from __future__ import annotations

from collections.abc import Iterable

import yaml

from ...engine import InstallError
from ...spec import NodeSpec
from ..base import InstallContext, quote

WAIT_READY_S = 600


async def snap_channel(ctx: InstallContext, node: NodeSpec) -> str | None:
    """The channel MicroK8s tracks on `node`, or None when it is not installed."""
    result = await ctx.run(node, "snap list microk8s", check=False, quiet=True, timeout=60)
    if not result.ok:
        return None
    # Name  Version  Rev  Tracking  Publisher  Notes
    for line in result.stdout.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 4 and cols[0] == "microk8s":
            return cols[3]
    return None


async def ensure_snap(ctx: InstallContext, node: NodeSpec) -> None:
    channel = ctx.spec.cluster.microk8s_channel
    current = await snap_channel(ctx, node)
    if current == channel:
        ctx.log(f"{node.name}: MicroK8s is already installed from {channel}")
        return
    if current is not None:
        raise InstallError(
            f"MicroK8s is installed from channel {current}, but the answers ask for {channel}. "
            f"Move it yourself (`sudo snap refresh microk8s --channel={channel}`) or set "
            f"cluster.microk8sChannel to {current}, then retry",
            node=node.name,
        )
    await ctx.run(node, f"snap install microk8s --classic --channel={quote(channel)}", sudo=True, timeout=900)


async def ensure_group(ctx: InstallContext, node: NodeSpec) -> None:
    """Let the SSH user run `microk8s` without sudo (takes effect at its next login)."""
    groups = await ctx.run(node, f"id -nG {quote(node.user)}", quiet=True, timeout=30)
    if "microk8s" in groups.stdout.split():
        return
    await ctx.run(node, f"usermod -a -G microk8s {quote(node.user)}", sudo=True, timeout=60)


async def wait_ready(ctx: InstallContext, node: NodeSpec) -> None:
    await ctx.run(
        node, f"microk8s status --wait-ready --timeout {WAIT_READY_S}", sudo=True, timeout=WAIT_READY_S + 60, quiet=True
    )


async def enabled_addons(ctx: InstallContext, node: NodeSpec) -> set[str]:
    result = await ctx.run(node, "microk8s status --format yaml", sudo=True, quiet=True, timeout=120)
    try:
        status = yaml.safe_load(result.stdout) or {}
    except yaml.YAMLError:
        raise InstallError(
            "could not read `microk8s status --format yaml`", node=node.name, output_tail=result.tail()
        ) from None
    return {
        str(a.get("name")) for a in status.get("addons", []) if isinstance(a, dict) and a.get("status") == "enabled"
    }


async def ensure_addon(ctx: InstallContext, node: NodeSpec, addon: str) -> None:
    """`microk8s enable ADDON[:ARGS]`, unless it is enabled already."""
    name = addon.split(":", 1)[0]
    if name in await enabled_addons(ctx, node):
        ctx.log(f"{node.name}: addon {name} is already enabled")
        return
    await ctx.run(node, f"microk8s enable {quote(addon)}", sudo=True, timeout=900)


async def snap_removed(ctx: InstallContext, node: NodeSpec) -> None:
    """`snap remove --purge microk8s` (no snapshot of its data kept) unless it is gone already."""
    if await snap_channel(ctx, node) is None:
        ctx.log(f"{node.name}: MicroK8s is not installed")
        return
    await ctx.run(node, "snap remove --purge microk8s", sudo=True, timeout=900)


async def hosts_entries_gone(ctx: InstallContext, node: NodeSpec, address: str, names: Iterable[str]) -> None:
    """Take the /etc/hosts lines the installers added (support/nodes.py, `ensure_hosts_entry`:
    exactly `<address> <name>`) out again; every other line stays as it is."""
    wanted = {(address, name) for name in names}
    current = await ctx.run(node, "cat /etc/hosts", check=False, quiet=True, timeout=60)
    lines = current.stdout.splitlines(keepends=True)
    kept = [line for line in lines if tuple(line.split()) not in wanted]
    if not current.ok or len(kept) == len(lines):
        return
    await ctx.run(node, "tee /etc/hosts > /dev/null", sudo=True, input="".join(kept), quiet=True, timeout=60)
    ctx.log(f"{node.name}: {len(lines) - len(kept)} /etc/hosts lines added for the platform removed")


async def refresh_to_channel(ctx: InstallContext, node: NodeSpec) -> None:
    """Upgrade MicroK8s on `node` to the answers' channel as https://microk8s.io/docs/upgrading
    says: drain it (when the cluster has other nodes to take its pods), `snap refresh`, wait
    until its Node is Ready again, uncordon. Each a journaled step: a run cut off resumes here."""
    from ...drain import DrainError, drain, uncordon

    channel = ctx.spec.cluster.microk8s_channel
    name = ctx.hostname(node)

    async def drained() -> None:
        if await snap_channel(ctx, node) == channel:
            return
        if len(ctx.spec.nodes) < 2:
            ctx.log(f"{node.name}: the only node: its pods wait for it (nowhere to move them)")
            return
        try:
            await drain(await ctx.kube(), name, log=ctx.log)
        except DrainError as exc:
            raise InstallError(str(exc), node=node.name) from None

    async def refresh() -> None:
        current = await snap_channel(ctx, node)
        if current == channel:
            ctx.log(f"{node.name}: MicroK8s already tracks {channel}")
            return
        await ctx.run(node, f"snap refresh microk8s --channel={quote(channel)}", sudo=True, timeout=1800)

    async def ready_again() -> None:
        kube = await ctx.kube()
        await kube.wait_node_ready(name, timeout=WAIT_READY_S)
        await uncordon(kube, name)

    await ctx.step(f"{node.name}: drain", drained)
    await ctx.step(f"{node.name}: refresh MicroK8s to {channel}", refresh)
    await ctx.step(f"{node.name}: Ready again, uncordoned", ready_again)
