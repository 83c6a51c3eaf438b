"""Cordon and drain a node as `kubectl drain --ignore-daemonsets --delete-emptydir-data` does.

Cordon (`spec.unschedulable`), then evict every pod on the node through the Eviction API
(policy/v1), so that PodDisruptionBudgets are honoured: an eviction a budget refuses (429) is
tried again until the time is up, then the drain fails naming the pod. DaemonSet pods stay (their
controller would put them back) and so do mirror pods (the kubelet's own). Then wait until the
evicted pods are gone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from .kube import Kube, KubeError

RETRY_S = 5.0  # kubectl drain waits 5 s between evictions a disruption budget refused
MIRROR = "kubernetes.io/config.mirror"


class DrainError(Exception):
    pass


async def cordon(kube: Kube, node: str) -> None:
    await kube.merge_patch("v1", "Node", node, None, {"spec": {"unschedulable": True}})


async def uncordon(kube: Kube, node: str) -> None:
    await kube.merge_patch("v1", "Node", node, None, {"spec": {"unschedulable": None}})


def evictable(pod: Mapping[str, Any]) -> bool:
    meta = pod.get("metadata") or {}
    if MIRROR in (meta.get("annotations") or {}):
        return False
    return not any(ref.get("kind") == "DaemonSet" for ref in meta.get("ownerReferences") or [])


async def drain(
    kube: Kube,
    node: str,
    *,
    timeout: float = 600,
    log: Callable[[str], None] = lambda _line: None,
    clock: Callable[[], float] = time.monotonic,
    retry_s: float = RETRY_S,
) -> None:
    """Cordon `node` and evict its pods (see the module doc); DrainError when the time is up."""
    deadline = clock() + timeout
    await cordon(kube, node)
    pods = [p for p in await kube.list("v1", "Pod", field_selector=f"spec.nodeName={node}") if evictable(p)]
    log(f"{node}: cordoned; evicting {len(pods)} pods")
    for pod in pods:
        name, ns = pod["metadata"]["name"], pod["metadata"]["namespace"]
        while True:
            try:
                await kube.evict(name, ns)
                break
            except KubeError as exc:
                if "TooManyRequests" not in str(exc):
                    raise DrainError(f"could not evict pod {ns}/{name}: {exc}") from None
                if clock() + retry_s > deadline:
                    raise DrainError(
                        f"pod {ns}/{name} cannot be evicted: its PodDisruptionBudget allows no disruption "
                        f"({exc}). Scale its workload up or relax the budget, then run the same command again"
                    ) from None
                log(f"{node}: {ns}/{name}: a disruption budget holds it; trying again in {retry_s:g} s")
                await asyncio.sleep(retry_s)
        log(f"{node}: evicted {ns}/{name}")
    for pod in pods:
        name, ns = pod["metadata"]["name"], pod["metadata"]["namespace"]
        left = max(1.0, deadline - clock())
        await kube.wait_gone("v1", "Pod", name, ns, timeout=left, what=f"pod {ns}/{name}")
