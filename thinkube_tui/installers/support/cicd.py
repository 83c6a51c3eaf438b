"""Helpers shared by the CI/CD installers (group 5.6): Harbor, Argo Workflows, Argo CD, devpi.

- Trusting the platform's certificates from inside the cluster: with `cluster.certificates:
  self-signed` every `https://<host>.<domain>` (Keycloak included) is signed by the CA that
  ssl-certificates keeps in `cert-manager/thinkube-ca`. Services that call Keycloak from their
  pods (OIDC discovery, token exchange) need that CA: `ca.cluster_ca` reads it (public data,
  no secret) and `ensure_ca_secret` puts a copy (`ca.crt` only, never the key) into their
  namespace. With `letsencrypt-staging` the certificates chain to Let's Encrypt's untrusted
  staging roots, so OIDC clients skip verification (`verify_tls` is False) and say so.
- One-shot Jobs and Workflows named after a digest of what they do: a second run finds the
  same object (nothing sent), a changed setting makes a new one (Job specs are immutable).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ...engine import InstallError
from ..base import InstallContext
from .ca import cluster_ca
from .objects import MANAGED_BY, condition, ensure, wait

# The realm group whose members administer Harbor, Argo Workflows (SSO RBAC) and, unless its
# `adminGroup` setting says otherwise, Argo CD. Keycloak's realm import always declares it.
ADMIN_GROUP = "admins"
CA_SECRET = "thinkube-ca"  # same name as ssl-certificates' CA Secret; here it holds ca.crt only


def verify_tls(ctx: InstallContext) -> bool:
    """Whether in-cluster clients can verify the platform's certificates (see the module doc)."""
    return ctx.spec.cluster.certificates != "letsencrypt-staging"


def digest(*parts: Any, length: int = 8) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def ca_secret_name(ctx: InstallContext) -> str | None:
    """The Secret `ensure_ca_secret` writes into a namespace, or None when there is none to write."""
    return CA_SECRET if ctx.spec.cluster.certificates == "self-signed" else None


async def ensure_ca_secret(ctx: InstallContext, namespace: str) -> str | None:
    """A Secret `thinkube-ca` with only `ca.crt` in `namespace` (self-signed clusters); its name or None."""
    pem = await cluster_ca(ctx)
    if pem is None:
        if not verify_tls(ctx):
            ctx.log(
                "certificates come from Let's Encrypt staging (untrusted roots): OIDC clients will skip "
                "TLS verification towards Keycloak"
            )
        return None
    await ensure(
        ctx,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": CA_SECRET, "namespace": namespace, "labels": dict(MANAGED_BY)},
            "data": {"ca.crt": base64.b64encode(pem.encode()).decode()},
        },
    )
    return CA_SECRET


def job_succeeded(obj: Mapping[str, Any]) -> bool:
    if condition(obj, "Failed"):
        raise_failed(obj)
    return int((obj.get("status") or {}).get("succeeded") or 0) >= 1 or condition(obj, "Complete")


def raise_failed(obj: Mapping[str, Any]) -> None:
    meta = obj.get("metadata") or {}
    raise InstallError(
        f"Job {meta.get('namespace')}/{meta.get('name')} failed: see `microk8s kubectl -n "
        f"{meta.get('namespace')} logs job/{meta.get('name')}`"
    )


async def run_job(ctx: InstallContext, job: dict[str, Any], *, what: str, timeout: float = 900) -> None:
    """Apply a one-shot Job (unless it exists as wanted) and wait until it succeeded."""
    meta = job["metadata"]
    await ensure(ctx, job)
    await wait(
        ctx,
        "batch/v1",
        "Job",
        meta["name"],
        meta["namespace"],
        job_succeeded,
        timeout=timeout,
        what=f"Job {meta['namespace']}/{meta['name']} ({what})",
        hint=f"see `microk8s kubectl -n {meta['namespace']} logs job/{meta['name']}`",
    )
    ctx.log(f"Job {meta['namespace']}/{meta['name']} succeeded: {what}")


def ingress_tls(host: str) -> list[dict[str, Any]]:
    # No secretName: the wildcard certificate (ingress/thinkube-wildcard-tls) is the ingress
    # controllers' default certificate and serves every host without a Secret of its own; a
    # secretName would have to name a Secret in this namespace, i.e. a copy of the wildcard key.
    return [{"hosts": [host]}]
