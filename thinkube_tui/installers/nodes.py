"""Labels and taints of cluster nodes: thinkube's own, discovery's GPU label, the operator's."""

from __future__ import annotations

from typing import Any

from ..spec import NodeSpec
from .base import InstallContext


def node_labels(ctx: InstallContext, node: NodeSpec) -> dict[str, str]:
    labels = {"thinkube.io/role": node.role}
    if node.role == "worker":
        labels["node-role.kubernetes.io/worker"] = ""
    if ctx.facts(node).gpus:
        labels["nvidia.com/gpu.present"] = "true"  # lets the GPU operator find its nodes
    labels.update(node.labels)
    return labels


def parse_taint(text: str) -> dict[str, str]:
    """`key[=value]:Effect` as in `kubectl taint`."""
    key_value, _, effect = text.rpartition(":")
    key, _, value = key_value.partition("=")
    taint = {"key": key, "effect": effect}
    if value:
        taint["value"] = value
    return taint


async def label_and_taint(ctx: InstallContext, node: NodeSpec) -> None:
    kube = await ctx.kube()
    name = ctx.hostname(node)
    labels = node_labels(ctx, node)
    await kube.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}})
    ctx.log(f"{node.name}: labels {', '.join(f'{k}={v}' for k, v in sorted(labels.items()))}")
    wanted = [parse_taint(t) for t in node.taints]
    if not wanted:
        return
    current = await kube.get("v1", "Node", name)
    existing: list[dict[str, Any]] = list((current or {}).get("spec", {}).get("taints", []))
    missing = [t for t in wanted if not any(e.get("key") == t["key"] and e.get("effect") == t["effect"]
                                            for e in existing)]
    if missing:
        # Taints are one list shared with Kubernetes' own controllers: add ours, keep theirs.
        await kube.merge_patch("v1", "Node", name, None, {"spec": {"taints": existing + missing}})
        ctx.log(f"{node.name}: taints {', '.join(node.taints)}")
