"""What every simulated operator shares: the controllers' API over the Kube API emulator
(read, write only what differs, simulated delays), conditions and readiness, proxy backends.

Operators (one module each beside this one) read and write through a `ControllerApi`; the
dispatcher (`thinkube_lab.controllers.Controllers`) runs them and serves the API server proxy.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import ipaddress
import json
import os
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..kubeapi import KubeApiEmulator
from ..kubeapi_objects import ApiError, timestamp
from ..profiles import Profile

Obj = dict[str, Any]
STATE_FILE = "lab-controllers.json"
SIMULATED = {"thinkube-lab/simulated": "true"}

#: Simulated seconds at speed 1.0 (multiplied by the lab's speed, like nodestate.DURATIONS).
DELAYS: dict[str, float] = {
    "issuer": 0.5,
    "certificate": 1.5,
    "gpu-device-plugin": 2.0,
    "cnpg-cluster": 3.0,
    "cnpg-database": 0.5,
    "minio-tenant": 1.0,
    "keycloak": 2.0,
    "realm-import": 1.0,
    "generic": 1.0,
}

METALLB_API = "metallb.io/v1beta1"
CM_API = "cert-manager.io/v1"
CNPG_API = "postgresql.cnpg.io/v1"
MINIO_API = "minio.min.io/v2"
KEYCLOAK_API = "k8s.keycloak.org/v2alpha1"
LB_IPS = "metallb.universe.tf/loadBalancerIPs"
LB_POOL = "metallb.universe.tf/address-pool"
LB_SHARED = "metallb.universe.tf/allow-shared-ip"

# ============================================================================ helpers


def cond(
    old: Iterable[Mapping[str, Any]] | None,
    type_: str,
    status: str,
    reason: str,
    message: str = "",
    generation: int | None = None,
) -> Obj:
    """A condition, keeping lastTransitionTime when the status did not change."""
    prev = next((c for c in old or () if c.get("type") == type_), None)
    c: Obj = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": prev["lastTransitionTime"]
        if prev and prev.get("status") == status and prev.get("lastTransitionTime")
        else timestamp(),
    }
    if generation is not None:
        c["observedGeneration"] = generation
    return c


def has_condition(obj: Mapping[str, Any] | None, type_: str, status: str = "True") -> bool:
    return any(
        c.get("type") == type_ and c.get("status") == status
        for c in ((obj or {}).get("status") or {}).get("conditions") or []
    )


def workload_ready(obj: Mapping[str, Any] | None) -> bool:
    if obj is None:
        return False
    st, gen = obj.get("status") or {}, obj["metadata"].get("generation")
    if st.get("observedGeneration") != gen:
        return False
    if obj["kind"] == "DaemonSet":
        return st.get("numberReady", 0) >= st.get("desiredNumberScheduled", 0)
    return st.get("readyReplicas", 0) >= (obj.get("spec") or {}).get("replicas", 1)


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def pem(kind: str, lines: list[str]) -> str:
    text = "\n".join(["THINKUBE-LAB SIMULATED " + kind + " -- NOT REAL CRYPTOGRAPHIC MATERIAL", *lines])
    b64 = base64.b64encode(text.encode()).decode()
    body = "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def addresses(pool: Mapping[str, Any]) -> list[tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]]:
    out = []
    for entry in (pool.get("spec") or {}).get("addresses") or []:
        entry = str(entry).strip()
        try:
            if "-" in entry:
                a, b = (ipaddress.IPv4Address(x.strip()) for x in entry.split("-", 1))
            else:
                net = ipaddress.IPv4Network(entry, strict=False)
                a, b = net[0], net[-1]
        except ValueError:
            continue
        out.append((a, b))
    return out


def in_pool(ip: str, pool: Mapping[str, Any]) -> bool:
    try:
        addr = ipaddress.IPv4Address(ip)
    except ValueError:
        return False
    return any(a <= addr <= b for a, b in addresses(pool))


# ============================================================================ proxy backends


@dataclass
class ProxyRequest:
    namespace: str
    kind: str  # "pods" or "services"
    name: str  # the pod, or for services the pod the Service's endpoint picked
    service: str | None
    port: int | None
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: Any


Handler = Callable[[ProxyRequest], Awaitable[tuple[int, Any]]]


@dataclass
class Backend:
    """Something answering HTTP behind pods (or Services) in the lab."""

    namespace: str | None  # None: any namespace
    kind: str  # "pods" or "services"
    pattern: re.Pattern[str]
    port: int | None
    handler: Handler
    applies: Callable[[str, str], bool] | None = None  # (namespace, name) -> is it really this backend?

    def matches(self, namespace: str, kind: str, name: str, port: int | None) -> bool:
        return (
            (self.namespace is None or self.namespace == namespace)
            and self.kind == kind
            and self.pattern.fullmatch(name) is not None
            and (self.port is None or self.port == port)
            and (self.applies is None or self.applies(namespace, name))
        )


# ============================================================================ what operators read of the lab


class LabNodeView(Protocol):
    profile: Profile


class LabView(Protocol):
    """The parts of the lab (`thinkube_lab.cluster.Lab`) the simulated operators read."""

    kube: KubeApiEmulator
    state_dir: Path
    speed: float
    releases: dict[str, dict[str, Any]]

    @property
    def nodes(self) -> Mapping[str, LabNodeView]: ...

    def log(self, message: str) -> None: ...


# ============================================================================ the controllers' API


class ControllerApi:
    """Reading and writing the emulator for the operators, the controllers' state file, and
    simulated delays: `after` schedules a reconcile pass (`poke`) when a delay is over."""

    def __init__(self, lab: LabView) -> None:
        self.lab = lab
        self.kube = lab.kube
        self.state_file: Path = lab.state_dir / STATE_FILE
        self.state: dict[str, Any] = {}
        self.backends: list[Backend] = []
        self._scheduled = False
        self._due: dict[str, float] = {}
        self._timer_for: dict[str, asyncio.TimerHandle] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def save(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds Vault's simulated keys
        with os.fdopen(fd, "w") as f:
            json.dump(self.state, f, indent=1, sort_keys=True)
        os.replace(tmp, self.state_file)

    # -- scheduling

    def poke(self) -> None:
        """Run one reconcile pass soon (coalesced)."""
        if self._scheduled or self._loop is None:
            return
        self._scheduled = True
        self._loop.call_soon(self._run)

    def _run(self) -> None:
        self._scheduled = False
        if self._loop is not None:
            self.reconcile()

    def reconcile(self) -> None:
        """One pass of every simulated operator (the dispatcher's job)."""
        raise NotImplementedError

    def after(self, key: str, what: str) -> bool:
        """Whether the simulated delay `what` for `key` has passed (first asked: it starts now)."""
        assert self._loop is not None
        now = self._loop.time()
        due = self._due.setdefault(key, now + DELAYS[what] * self.lab.speed)
        if now >= due:
            self._timer_for.pop(key, None)
            return True
        if key not in self._timer_for:
            handle = self._loop.call_later(due - now + 0.001, self._fire, key)
            self._timer_for[key] = handle
        return False

    def _fire(self, key: str) -> None:
        self._timer_for.pop(key, None)
        self.poke()

    # -- reading and writing the emulator

    def list(self, api_version: str, kind: str, namespace: str | None = None) -> list[Obj]:
        try:
            return self.kube.list(api_version, kind, namespace)
        except ApiError:
            return []  # the kind is not served (its CRD is not installed)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        try:
            return self.kube.get(api_version, kind, name, namespace)
        except ApiError:
            return None

    def set_status(self, obj: Obj, status: Obj, manager: str, *, replace: bool = False) -> None:
        """Write `status` (merged over the current one, or replacing it) when it differs."""
        current = obj.get("status") or {}
        new = dict(status) if replace else {**current, **status}
        if new == current:
            return
        updated = copy.deepcopy(obj)
        updated["status"] = new
        self.kube.put(updated, manager=manager)

    def ensure(self, obj: Obj, manager: str) -> Obj:
        """Create `obj`, or update it when the fields it sets differ from the live ones."""
        meta = obj["metadata"]
        live = self.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        if live is not None and _contains(live, obj):
            return live
        if live is not None:
            merged = copy.deepcopy(live)
            for k, v in obj.items():
                if k == "metadata":
                    for mk, mv in v.items():
                        merged["metadata"][mk] = (
                            {**(merged["metadata"].get(mk) or {}), **mv} if isinstance(mv, dict) else mv
                        )
                elif k != "status":
                    merged[k] = v
            merged.pop("status", None)
            obj = merged
        labels = obj["metadata"].setdefault("labels", {})
        labels.update(SIMULATED)
        return self.kube.put(obj, manager=manager)

    def releases(self, chart: str) -> list[dict[str, Any]]:
        return [r for r in self.lab.releases.values() if r.get("chart_name") == chart]

    def release_ready(self, chart: str, namespace: str | None = None) -> dict[str, Any] | None:
        """A deployed release of `chart` (in `namespace`) whose workloads are all rolled out."""
        for r in self.releases(chart):
            if namespace is not None and r["namespace"] != namespace:
                continue
            if r.get("status") != "deployed":
                continue
            refs = r.get("objects") or [["apps/v1", k, n, r["namespace"]] for k, n in r.get("workloads", [])]
            if all(
                workload_ready(self.get(a, k, n, ns or None))
                for a, k, n, ns in refs
                if k in ("Deployment", "StatefulSet", "DaemonSet")
            ):
                return r
        return None


def _contains(have: Any, want: Any) -> bool:
    if isinstance(want, Mapping):
        return isinstance(have, Mapping) and all(
            k in have and _contains(have[k], v) for k, v in want.items() if k != "status"
        )
    if isinstance(want, list):
        return (
            isinstance(have, list)
            and len(have) == len(want)
            and all(_contains(h, w) for h, w in zip(have, want, strict=True))
        )
    return bool(have == want)


def go_duration(text: str) -> float:
    total = 0.0
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)(h|m|s)", str(text)):
        total += float(num) * {"h": 3600, "m": 60, "s": 1}[unit]
    return total or 90 * 24 * 3600


def selected_workloads(lab: LabView, svc: Obj) -> list[Obj]:
    """The Deployments / StatefulSets / DaemonSets whose pod template labels a Service selects.

    Approximation (the lab has no Pods): a Service selects a workload when its selector is a
    subset of the workload's pod template labels; a Service without a selector, or selecting
    nothing, is matched to a workload of the same name (or its name without a `-service` /
    `-svc` suffix)."""
    ns = svc["metadata"]["namespace"]
    selector = (svc.get("spec") or {}).get("selector") or {}
    workloads = [w for kind in ("Deployment", "StatefulSet", "DaemonSet") for w in lab.kube.list("apps/v1", kind, ns)]
    found = [
        w
        for w in workloads
        if selects(selector, (((w.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {})
    ]
    if not found:
        name = svc["metadata"]["name"]
        names = {name, re.sub(r"-(service|svc)$", "", name)}
        found = [w for w in workloads if w["metadata"]["name"] in names]
    return found


def service_ready(lab: LabView, svc: Obj) -> bool:
    return any(workload_ready(w) for w in selected_workloads(lab, svc))
