"""Labels and taints of cluster nodes: thinkube's own, discovery's GPU label, the operator's."""

from __future__ import annotations

from typing import Any

from ...spec import NodeSpec
from ..base import InstallContext, quote


def node_labels(ctx: InstallContext, node: NodeSpec) -> dict[str, str]:
    labels: dict[str, str] = {"thinkube.io/role": node.role}
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
    missing = [
        t for t in wanted if not any(e.get("key") == t["key"] and e.get("effect") == t["effect"] for e in existing)
    ]
    if missing:
        # Taints are one list shared with Kubernetes' own controllers: add ours, keep theirs.
        await kube.merge_patch("v1", "Node", name, None, {"spec": {"taints": existing + missing}})
        ctx.log(f"{node.name}: taints {', '.join(node.taints)}")


async def ensure_hosts_entry(ctx: InstallContext, node: NodeSpec, name: str, address: str) -> None:
    """Make `name` resolve on `node` (to `address`, via /etc/hosts) unless it resolves already."""
    found = await ctx.run(node, f"getent hosts {quote(name)}", check=False, quiet=True, timeout=60)
    if found.ok and found.stdout.strip():
        ctx.log(f"{node.name}: {name} resolves to {found.stdout.split()[0]}")
        return
    line = f"{address} {name}"
    await ctx.run(node, f"printf '%s\\n' {quote(line)} >> /etc/hosts", sudo=True, timeout=60)
    ctx.log(f"{node.name}: {name} did not resolve; added `{line}` to /etc/hosts")


async def ensure_root_file(ctx: InstallContext, node: NodeSpec, path: str, content: str) -> bool:
    """Write `content` to `path` (root-owned) on `node` unless it holds it already; True when written.

    The content goes on stdin to `sudo tee`, never on a command line.
    """
    current = await ctx.run(node, f"cat {quote(path)}", sudo=True, check=False, quiet=True, timeout=60)
    if current.ok and current.stdout == content:
        return False
    directory = path.rsplit("/", 1)[0]
    await ctx.run(node, f"mkdir -p {quote(directory)}", sudo=True, quiet=True, timeout=60)
    await ctx.run(node, f"tee {quote(path)} > /dev/null", sudo=True, input=content, quiet=True, timeout=60)
    ctx.log(f"{node.name}: wrote {path}")
    return True
