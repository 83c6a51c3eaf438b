"""5.13 Penpot: the Penpot project's chart with the shared PostgreSQL, the shared Valkey and
Keycloak login.

- PostgreSQL: `database_for` (database `penpot`, Secret `penpot/penpot-db`), by reference:
  `config.postgresql.{host,port,database,existingSecret,secretKeys.usernameKey/passwordKey}`;
  the bundled PostgreSQL off (`global.postgresqlEnabled: false`).
- Valkey: the valkey component's Service `valkey.valkey.svc.cluster.local:6379`, password in
  Secret `valkey/valkey-users` (key `default`, see valkey.py). Penpot takes one URI, so the
  installer writes `redis://default:<password>@valkey.valkey.svc.cluster.local:6379/0` into
  Secret `penpot/penpot-valkey` (key `redis-uri`) and the chart reads it
  (`config.redis.existingSecret`, `secretKeys.redisUriKey`); bundled Valkey/Redis off.
- Keycloak: `oidc_client_for` (Secret `penpot/penpot-oidc`, keys `client-id`, `client-secret`)
  read by the chart (`config.providers.existingSecret`, `secretKeys.oidcClientIDKey`,
  `oidcClientSecretKey`), `config.providers.oidc.baseURI` = the realm's issuer, role checks off.
- Flags: `enable-login-with-oidc` and `enable-registration` (first SSO login creates the
  account); `registration: false` adds `disable-login-with-password` (SSO only).
  `telemetry` -> `config.telemetryEnabled`.
- Assets on a volume (`persistence.assets`, `storageSize`); Ingress `penpot.<domain>`.

Chart values: https://github.com/penpot/penpot-helm/blob/main/charts/penpot/README.md
(config.publicUri, config.flags, config.postgresql.*, config.redis.*, config.providers.*,
persistence.assets, ingress, global.postgresqlEnabled / valkeyEnabled / redisEnabled);
flags: https://help.penpot.app/technical-guide/configuration/
"""

from __future__ import annotations

from typing import Any

from .base import InstallContext
from .support.components import hostname
from .support.keycloak import OidcClient, oidc_client_for
from .support.objects import ensure_namespace, rollout, wait
from .support.postgres import database_for
from .support.secret_objects import ensure_secret, secret_values
from .support.uninstall import database_released, helm_release_gone, namespace_gone, oidc_client_gone

NAME = "penpot"  # release / fullname: Deployments penpot-backend, penpot-frontend, penpot-exporter
VALKEY_SECRET = "penpot-valkey"
VALKEY_SERVICE = "valkey"  # valkey.py: release, Service
VALKEY_USERS_SECRET = "valkey-users"  # valkey.py: key `default`
DEPLOYMENTS = ("penpot-backend", "penpot-frontend", "penpot-exporter")


def flags(ctx: InstallContext) -> str:
    out = ["enable-login-with-oidc", "enable-registration", "disable-email-verification", "disable-smtp"]
    out.append("enable-login-with-password" if ctx.config["registration"] else "disable-login-with-password")
    return " ".join(out)


def chart_values(
    ctx: InstallContext, *, db_host: str, db_port: int, database: str, db_secret: str, client: OidcClient
) -> dict[str, Any]:
    c = ctx.config
    host = hostname(ctx)
    return {
        "global": {"postgresqlEnabled": False, "valkeyEnabled": False, "redisEnabled": False},
        "config": {
            "publicUri": f"https://{host}",
            "flags": flags(ctx),
            "telemetryEnabled": bool(c["telemetry"]),
            "postgresql": {
                "host": db_host,
                "port": db_port,
                "database": database,
                "existingSecret": db_secret,
                "secretKeys": {"usernameKey": "username", "passwordKey": "password"},
            },
            "redis": {"existingSecret": VALKEY_SECRET, "secretKeys": {"redisUriKey": "redis-uri"}},
            "providers": {
                "existingSecret": client.secret_name,
                "secretKeys": {"oidcClientIDKey": "client-id", "oidcClientSecretKey": client.secret_key},
                "oidc": {
                    "enabled": True,
                    "baseURI": client.issuer,
                    "scopes": "openid profile email",
                    "roles": "",
                    "rolesAttribute": "",
                },
            },
        },
        "persistence": {"assets": {"enabled": True, "size": str(c["storageSize"])}},
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "hosts": [host],
            # no secretName: ingress-nginx serves its default certificate, the *.{domain} wildcard
            "tls": [{"hosts": [host]}],
        },
    }


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    await ctx.step("namespace", lambda: ensure_namespace(ctx, ns))
    db = await database_for(ctx, "penpot")
    await ctx.step("the shared Valkey's address and password", lambda: _valkey(ctx))
    client = await oidc_client_for(ctx, "penpot")
    values = chart_values(
        ctx, db_host=db.host, db_port=db.port, database=db.database, db_secret=db.secret_name, client=client
    )
    await ctx.step("install the Penpot chart", lambda: ctx.helm(values, timeout_s=900))

    # Verify
    for name in DEPLOYMENTS:
        await rollout(ctx, "Deployment", name, ns, timeout=900)
    ctx.log(
        f"Penpot is ready at https://{hostname(ctx)} (Keycloak login"
        + (", local sign-up allowed" if ctx.config["registration"] else "")
        + ")"
    )
    if ctx.spec.cluster.certificates == "self-signed":
        ctx.log(
            "note: with self-signed certificates Penpot's backend (JVM) must trust the cluster CA to reach "
            "Keycloak; add it to the backend's trust store if the Keycloak login fails"
        )


async def _valkey(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    valkey_ns = ctx.cluster.catalog["valkey"].namespace
    await wait(
        ctx,
        "v1",
        "Secret",
        VALKEY_USERS_SECRET,
        valkey_ns,
        lambda o: bool((o.get("data") or {}).get("default")),
        timeout=120,
        what=f"the Valkey password in Secret {valkey_ns}/{VALKEY_USERS_SECRET}",
        hint="the valkey component creates it",
    )
    found = await secret_values(ctx, VALKEY_USERS_SECRET, valkey_ns, secret_keys=("default",)) or {}
    password = found.get("default")
    if not password:  # only a dry run answers the wait without the Secret
        ctx.log(f"Secret {valkey_ns}/{VALKEY_USERS_SECRET} could not be read; Penpot's Valkey URI not written")
        return
    uri = f"redis://default:{password}@{VALKEY_SERVICE}.{valkey_ns}.svc.cluster.local:6379/0"
    ctx.cluster.secrets.register(uri)
    await ensure_secret(ctx, VALKEY_SECRET, ns, {"redis-uri": uri})


async def uninstall(ctx: InstallContext) -> None:
    """What install created goes; its data stays unless purge (support/uninstall.py)."""
    await helm_release_gone(ctx, ctx.component.id, ctx.component.namespace)
    await oidc_client_gone(ctx)
    await database_released(ctx)
    await namespace_gone(ctx)
