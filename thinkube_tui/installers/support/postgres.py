"""The shared PostgreSQL contract (CloudNativePG): a database and a role for a consumer.

``async def database_for(ctx, consumer, *, database=None) -> DbCredentials``
    A role and a database (default: the consumer's id with ``-`` as ``_``) in the shared
    PostgreSQL (CloudNativePG ``Cluster`` ``postgres/postgres``). The role is a managed role in
    the Cluster spec (``spec.managed.roles`` with ``passwordSecret``), the database a
    ``postgresql.cnpg.io/v1 Database`` object: declarative, no SQL is run by the installer.
    The password is generated once and kept in the Secret ``<consumer>-db`` in the consumer's
    namespace (keys ``username password host port dbname uri``) and, for CloudNativePG, in a
    ``kubernetes.io/basic-auth`` Secret ``<consumer>-db`` in ``postgres``. A re-run reads the
    Secret and reuses the password. Waits until the role is reconciled and the Database applied.

Called from an installer with its own `ctx`: runs as one journaled step of the calling
component, is idempotent, and returns names and places, never a secret value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...engine import InstallError
from ...kube import KubeError
from ..base import InstallContext
from .components import namespace_of
from .locks import lock
from .objects import contains, ensure, ensure_namespace
from .secret_objects import ensure_secret, keep_or_make

Obj = dict[str, Any]

CNPG_API = "postgresql.cnpg.io/v1"
PG_CLUSTER = "postgres"
PG_PORT = 5432
ROLES_MANAGER = "thinkube-tui-databases"  # owns Cluster.spec.managed.roles, nothing else


@dataclass(frozen=True)
class DbCredentials:
    host: str
    port: int
    database: str
    user: str
    secret_name: str  # in `namespace`; keys username, password, host, port, dbname, uri
    namespace: str


def pg_identifier(consumer: str) -> str:
    return consumer.replace("-", "_")


def pg_host(ctx: InstallContext) -> str:
    return f"{PG_CLUSTER}-rw.{namespace_of(ctx, 'postgresql')}.svc.cluster.local"


async def database_for(ctx: InstallContext, consumer: str, *, database: str | None = None) -> DbCredentials:
    """A database and its owner role for `consumer` in the shared PostgreSQL (see the module doc)."""
    user = pg_identifier(consumer)
    db = database or user
    namespace = namespace_of(ctx, consumer)
    creds = DbCredentials(
        host=pg_host(ctx), port=PG_PORT, database=db, user=user, secret_name=f"{consumer}-db", namespace=namespace
    )
    await ctx.step(f"PostgreSQL database {db} for {consumer}", lambda: _ensure_database(ctx, consumer, creds))
    return creds


async def _ensure_database(ctx: InstallContext, consumer: str, creds: DbCredentials) -> None:
    pg_ns = namespace_of(ctx, "postgresql")
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
    async with lock(f"roles:{pg_ns}"):
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
