"""MetalLB: LoadBalancer Services get `status.loadBalancer.ingress` from an IPAddressPool
(the address in `metallb.universe.tf/loadBalancerIPs`, else the next free one)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from .base import (
    LB_IPS,
    LB_POOL,
    LB_SHARED,
    METALLB_API,
    ControllerApi,
    Obj,
    addresses,
    in_pool,
    workload_ready,
)


def reconcile(ctl: ControllerApi) -> None:
    pools = ctl.list(METALLB_API, "IPAddressPool")
    if not pools or not workload_ready(ctl.get("apps/v1", "Deployment", "controller", "metallb-system")):
        return
    services = [s for s in ctl.list("v1", "Service") if (s.get("spec") or {}).get("type") == "LoadBalancer"]
    used: dict[str, str] = {}
    for s in services:
        for ing in ((s.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
            if ing.get("ip"):
                used.setdefault(ing["ip"], f"{s['metadata']['namespace']}/{s['metadata']['name']}")
    for s in services:
        meta = s["metadata"]
        me = f"{meta['namespace']}/{meta['name']}"
        ann = meta.get("annotations") or {}
        wanted = [ip.strip() for ip in str(ann.get(LB_IPS, "")).split(",") if ip.strip()]
        if not wanted and (s.get("spec") or {}).get("loadBalancerIP"):
            wanted = [s["spec"]["loadBalancerIP"]]
        candidates = [p for p in pools if not ann.get(LB_POOL) or p["metadata"]["name"] == ann[LB_POOL]]
        current = [i.get("ip") for i in ((s.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []]
        ip: str | None = None
        if wanted:
            ip = wanted[0]
            holder = used.get(ip)
            taken = holder not in (None, me) and not ann.get(LB_SHARED)
            if taken or not any(in_pool(ip, p) for p in candidates):
                ip = None  # MetalLB: AllocationFailed (not in a pool, or taken); the Service stays pending
        elif current and current[0] and any(in_pool(current[0], p) for p in candidates):
            ip = current[0]
        else:
            ip = _next_free(candidates, used)
        if ip is None and not current:
            continue
        ingress = [{"ip": ip, "ipMode": "VIP"}] if ip else []
        if current != ([ip] if ip else []):
            if ip:
                used[ip] = me
            ctl.set_status(s, {"loadBalancer": {"ingress": ingress} if ingress else {}}, "metallb-controller")


def _next_free(pools: list[Obj], used: Mapping[str, str]) -> str | None:
    for pool in pools:
        if (pool.get("spec") or {}).get("autoAssign") is False:
            continue
        for a, b in addresses(pool):
            for n in range(int(a), int(b) + 1):
                ip = str(ipaddress.IPv4Address(n))
                if ip not in used:
                    return ip
    return None
