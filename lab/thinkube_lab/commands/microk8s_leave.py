"""`microk8s leave` on a worker and `microk8s remove-node NAME` on the control node, simulated.

As MicroK8s documents clustering (https://microk8s.io/docs/clustering): a node leaves with
`microk8s leave` (it goes back to a cluster of its own) and the control node then forgets it
with `microk8s remove-node NAME` (`--force` for a node that cannot leave, being gone). Until
then the control node keeps the node's Node object, NotReady.
"""

from __future__ import annotations

import copy

from ..shell import Ctx


async def leave(ctx: Ctx, args: list[str]) -> int:
    node, m = ctx.node, ctx.node.microk8s
    if not ctx.is_root:
        ctx.err("Elevated permissions are needed for this command. Please use sudo.")
        return 1
    if m.role != "worker":
        ctx.out("This node is not part of a cluster: nothing to leave.\n")
        return 0
    ctx.out("Generating new cluster certificates.\nWaiting for node to start.\n")
    await ctx.sleep("join")
    m.role, m.joined_to = None, None
    node.counters["leave"] += 1
    lab = node.lab
    if lab is not None and (current := lab.kube.get("v1", "Node", node.name)) is not None:
        left = copy.deepcopy(current)
        for condition in left["status"]["conditions"]:
            if condition["type"] == "Ready":
                condition.update(
                    status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status."
                )
        lab.kube.put(left, manager="kube-controller-manager", schema=False)
        lab.changed()
    node.refresh()
    node.changed()
    return 0


async def remove_node(ctx: Ctx, args: list[str]) -> int:
    node, m, lab = ctx.node, ctx.node.microk8s, ctx.node.lab
    names = [a for a in args if not a.startswith("-")]
    if not ctx.is_root:
        ctx.err("Elevated permissions are needed for this command. Please use sudo.")
        return 1
    if m.role == "worker":
        ctx.out("This MicroK8s deployment is acting as a node in a cluster. Please use the master node.\n")
        return 1
    if len(names) != 1:
        ctx.err("Usage: microk8s remove-node [OPTIONS] NODE")
        return 2
    name = names[0]
    if lab is None or lab.kube.get("v1", "Node", name) is None:
        ctx.out(f"Node {name} does not exist in Kubernetes.\n")
        return 1
    await ctx.sleep("join")
    lab.kube.delete_node(name)  # a worker still running would register again (the lab's does not)
    node.counters[f"remove-node:{name}"] += 1
    lab.changed()
    return 0
