"""5.2 MicroK8s workers: install, join with a fresh token, wait until Ready, labels and taints.

https://microk8s.io/docs/clustering: `microk8s add-node` on the control node makes a join
token; `microk8s join <ip>:25000/<token>/<check> --worker` on the worker uses it. The third
part is the control node's certificate fingerprint, printed by add-node: MicroK8s' join.py
verifies the control node only when the string carries it (and otherwise switches the check
off), so we always pass it. A failed join consumes the token, so every attempt makes a new one.
Tokens go to the nodes on stdin, never on a command line we send.
"""

from __future__ import annotations

import asyncio
import secrets

import yaml

from ..engine import InstallError
from ..spec import NodeSpec
from .base import InstallContext, concurrently
from .support.microk8s import ensure_snap, wait_ready
from .support.nodes import label_and_taint

TOKEN_TTL_S = 3600


async def install(ctx: InstallContext) -> None:
    if not ctx.workers:
        ctx.log("this cluster has no workers: nothing to do")
        return
    join_lock = asyncio.Lock()  # one join at a time: each changes the cluster's membership
    await concurrently(*(_worker(ctx, worker, join_lock) for worker in ctx.workers))


async def _worker(ctx: InstallContext, worker: NodeSpec, join_lock: asyncio.Lock) -> None:
    await ctx.step(f"{worker.name}: install the MicroK8s snap", lambda: ensure_snap(ctx, worker))
    await ctx.step(f"{worker.name}: wait until MicroK8s is ready", lambda: wait_ready(ctx, worker))
    async with join_lock:
        await ctx.step(f"{worker.name}: join the cluster", lambda: _join(ctx, worker))
    kube = await ctx.kube()
    await kube.wait_node_ready(ctx.hostname(worker), timeout=float(ctx.config["joinTimeoutSeconds"]))
    await ctx.step(f"{worker.name}: labels and taints", lambda: label_and_taint(ctx, worker))
    ctx.log(f"{worker.name}: Ready as node {ctx.hostname(worker)}")


async def _join(ctx: InstallContext, worker: NodeSpec) -> None:
    kube = await ctx.kube()
    if await kube.get("v1", "Node", ctx.hostname(worker)) is not None:
        ctx.log(f"{worker.name}: already a member of the cluster")
        return
    token = secrets.token_hex(16)
    ctx.cluster.secrets.register(token)
    added = await ctx.run(
        ctx.control,
        f'microk8s add-node --token-ttl {TOKEN_TTL_S} --format yaml --token "$(cat)"',
        sudo=True,
        input=token,
        timeout=120,
        quiet=True,
    )
    check = certificate_check(added.stdout, token)
    if check is None:
        raise InstallError(
            f"`microk8s add-node` on {ctx.control.name} printed no certificate fingerprint: a worker would "
            "join without verifying the control node. Check that MicroK8s there is 1.19 or newer",
            node=ctx.control.name,
        )
    url = f"{ctx.address(ctx.control)}:25000/{token}/{check}"  # on the address the worker reaches
    result = await ctx.run(worker, 'microk8s join "$(cat)" --worker', sudo=True, input=url, timeout=600, check=False)
    if not result.ok:
        raise InstallError(
            f"could not join the cluster at {ctx.address(ctx.control)}:25000. The control node must reach "
            f"{worker.name} by its hostname ({ctx.hostname(worker)}), and port 25000 must be open",
            node=worker.name,
            output_tail=ctx.cluster.secrets.mask(result.tail()),
        )


def certificate_check(add_node_output: str, token: str) -> str | None:
    """The control node's certificate fingerprint from `add-node --format yaml` (`token:
    <token>/<check>`), for the token we handed it; None when it printed none."""
    try:
        printed = yaml.safe_load(add_node_output)
    except yaml.YAMLError:
        return None
    value = printed.get("token") if isinstance(printed, dict) else None
    if not isinstance(value, str):
        return None
    given, _, check = value.partition("/")
    return check if given == token and check.isalnum() else None
