"""5.7 PostgreSQL (shared): the CloudNativePG operator and one `Cluster` every service shares.

The operator comes from its Helm chart (with its CRDs: Cluster, Database, ...); the installer
then declares the `postgresql.cnpg.io/v1 Cluster` `postgres/postgres` itself. Services get their
own role and database through `support.postgres.database_for` (managed roles + `Database` objects).

Docs: https://cloudnative-pg.io/documentation/current/ (bootstrap, "PostgreSQL Role Management",
"PostgreSQL Database Management", the API reference for Cluster.status.readyInstances).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..engine import InstallError
from ..kube import KubeError
from .base import InstallContext
from .support.objects import condition, ensure
from .support.postgres import CNPG_API, PG_CLUSTER, pg_host
from .support.secret_objects import ensure_secret, keep_or_make

OPERATOR = "cnpg-controller-manager"  # fullnameOverride: the Deployment's name
SUPERUSER_SECRET = f"{PG_CLUSTER}-superuser"
IMAGE = "ghcr.io/cloudnative-pg/postgresql"


def pg_memory(quantity: str) -> str:
    """A Kubernetes quantity (256Mi, 1.5Gi) as a PostgreSQL memory setting (256MB, 1536MB)."""
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti)", quantity)
    if not m:
        raise InstallError(f"not a memory size: {quantity}")
    kib = float(m.group(1)) * {"Ki": 1, "Mi": 1024, "Gi": 1024**2, "Ti": 1024**3}[m.group(2)]
    for unit, size in (("TB", 1024**3), ("GB", 1024**2), ("MB", 1024)):
        if kib >= size and kib % size == 0:
            return f"{int(kib // size)}{unit}"
    return f"{int(kib)}kB"


def operator_values() -> dict[str, object]:
    return {"fullnameOverride": OPERATOR, "crds": {"create": True}, "config": {"clusterWide": True}}


def cluster_object(ctx: InstallContext) -> dict[str, object]:
    c = ctx.config
    spec: dict[str, object] = {
        "instances": int(c["instances"]),
        "imageName": f"{IMAGE}:{c['version']}",
        "enableSuperuserAccess": True,
        "superuserSecret": {"name": SUPERUSER_SECRET},
        "storage": {"size": c["storageSize"]},
        "postgresql": {
            "parameters": {
                "max_connections": str(c["maxConnections"]),
                "shared_buffers": pg_memory(c["sharedBuffers"]),
            }
        },
    }
    wal = c["walStorageSize"]
    if float(re.sub(r"[A-Za-z]+$", "", wal) or 0) > 0:
        spec["walStorage"] = {"size": wal}
    return {
        "apiVersion": CNPG_API,
        "kind": "Cluster",
        "metadata": {"name": PG_CLUSTER, "namespace": ctx.component.namespace},
        "spec": spec,
    }


def cluster_ready(instances: int) -> Callable[[Mapping[str, Any]], bool]:
    """CloudNativePG's view: `status.readyInstances` reached and condition Ready True."""

    def ready(obj: Mapping[str, Any]) -> bool:
        status = obj.get("status") or {}
        return int(status.get("readyInstances") or 0) >= instances and condition(obj, "Ready")

    return ready


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    await ctx.step("install the CloudNativePG operator", lambda: ctx.helm(operator_values()))
    kube = await ctx.kube()
    await kube.wait_rollout("Deployment", OPERATOR, ns, timeout=600)
    await ctx.step("the superuser's password", lambda: _superuser(ctx))
    await ctx.step("declare the shared PostgreSQL cluster", lambda: _apply_cluster(ctx))
    instances = int(ctx.config["instances"])
    await kube.wait_for(
        CNPG_API,
        "Cluster",
        PG_CLUSTER,
        ns,
        cluster_ready(instances),
        timeout=900,
        what=f"PostgreSQL cluster {ns}/{PG_CLUSTER}",
    )
    ctx.log(
        f"PostgreSQL {ctx.config['version']} is ready at {pg_host(ctx)}:5432 "
        f"({instances} instance(s)); superuser credentials in Secret {ns}/{SUPERUSER_SECRET}"
    )


async def _superuser(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    password = await keep_or_make(
        ctx,
        [(SUPERUSER_SECRET, ns, "password")],
        ref=ctx.config.get("superuserPassword"),
        used_for="the PostgreSQL superuser password",
    )
    await ensure_secret(
        ctx,
        SUPERUSER_SECRET,
        ns,
        {"username": "postgres", "password": password},
        type="kubernetes.io/basic-auth",
        labels={"cnpg.io/reload": "true"},
    )


async def _apply_cluster(ctx: InstallContext) -> None:
    """Apply the Cluster; the operator's admission webhook may need a moment after its rollout."""
    for attempt in range(12):
        try:
            await ensure(ctx, cluster_object(ctx))
            return
        except KubeError as exc:
            if "webhook" not in str(exc) or attempt == 11:
                raise
            ctx.log("the CloudNativePG webhook is not answering yet; trying again in 10 s")
            await asyncio.sleep(10)
