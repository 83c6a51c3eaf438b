"""5.7 Valkey: the Valkey project's own chart (valkey-io/valkey-helm), password-protected.

The `default` user's password is the operator's (`password`) or generated once, kept in the
Secret `valkey-users` (key `default`) which the chart reads (`auth.usersExistingSecret`), so
the password is never part of the Helm values. Standalone mode runs a Deployment `valkey`;
replicated mode a StatefulSet `valkey` (a primary and read replicas, `replica.*`).

Docs: https://github.com/valkey-io/valkey-helm `valkey/values.yaml` (auth.enabled,
usersExistingSecret, aclUsers, dataStorage, replica, valkeyConfig).
"""

from __future__ import annotations

import re
from typing import Any

from ..engine import InstallError
from .base import InstallContext
from .support.objects import ensure_namespace
from .support.secret_objects import ensure_secret, keep_or_make
from .support.uninstall import standard

NAME = "valkey"  # release, Deployment / StatefulSet, Service
USERS_SECRET = "valkey-users"


def to_bytes(quantity: str) -> int:
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti)", quantity)
    if not m:
        raise InstallError(f"not a memory size: {quantity}")
    return int(float(m.group(1)) * {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}[m.group(2)])


def chart_values(ctx: InstallContext) -> dict[str, Any]:
    c = ctx.config
    replicated = c["mode"] == "replicated"
    persistence = bool(c["persistence"]) or replicated  # replicas need volumes
    config = [
        f"maxmemory {to_bytes(c['maxMemory'])}",
        f"maxmemory-policy {c['evictionPolicy']}",
    ]
    if persistence:
        config.append("appendonly yes")
    values: dict[str, Any] = {
        "auth": {
            "enabled": True,
            "usersExistingSecret": USERS_SECRET,
            "aclUsers": {"default": {"permissions": "~* &* +@all", "passwordKey": "default"}},
        },
        "valkeyConfig": "\n".join(config) + "\n",
    }
    if replicated:
        values["replica"] = {
            "enabled": True,
            "replicas": int(c["replicas"]),
            "persistence": {"size": c["storageSize"]},
        }
    else:
        values["dataStorage"] = {"enabled": persistence, "requestedSize": c["storageSize"]}
    return values


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    await ctx.step("namespace", lambda: ensure_namespace(ctx, ns))
    await ctx.step("the password", lambda: _password(ctx))
    await ctx.step("install the Valkey chart", lambda: ctx.helm(chart_values(ctx)))
    kube = await ctx.kube()
    kind = "StatefulSet" if ctx.config["mode"] == "replicated" else "Deployment"
    await kube.wait_rollout(kind, NAME, ns, timeout=600)
    ctx.log(
        f"Valkey is ready at {NAME}.{ns}.svc.cluster.local:6379 (user default); password in Secret "
        f"{ns}/{USERS_SECRET} (key default)"
    )


async def _password(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    password = await keep_or_make(
        ctx, [(USERS_SECRET, ns, "default")], ref=ctx.config.get("password"), used_for="the Valkey password"
    )
    await ensure_secret(ctx, USERS_SECRET, ns, {"default": password})


async def uninstall(ctx: InstallContext) -> None:
    """What install created goes; its data stays unless purge (support/uninstall.py)."""
    await standard(ctx)
