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
- Argo CD: Applications of a chart the lab has data for are applied, Synced, then Healthy.
- Argo CD: Applications of a chart the lab has data for are applied, Synced, then Healthy.
- Generic: CR kinds in `GENERIC_STATUS` get their status after a delay.
- The API server proxy (`/api/v1/namespaces/NS/{pods|services}/NAME:PORT/proxy/...`) dispatches
  to simulated backends registered in `Controllers.backends`; Vault's is built in.

Each operator is a module of `operators/` with a `reconcile(ctl)`; `Controllers` here is the
dispatcher. They react to the emulator's change notifications (`KubeApiEmulator.listeners`):
every change schedules one reconcile pass (coalesced) on the event loop. Each reconciler is level-based
and idempotent, and writes only what differs, so a pass that changes nothing ends the chain.
It is a simulator: every object it creates says so (`thinkube-lab/simulated: "true"`).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .kubeapi_objects import ApiError
from .operators import argocd, cert_manager, cnpg, generic, gpu_operator, keycloak, metallb, minio
from .operators.base import ControllerApi, LabView, Obj, ProxyRequest, has_condition, selected_workloads
from .operators.vault import VaultBackend

#: One reconcile pass runs these in order (an earlier one's writes are seen by the later ones).
OPERATORS: tuple[tuple[str, Callable[[ControllerApi], None]], ...] = (
    ("loadbalancers", metallb.reconcile),
    ("cert_manager", cert_manager.reconcile),
    ("gpu_operator", gpu_operator.reconcile),
    ("cnpg", cnpg.reconcile),
    ("minio", minio.reconcile),
    ("keycloak", keycloak.reconcile),
    ("argocd", argocd.reconcile),
    ("generic", generic.reconcile),
)


class Controllers(ControllerApi):
    """The dispatcher: runs every operator on each change in the emulator, and answers the API
    server proxy from the simulated backends (Vault's built in)."""

    def __init__(self, lab: LabView) -> None:
        super().__init__(lab)
        self.vault = VaultBackend(self)

    # -- lifecycle

    def start(self) -> None:
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

    def _on_event(self, rt: Any, kind: str, obj: Obj, old: Obj | None) -> None:
        self.poke()

    def reconcile(self) -> None:
        for name, reconcile in OPERATORS:
            try:
                reconcile(self)
            except Exception as exc:  # a bug here must not take the lab down; say it loudly
                self.lab.log(f"thinkube-lab: simulated controller {name} failed: {type(exc).__name__}: {exc}")

    # -- the API server proxy

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
