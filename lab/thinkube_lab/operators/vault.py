"""HashiCorp Vault's HTTP API behind the API server proxy: the sys endpoints the installer uses."""

from __future__ import annotations

import base64
import re
import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any

from . import vault_kv
from .base import (
    Backend,
    ControllerApi,
    Obj,
    ProxyRequest,
)


class VaultBackend:
    """HashiCorp Vault's HTTP API (the sys endpoints the installer uses), per StatefulSet.

    State per `<namespace>/<statefulset>` in the controllers' state file: initialised or not,
    the seal configuration, the key shares and root token (random; it is a simulator), which
    pods are unsealed and which one is active, the audit devices."""

    VERSION = "1.20.1"

    def __init__(self, controllers: ControllerApi) -> None:
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
        if (answer := vault_kv.route(st, method, path, body)) is not None:
            return answer
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
            cluster_id=str(uuid.uuid4()),
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
