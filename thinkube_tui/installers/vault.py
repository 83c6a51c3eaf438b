"""5.4 HashiCorp Vault: the official chart with Raft storage, initialised, unsealed, audited.

The chart runs Vault as the StatefulSet `vault` (HA mode, integrated Raft storage, every pod
joining `vault-0`). Its default readiness probe (`vault status`) fails while Vault is sealed,
so `helm --wait` would never finish before the installer could initialise it; the probe is
switched to the HTTP health endpoint with `sealedcode=204&uninitcode=204` (a documented chart
value, `server.readinessProbe.path`), which reports a running but sealed pod as ready.

Initialisation, unsealing and the audit device go through Vault's HTTP API, reached through
the Kubernetes API server's proxy to each pod (`proxy.py`): `PUT /v1/sys/init`,
`GET /v1/sys/seal-status`, `PUT /v1/sys/unseal`, `GET|PUT /v1/sys/audit[/file]` (with
`X-Vault-Token`), `GET /v1/sys/health`. Nothing is exec'd in a pod.

The unseal keys and the root token exist only where the operator chose (`secretsStore`):
`file` writes them, the moment Vault returns them, to `<state dir>/<cluster>/vault-init.json`
(`keys_file`; mode 0600; never over an earlier file, which is kept beside it) on the machine
running the installer; `print` hands them to the run's summary, shown once and stored nowhere.
They never reach the log, the journal, a command line or the cluster.

Docs: https://developer.hashicorp.com/vault/api-docs/system/init, .../system/unseal,
.../system/seal-status, .../system/audit, .../system/health;
https://developer.hashicorp.com/vault/docs/platform/k8s/helm/configuration (server.ha.raft,
dataStorage, auditStorage, readinessProbe, ingress).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import os
import time
from pathlib import Path
from typing import Any

from ..engine import InstallError
from ..files import create_new
from ..kube import KubeError, ProxyResponse
from .base import InstallContext
from .support import vault_kv
from .support.uninstall import standard
from .support.vault_kv import keys_file

NAME = "vault"  # release, StatefulSet and pod prefix
PORT = 8200
AUDIT_PATH = "/vault/audit/vault_audit.log"
READINESS = "/v1/sys/health?standbyok=true&sealedcode=204&uninitcode=204"


def raft_config(replicas: int) -> str:
    joins = "".join(
        f'  retry_join {{\n    leader_api_addr = "http://{NAME}-{i}.{NAME}-internal:{PORT}"\n  }}\n'
        for i in range(replicas)
    )
    return (
        "ui = true\n"
        'listener "tcp" {\n  tls_disable = 1\n  address = "[::]:8200"\n  cluster_address = "[::]:8201"\n}\n'
        f'storage "raft" {{\n  path = "/vault/data"\n{joins}}}\n'
        'service_registration "kubernetes" {}\n'
    )


def chart_values(ctx: InstallContext) -> dict[str, Any]:
    c = ctx.config
    replicas = int(c["replicas"])
    server: dict[str, Any] = {
        "readinessProbe": {"enabled": True, "path": READINESS},
        "dataStorage": {"enabled": True, "size": c["storageSize"]},
        "auditStorage": {"enabled": bool(c["auditLog"]), "size": c["auditStorageSize"]},
        "standalone": {"enabled": False},
        "ha": {
            "enabled": True,
            "replicas": replicas,
            "raft": {"enabled": True, "setNodeId": True, "config": raft_config(replicas)},
        },
    }
    if c["uiIngress"]:
        host = f"vault.{ctx.spec.cluster.domain}"
        server["ingress"] = {
            "enabled": True,
            "ingressClassName": "nginx",
            "activeService": True,
            "hosts": [{"host": host, "paths": []}],
            "tls": [{"hosts": [host]}],
        }
    return {"global": {"tlsDisable": True}, "injector": {"enabled": False}, "ui": {"enabled": True}, "server": server}


class _Keys:
    """The unseal keys and root token of this run, once known (never logged)."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.root_token: str | None = None


def keys_path(ctx: InstallContext) -> Path:
    return keys_file(ctx.cluster.state_dir)


def save_keys(path: Path, text: str) -> Path | None:
    """Write the keys file (0600, never through a symlink) without overwriting one already there:
    an earlier file (the keys of a Vault initialised before) is kept beside it, renamed
    `vault-init.json.old-N`. Returns that name, or None when there was none."""
    kept = None
    for _ in range(3):
        try:
            create_new(path, text, 0o600)
            return kept
        except FileExistsError:
            kept = _keep_aside(path)
    raise InstallError(f"{path}: could not write Vault's keys file (something keeps re-creating it)")


def _keep_aside(path: Path) -> Path:
    for n in itertools.count(1):
        aside = path.with_name(f"{path.name}.old-{n}")
        try:
            os.link(path, aside, follow_symlinks=False)  # fails rather than replace an earlier copy
        except FileExistsError:
            continue
        os.unlink(path)
        return aside
    raise AssertionError("unreachable")


async def _call(
    ctx: InstallContext,
    method: str,
    pod: str,
    path: str,
    *,
    body: Any = None,
    token: str | None = None,
    query: list[tuple[str, str]] | None = None,
    expect: tuple[int, ...] = (200, 204),
    retry: tuple[int, ...] = (502, 503),
    patience: float = 120,
) -> ProxyResponse:
    kube = await ctx.kube()
    headers = {"X-Vault-Token": token} if token else None
    deadline = time.monotonic() + patience
    while True:
        try:
            response = await kube.proxy(
                method, ctx.component.namespace, pod, PORT, path, kind="pods", query=query, body=body, headers=headers
            )
        except KubeError as exc:
            raise InstallError(str(exc)) from None
        if response.status in expect:
            return response
        # 502/503 from the API server: the pod is not answering yet (starting, restarting)
        if response.status in retry and time.monotonic() < deadline:
            await asyncio.sleep(3)
            continue
        errors = response.body.get("errors") if isinstance(response.body, dict) else None
        raise InstallError(
            f"Vault {method} {path} on {pod} answered {response.status}"
            + (f": {'; '.join(map(str, errors))}" if errors else ""),
            node=None,
        )


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    replicas = int(ctx.config["replicas"])
    pods = [f"{NAME}-{i}" for i in range(replicas)]
    await ctx.step("install the Vault chart", lambda: ctx.helm(chart_values(ctx)))
    kube = await ctx.kube()
    await kube.wait_rollout("StatefulSet", NAME, ns, timeout=600)
    keys = _Keys()
    await ctx.step("initialise Vault", lambda: _initialise(ctx, pods[0], keys))
    for pod in pods:  # the leader first: the others join its Raft cluster when unsealed
        await ctx.step(f"unseal {pod}", functools.partial(_unseal, ctx, pod, keys))
    if ctx.config["auditLog"]:
        await ctx.step("enable the file audit device", lambda: _audit(ctx, pods[0], keys))
    for pod in pods:
        # 200 once unsealed (active or standby); a follower may need a moment to join the leader
        await _call(
            ctx,
            "GET",
            pod,
            "/v1/sys/health",
            query=[("standbyok", "true")],
            expect=(200,),
            retry=(429, 472, 473, 474, 501, 502, 503),
            patience=300,
        )
    # What the components installed before Vault made: copied now (later ones copy their own).
    await ctx.step("copy the platform's credentials into Vault KV", lambda: vault_kv.copy(ctx, ctx.cluster.catalog.ids))
    ui = f"; UI at https://vault.{ctx.spec.cluster.domain}" if ctx.config["uiIngress"] else ""
    where = (
        f"unseal keys and root token in {keys_path(ctx)}"
        if ctx.config["secretsStore"] == "file"
        else "unseal keys and root token shown once in the summary"
    )
    ctx.log(f"Vault is initialised, unsealed and healthy on {len(pods)} pod(s){ui}; {where}")


async def _initialise(ctx: InstallContext, leader: str, keys: _Keys) -> None:
    status = (await _call(ctx, "GET", leader, "/v1/sys/seal-status")).body or {}
    if status.get("initialized"):
        ctx.log("Vault is already initialised")
        return
    store = ctx.config["secretsStore"]
    shares, threshold = int(ctx.config["keyShares"]), int(ctx.config["keyThreshold"])
    if threshold > shares:
        raise InstallError(f"vault.keyThreshold ({threshold}) is larger than vault.keyShares ({shares})")
    result = (
        await _call(ctx, "PUT", leader, "/v1/sys/init", body={"secret_shares": shares, "secret_threshold": threshold})
    ).body or {}
    keys.keys = list(result.get("keys_base64") or result.get("keys") or [])
    keys.root_token = result.get("root_token")
    for value in [*keys.keys, keys.root_token or ""]:
        ctx.cluster.secrets.register(value)
    if not keys.keys or not keys.root_token:
        raise InstallError("Vault's init answer had no unseal keys or no root token")
    record = {
        "unseal_keys_b64": keys.keys,
        "root_token": keys.root_token,
        "key_shares": shares,
        "key_threshold": threshold,
        "initialized_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if store == "file":
        path = keys_path(ctx)
        kept = await asyncio.to_thread(save_keys, path, json.dumps(record, indent=2) + "\n")
        ctx.log(
            f"Vault initialised with {shares} key shares (threshold {threshold}); keys and root token "
            f"written to {path} (mode 0600). Move them somewhere safe."
        )
        if kept is not None:
            ctx.log(f"an earlier Vault keys file was there; it is kept as {kept}")
    else:
        ctx.cluster.handover(
            "Vault unseal keys and root token (shown once, stored nowhere)",
            [f"unseal key {i + 1}: {k}" for i, k in enumerate(keys.keys)] + [f"root token: {keys.root_token}"],
        )
        ctx.log(
            f"Vault initialised with {shares} key shares (threshold {threshold}); the keys are shown once "
            "in the summary"
        )


def _load_keys(ctx: InstallContext, keys: _Keys) -> None:
    if keys.keys:
        return
    path = keys_path(ctx)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    keys.keys = list(record.get("unseal_keys_b64") or [])
    keys.root_token = record.get("root_token")
    for value in [*keys.keys, keys.root_token or ""]:
        ctx.cluster.secrets.register(value)


async def _unseal(ctx: InstallContext, pod: str, keys: _Keys) -> None:
    status = (await _call(ctx, "GET", pod, "/v1/sys/seal-status")).body or {}
    if status.get("sealed") is False:
        ctx.log(f"{pod} is already unsealed")
        return
    _load_keys(ctx, keys)
    if not keys.keys:
        raise InstallError(
            f"{pod} is sealed and this run has no unseal keys (secretsStore 'print', or "
            f"{keys_path(ctx)} is missing). Unseal it with your keys: kubectl -n "
            f"{ctx.component.namespace} exec -ti {pod} -- vault operator unseal; then retry"
        )
    for key in keys.keys:
        answer = (await _call(ctx, "PUT", pod, "/v1/sys/unseal", body={"key": key})).body or {}
        if answer.get("sealed") is False:
            ctx.log(f"{pod} unsealed")
            return
    raise InstallError(f"{pod} is still sealed after every unseal key was given")


async def _audit(ctx: InstallContext, leader: str, keys: _Keys) -> None:
    _load_keys(ctx, keys)
    if not keys.root_token:
        ctx.log(
            "note: no root token in this run (secretsStore 'print'): enable the audit device yourself: "
            f"vault audit enable file file_path={AUDIT_PATH}"
        )
        return
    devices = (await _call(ctx, "GET", leader, "/v1/sys/audit", token=keys.root_token)).body or {}
    listed = devices.get("data", devices) if isinstance(devices, dict) else {}
    if "file/" in listed:
        ctx.log("the file audit device is already enabled")
        return
    await _call(
        ctx,
        "PUT",
        leader,
        "/v1/sys/audit/file",
        token=keys.root_token,
        body={"type": "file", "options": {"file_path": AUDIT_PATH}},
    )
    ctx.log(f"file audit device enabled: {AUDIT_PATH} on the audit volume")


async def uninstall(ctx: InstallContext) -> None:
    """What install created goes; its data stays unless purge (support/uninstall.py)."""
    await standard(ctx)
