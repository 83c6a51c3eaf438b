"""Taking a component away again: the pieces `remove` and `reset` are made of (docs/day-two.md).

An installer module may define `async def uninstall(ctx)` beside `install`: it removes what
the install created and, unless `ctx.cluster.purge`, keeps the component's data -- its volume
claims, its PostgreSQL database, its MinIO bucket -- with the Secrets that open them, so that
installing it again finds both. A component without `uninstall` cannot be removed: the run
says so ("not implemented") instead of claiming it did. Each piece is a journaled step and
checks before it acts, so a removal cut off half way converges when run again.
"""

from __future__ import annotations

import json
import shlex

from ..base import InstallContext
from .components import namespace_of
from .keycloak import KEYCLOAK_API, job_succeeded, kcadm_job, keycloak_secret_name, realm_name
from .locks import lock
from .minio import MINIO_API, TENANT, user_secret_name
from .objects import describe
from .postgres import CNPG_API, PG_CLUSTER, ROLES_MANAGER, pg_identifier

Obj = dict[str, object]

#: Kubernetes' own namespaces: never deleted by a removal.
KUBERNETES_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
NAMESPACE_GONE_S = 600


async def standard(ctx: InstallContext, *, releases: tuple[tuple[str, str], ...] | None = None) -> None:
    """What most components need: their Helm release(s) uninstalled (default: the component's id
    in its namespace), their OIDC client unregistered when they have one, then their namespace."""
    for release, namespace in releases if releases is not None else ((ctx.component.id, ctx.component.namespace),):
        await helm_release_gone(ctx, release, namespace)
    if ctx.component.sso:
        await oidc_client_gone(ctx)
    await namespace_gone(ctx)


async def helm_release_gone(ctx: InstallContext, release: str, namespace: str) -> None:
    """`helm uninstall` (a release already gone is fine); waits until its objects are deleted."""
    q = shlex.quote
    command = (
        f"microk8s helm3 uninstall {q(release)} --namespace {q(namespace)} --ignore-not-found --wait --timeout 10m"
    )
    await ctx.step(
        f"uninstall the Helm release {namespace}/{release}", lambda: ctx.run(ctx.control, command, sudo=True)
    )


def sharing(ctx: InstallContext, namespace: str) -> list[str]:
    """The components staying installed that live in `namespace` too."""
    return sorted(c.id for c in ctx.cluster.catalog if c.namespace == namespace and c.id in ctx.cluster.staying)


async def namespace_gone(ctx: InstallContext, namespace: str | None = None) -> None:
    """Delete the component's namespace and wait until it is gone -- unless a component that
    stays lives there too, or (without purge) it holds volume claims: then it stays, and why
    is logged."""
    ns = namespace or ctx.component.namespace

    async def delete() -> None:
        if ns in KUBERNETES_NAMESPACES:
            return
        if others := sharing(ctx, ns):
            ctx.log(f"namespace {ns} stays: {', '.join(others)} live there too")
            return
        kube = await ctx.kube()
        if not ctx.cluster.purge:
            claims = await kube.list("v1", "PersistentVolumeClaim", ns)
            if claims:
                names = ", ".join(c["metadata"]["name"] for c in claims)
                ctx.log(
                    f"namespace {ns} stays with its volume claims ({names}) and the Secrets that open the "
                    "data: installing the component again finds both; --purge deletes them"
                )
                return
        if await kube.delete("v1", "Namespace", ns):
            ctx.log(f"namespace {ns} deleted; waiting until its contents are gone")
        await kube.wait_gone("v1", "Namespace", ns, None, timeout=NAMESPACE_GONE_S, what=f"namespace {ns}")

    await ctx.step(f"delete the namespace {ns}", delete)


DELETE_CLIENT_SCRIPT = """\
set -eu
kcadm=/opt/keycloak/bin/kcadm.sh
cfg=/tmp/kcadm.config
# KC_CLI_PASSWORD carries the admin password (kept out of the command line)
$kcadm config credentials --config "$cfg" --server "$KEYCLOAK_URL" --realm master --user "$ADMIN_USER"
found=$($kcadm get clients --config "$cfg" -r "$REALM" -q "clientId=$CLIENT_ID" --fields id --format csv --noquotes)
if [ -n "$found" ]; then
  $kcadm delete "clients/$found" --config "$cfg" -r "$REALM"
  echo "deleted client $CLIENT_ID"
else
  echo "client $CLIENT_ID is not there"
fi
"""


async def oidc_client_gone(ctx: InstallContext) -> None:
    """Unregister the component's OIDC client from the platform realm (a kcadm.sh Job inside the
    cluster, as the client was registered) and delete the copy of its secret in Keycloak's
    namespace. Nothing to do when Keycloak itself is being removed or is not installed."""
    consumer = ctx.component.id

    async def unregister() -> None:
        if "keycloak" not in ctx.cluster.staying:
            ctx.log("Keycloak is not staying: its realm goes with it, client included")
            return
        kube = await ctx.kube()
        kc_ns = namespace_of(ctx, "keycloak")
        name = f"keycloak-client-{consumer}-removal"[:63]
        job = kcadm_job(ctx, name, DELETE_CLIENT_SCRIPT, {"CLIENT_ID": consumer})
        await kube.delete("batch/v1", "Job", name, kc_ns)  # one from an earlier removal
        await kube.wait_gone("batch/v1", "Job", name, kc_ns, timeout=120, what=f"Job {kc_ns}/{name}")
        await kube.apply(job)
        await kube.wait_for(
            "batch/v1", "Job", name, kc_ns, job_succeeded, timeout=600, what=f"Job {kc_ns}/{name} ({describe(job)})"
        )
        await kube.delete("batch/v1", "Job", name, kc_ns)
        await kube.delete("v1", "Secret", keycloak_secret_name(consumer), kc_ns)
        await _drop_from_realm_import(ctx, consumer)
        ctx.log(f"OIDC client {consumer} deleted from realm {realm_name(ctx)}")

    await ctx.step(f"unregister the Keycloak OIDC client {consumer}", unregister)


async def _drop_from_realm_import(ctx: InstallContext, consumer: str) -> None:
    """The realm import still lists the client when it came with the realm: drop it there too, so
    that a realm imported again does not bring it back."""
    kube = await ctx.kube()
    kc_ns, realm = namespace_of(ctx, "keycloak"), realm_name(ctx)
    imported = await kube.get(KEYCLOAK_API, "KeycloakRealmImport", realm, kc_ns)
    if imported is None:
        return
    spec = imported.get("spec") or {}
    clients = (spec.get("realm") or {}).get("clients") or []
    if not any(c.get("clientId") == consumer for c in clients):
        return
    placeholders = {k: v for k, v in (spec.get("placeholders") or {}).items() if consumer not in json.dumps(v)}
    realm_spec = {**spec["realm"], "clients": [c for c in clients if c.get("clientId") != consumer]}
    await kube.replace({**imported, "spec": {**spec, "realm": realm_spec, "placeholders": placeholders}})


async def database_released(ctx: InstallContext, *, database: str | None = None) -> None:
    """The component's PostgreSQL database and role: kept (with their Secret) unless purge; with
    purge, CloudNativePG drops them (`ensure: absent`)."""
    consumer = ctx.component.id

    async def release() -> None:
        user = pg_identifier(consumer)
        if "postgresql" not in ctx.cluster.staying:
            ctx.log("PostgreSQL is not staying: its databases go with it")
            return
        if not ctx.cluster.purge:
            ctx.log(f"PostgreSQL database and role {user} kept (with Secret {consumer}-db); --purge drops them")
            return
        kube = await ctx.kube()
        pg_ns = namespace_of(ctx, "postgresql")
        name = f"{PG_CLUSTER}-{(database or user).replace('_', '-')}"
        live = await kube.get(CNPG_API, "Database", name, pg_ns)
        if live is not None:
            await kube.apply(
                {
                    "apiVersion": CNPG_API,
                    "kind": "Database",
                    "metadata": {"name": name, "namespace": pg_ns},
                    "spec": {**live["spec"], "ensure": "absent"},
                }
            )
        async with lock(f"roles:{pg_ns}"):
            cluster = await kube.get(CNPG_API, "Cluster", PG_CLUSTER, pg_ns)
            roles = list((((cluster or {}).get("spec") or {}).get("managed") or {}).get("roles") or [])
            if any(r.get("name") == user and r.get("ensure") != "absent" for r in roles):
                roles = [{**r, "ensure": "absent"} if r.get("name") == user else r for r in roles]
                await kube.apply(
                    {
                        "apiVersion": CNPG_API,
                        "kind": "Cluster",
                        "metadata": {"name": PG_CLUSTER, "namespace": pg_ns},
                        "spec": {"managed": {"roles": roles}},
                    },
                    field_manager=ROLES_MANAGER,
                )
        await kube.delete("v1", "Secret", f"{consumer}-db", pg_ns)
        ctx.log(f"PostgreSQL database and role {user} dropped")

    await ctx.step(f"PostgreSQL database of {consumer}", release)


async def bucket_user_gone(ctx: InstallContext) -> None:
    """The component's MinIO user leaves the Tenant (its access key stops working); the bucket and
    its objects stay: MinIO Operator never deletes a bucket (`mc rb --force` does)."""
    consumer = ctx.component.id

    async def leave() -> None:
        if "minio" not in ctx.cluster.staying:
            ctx.log("MinIO is not staying: its buckets go with it")
            return
        kube = await ctx.kube()
        minio_ns = namespace_of(ctx, "minio")
        async with lock(f"tenant:{minio_ns}"):
            tenant = await kube.get(MINIO_API, "Tenant", TENANT, minio_ns)
            users = list(((tenant or {}).get("spec") or {}).get("users") or [])
            kept = [u for u in users if u.get("name") != user_secret_name(consumer)]
            if tenant is not None and len(kept) != len(users):
                await kube.merge_patch(MINIO_API, "Tenant", TENANT, minio_ns, {"spec": {"users": kept}})
        await kube.delete("v1", "Secret", user_secret_name(consumer), minio_ns)
        ctx.log(
            f"MinIO user {consumer} removed; its bucket and objects stay (MinIO Operator never deletes a "
            "bucket: `mc rb --force` does)"
        )

    await ctx.step(f"MinIO user of {consumer}", leave)
