"""5.7 MinIO (S3): the MinIO Operator chart, one Tenant, buckets and users for the services.

The operator chart (operator.min.io, with its Tenant CRD) runs the operator; the installer then
declares the `minio.min.io/v2 Tenant` `minio/thinkube` itself (the catalog's `tenant` chart
renders the same object; declaring it directly lets services add buckets to it later). Buckets
and users of the selected services (harbor, mlflow, argo-workflows, jupyterhub, loki) and the
operator's extra buckets are declared in the Tenant (`spec.buckets`, `spec.users`).

Docs: https://min.io/docs/minio/kubernetes/upstream/ (Tenant CRD reference: configuration,
pools, buckets, users, requestAutoCert; status.currentState), the operator chart's values.
"""

from __future__ import annotations

import re
from typing import Any

from .base import InstallContext
from .support.components import enabled
from .support.minio import BUCKETS, MINIO_API, TENANT, TENANT_CONFIG_SECRET, provision_buckets, s3_endpoint
from .support.objects import ensure
from .support.secret_objects import ensure_secret, keep_or_make, secret_values

OPERATOR_RELEASE = "minio-operator"  # the chart names the operator Deployment after the release
MINIO_IMAGE = "quay.io/minio/minio:RELEASE.2025-04-08T15-41-24Z"  # the tenant chart 7.0.0 default
POOL = "pool-0"


def config_env(user: str, password: str) -> str:
    return f'export MINIO_ROOT_USER="{user}"\nexport MINIO_ROOT_PASSWORD="{password}"\n'


def root_password_of(env: str) -> str | None:
    m = re.search(r'MINIO_ROOT_PASSWORD="?([^"\n]+)"?', env)
    return m.group(1) if m else None


def tenant_object(ctx: InstallContext) -> dict[str, Any]:
    c = ctx.config
    return {
        "apiVersion": MINIO_API,
        "kind": "Tenant",
        "metadata": {"name": TENANT, "namespace": ctx.component.namespace},
        "spec": {
            "image": MINIO_IMAGE,
            "configuration": {"name": TENANT_CONFIG_SECRET},
            "requestAutoCert": False,  # TLS ends at the ingress
            "features": {"bucketDNS": False},
            "pools": [
                {
                    "name": POOL,
                    "servers": int(c["servers"]),
                    "volumesPerServer": int(c["volumesPerServer"]),
                    "volumeClaimTemplate": {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": c["storageSize"]}},
                        },
                    },
                }
            ],
        },
    }


def ingress_object(ctx: InstallContext) -> dict[str, Any]:
    domain = ctx.spec.cluster.domain
    rules = [("s3", "minio", 80)]
    if ctx.config["console"]:
        rules.append(("minio", f"{TENANT}-console", 9090))
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "minio",
            "namespace": ctx.component.namespace,
            "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "0"},
        },
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": [f"{host}.{domain}" for host, _, _ in rules]}],
            "rules": [
                {
                    "host": f"{host}.{domain}",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": service, "port": {"number": port}}},
                            }
                        ]
                    },
                }
                for host, service, port in rules
            ],
        },
    }


def consumers(ctx: InstallContext) -> list[str]:
    """The services in this Spec that keep data in MinIO."""
    return [c for c in BUCKETS if c in ctx.cluster.catalog and enabled(ctx, c)]


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    await ctx.step(
        "install the MinIO Operator", lambda: ctx.helm({"operator": {"replicaCount": 1}}, release=OPERATOR_RELEASE)
    )
    kube = await ctx.kube()
    await kube.wait_rollout("Deployment", OPERATOR_RELEASE, ns, timeout=600)
    await ctx.step("the root credentials", lambda: _root_credentials(ctx))
    await ctx.step("declare the Tenant", lambda: ensure(ctx, tenant_object(ctx)))
    await ctx.step("publish the S3 API and console", lambda: ensure(ctx, ingress_object(ctx)))
    extra = []
    for bucket in ctx.config["buckets"]:
        extra.append({"name": bucket["name"], **({"objectLock": True} if bucket.get("objectLock") else {})})
        if bucket.get("versioning") or bucket.get("quota"):
            ctx.log(
                f"note: bucket {bucket['name']}: versioning and quotas are not declarative in the Tenant; "
                f"set them with `mc version enable` / `mc quota set` (not done by the installer)"
            )
    wanted = consumers(ctx)
    await ctx.step("buckets and users for the services", lambda: provision_buckets(ctx, wanted, extra))
    await kube.wait_for(
        MINIO_API,
        "Tenant",
        TENANT,
        ns,
        lambda t: (t.get("status") or {}).get("currentState") == "Initialized",
        timeout=900,
        what=f"MinIO Tenant {ns}/{TENANT}",
    )
    await kube.wait_rollout("StatefulSet", f"{TENANT}-{POOL}", ns, timeout=600)
    console = f", console https://minio.{ctx.spec.cluster.domain}" if ctx.config["console"] else ""
    ctx.log(
        f"MinIO is ready: S3 at https://s3.{ctx.spec.cluster.domain} (in the cluster {s3_endpoint(ctx)})"
        f"{console}; root credentials in Secret {ns}/{TENANT_CONFIG_SECRET} (config.env)"
    )


async def _root_credentials(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    user = str(ctx.config["rootUser"])
    ref = ctx.config.get("rootPassword")
    password: str | None = None
    if ref is None:
        stored = await secret_values(ctx, TENANT_CONFIG_SECRET, ns)
        password = root_password_of((stored or {}).get("config.env", ""))
        if password:
            ctx.cluster.secrets.register(password)
            ctx.log(f"the MinIO root password: reusing the value kept in Secret {ns}/{TENANT_CONFIG_SECRET}")
    if not password:
        password = await keep_or_make(ctx, [], ref=ref, used_for="the MinIO root password")
    await ensure_secret(ctx, TENANT_CONFIG_SECRET, ns, {"config.env": config_env(user, password)})
