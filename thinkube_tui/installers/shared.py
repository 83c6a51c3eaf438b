"""Shared services other installers rely on: a database, a bucket, an OIDC client.

Contracts (call them from an installer with its own `ctx`; each runs as one journaled step of
the calling component, is idempotent, and returns names and places, never a secret value):

``async def database_for(ctx, consumer, *, database=None) -> DbCredentials``
    A role and a database (default: the consumer's id with ``-`` as ``_``) in the shared
    PostgreSQL (CloudNativePG ``Cluster`` ``postgres/postgres``). The role is a managed role in
    the Cluster spec (``spec.managed.roles`` with ``passwordSecret``), the database a
    ``postgresql.cnpg.io/v1 Database`` object: declarative, no SQL is run by the installer.
    The password is generated once and kept in the Secret ``<consumer>-db`` in the consumer's
    namespace (keys ``username password host port dbname uri``) and, for CloudNativePG, in a
    ``kubernetes.io/basic-auth`` Secret ``<consumer>-db`` in ``postgres``. A re-run reads the
    Secret and reuses the password. Waits until the role is reconciled and the Database applied.

``async def bucket_for(ctx, consumer) -> BucketCredentials``
    A bucket (``harbor``, ``mlflow``, ``argo``, ``jupyterhub``, ``loki``; else the consumer's
    id) and a MinIO user in the MinIO Tenant ``minio/thinkube``, declared in the Tenant's
    ``spec.buckets`` / ``spec.users``. The access key is the consumer's id, the secret key is
    generated once; both are kept in the Secret ``<consumer>-s3`` in the consumer's namespace
    (keys ``AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY endpoint bucket``). Caveat: MinIO Operator
    gives users declared in a Tenant the ``consoleAdmin`` policy; per-bucket policies need
    MinIO's admin API and are not set up.

``async def oidc_client_for(ctx, consumer) -> OidcClient``
    A confidential OIDC client ``<consumer>`` in the ``thinkube`` realm (issuer
    ``https://auth.<domain>/realms/thinkube``), redirect URIs ``https://<hostname>/*`` for the
    consumer's catalog hostnames. Its secret is generated once and kept in the Secret
    ``<consumer>-oidc`` (key ``client-secret``, plus ``client-id`` and ``issuer``) in the
    consumer's namespace. Clients of SSO components selected when Keycloak is installed come
    with the realm (a ``KeycloakRealmImport``); a client added later is created by a one-shot
    Job running ``kcadm.sh`` inside the cluster (the realm import cannot change an existing
    realm, and Keycloak's admin API cannot be reached through the API server proxy).

Helpers for these installers: `ensure` (apply unless the object already has these fields),
`secret_values`, `ensure_secret`, `keep_or_make` (reuse a stored secret, else the operator's,
else a new one).
"""

from __future__ import annotations

import asyncio
import base64
import json
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..engine import InstallError
from ..kube import KubeError
from ..secrets import generate_password
from ..spec import SecretRef
from .base import InstallContext
from .objects import condition, contains, ensure, ensure_namespace

Obj = dict[str, Any]

# ---------------------------------------------------------------- names shared with the installers

CNPG_API = "postgresql.cnpg.io/v1"
PG_CLUSTER = "postgres"
PG_PORT = 5432
ROLES_MANAGER = "thinkube-tui-databases"  # owns Cluster.spec.managed.roles, nothing else

MINIO_API = "minio.min.io/v2"
TENANT = "thinkube"
TENANT_CONFIG_SECRET = f"{TENANT}-env-configuration"
BUCKETS_MANAGER = "thinkube-tui-buckets"  # owns Tenant.spec.buckets and spec.users, nothing else
#: consumer -> bucket
BUCKETS = {"harbor": "harbor", "mlflow": "mlflow", "argo-workflows": "argo", "jupyterhub": "jupyterhub", "loki": "loki"}

KEYCLOAK_API = "k8s.keycloak.org/v2alpha1"
KEYCLOAK_CR = "keycloak"
KEYCLOAK_SERVICE = f"{KEYCLOAK_CR}-service"  # the operator names the Service after the CR
KEYCLOAK_ADMIN_SECRET = "keycloak-admin"
KEYCLOAK_IMAGE = "quay.io/keycloak/keycloak:26.2.0"


@dataclass(frozen=True)
class DbCredentials:
    host: str
    port: int
    database: str
    user: str
    secret_name: str  # in `namespace`; keys username, password, host, port, dbname, uri
    namespace: str


@dataclass(frozen=True)
class BucketCredentials:
    endpoint: str
    bucket: str
    access_key_id: str
    secret_name: str  # in `namespace`; keys AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, endpoint, bucket
    namespace: str


@dataclass(frozen=True)
class OidcClient:
    issuer: str
    client_id: str
    secret_name: str  # in `namespace`; key client-secret (and client-id, issuer)
    namespace: str
    secret_key: str = "client-secret"


# ---------------------------------------------------------------- objects and secrets


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


async def secret_values(
    ctx: InstallContext, name: str, namespace: str, secret_keys: Iterable[str] = ()
) -> dict[str, str] | None:
    """The decoded data of Secret `namespace/name` (None when it does not exist).

    Values under `secret_keys` are registered as secrets, so they are masked from then on.
    """
    kube = await ctx.kube()
    obj = await kube.get("v1", "Secret", name, namespace)
    if obj is None:
        return None
    out: dict[str, str] = {}
    for key, value in (obj.get("data") or {}).items():
        try:
            out[key] = base64.b64decode(value).decode()
        except (ValueError, UnicodeDecodeError):
            continue
    for key in secret_keys:
        if out.get(key):
            ctx.cluster.secrets.register(out[key])
    return out


def secret_object(
    name: str,
    namespace: str,
    values: Mapping[str, str],
    *,
    type: str = "Opaque",
    labels: Mapping[str, str] | None = None,
) -> Obj:
    meta: Obj = {
        "name": name,
        "namespace": namespace,
        "labels": {"app.kubernetes.io/managed-by": "thinkube-tui", **(labels or {})},
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": type,
        "data": {k: b64(v) for k, v in values.items()},
    }


async def ensure_secret(
    ctx: InstallContext,
    name: str,
    namespace: str,
    values: Mapping[str, str],
    *,
    type: str = "Opaque",
    labels: Mapping[str, str] | None = None,
) -> bool:
    return await ensure(ctx, secret_object(name, namespace, values, type=type, labels=labels))


async def keep_or_make(
    ctx: InstallContext, stored: Sequence[tuple[str, str, str]], *, ref: SecretRef | None = None, used_for: str
) -> str:
    """A secret value: the operator's (`ref`), else one stored before (the first of `stored`,
    each (secret name, namespace, key), that has it), else a newly generated password.

    Never rotates: a re-run finds the stored value and returns it. Always registered.
    """
    if ref is not None:
        return ctx.cluster.secrets.resolve(ref, used_for)
    for name, namespace, key in stored:
        found = await secret_values(ctx, name, namespace, secret_keys=(key,))
        if found and found.get(key):
            ctx.log(f"{used_for}: reusing the value kept in Secret {namespace}/{name}")
            return found[key]
    value = generate_password()
    ctx.cluster.secrets.register(value)
    ctx.log(f"{used_for}: generated a new one")
    return value


# One lock per event loop for read-modify-write of shared lists (roles, buckets): installers of
# one run share a loop, and several may ask for a database or a bucket at the same time.
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = weakref.WeakKeyDictionary()


def _lock(name: str) -> asyncio.Lock:
    per_loop = _locks.setdefault(asyncio.get_running_loop(), {})
    return per_loop.setdefault(name, asyncio.Lock())


def _namespace_of(ctx: InstallContext, component: str) -> str:
    return ctx.cluster.catalog[component].namespace


def enabled(ctx: InstallContext, component: str) -> bool:
    comp = ctx.spec.components.get(component)
    return comp is not None and comp.enabled is True


# ---------------------------------------------------------------- PostgreSQL


def pg_identifier(consumer: str) -> str:
    return consumer.replace("-", "_")


def pg_host(ctx: InstallContext) -> str:
    return f"{PG_CLUSTER}-rw.{_namespace_of(ctx, 'postgresql')}.svc.cluster.local"


async def database_for(ctx: InstallContext, consumer: str, *, database: str | None = None) -> DbCredentials:
    """A database and its owner role for `consumer` in the shared PostgreSQL (see the module doc)."""
    user = pg_identifier(consumer)
    db = database or user
    namespace = _namespace_of(ctx, consumer)
    creds = DbCredentials(
        host=pg_host(ctx), port=PG_PORT, database=db, user=user, secret_name=f"{consumer}-db", namespace=namespace
    )
    await ctx.step(f"PostgreSQL database {db} for {consumer}", lambda: _ensure_database(ctx, consumer, creds))
    return creds


async def _ensure_database(ctx: InstallContext, consumer: str, creds: DbCredentials) -> None:
    pg_ns = _namespace_of(ctx, "postgresql")
    password = await keep_or_make(
        ctx,
        [(creds.secret_name, creds.namespace, "password"), (creds.secret_name, pg_ns, "password")],
        used_for=f"the PostgreSQL password of {creds.user}",
    )
    # CloudNativePG reads the role's password from a basic-auth Secret in the Cluster's namespace;
    # cnpg.io/reload makes it follow changes of that Secret.
    await ensure_secret(
        ctx,
        creds.secret_name,
        pg_ns,
        {"username": creds.user, "password": password},
        type="kubernetes.io/basic-auth",
        labels={"cnpg.io/reload": "true"},
    )
    await ensure_namespace(ctx, creds.namespace)
    uri = f"postgresql://{creds.user}:{password}@{creds.host}:{creds.port}/{creds.database}"
    await ensure_secret(
        ctx,
        creds.secret_name,
        creds.namespace,
        {
            "username": creds.user,
            "password": password,
            "host": creds.host,
            "port": str(creds.port),
            "dbname": creds.database,
            "uri": uri,
        },
    )
    await _ensure_role(ctx, pg_ns, creds)
    await ensure(
        ctx,
        {
            "apiVersion": CNPG_API,
            "kind": "Database",
            "metadata": {"name": f"{PG_CLUSTER}-{creds.database.replace('_', '-')}", "namespace": pg_ns},
            "spec": {"name": creds.database, "owner": creds.user, "cluster": {"name": PG_CLUSTER}, "ensure": "present"},
        },
    )
    kube = await ctx.kube()
    await kube.wait_for(
        CNPG_API,
        "Cluster",
        PG_CLUSTER,
        pg_ns,
        lambda c: (
            creds.user
            in (((c.get("status") or {}).get("managedRolesStatus") or {}).get("byStatus") or {}).get("reconciled", [])
        ),
        timeout=300,
        what=f"PostgreSQL role {creds.user}",
    )
    await kube.wait_for(
        CNPG_API,
        "Database",
        f"{PG_CLUSTER}-{creds.database.replace('_', '-')}",
        pg_ns,
        lambda d: (d.get("status") or {}).get("applied") is True,
        timeout=300,
        what=f"PostgreSQL database {creds.database}",
    )
    ctx.log(
        f"database {creds.database} (owner {creds.user}) at {creds.host}:{creds.port}; "
        f"credentials in Secret {creds.namespace}/{creds.secret_name}"
    )


def role_entry(user: str, secret_name: str) -> Obj:
    return {"name": user, "ensure": "present", "login": True, "passwordSecret": {"name": secret_name}}


async def _ensure_role(ctx: InstallContext, pg_ns: str, creds: DbCredentials) -> None:
    kube = await ctx.kube()
    async with _lock(f"roles:{pg_ns}"):
        current = await kube.get(CNPG_API, "Cluster", PG_CLUSTER, pg_ns)
        roles: list[Obj] = list((((current or {}).get("spec") or {}).get("managed") or {}).get("roles") or [])
        wanted = role_entry(creds.user, creds.secret_name)
        if any(contains(r, wanted) for r in roles):
            ctx.log(f"PostgreSQL role {creds.user} is already declared")
            return
        roles = [r for r in roles if r.get("name") != creds.user] + [wanted]
        patch = {
            "apiVersion": CNPG_API,
            "kind": "Cluster",
            "metadata": {"name": PG_CLUSTER, "namespace": pg_ns},
            "spec": {"managed": {"roles": roles}},
        }
        try:
            await kube.apply(patch, field_manager=ROLES_MANAGER)
        except KubeError as exc:
            if current is None:
                raise InstallError(
                    f"the shared PostgreSQL cluster {pg_ns}/{PG_CLUSTER} does not exist: "
                    "install the postgresql component first"
                ) from exc
            raise
        ctx.log(f"declared PostgreSQL role {creds.user} (password from Secret {pg_ns}/{creds.secret_name})")


# ---------------------------------------------------------------- MinIO


def s3_endpoint(ctx: InstallContext) -> str:
    # requestAutoCert: false -> the Tenant's S3 Service `minio` listens on port 80
    return f"http://minio.{_namespace_of(ctx, 'minio')}.svc.cluster.local"


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
        namespace=_namespace_of(ctx, consumer),
    )
    await ctx.step(f"MinIO bucket {creds.bucket} for {consumer}", lambda: provision_buckets(ctx, [consumer]))
    return creds


async def provision_buckets(
    ctx: InstallContext, consumers: Sequence[str], extra: Sequence[Mapping[str, Any]] = ()
) -> None:
    """Buckets and users for `consumers` (+ `extra` bucket entries) in the Tenant, their Secrets."""
    minio_ns = _namespace_of(ctx, "minio")
    endpoint = s3_endpoint(ctx)
    for consumer in consumers:
        ns = _namespace_of(ctx, consumer)
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
            f"{_namespace_of(ctx, consumer)}/{consumer}-s3"
        )


async def _ensure_tenant_lists(
    ctx: InstallContext, minio_ns: str, buckets: Sequence[Obj], users: Sequence[Obj]
) -> None:
    kube = await ctx.kube()
    async with _lock(f"tenant:{minio_ns}"):
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


# ---------------------------------------------------------------- Keycloak


def realm_name(ctx: InstallContext) -> str:
    realm: str = ctx.spec.components["keycloak"].config.get("realm", "thinkube")
    return realm


def issuer_url(ctx: InstallContext) -> str:
    return f"https://auth.{ctx.spec.cluster.domain}/realms/{realm_name(ctx)}"


def keycloak_secret_name(consumer: str) -> str:
    """The copy of a client secret in the keycloak namespace (realm import placeholders, Jobs)."""
    return f"oidc-{consumer}"


def placeholder(consumer: str) -> str:
    return "CLIENT_SECRET_" + "".join(ch if ch.isalnum() else "_" for ch in consumer.upper())


def client_representation(ctx: InstallContext, consumer: str, secret: str) -> Obj:
    """The Keycloak ClientRepresentation of `consumer` (`secret`: the value or a placeholder)."""
    hosts = [h.format(domain=ctx.spec.cluster.domain) for h in ctx.cluster.catalog[consumer].hostnames]
    return {
        "clientId": consumer,
        "name": ctx.cluster.catalog[consumer].title,
        "enabled": True,
        "protocol": "openid-connect",
        "publicClient": False,
        "clientAuthenticatorType": "client-secret",
        "secret": secret,
        "standardFlowEnabled": True,
        "directAccessGrantsEnabled": False,
        "redirectUris": [f"https://{h}/*" for h in hosts],
        "webOrigins": [f"https://{h}" for h in hosts],
        "attributes": {"post.logout.redirect.uris": "+"},
        "protocolMappers": [
            {
                "name": "groups",
                "protocol": "openid-connect",
                "protocolMapper": "oidc-group-membership-mapper",
                "config": {
                    "claim.name": "groups",
                    "full.path": "false",
                    "id.token.claim": "true",
                    "access.token.claim": "true",
                    "userinfo.token.claim": "true",
                },
            }
        ],
    }


async def ensure_client_secret(ctx: InstallContext, consumer: str) -> OidcClient:
    """The client secret of `consumer`: generated once, in its namespace and in keycloak's."""
    kc_ns = _namespace_of(ctx, "keycloak")
    ns = _namespace_of(ctx, consumer)
    client = OidcClient(issuer=issuer_url(ctx), client_id=consumer, secret_name=f"{consumer}-oidc", namespace=ns)
    secret = await keep_or_make(
        ctx,
        [(client.secret_name, ns, "client-secret"), (keycloak_secret_name(consumer), kc_ns, "client-secret")],
        used_for=f"the OIDC client secret of {consumer}",
    )
    await ensure_secret(ctx, keycloak_secret_name(consumer), kc_ns, {"client-secret": secret})
    await ensure_namespace(ctx, ns)
    await ensure_secret(
        ctx, client.secret_name, ns, {"client-id": consumer, "client-secret": secret, "issuer": client.issuer}
    )
    return client


async def oidc_client_for(ctx: InstallContext, consumer: str) -> OidcClient:
    """An OIDC client for `consumer` in the platform realm (see the module doc)."""
    client = OidcClient(
        issuer=issuer_url(ctx),
        client_id=consumer,
        secret_name=f"{consumer}-oidc",
        namespace=_namespace_of(ctx, consumer),
    )
    await ctx.step(f"Keycloak OIDC client {consumer}", lambda: _ensure_client(ctx, consumer))
    return client


async def _ensure_client(ctx: InstallContext, consumer: str) -> None:
    await ensure_client_secret(ctx, consumer)
    kc_ns = _namespace_of(ctx, "keycloak")
    realm = realm_name(ctx)
    kube = await ctx.kube()
    imported = await kube.get(KEYCLOAK_API, "KeycloakRealmImport", realm, kc_ns)
    clients = (((imported or {}).get("spec") or {}).get("realm") or {}).get("clients") or []
    if any(c.get("clientId") == consumer for c in clients):
        await kube.wait_for(
            KEYCLOAK_API, "KeycloakRealmImport", realm, kc_ns, realm_imported, timeout=600, what=f"realm import {realm}"
        )
        ctx.log(f"client {consumer} came with the {realm} realm import")
        return
    await _client_job(ctx, consumer)


def realm_imported(obj: Mapping[str, Any]) -> bool:
    return condition(obj, "Done") and not condition(obj, "HasErrors")


KCADM_SCRIPT = """\
set -eu
kcadm=/opt/keycloak/bin/kcadm.sh
cfg=/tmp/kcadm.config
# KC_CLI_PASSWORD carries the admin password (kept out of the command line)
$kcadm config credentials --config "$cfg" --server "$KEYCLOAK_URL" --realm master --user "$ADMIN_USER"
found=$($kcadm get clients --config "$cfg" -r "$REALM" -q "clientId=$CLIENT_ID" --fields id --format csv --noquotes)
if [ -z "$found" ]; then
  printf '%s' "$CLIENT_JSON" | $kcadm create clients --config "$cfg" -r "$REALM" -f - -s "secret=$CLIENT_SECRET"
  echo "created client $CLIENT_ID"
else
  echo "client $CLIENT_ID exists"
fi
"""


def kcadm_job(ctx: InstallContext, name: str, script: str, env: Mapping[str, str | tuple[str, str]]) -> Obj:
    """A Job running `script` with Keycloak's admin CLI (kcadm.sh) inside the cluster, logged in
    as the realm admin: the admin API is reachable from there, and secrets come as env from
    Secrets. `env` values are literals, or (Secret name, key) pairs."""
    kc_ns = _namespace_of(ctx, "keycloak")
    variables: list[Obj] = [
        {"name": "KEYCLOAK_URL", "value": f"http://{KEYCLOAK_SERVICE}.{kc_ns}.svc:8080"},
        {"name": "REALM", "value": realm_name(ctx)},
        {"name": "ADMIN_USER", "valueFrom": {"secretKeyRef": {"name": KEYCLOAK_ADMIN_SECRET, "key": "username"}}},
        {"name": "KC_CLI_PASSWORD", "valueFrom": {"secretKeyRef": {"name": KEYCLOAK_ADMIN_SECRET, "key": "password"}}},
    ]
    for var, value in env.items():
        if isinstance(value, tuple):
            variables.append({"name": var, "valueFrom": {"secretKeyRef": {"name": value[0], "key": value[1]}}})
        else:
            variables.append({"name": var, "value": value})
    container = {"name": "kcadm", "image": KEYCLOAK_IMAGE, "command": ["/bin/bash", "-c", script], "env": variables}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name[:63], "namespace": kc_ns, "labels": {"app.kubernetes.io/managed-by": "thinkube-tui"}},
        "spec": {"backoffLimit": 6, "template": {"spec": {"restartPolicy": "OnFailure", "containers": [container]}}},
    }


async def _client_job(ctx: InstallContext, consumer: str) -> None:
    """Create the client with kcadm.sh in a Job inside the cluster (idempotent script)."""
    kc_ns = _namespace_of(ctx, "keycloak")
    name = f"keycloak-client-{consumer}"[:63]
    representation = client_representation(ctx, consumer, "")
    representation.pop("secret")
    job = kcadm_job(
        ctx,
        name,
        KCADM_SCRIPT,
        {
            "CLIENT_ID": consumer,
            "CLIENT_JSON": json.dumps(representation, sort_keys=True),
            "CLIENT_SECRET": (keycloak_secret_name(consumer), "client-secret"),
        },
    )
    await ensure(ctx, job)
    kube = await ctx.kube()
    await kube.wait_for(
        "batch/v1", "Job", name, kc_ns, job_succeeded, timeout=600, what=f"Job {kc_ns}/{name} (OIDC client {consumer})"
    )
    ctx.log(f"client {consumer} is in realm {realm_name(ctx)}")


def job_succeeded(obj: Mapping[str, Any]) -> bool:
    return int((obj.get("status") or {}).get("succeeded") or 0) >= 1 or condition(obj, "Complete")
