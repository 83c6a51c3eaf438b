"""Simulated controllers and operators of the lab: what real controllers would write back.

The lab runs no containers, so nothing would ever fill in a LoadBalancer's address, issue a
certificate, report a PostgreSQL cluster ready or answer Vault's API. These controllers do,
from the objects in the Kube API emulator, after simulated delays (scaled by the lab's
`speed`), and only once the operator that would do it runs (its Helm release rolled out):

- MetalLB: LoadBalancer Services get `status.loadBalancer.ingress` from an IPAddressPool
  (the address in `metallb.universe.tf/loadBalancerIPs`, else the next free one).
- cert-manager: Issuers / ClusterIssuers (selfSigned, ca) and Certificates turn Ready; each
  Certificate gets its `kubernetes.io/tls` Secret with FAKE PEM blocks that say they are
  lab stand-ins. ACME issuers stay not Ready: the lab has no internet.
- NVIDIA GPU Operator: GPU nodes advertise `nvidia.com/gpu` (x time-slicing replicas).
- CloudNativePG: Cluster readiness and managed roles; Database `applied`.
- MinIO Operator: a Tenant's pool StatefulSets and Services, then `Initialized`.
- Keycloak Operator: a Keycloak's StatefulSet and Service, then `Ready`; realm imports `Done`.
- Generic: CR kinds in `GENERIC_STATUS` get their status after a delay.
- The API server proxy (`/api/v1/namespaces/NS/{pods|services}/NAME:PORT/proxy/...`) dispatches
  to simulated backends registered in `Controllers.backends`; Vault's is built in.

Controllers react to the emulator's change notifications (`KubeApiEmulator.listeners`): every
change schedules one reconcile pass (coalesced) on the event loop. Each reconciler is level-based
and idempotent, and writes only what differs, so a pass that changes nothing ends the chain.
It is a simulator: every object it creates says so (`thinkube-lab/simulated: "true"`).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import ipaddress
import json
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from aiohttp import web

from .kubeapi_objects import ApiError, node_ready, timestamp

if TYPE_CHECKING:
    import asyncio

    from .cluster import Lab

Obj = dict[str, Any]
STATE_FILE = "lab-controllers.json"
SIMULATED = {"thinkube-lab/simulated": "true"}

#: Simulated seconds at speed 1.0 (multiplied by the lab's speed, like node.DURATIONS).
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


def _pem(kind: str, lines: list[str]) -> str:
    text = "\n".join(["THINKUBE-LAB SIMULATED " + kind + " -- NOT REAL CRYPTOGRAPHIC MATERIAL", *lines])
    b64 = base64.b64encode(text.encode()).decode()
    body = "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _addresses(pool: Mapping[str, Any]) -> list[tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]]:
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


def _in_pool(ip: str, pool: Mapping[str, Any]) -> bool:
    try:
        addr = ipaddress.IPv4Address(ip)
    except ValueError:
        return False
    return any(a <= addr <= b for a, b in _addresses(pool))


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


# ============================================================================ the controllers


class Controllers:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.kube = lab.kube
        self.state_file: Path = lab.state_dir / STATE_FILE
        self.state: dict[str, Any] = {}
        self.backends: list[Backend] = []
        self._scheduled = False
        self._due: dict[str, float] = {}
        self._timer_for: dict[str, asyncio.TimerHandle] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.vault = VaultBackend(self)

    # -- lifecycle

    def start(self) -> None:
        import asyncio

        self._loop = asyncio.get_running_loop()
        try:
            self.state = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
        except ValueError as exc:
            raise RuntimeError(f"thinkube-lab: {self.state_file} is not valid JSON: {exc}") from None
        self.kube.listeners.append(self._on_event)
        self.kube.proxy = self.handle_proxy
        self.vault.register()
        self.poke()

    def stop(self) -> None:
        if self._on_event in self.kube.listeners:
            self.kube.listeners.remove(self._on_event)
        self.kube.proxy = None
        for t in self._timer_for.values():
            t.cancel()
        self._timer_for.clear()
        self._loop = None

    def save(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds Vault's simulated keys
        with os.fdopen(fd, "w") as f:
            json.dump(self.state, f, indent=1, sort_keys=True)
        os.replace(tmp, self.state_file)

    # -- scheduling

    def _on_event(self, rt: Any, kind: str, obj: Obj, old: Obj | None) -> None:
        self.poke()

    def poke(self) -> None:
        if self._scheduled or self._loop is None:
            return
        self._scheduled = True
        self._loop.call_soon(self._run)

    def _run(self) -> None:
        self._scheduled = False
        if self._loop is None:
            return
        for reconcile in (
            self._loadbalancers,
            self._cert_manager,
            self._gpu_operator,
            self._cnpg,
            self._minio,
            self._keycloak,
            self._argocd,
            self._generic,
        ):
            try:
                reconcile()
            except Exception as exc:  # a bug here must not take the lab down; say it loudly
                self.lab.log(
                    f"thinkube-lab: simulated controller {reconcile.__name__.strip('_')} failed: "
                    f"{type(exc).__name__}: {exc}"
                )

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

    # ------------------------------------------------------------------ MetalLB

    def _loadbalancers(self) -> None:
        pools = self.list(METALLB_API, "IPAddressPool")
        if not pools or not workload_ready(self.get("apps/v1", "Deployment", "controller", "metallb-system")):
            return
        services = [s for s in self.list("v1", "Service") if (s.get("spec") or {}).get("type") == "LoadBalancer"]
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
                if taken or not any(_in_pool(ip, p) for p in candidates):
                    ip = None  # MetalLB: AllocationFailed (not in a pool, or taken); the Service stays pending
            elif current and current[0] and any(_in_pool(current[0], p) for p in candidates):
                ip = current[0]
            else:
                ip = self._next_free(candidates, used)
            if ip is None and not current:
                continue
            ingress = [{"ip": ip, "ipMode": "VIP"}] if ip else []
            if current != ([ip] if ip else []):
                if ip:
                    used[ip] = me
                self.set_status(s, {"loadBalancer": {"ingress": ingress} if ingress else {}}, "metallb-controller")

    @staticmethod
    def _next_free(pools: list[Obj], used: Mapping[str, str]) -> str | None:
        for pool in pools:
            if (pool.get("spec") or {}).get("autoAssign") is False:
                continue
            for a, b in _addresses(pool):
                for n in range(int(a), int(b) + 1):
                    ip = str(ipaddress.IPv4Address(n))
                    if ip not in used:
                        return ip
        return None

    # ------------------------------------------------------------------ cert-manager

    def _cert_manager(self) -> None:
        release = self.release_ready("cert-manager")
        if release is None:
            return
        resource_ns = release["namespace"]  # the "cluster resource namespace" of ClusterIssuers
        issuers: dict[tuple[str, str, str], Obj] = {}
        for kind in ("ClusterIssuer", "Issuer"):
            for issuer in self.list(CM_API, kind):
                meta = issuer["metadata"]
                key = f"cm/{kind}/{meta.get('namespace', '')}/{meta['name']}/{meta.get('generation')}"
                if self.after(key, "issuer"):
                    secret_ns = meta.get("namespace") or resource_ns
                    status, reason, message = self._issuer_state(issuer, secret_ns)
                    conds = [
                        cond(
                            (issuer.get("status") or {}).get("conditions"),
                            "Ready",
                            status,
                            reason,
                            message,
                            meta.get("generation"),
                        )
                    ]
                    self.set_status(issuer, {"conditions": conds}, "cert-manager-issuers")
                    issuer = self.get(CM_API, kind, meta["name"], meta.get("namespace")) or issuer
                issuers[(kind, meta.get("namespace", ""), meta["name"])] = issuer
        for cert in self.list(CM_API, "Certificate"):
            self._certificate(cert, issuers, resource_ns)

    def _issuer_state(self, issuer: Obj, secret_ns: str) -> tuple[str, str, str]:
        spec = issuer.get("spec") or {}
        if "selfSigned" in spec:
            return "True", "IsReady", ""
        if "ca" in spec:
            name = (spec["ca"] or {}).get("secretName", "")
            secret = self.get("v1", "Secret", name, secret_ns)
            if secret is None:
                return "False", "ErrGetKeyPair", f'Error getting keypair for CA issuer: secrets "{name}" not found'
            if not {"tls.crt", "tls.key"} <= set(secret.get("data") or {}):
                return "False", "ErrInvalidKeyPair", "Error getting keypair for CA issuer: no tls.crt / tls.key"
            return "True", "KeyPairVerified", "Signing CA verified"
        if "acme" in spec:
            server = (spec["acme"] or {}).get("server", "the ACME server")
            return (
                "False",
                "ErrRegisterACMEAccount",
                f"Failed to register ACME account: thinkube-lab: the simulated cluster has no internet "
                f"and cannot reach {server}",
            )
        return "False", "NotSimulated", f"thinkube-lab: issuer type {', '.join(spec) or '(none)'} is not simulated"

    def _certificate(self, cert: Obj, issuers: Mapping[tuple[str, str, str], Obj], resource_ns: str) -> None:
        meta, spec = cert["metadata"], cert.get("spec") or {}
        ns = meta["namespace"]
        ref = spec.get("issuerRef") or {}
        kind = ref.get("kind", "Issuer")
        issuer = issuers.get((kind, ns if kind == "Issuer" else "", ref.get("name", "")))
        old_conds = (cert.get("status") or {}).get("conditions")
        gen = meta.get("generation")
        secret_name = spec.get("secretName", "")
        fingerprint = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
        secret = self.get("v1", "Secret", secret_name, ns)
        issued = (
            secret is not None
            and (secret["metadata"].get("annotations") or {}).get("thinkube-lab/certificate-spec") == fingerprint
        )
        if not issued:
            if issuer is None or not has_condition(issuer, "Ready"):
                why = (
                    f"{kind} {ref.get('name')} not found"
                    if issuer is None
                    else f"{kind} {ref.get('name')} is not Ready"
                )
                self.set_status(
                    cert,
                    {
                        "conditions": [
                            cond(
                                old_conds,
                                "Ready",
                                "False",
                                "DoesNotExist",
                                f"Issuing certificate as Secret does not exist; {why}",
                                gen,
                            ),
                            cond(
                                old_conds,
                                "Issuing",
                                "True",
                                "DoesNotExist",
                                "Issuing certificate as Secret does not exist",
                                gen,
                            ),
                        ]
                    },
                    "cert-manager-certificates-trigger",
                )
                return
            if not self.after(f"cm/Certificate/{ns}/{meta['name']}/{fingerprint}", "certificate"):
                return
            self._issue(cert, issuer, fingerprint, resource_ns)
        now = datetime.now(UTC)
        duration = _go_duration(spec.get("duration", "2160h"))
        renew = _go_duration(spec.get("renewBefore", "720h")) if spec.get("renewBefore") else duration / 3
        status = cert.get("status") or {}
        not_before = (
            status.get("notBefore") if issued and status.get("notBefore") else now.strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        nb = datetime.strptime(not_before, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        self.set_status(
            cert,
            {
                "conditions": [
                    cond(old_conds, "Ready", "True", "Ready", "Certificate is up to date and has not expired", gen)
                ],
                "notBefore": not_before,
                "notAfter": (nb + timedelta(seconds=duration)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "renewalTime": (nb + timedelta(seconds=duration - renew)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "revision": int(status.get("revision") or 0) + (0 if issued else 1),
            },
            "cert-manager-certificates-readiness",
        )

    def _issue(self, cert: Obj, issuer: Obj, fingerprint: str, resource_ns: str) -> None:
        meta, spec = cert["metadata"], cert.get("spec") or {}
        ispec, imeta = issuer.get("spec") or {}, issuer["metadata"]
        names = list(spec.get("dnsNames") or [])
        cn = spec.get("commonName") or (names[0] if names else meta["name"])
        lines = [
            f"subject: CN={cn}",
            f"dnsNames: {', '.join(names) or '-'}",
            f"ipAddresses: {', '.join(spec.get('ipAddresses') or []) or '-'}",
            f"isCA: {bool(spec.get('isCA'))}",
            f"issuer: {issuer['kind']}/{imeta['name']}",
            f"serial: {secrets.token_hex(8)}",
        ]
        crt = _pem("CERTIFICATE", lines)
        key = _pem(
            "PRIVATE KEY",
            [
                f"key of {meta['namespace']}/{meta['name']}",
                f"algorithm: {(spec.get('privateKey') or {}).get('algorithm', 'RSA')}",
            ],
        )
        data = {"tls.crt": _b64(crt), "tls.key": _b64(key)}
        if "selfSigned" in ispec:
            data["ca.crt"] = data["tls.crt"]
        elif "ca" in ispec:
            ca_secret = (
                self.get("v1", "Secret", ispec["ca"].get("secretName", ""), imeta.get("namespace") or resource_ns) or {}
            )
            ca = (ca_secret.get("data") or {}).get("tls.crt")
            if ca:
                data["ca.crt"] = ca
                data["tls.crt"] = _b64(crt + base64.b64decode(ca).decode())  # the chain, as cert-manager writes it
        annotations = {
            "cert-manager.io/certificate-name": meta["name"],
            "cert-manager.io/issuer-name": imeta["name"],
            "cert-manager.io/issuer-kind": issuer["kind"],
            "cert-manager.io/issuer-group": "cert-manager.io",
            "cert-manager.io/common-name": cn,
            "cert-manager.io/alt-names": ",".join(names),
            "thinkube-lab/certificate-spec": fingerprint,
        }
        template = spec.get("secretTemplate") or {}
        self.ensure(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "kubernetes.io/tls",
                "metadata": {
                    "name": spec.get("secretName"),
                    "namespace": meta["namespace"],
                    "labels": {"controller.cert-manager.io/fao": "true", **(template.get("labels") or {})},
                    "annotations": {**(template.get("annotations") or {}), **annotations},
                },
                "data": data,
            },
            "cert-manager-certificates-issuing",
        )

    # ------------------------------------------------------------------ NVIDIA GPU Operator

    def _gpu_operator(self) -> None:
        release = self.release_ready("gpu-operator")
        if release is None or not self.after(f"gpu/{release['namespace']}/{release['revision']}", "gpu-device-plugin"):
            return
        values = release.get("values") or {}
        plugin_cfg = (values.get("devicePlugin") or {}).get("config") or {}
        replicas, rename = 1, False
        if plugin_cfg.get("name"):
            cm = self.get("v1", "ConfigMap", str(plugin_cfg["name"]), release["namespace"])
            text = ((cm or {}).get("data") or {}).get(str(plugin_cfg.get("default") or "any"))
            try:
                config = yaml.safe_load(text) if text else None
            except yaml.YAMLError:
                config = None
            ts = ((config or {}).get("sharing") or {}).get("timeSlicing") or {}
            rename = bool(ts.get("renameByDefault"))
            for res in ts.get("resources") or []:
                if res.get("name") == "nvidia.com/gpu":
                    replicas = max(1, int(res.get("replicas") or 1))
        resource = "nvidia.com/gpu.shared" if rename and replicas > 1 else "nvidia.com/gpu"
        for node in self.list("v1", "Node"):
            lab_node = self.lab.nodes.get(node["metadata"]["name"])
            if lab_node is None or lab_node.profile.gpu is None or not node_ready(node):
                continue
            gpus = 1  # every lab GPU profile carries one GPU (the H100 capture)
            count = str(gpus * replicas)
            status = node.get("status") or {}
            cap = {k: v for k, v in (status.get("capacity") or {}).items() if not k.startswith("nvidia.com/gpu")}
            alloc = {k: v for k, v in (status.get("allocatable") or {}).items() if not k.startswith("nvidia.com/gpu")}
            cap[resource] = alloc[resource] = count
            labels = dict(node["metadata"].get("labels") or {})
            gpu = lab_node.profile.gpu
            labels.update(
                {
                    "nvidia.com/gpu.present": "true",
                    "nvidia.com/gpu.count": str(gpus),
                    "nvidia.com/gpu.product": gpu.model.replace(" ", "-"),
                    "nvidia.com/gpu.replicas": str(replicas),
                    "nvidia.com/cuda.driver.major": gpu.driver.split(".")[0],
                    "nvidia.com/gpu.deploy.device-plugin": "true",
                }
            )
            if (
                cap == status.get("capacity")
                and alloc == status.get("allocatable")
                and labels == node["metadata"].get("labels")
            ):
                continue
            updated = copy.deepcopy(node)
            updated["metadata"]["labels"] = labels
            updated["status"]["capacity"], updated["status"]["allocatable"] = cap, alloc
            self.kube.put(updated, manager="nvidia-device-plugin")

    # ------------------------------------------------------------------ CloudNativePG

    def _cnpg(self) -> None:
        if self.release_ready("cloudnative-pg") is None:
            return
        ready_clusters: dict[tuple[str, str], list[str]] = {}
        for cl in self.list(CNPG_API, "Cluster"):
            meta, spec = cl["metadata"], cl.get("spec") or {}
            ns, name = meta["namespace"], meta["name"]
            instances = int(spec.get("instances", 1))
            for suffix, role in (("rw", "primary"), ("ro", "replica"), ("r", None)):
                sel = {"cnpg.io/cluster": name, **({"cnpg.io/instanceRole": role} if role else {})}
                self.ensure(
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "metadata": {"name": f"{name}-{suffix}", "namespace": ns, "labels": {"cnpg.io/cluster": name}},
                        "spec": {
                            "type": "ClusterIP",
                            "selector": sel,
                            "ports": [{"name": "postgres", "port": 5432, "protocol": "TCP"}],
                        },
                    },
                    "cloudnative-pg",
                )
            old = (cl.get("status") or {}).get("conditions")
            if not self.after(f"cnpg/{ns}/{name}", "cnpg-cluster"):
                self.set_status(
                    cl,
                    {
                        "instances": instances,
                        "phase": "Setting up primary",
                        "conditions": [cond(old, "Ready", "False", "ClusterIsNotReady", "Cluster Is Not Ready")],
                    },
                    "cloudnative-pg",
                )
                continue
            reconciled, cannot, absent = [], {}, []
            for role in (spec.get("managed") or {}).get("roles") or []:
                rname = role.get("name")
                if role.get("ensure", "present") == "absent":
                    absent.append(rname)
                    continue
                secret = (role.get("passwordSecret") or {}).get("name")
                if secret and self.get("v1", "Secret", secret, ns) is None:
                    cannot[rname] = [f'passwordSecret "{secret}" not found in namespace {ns}']
                else:
                    reconciled.append(rname)
            by_status: Obj = {}
            if reconciled:
                by_status["reconciled"] = sorted(reconciled)
            if cannot:
                by_status["pending-reconciliation"] = sorted(cannot)
            roles_status: Obj = {"byStatus": by_status}
            if cannot:
                roles_status["cannotReconcile"] = cannot
            names = [f"{name}-{i + 1}" for i in range(instances)]
            self.set_status(
                cl,
                {
                    "instances": instances,
                    "readyInstances": instances,
                    "phase": "Cluster in healthy state",
                    "currentPrimary": names[0],
                    "targetPrimary": names[0],
                    "instanceNames": names,
                    "writeService": f"{name}-rw",
                    "readService": f"{name}-r",
                    "latestGeneratedNode": instances,
                    "managedRolesStatus": roles_status,
                    "conditions": [cond(old, "Ready", "True", "ClusterIsReady", "Cluster is Ready")],
                },
                "cloudnative-pg",
            )
            ready_clusters[(ns, name)] = [*reconciled, "postgres", "app"]
        for db in self.list(CNPG_API, "Database"):
            meta, spec = db["metadata"], db.get("spec") or {}
            roles = ready_clusters.get((meta["namespace"], (spec.get("cluster") or {}).get("name", "")))
            if roles is None or not self.after(
                f"cnpg-db/{meta['namespace']}/{meta['name']}/{meta.get('generation')}", "cnpg-database"
            ):
                continue
            owner = spec.get("owner")
            if owner and owner not in roles:
                self.set_status(
                    db,
                    {
                        "applied": False,
                        "observedGeneration": meta.get("generation"),
                        "message": f'role "{owner}" does not exist',
                    },
                    "cloudnative-pg",
                )
            else:
                self.set_status(
                    db, {"applied": True, "observedGeneration": meta.get("generation")}, "cloudnative-pg", replace=True
                )

    # ------------------------------------------------------------------ MinIO Operator

    def _minio(self) -> None:
        if self.release_ready("operator") is None:
            return
        for tenant in self.list(MINIO_API, "Tenant"):
            meta, spec = tenant["metadata"], tenant.get("spec") or {}
            ns, name = meta["namespace"], meta["name"]
            config = (spec.get("configuration") or {}).get("name")
            if config and self.get("v1", "Secret", config, ns) is None:
                self.set_status(
                    tenant, {"currentState": f"Waiting for the configuration Secret {config}"}, "minio-operator"
                )
                continue
            tls = spec.get("requestAutoCert", True) is not False
            sel = {"v1.min.io/tenant": name}
            statefulsets = []
            for pool in spec.get("pools") or []:
                pool_name = pool.get("name") or "pool-0"
                labels = {**sel, "v1.min.io/pool": pool_name}
                sts = self.ensure(
                    {
                        "apiVersion": "apps/v1",
                        "kind": "StatefulSet",
                        "metadata": {"name": f"{name}-{pool_name}", "namespace": ns, "labels": dict(labels)},
                        "spec": {
                            "replicas": int(pool.get("servers", 1)),
                            "serviceName": f"{name}-hl",
                            "selector": {"matchLabels": labels},
                            "template": {
                                "metadata": {"labels": labels},
                                "spec": {
                                    "containers": [{"name": "minio", "image": spec.get("image", "quay.io/minio/minio")}]
                                },
                            },
                        },
                    },
                    "minio-operator",
                )
                statefulsets.append(sts)
            for svc, port, target in (
                ("minio", 443 if tls else 80, 9000),
                (f"{name}-console", 9443 if tls else 9090, 9443 if tls else 9090),
                (f"{name}-hl", 9000, 9000),
            ):
                body: Obj = {
                    "type": "ClusterIP",
                    "selector": dict(sel),
                    "ports": [
                        {
                            "name": "https-minio" if tls else "http-minio",
                            "port": port,
                            "targetPort": target,
                            "protocol": "TCP",
                        }
                    ],
                }
                if svc.endswith("-hl"):
                    body["clusterIP"] = "None"
                self.ensure(
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "metadata": {"name": svc, "namespace": ns, "labels": dict(sel)},
                        "spec": body,
                    },
                    "minio-operator",
                )
            ready = statefulsets and all(
                workload_ready(self.get("apps/v1", "StatefulSet", s["metadata"]["name"], ns)) for s in statefulsets
            )
            if not ready or not self.after(f"minio/{ns}/{name}/{meta.get('uid')}", "minio-tenant"):
                self.set_status(tenant, {"currentState": "Waiting for Pods to be ready"}, "minio-operator")
                continue
            users = [u.get("name") for u in spec.get("users") or []]
            self.set_status(
                tenant,
                {
                    "currentState": "Initialized",
                    "healthStatus": "green",
                    "availableReplicas": sum(int(p.get("servers", 1)) for p in spec.get("pools") or []),
                    "pools": [
                        {"ssName": s["metadata"]["name"], "state": "PoolInitialized", "legacySecurityContext": False}
                        for s in statefulsets
                    ],
                    "provisionedUsers": bool(users) and all(self.get("v1", "Secret", u, ns) is not None for u in users),
                    "provisionedBuckets": bool(spec.get("buckets")),
                    "revision": 0,
                    "syncVersion": "v6.0.0",
                },
                "minio-operator",
            )

    # ------------------------------------------------------------------ Keycloak Operator

    def _keycloak(self) -> None:
        for kc in self.list(KEYCLOAK_API, "Keycloak"):
            meta, spec = kc["metadata"], kc.get("spec") or {}
            ns, name = meta["namespace"], meta["name"]
            if not workload_ready(self.get("apps/v1", "Deployment", "keycloak-operator", ns)):
                continue  # the operator watches its own namespace
            old = (kc.get("status") or {}).get("conditions")
            gen = meta.get("generation")
            db = spec.get("db") or {}
            refs = [
                (db.get("usernameSecret") or {}).get("name"),
                (db.get("passwordSecret") or {}).get("name"),
                ((spec.get("bootstrapAdmin") or {}).get("user") or {}).get("secret"),
            ]
            missing = [r for r in refs if r and self.get("v1", "Secret", r, ns) is None]
            if missing:
                self.set_status(
                    kc,
                    {
                        "observedGeneration": gen,
                        "conditions": [
                            cond(old, "Ready", "False", "Error", "", gen),
                            cond(
                                old,
                                "HasErrors",
                                "True",
                                "Error",
                                f"Secret(s) {', '.join(missing)} not found in {ns}",
                                gen,
                            ),
                            cond(old, "RollingUpdate", "False", "", "", gen),
                        ],
                    },
                    "keycloak-operator",
                )
                continue
            labels = {
                "app": "keycloak",
                "app.kubernetes.io/instance": name,
                "app.kubernetes.io/managed-by": "keycloak-operator",
            }
            instances = int(spec.get("instances", 1))
            self.ensure(
                {
                    "apiVersion": "apps/v1",
                    "kind": "StatefulSet",
                    "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
                    "spec": {
                        "replicas": instances,
                        "serviceName": f"{name}-discovery",
                        "selector": {"matchLabels": labels},
                        "template": {
                            "metadata": {"labels": labels},
                            "spec": {
                                "containers": [
                                    {"name": "keycloak", "image": spec.get("image", "quay.io/keycloak/keycloak:26.2.0")}
                                ]
                            },
                        },
                    },
                },
                "keycloak-operator",
            )
            http = (spec.get("http") or {}).get("httpEnabled", False)
            ports = ([{"name": "http", "port": 8080, "protocol": "TCP"}] if http else []) + [
                {"name": "https", "port": 8443, "protocol": "TCP"},
                {"name": "management", "port": 9000, "protocol": "TCP"},
            ]
            self.ensure(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": f"{name}-service", "namespace": ns, "labels": dict(labels)},
                    "spec": {"type": "ClusterIP", "selector": dict(labels), "ports": ports},
                },
                "keycloak-operator",
            )
            self.ensure(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": f"{name}-discovery", "namespace": ns, "labels": dict(labels)},
                    "spec": {
                        "clusterIP": "None",
                        "selector": dict(labels),
                        "ports": [{"name": "tcp", "port": 7800, "protocol": "TCP"}],
                    },
                },
                "keycloak-operator",
            )
            ready = workload_ready(self.get("apps/v1", "StatefulSet", name, ns)) and self.after(
                f"kc/{ns}/{name}/{gen}", "keycloak"
            )
            self.set_status(
                kc,
                {
                    "observedGeneration": gen,
                    "instances": instances,
                    "selector": ",".join(f"{k}={v}" for k, v in labels.items()),
                    "conditions": [
                        cond(
                            old,
                            "Ready",
                            "True" if ready else "False",
                            "",
                            "" if ready else "Waiting for more replicas",
                            gen,
                        ),
                        cond(old, "HasErrors", "False", "", "", gen),
                        cond(old, "RollingUpdate", "False", "", "", gen),
                    ],
                },
                "keycloak-operator",
            )
        for ri in self.list(KEYCLOAK_API, "KeycloakRealmImport"):
            meta, spec = ri["metadata"], ri.get("spec") or {}
            ns = meta["namespace"]
            kc = self.get(KEYCLOAK_API, "Keycloak", spec.get("keycloakCRName", ""), ns)
            if not has_condition(kc, "Ready"):
                continue
            old = (ri.get("status") or {}).get("conditions")
            missing = sorted(
                {
                    p["secret"]["name"]
                    for p in (spec.get("placeholders") or {}).values()
                    if isinstance(p, dict)
                    and (p.get("secret") or {}).get("name")
                    and self.get("v1", "Secret", p["secret"]["name"], ns) is None
                }
            )
            if missing:
                self.set_status(
                    ri,
                    {
                        "conditions": [
                            cond(old, "Done", "False", "", "", meta.get("generation")),
                            cond(old, "Started", "False", "", "", meta.get("generation")),
                            cond(
                                old,
                                "HasErrors",
                                "True",
                                "",
                                f"Secret(s) {', '.join(missing)} referenced by placeholders not found",
                                meta.get("generation"),
                            ),
                        ]
                    },
                    "keycloak-operator",
                )
                continue
            if not self.after(f"kri/{ns}/{meta['name']}/{meta.get('generation')}", "realm-import"):
                if not old:
                    self.set_status(
                        ri,
                        {
                            "conditions": [
                                cond(old, "Done", "False", "", "", meta.get("generation")),
                                cond(old, "Started", "True", "", "Import Job running", meta.get("generation")),
                                cond(old, "HasErrors", "False", "", "", meta.get("generation")),
                            ]
                        },
                        "keycloak-operator",
                    )
                continue
            self.set_status(
                ri,
                {
                    "conditions": [
                        cond(old, "Done", "True", "", "", meta.get("generation")),
                        cond(old, "Started", "False", "", "", meta.get("generation")),
                        cond(old, "HasErrors", "False", "", "", meta.get("generation")),
                    ]
                },
                "keycloak-operator",
            )

    # ------------------------------------------------------------------ Argo CD

    def _argocd(self) -> None:
        """Applications whose source is a chart with a data file in lab/charts/, or bedag's `raw`
        chart (the manifests in values.resources): applied into spec.destination.namespace, then
        Synced, and Healthy once their workloads are rolled out. Other sources (Git) are not
        simulated: the Application says so in its status."""
        from . import charts

        if self.release_ready("argo-cd") is None:
            return
        for app in self.list("argoproj.io/v1alpha1", "Application"):
            meta, spec = app["metadata"], app.get("spec") or {}
            source = spec.get("source") or {}
            dest_ns = (spec.get("destination") or {}).get("namespace") or meta["namespace"]
            gen = meta.get("generation")
            helm = source.get("helm") or {}
            values = dict(helm.get("valuesObject") or {})
            if helm.get("values"):
                values = {**(yaml.safe_load(helm["values"]) or {}), **values}
            objects: list[Obj] = []
            error = None
            if source.get("chart") == "raw":
                objects = [copy.deepcopy(o) for o in values.get("resources") or [] if isinstance(o, dict)]
            elif source.get("chart"):
                try:
                    doc = charts.load(source["chart"])
                    if doc is None:
                        error = f"thinkube-lab: no data file lab/charts/{source['chart']}.yaml for this chart"
                    else:
                        objects = charts.render(
                            doc,
                            release=helm.get("releaseName") or meta["name"],
                            namespace=dest_ns,
                            chart=source["chart"],
                            version=str(source.get("targetRevision", "0.0.0")),
                            values=values,
                            source=str(charts.chart_file(source["chart"])),
                        ).objects
                except charts.ChartFileError as exc:
                    error = str(exc)
            else:
                error = "thinkube-lab: Git sources are not simulated (no network)"
            if error:
                self.set_status(
                    app,
                    {
                        "sync": {"status": "Unknown"},
                        "health": {"status": "Missing"},
                        "conditions": [{"type": "ComparisonError", "message": error}],
                    },
                    "argocd-application-controller",
                )
                continue
            key = f"argo/{meta['namespace']}/{meta['name']}/{gen}"
            synced = ((app.get("status") or {}).get("operationState") or {}).get("syncResult", {}).get("revision")
            if synced != str(gen):
                if not self.after(key, "generic"):
                    continue
                if (
                    self.get("v1", "Namespace", dest_ns) is None
                    and (spec.get("syncPolicy") or {}).get("syncOptions")
                    and "CreateNamespace=true" in spec["syncPolicy"]["syncOptions"]
                ):
                    self.kube.put(
                        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": dest_ns}},
                        manager="argocd-application-controller",
                    )
                resources = []
                try:
                    for o in objects:
                        o.setdefault("metadata", {})
                        if o.get("kind") not in (
                            "Namespace",
                            "ClusterRole",
                            "ClusterRoleBinding",
                            "StorageClass",
                            "CustomResourceDefinition",
                            "IngressClass",
                            "PersistentVolume",
                        ):
                            o["metadata"].setdefault("namespace", dest_ns)
                        o["metadata"].setdefault("labels", {})["app.kubernetes.io/instance"] = meta["name"]
                        self.kube.put(o, manager="argocd-controller")
                        resources.append(
                            {
                                "kind": o["kind"],
                                "name": o["metadata"]["name"],
                                "namespace": o["metadata"].get("namespace", ""),
                                "status": "Synced",
                            }
                        )
                except ApiError as exc:
                    self.set_status(
                        app,
                        {
                            "sync": {"status": "OutOfSync"},
                            "health": {"status": "Degraded"},
                            "operationState": {"phase": "Failed", "message": str(exc)},
                        },
                        "argocd-application-controller",
                    )
                    continue
                self.set_status(
                    app,
                    {
                        "sync": {"status": "Synced", "revision": str(source.get("targetRevision", ""))},
                        "resources": resources,
                        "health": {"status": "Progressing"},
                        "operationState": {
                            "phase": "Succeeded",
                            "message": "successfully synced",
                            "syncResult": {"revision": str(gen)},
                        },
                    },
                    "argocd-application-controller",
                )
                continue
            healthy = all(
                workload_ready(self.get("apps/v1", r["kind"], r["name"], r["namespace"]))
                for r in (app.get("status") or {}).get("resources") or []
                if r["kind"] in ("Deployment", "StatefulSet", "DaemonSet")
            )
            self.set_status(
                app, {"health": {"status": "Healthy" if healthy else "Progressing"}}, "argocd-application-controller"
            )

    # ------------------------------------------------------------------ generic CR kinds

    def _generic(self) -> None:
        for entry in GENERIC_STATUS:
            if entry.get("release") and self.release_ready(entry["release"]) is None:
                continue
            for obj in self.list(entry["apiVersion"], entry["kind"]):
                meta = obj["metadata"]
                gen = meta.get("generation")
                if not self._generic_children(entry, obj):
                    continue
                if not self.after(f"gen/{entry['kind']}/{meta.get('namespace', '')}/{meta['name']}/{gen}", "generic"):
                    continue
                old = (obj.get("status") or {}).get("conditions")
                status = copy.deepcopy(entry.get("status") or {})
                if entry.get("conditions"):
                    status["conditions"] = [cond(old, t, s, r, m, gen) for t, s, r, m in entry["conditions"]]
                self.set_status(obj, status, entry.get("manager", "thinkube-lab-controller"))

    def _generic_children(self, entry: Mapping[str, Any], owner: Obj) -> bool:
        """Create the workloads / Services an entry's operator would; True once they are ready."""
        ns, base = owner["metadata"].get("namespace"), owner["metadata"]["name"]
        all_ready = True
        for c in entry.get("creates") or []:
            name = c["name"].replace("{name}", base)
            labels = {k: v.replace("{name}", base) for k, v in (c.get("labels") or {}).items()}
            if c["kind"] == "Service":
                sel = {k: v.replace("{name}", base) for k, v in (c.get("selector") or {}).items()}
                self.ensure(
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "metadata": {"name": name, "namespace": ns},
                        "spec": {
                            "type": "ClusterIP",
                            "selector": sel,
                            "ports": [{"name": "http", "port": int(c.get("port", 80)), "protocol": "TCP"}],
                        },
                    },
                    entry.get("manager", "thinkube-lab-controller"),
                )
                continue
            spec: Obj = {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {"name": name.rsplit("-", 1)[-1], "image": "registry.thinkube-lab.invalid/operand"}
                        ]
                    },
                },
            }
            if c["kind"] != "DaemonSet":
                spec["replicas"] = int(c.get("replicas", 1))
            self.ensure(
                {
                    "apiVersion": c["apiVersion"],
                    "kind": c["kind"],
                    "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
                    "spec": spec,
                },
                entry.get("manager", "thinkube-lab-controller"),
            )
            all_ready = all_ready and workload_ready(self.get(c["apiVersion"], c["kind"], name, ns))
        return all_ready

    # ------------------------------------------------------------------ the API server proxy

    async def handle_proxy(
        self, request: web.Request, namespace: str, kind: str, target: str, path: str
    ) -> web.StreamResponse:
        parts = target.split(":")
        if len(parts) == 3:
            _scheme, name, port_text = parts
        elif len(parts) == 2 and parts[1].isdigit():
            name, port_text = parts
        elif len(parts) == 2:
            name, port_text = parts[1], ""
        else:
            name, port_text = parts[0], ""
        service = None
        if kind == "services":
            svc = self.get("v1", "Service", name, namespace)
            if svc is None:
                raise ApiError(404, "NotFound", f'services "{name}" not found', {"name": name, "kind": "services"})
            svc_ports = (svc.get("spec") or {}).get("ports") or []
            match = [
                p for p in svc_ports if not port_text or str(p.get("port")) == port_text or p.get("name") == port_text
            ]
            if not match:
                raise ApiError(503, "ServiceUnavailable", f'no endpoints available for service "{name}"')
            port: int | None = (
                int(match[0].get("targetPort") or match[0]["port"])
                if str(match[0].get("targetPort", "")).isdigit()
                else int(match[0]["port"])
            )
            service_port = int(match[0]["port"])
            pods = self.endpoints(svc)
            backend = next((b for b in self.backends if b.matches(namespace, "services", name, service_port)), None)
            if backend is None:
                raise ApiError(
                    502,
                    "BadGateway",
                    f"thinkube-lab: nothing answers HTTP behind service {namespace}/"
                    f"{name}:{service_port} in the lab (no simulated backend)",
                )
            if not pods:
                raise ApiError(503, "ServiceUnavailable", f'no endpoints available for service "{name}"')
            service, name, port = name, pods[0], service_port
        else:
            port = int(port_text) if port_text.isdigit() else None
            exists, ready = self.pod(namespace, name)
            if not exists:
                raise ApiError(404, "NotFound", f'pods "{name}" not found', {"name": name, "kind": "pods"})
            backend = next((b for b in self.backends if b.matches(namespace, "pods", name, port)), None)
            if backend is None:
                raise ApiError(
                    502,
                    "BadGateway",
                    f"thinkube-lab: nothing answers HTTP on pod {namespace}/{name}:"
                    f"{port} in the lab (no simulated backend)",
                )
            if not ready:
                raise ApiError(503, "ServiceUnavailable", f'pod "{name}" is not running')
        raw = await request.read()
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = raw.decode(errors="replace")
        req = ProxyRequest(
            namespace,
            kind,
            name,
            service,
            port,
            request.method,
            path or "/",
            dict(request.rel_url.query),
            dict(request.headers),
            body,
        )
        status, answer = await backend.handler(req)
        if answer is None or status == 204:
            return web.Response(status=status)
        return web.json_response(answer, status=status)

    def pod(self, namespace: str, name: str) -> tuple[bool, bool]:
        """(exists, ready) of pod `name`: a Pod object, or an ordinal of a StatefulSet."""
        pod = self.get("v1", "Pod", name, namespace)
        if pod is not None:
            return True, has_condition(pod, "Ready")
        m = re.fullmatch(r"(.+)-(\d+)", name)
        if m:
            sts = self.get("apps/v1", "StatefulSet", m.group(1), namespace)
            if sts is not None and int(m.group(2)) < int((sts.get("spec") or {}).get("replicas", 1)):
                return True, int(m.group(2)) < int((sts.get("status") or {}).get("readyReplicas", 0))
        return False, False

    def endpoints(self, svc: Obj) -> list[str]:
        """Names of the ready pods a Service selects (see `selected_workloads`)."""
        out = []
        ns = svc["metadata"]["namespace"]
        for w in selected_workloads(self.lab, svc):
            ready = int((w.get("status") or {}).get("readyReplicas", (w.get("status") or {}).get("numberReady", 0)))
            if w["kind"] == "StatefulSet":
                out += [f"{w['metadata']['name']}-{i}" for i in range(ready)]
            else:
                out += [f"{w['metadata']['name']}-lab{i}" for i in range(ready)]
        return [p for p in out if self.backend_filter(ns, svc["metadata"]["name"], p)]

    def backend_filter(self, namespace: str, service: str, pod: str) -> bool:
        return self.vault.endpoint_filter(namespace, service, pod)


def selected_workloads(lab: Lab, svc: Obj) -> list[Obj]:
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


def service_ready(lab: Lab, svc: Obj) -> bool:
    return any(workload_ready(w) for w in selected_workloads(lab, svc))


# ============================================================================ Vault


class VaultBackend:
    """HashiCorp Vault's HTTP API (the sys endpoints the installer uses), per StatefulSet.

    State per `<namespace>/<statefulset>` in the controllers' state file: initialised or not,
    the seal configuration, the key shares and root token (random; it is a simulator), which
    pods are unsealed and which one is active, the audit devices."""

    VERSION = "1.20.1"

    def __init__(self, controllers: Controllers) -> None:
        self.c = controllers

    def register(self) -> None:
        self.c.backends.append(Backend(None, "pods", re.compile(r".+-\d+"), 8200, self.handle, self._is_vault_pod))
        self.c.backends.append(Backend(None, "services", re.compile(r".+"), 8200, self.handle, self._is_vault_service))

    def _release_of(self, namespace: str, sts: str) -> bool:
        return any(
            r["namespace"] == namespace and r.get("chart_name") == "vault" and r["name"] == sts
            for r in self.c.lab.releases.values()
        )

    def _is_vault_pod(self, namespace: str, name: str) -> bool:
        return self._release_of(namespace, name.rsplit("-", 1)[0])

    def _is_vault_service(self, namespace: str, name: str) -> bool:
        return any(
            self._release_of(namespace, base) for base in {name, re.sub(r"-(active|standby|internal|ui)$", "", name)}
        )

    def endpoint_filter(self, namespace: str, service: str, pod: str) -> bool:
        """vault-active selects only the active pod, vault-standby only unsealed standbys."""
        base = re.sub(r"-(active|standby)$", "", service)
        if base == service or not self._release_of(namespace, base):
            return True
        st = self._cluster(namespace, base)
        unsealed = not (st["pods"].get(pod) or {}).get("sealed", True)
        return (st.get("active") == pod) if service.endswith("-active") else (unsealed and st.get("active") != pod)

    def _cluster(self, namespace: str, sts: str) -> dict[str, Any]:
        vault = self.c.state.setdefault("vault", {})
        st: dict[str, Any] = vault.setdefault(f"{namespace}/{sts}", {"initialized": False, "pods": {}, "audit": {}})
        return st

    @staticmethod
    def _err(code: int, *messages: str) -> tuple[int, Any]:
        return code, {"errors": list(messages)}

    async def handle(self, req: ProxyRequest) -> tuple[int, Any]:
        sts = req.name.rsplit("-", 1)[0]
        st = self._cluster(req.namespace, sts)
        pod = st["pods"].setdefault(req.name, {"sealed": True, "progress": []})
        method = "PUT" if req.method == "POST" else req.method
        path = "/" + req.path.strip("/")
        body = req.body if isinstance(req.body, dict) else {}
        token = req.headers.get("X-Vault-Token")
        try:
            return self._route(st, req.name, pod, method, path, body, req.query, token)
        finally:
            self.c.save()

    def _seal_status(self, st: Mapping[str, Any], pod: Mapping[str, Any]) -> Obj:
        out: Obj = {
            "type": "shamir",
            "initialized": st["initialized"],
            "sealed": pod["sealed"],
            "t": st.get("threshold", 0),
            "n": st.get("shares", 0),
            "progress": len(pod["progress"]),
            "nonce": "",
            "version": self.VERSION,
            "build_date": "2025-07-24T13:33:52Z",
            "migration": False,
            "recovery_seal": False,
            "storage_type": "raft",
            "removed_from_cluster": False,
        }
        if not pod["sealed"]:
            out.update(cluster_name=st.get("cluster_name"), cluster_id=st.get("cluster_id"))
        return out

    def _route(
        self,
        st: dict[str, Any],
        name: str,
        pod: dict[str, Any],
        method: str,
        path: str,
        body: Obj,
        query: Mapping[str, str],
        token: str | None,
    ) -> tuple[int, Any]:
        if path == "/v1/sys/seal-status" and method == "GET":
            return 200, self._seal_status(st, pod)
        if path == "/v1/sys/init":
            if method == "GET":
                return 200, {"initialized": st["initialized"]}
            if method != "PUT":
                return self._err(405)
            return self._init(st, body)
        if path == "/v1/sys/unseal" and method == "PUT":
            return self._unseal(st, name, pod, body)
        if path == "/v1/sys/health" and method in ("GET", "HEAD"):
            return self._health(st, name, pod, query)
        if path == "/v1/sys/leader" and method == "GET":
            return 200, {
                "ha_enabled": True,
                "is_self": st.get("active") == name,
                "leader_address": f"http://{st.get('active')}:8200" if st.get("active") else "",
                "raft_committed_index": 42,
                "raft_applied_index": 42,
            }
        if not st["initialized"]:
            return self._err(400, "Vault is not initialized")
        if pod["sealed"]:
            return self._err(503, "Vault is sealed")
        if token is None or token != st.get("root_token"):
            return self._err(403, "permission denied")
        if path == "/v1/sys/audit" and method == "GET":
            devices = {k: dict(v) for k, v in st["audit"].items()}
            return 200, {
                **devices,
                "request_id": secrets.token_hex(8),
                "lease_id": "",
                "renewable": False,
                "lease_duration": 0,
                "data": devices,
                "wrap_info": None,
                "warnings": None,
                "auth": None,
                "mount_type": "system",
            }
        m = re.fullmatch(r"/v1/sys/audit/(.+)", path)
        if m:
            mount = m.group(1).strip("/") + "/"
            if method == "PUT":
                if mount in st["audit"]:
                    return self._err(400, "path already in use")
                atype = body.get("type")
                options = body.get("options") or {}
                if atype not in ("file", "socket", "syslog"):
                    return self._err(400, f"unknown backend type: {atype!r}")
                if atype == "file" and not options.get("file_path"):
                    return self._err(400, "file_path is required")
                st["audit"][mount] = {
                    "type": atype,
                    "description": body.get("description", ""),
                    "options": {k: str(v) for k, v in options.items()},
                    "local": bool(body.get("local", False)),
                    "path": mount,
                }
                return 204, None
            if method == "DELETE":
                st["audit"].pop(mount, None)
                return 204, None
        return self._err(404, f"thinkube-lab: Vault {method} {path} is not simulated")

    def _init(self, st: dict[str, Any], body: Obj) -> tuple[int, Any]:
        if st["initialized"]:
            return self._err(400, "Vault is already initialized")
        try:
            shares, threshold = int(body.get("secret_shares", 0)), int(body.get("secret_threshold", 0))
        except (TypeError, ValueError):
            return self._err(400, "secret_shares and secret_threshold must be numbers")
        if shares < 1:
            return self._err(400, "invalid seal configuration: shares must be at least one")
        if threshold < 1:
            return self._err(400, "invalid seal configuration: threshold must be at least one")
        if threshold > shares:
            return self._err(400, "invalid seal configuration: threshold cannot be larger than shares")
        if shares > 1 and threshold == 1:
            return self._err(400, "invalid seal configuration: threshold must be greater than one for multiple shares")
        raw = [secrets.token_bytes(33) for _ in range(shares)]
        st.update(
            initialized=True,
            shares=shares,
            threshold=threshold,
            keys=[k.hex() for k in raw],
            root_token="hvs." + secrets.token_urlsafe(18),
            cluster_id=str(__import__("uuid").uuid4()),
            cluster_name=f"vault-cluster-{secrets.token_hex(4)}",
            active=None,
        )
        for p in st["pods"].values():
            p.update(sealed=True, progress=[])
        return 200, {
            "keys": [k.hex() for k in raw],
            "keys_base64": [base64.b64encode(k).decode() for k in raw],
            "root_token": st["root_token"],
        }

    def _unseal(self, st: dict[str, Any], name: str, pod: dict[str, Any], body: Obj) -> tuple[int, Any]:
        if not st["initialized"]:
            return self._err(400, "Vault is not initialized")
        if body.get("reset"):
            pod["progress"] = []
            return 200, self._seal_status(st, pod)
        if not pod["sealed"]:
            return 200, self._seal_status(st, pod)
        key = str(body.get("key") or "")
        try:
            raw = bytes.fromhex(key)
        except ValueError:
            try:
                raw = base64.b64decode(key, validate=True)
            except ValueError:
                return self._err(400, "'key' must be a valid hex or base64 string")
        if not raw:
            return self._err(400, "'key' must be specified in request body as JSON, or 'reset' set to true")
        hexkey = raw.hex()
        if hexkey not in pod["progress"]:
            pod["progress"].append(hexkey)
        if len(pod["progress"]) >= st["threshold"]:
            valid = all(k in st["keys"] for k in pod["progress"])
            pod["progress"] = []
            if not valid:
                return self._err(400, "cipher: message authentication failed")
            pod["sealed"] = False
            if not st.get("active"):
                st["active"] = name
        return 200, self._seal_status(st, pod)

    def _health(
        self, st: Mapping[str, Any], name: str, pod: Mapping[str, Any], query: Mapping[str, str]
    ) -> tuple[int, Any]:
        def code(param: str, default: int) -> int:
            try:
                return int(query.get(param, default))
            except ValueError:
                return default

        standby = not pod["sealed"] and st.get("active") != name
        body = {
            "initialized": st["initialized"],
            "sealed": pod["sealed"],
            "standby": standby,
            "performance_standby": False,
            "replication_performance_mode": "disabled",
            "replication_dr_mode": "disabled",
            "server_time_utc": int(time.time()),
            "version": self.VERSION,
            "enterprise": False,
            "echo_duration_ms": 0,
            "clock_skew_ms": 0,
            "removed_from_cluster": False,
        }
        if st["initialized"] and not pod["sealed"]:
            body.update(cluster_name=st.get("cluster_name"), cluster_id=st.get("cluster_id"))
        standby_ok = query.get("standbyok", "").lower() in ("true", "1")
        if not st["initialized"]:
            status = code("uninitcode", 501)
        elif pod["sealed"]:
            status = code("sealedcode", 503)
        elif standby and not standby_ok:
            status = code("standbycode", 429)
        else:
            status = code("activecode", 200)
        return status, body


# ============================================================================ tables and small helpers

#: CR kinds whose operator the lab does not simulate in code: once the release named in
#: `release` (a chart name) is rolled out, every object of the kind gets `status` and
#: `conditions` ((type, status, reason, message)) after DELAYS["generic"].
GENERIC_STATUS: list[dict[str, Any]] = [
    {
        "apiVersion": "nvidia.com/v1",
        "kind": "ClusterPolicy",
        "release": "gpu-operator",
        "status": {"state": "ready"},
        "conditions": [("Ready", "True", "Reconciled", "ClusterPolicy is ready")],
        "manager": "gpu-operator",
    },
    {
        "apiVersion": "nvidia.com/v1alpha1",
        "kind": "NVIDIADriver",
        "release": "gpu-operator",
        "status": {"state": "ready"},
        "conditions": [("Ready", "True", "Reconciled", "")],
        "manager": "gpu-operator",
    },
    {
        "apiVersion": "operator.knative.dev/v1beta1",
        "kind": "KnativeServing",
        "release": "knative-operator",
        "status": {"version": "1.22.3"},
        "manager": "knative-operator",
        "conditions": [
            ("Ready", "True", "", ""),
            ("InstallSucceeded", "True", "", ""),
            ("DeploymentsAvailable", "True", "", ""),
            ("DependenciesInstalled", "True", "", ""),
        ],
    },
    {
        "apiVersion": "operator.knative.dev/v1beta1",
        "kind": "KnativeEventing",
        "release": "knative-operator",
        "status": {"version": "1.22.3"},
        "manager": "knative-operator",
        "conditions": [
            ("Ready", "True", "", ""),
            ("InstallSucceeded", "True", "", ""),
            ("DeploymentsAvailable", "True", "", ""),
            ("DependenciesInstalled", "True", "", ""),
        ],
    },
    {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "release": "argo-workflows",
        "status": {
            "phase": "Succeeded",
            "progress": "1/1",
            "message": "thinkube-lab: simulated run (no step was executed)",
        },
        "conditions": [("Completed", "True", "", "")],
        "manager": "workflow-controller",
    },
    {
        "apiVersion": "awx.ansible.com/v1beta1",
        "kind": "AWX",
        "release": "awx-operator",
        "manager": "awx-operator",
        "creates": [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "{name}-web",
                "labels": {"app.kubernetes.io/name": "{name}-web"},
            },
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "{name}-task",
                "labels": {"app.kubernetes.io/name": "{name}-task"},
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "name": "{name}-service",
                "port": 80,
                "selector": {"app.kubernetes.io/name": "{name}-web"},
            },
        ],
        "conditions": [
            ("Successful", "True", "Successful", "Last reconciliation succeeded"),
            ("Running", "True", "Running", ""),
        ],
    },
]


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


def _go_duration(text: str) -> float:
    total = 0.0
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)(h|m|s)", str(text)):
        total += float(num) * {"h": 3600, "m": 60, "s": 1}[unit]
    return total or 90 * 24 * 3600
