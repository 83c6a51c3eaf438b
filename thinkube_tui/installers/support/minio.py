"""The shared MinIO contract (MinIO Operator Tenant): a bucket and an access key for a consumer.

``async def bucket_for(ctx, consumer) -> BucketCredentials``
    A bucket (``harbor``, ``mlflow``, ``argo``, ``jupyterhub``, ``loki``; else the consumer's
    id) and a MinIO user in the MinIO Tenant ``minio/thinkube``, declared in the Tenant's
    ``spec.buckets`` / ``spec.users``. The access key is the consumer's id, the secret key is
    generated once; both are kept in the Secret ``<consumer>-s3`` in the consumer's namespace
    (keys ``AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY endpoint bucket``). Caveat: MinIO Operator
    gives users declared in a Tenant the ``consoleAdmin`` policy; per-bucket policies need
    MinIO's admin API and are not set up.

Called from an installer with its own `ctx`: runs as one journaled step of the calling
component, is idempotent, and returns names and places, never a secret value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...engine import InstallError
from ...kube import KubeError
from ..base import InstallContext
from .components import namespace_of
from .locks import lock
from .objects import ensure_namespace
from .secret_objects import ensure_secret, keep_or_make

Obj = dict[str, Any]

MINIO_API = "minio.min.io/v2"
TENANT = "thinkube"
TENANT_CONFIG_SECRET = f"{TENANT}-env-configuration"
BUCKETS_MANAGER = "thinkube-tui-buckets"  # owns Tenant.spec.buckets and spec.users, nothing else
#: consumer -> bucket
BUCKETS = {"harbor": "harbor", "mlflow": "mlflow", "argo-workflows": "argo", "jupyterhub": "jupyterhub", "loki": "loki"}


@dataclass(frozen=True)
class BucketCredentials:
    endpoint: str
    bucket: str
    access_key_id: str
    secret_name: str  # in `namespace`; keys AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, endpoint, bucket
    namespace: str


def s3_endpoint(ctx: InstallContext) -> str:
    # requestAutoCert: false -> the Tenant's S3 Service `minio` listens on port 80
    return f"http://minio.{namespace_of(ctx, 'minio')}.svc.cluster.local"


def bucket_name(consumer: str) -> str:
    return BUCKETS.get(consumer, consumer)


def user_secret_name(consumer: str) -> str:
    return f"{consumer}-s3-user"


async def bucket_for(ctx: InstallContext, consumer: str) -> BucketCredentials:
    """A bucket and an access key for `consumer` in the MinIO Tenant (see the module doc)."""
    creds = BucketCredentials(
        endpoint=s3_endpoint(ctx),
        bucket=bucket_name(consumer),
        access_key_id=consumer,
        secret_name=f"{consumer}-s3",
        namespace=namespace_of(ctx, consumer),
    )
    await ctx.step(f"MinIO bucket {creds.bucket} for {consumer}", lambda: provision_buckets(ctx, [consumer]))
    return creds


async def provision_buckets(
    ctx: InstallContext, consumers: Sequence[str], extra: Sequence[Mapping[str, Any]] = ()
) -> None:
    """Buckets and users for `consumers` (+ `extra` bucket entries) in the Tenant, their Secrets."""
    minio_ns = namespace_of(ctx, "minio")
    endpoint = s3_endpoint(ctx)
    for consumer in consumers:
        ns = namespace_of(ctx, consumer)
        key = await keep_or_make(
            ctx,
            [
                (f"{consumer}-s3", ns, "AWS_SECRET_ACCESS_KEY"),
                (user_secret_name(consumer), minio_ns, "CONSOLE_SECRET_KEY"),
            ],
            used_for=f"the MinIO secret key of {consumer}",
        )
        # The operator creates a MinIO user from each Secret named in Tenant.spec.users.
        await ensure_secret(
            ctx, user_secret_name(consumer), minio_ns, {"CONSOLE_ACCESS_KEY": consumer, "CONSOLE_SECRET_KEY": key}
        )
        await ensure_namespace(ctx, ns)
        await ensure_secret(
            ctx,
            f"{consumer}-s3",
            ns,
            {
                "AWS_ACCESS_KEY_ID": consumer,
                "AWS_SECRET_ACCESS_KEY": key,
                "endpoint": endpoint,
                "bucket": bucket_name(consumer),
            },
        )
    buckets = [{"name": bucket_name(c)} for c in consumers] + [dict(b) for b in extra]
    users = [{"name": user_secret_name(c)} for c in consumers]
    await _ensure_tenant_lists(ctx, minio_ns, buckets, users)
    kube = await ctx.kube()
    await kube.wait_for(
        MINIO_API,
        "Tenant",
        TENANT,
        minio_ns,
        lambda t: (t.get("status") or {}).get("currentState") == "Initialized",
        timeout=600,
        what=f"MinIO Tenant {minio_ns}/{TENANT}",
    )
    for consumer in consumers:
        ctx.log(
            f"bucket {bucket_name(consumer)} at {endpoint}; access key in Secret "
            f"{namespace_of(ctx, consumer)}/{consumer}-s3"
        )


async def _ensure_tenant_lists(
    ctx: InstallContext, minio_ns: str, buckets: Sequence[Obj], users: Sequence[Obj]
) -> None:
    kube = await ctx.kube()
    async with lock(f"tenant:{minio_ns}"):
        current = await kube.get(MINIO_API, "Tenant", TENANT, minio_ns)
        spec = (current or {}).get("spec") or {}
        have_buckets: list[Obj] = list(spec.get("buckets") or [])
        have_users: list[Obj] = list(spec.get("users") or [])
        new_buckets = have_buckets + [b for b in buckets if not any(h.get("name") == b["name"] for h in have_buckets)]
        new_users = have_users + [u for u in users if not any(h.get("name") == u["name"] for h in have_users)]
        if len(new_buckets) == len(have_buckets) and len(new_users) == len(have_users):
            ctx.log("the Tenant already declares these buckets and users")
            return
        patch = {
            "apiVersion": MINIO_API,
            "kind": "Tenant",
            "metadata": {"name": TENANT, "namespace": minio_ns},
            "spec": {"buckets": new_buckets, "users": new_users},
        }
        try:
            await kube.apply(patch, field_manager=BUCKETS_MANAGER)
        except KubeError as exc:
            if current is None:
                raise InstallError(
                    f"the MinIO Tenant {minio_ns}/{TENANT} does not exist: install the minio component first"
                ) from exc
            raise
        added = [b["name"] for b in new_buckets[len(have_buckets) :]]
        ctx.log(
            f"declared in the Tenant: buckets {', '.join(added) or '-'}; "
            f"users {', '.join(u['name'] for u in new_users[len(have_users) :]) or '-'}"
        )
