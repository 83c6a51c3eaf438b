"""5.2 MicroK8s workers: install, join with a fresh token, wait until Ready, labels and taints.

https://microk8s.io/docs/clustering: `microk8s add-node` on the control node makes a join
token; `microk8s join <ip>:25000/<token>/<check> --worker` on the worker uses it. The third
part is the control node's certificate fingerprint, printed by add-node: MicroK8s' join.py
verifies the control node only when the string carries it (and otherwise switches the check
off), so we always pass it. Every attempt makes a new token (one that add-node made without a
TTL is used up by any join request, a failed one too). Tokens go to the nodes on stdin, never
on a command line we send.

Workers join side by side, at most JOIN_CONCURRENCY at a time. What MicroK8s serialises (read
in canonical/microk8s-cluster-agent, pkg/api/v2/join.go and pkg/snap/snap.go, and MicroK8s'
scripts/wrappers/join.py and add_token.py, 1.33):
- The cluster agent on the control node (:25000) is a Go HTTP server: join requests are served
  concurrently. Only short sections hold a mutex: the token check (cluster-tokens.txt), the
  dqlite section (the member list; on the cluster's first join, dqlite moved off 127.0.0.1 and
  restarted -- seconds, and other joins wait), the Calico section (the first join patches and
  applies the CNI manifest) and the two certificate-request tokens a worker then spends on
  `sign-cert` (kubelet, kube-proxy; single use). Nothing serialises whole joins.
- A worker's join is mostly work on the worker: CSRs, kubeconfigs, service restarts.
- `add-node` is a separate process appending to cluster-tokens.txt (one O_APPEND write, no lock
  shared with the agent). The agent rewrites that file only to remove a token made without a TTL;
  our tokens have one (TOKEN_TTL_S), so it never rewrites the file under a concurrent add-node.
  The flip side, as upstream documents for --token-ttl: such a token stays valid until it
  expires, not just for one join.
"""

from __future__ import annotations

import asyncio
import secrets

import yaml

from ..engine import InstallError
from ..spec import NodeSpec
from .base import InstallContext, concurrently, quote
from .support.microk8s import ensure_snap, snap_channel, snap_removed, wait_ready
from .support.nodes import label_and_taint

# A worker's join follows its add-node within seconds; the token stays valid (to anyone who
# reads it) only until it expires, so it expires soon: ten minutes covers a slow node.
TOKEN_TTL_S = 600
# Joins at once. MicroK8s takes more (see above). A join's part on the control node is small but
# not free: an `add-node` (a Python process, in one of the SshSettings.max_sessions (8) sessions
# of its connection, shared with whatever else runs there), one agent request, two CSR signings.
# Twice the sessions keeps those sessions busy -- one batch's add-nodes run while the previous
# batch joins on its workers -- without queueing more behind them; a 100-node install still
# does not register a hundred kubelets at once. (In the lab, 30 workers: 8 took four rounds of
# joins, about 1 s; 16 about half that.)
JOIN_CONCURRENCY = 16


async def install(ctx: InstallContext) -> None:
    if not ctx.workers:
        ctx.log("this cluster has no workers: nothing to do")
        return
    joins = asyncio.Semaphore(JOIN_CONCURRENCY)
    await concurrently(*(_worker(ctx, worker, joins) for worker in ctx.workers))


async def _worker(ctx: InstallContext, worker: NodeSpec, joins: asyncio.Semaphore) -> None:
    await ctx.step(f"{worker.name}: install the MicroK8s snap", lambda: ensure_snap(ctx, worker))
    await ctx.step(f"{worker.name}: wait until MicroK8s is ready", lambda: wait_ready(ctx, worker))
    async with joins:
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


async def uninstall(ctx: InstallContext) -> None:
    """Reset: each worker leaves the cluster (`microk8s leave`), the control node forgets it
    (`microk8s remove-node`), and MicroK8s is removed from it (https://microk8s.io/docs/clustering)."""
    if not ctx.workers:
        ctx.log("this cluster has no workers: nothing to do")
        return
    await concurrently(*(_leave(ctx, worker) for worker in ctx.workers))


async def _leave(ctx: InstallContext, worker: NodeSpec, *, reachable: bool = True) -> None:
    """`worker` leaves the cluster, the control node forgets it, MicroK8s goes from it; a worker
    that is not `reachable` (gone for good) is only forgotten (`remove-node --force`)."""
    name = ctx.hostname(worker)

    async def leave() -> None:
        if await snap_channel(ctx, worker) is not None:
            await ctx.run(worker, "microk8s leave", sudo=True, timeout=600)

    async def forget() -> None:
        if await snap_channel(ctx, ctx.control) is None:
            ctx.log(f"MicroK8s is gone from {ctx.control.name}: nothing remembers {name}")
            return
        force = "" if reachable else " --force"
        command = f"microk8s remove-node {quote(name)}{force}"
        result = await ctx.run(ctx.control, command, sudo=True, check=False, timeout=600)
        if not result.ok and "does not exist" not in result.stdout + result.stderr:
            raise InstallError(
                f"`{command}` failed with exit status {result.exit_status}",
                node=ctx.control.name,
                output_tail=result.tail(),
            )

    if reachable:
        await ctx.step(f"{worker.name}: leave the cluster", leave)
    await ctx.step(f"{worker.name}: forget it on the control node", forget)
    if reachable:
        await ctx.step(f"{worker.name}: remove MicroK8s", lambda: snap_removed(ctx, worker))


async def remove_worker(ctx: InstallContext, worker: NodeSpec, *, reachable: bool = True) -> None:
    """`thinkube-tui node remove`: drain the worker (its pods move to the other nodes, disruption
    budgets honoured), then as reset does for each worker."""
    from ..drain import DrainError, drain

    async def drained() -> None:
        kube = await ctx.kube()
        if await kube.get("v1", "Node", ctx.hostname(worker)) is None:
            ctx.log(f"{worker.name}: not a node of the cluster (any more)")
            return
        try:
            await drain(kube, ctx.hostname(worker), log=ctx.log, timeout=float(ctx.config["joinTimeoutSeconds"]))
        except DrainError as exc:
            raise InstallError(str(exc), node=worker.name) from None

    if reachable:
        await ctx.step(f"{worker.name}: drain", drained)
    await _leave(ctx, worker, reachable=reachable)
