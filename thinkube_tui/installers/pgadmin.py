"""5.12 pgAdmin: the runix/pgadmin4 chart, Keycloak login (OAuth2), the shared PostgreSQL
pre-registered.

- Local admin: `adminEmail` (else `cluster.adminEmail`) with a password from `adminPassword`
  or generated once (`keep_or_make`), kept in Secret `pgadmin/pgadmin-admin` (key `password`)
  which the chart reads (`existingSecret`, `secretKeys.pgadminPasswordKey`).
- Keycloak: pgAdmin reads `PGADMIN_CONFIG_<NAME>` environment variables as Python literals into
  its config (pgAdmin "Container Deployment" docs). `AUTHENTICATION_SOURCES = ['oauth2',
  'internal']`, `OAUTH2_AUTO_CREATE_USER = True` and `OAUTH2_CONFIG` (a list with one
  provider dict: client id and secret, Keycloak's endpoints from its discovery document,
  scope, username claim). `OAUTH2_CONFIG` holds the client secret, so the variable lives in a
  Secret `pgadmin-oauth2` handed to the chart by name (`envVarsFromSecrets`); the Helm values
  carry no secret.
- With self-signed certificates the cluster CA is mounted (`extraConfigmapMounts`) and
  REQUESTS_CA_BUNDLE / SSL_CERT_FILE point at it, so pgAdmin can call Keycloak over HTTPS.
- `registerSharedServer`: `serverDefinitions` (servers.json, imported at first start) with the
  shared PostgreSQL's read-write Service, user `postgres` (the password is asked at connect).

Chart values: https://github.com/rowanruseler/helm-charts/blob/main/charts/pgadmin4/values.yaml
(existingSecret, secretKeys, env.email, envVarsFromSecrets, serverDefinitions, ingress,
persistentVolume, extraConfigmapMounts); pgAdmin OAuth2: https://www.pgadmin.org/docs/pgadmin4/latest/oauth2.html ;
environment variables: https://www.pgadmin.org/docs/pgadmin4/latest/container_deployment.html
"""

from __future__ import annotations

from typing import Any

from .base import InstallContext
from .support.components import hostname
from .support.keycloak import OidcClient, oidc_client_for
from .support.objects import ensure_namespace, rollout
from .support.postgres import PG_PORT, pg_host
from .support.secret_objects import ensure_secret, keep_or_make, secret_values
from .support.uninstall import standard
from .support.workspace import CA_CONFIGMAP, CA_FILE, CA_MOUNT, trusted_ca

NAME = "pgadmin"  # fullnameOverride: Deployment and Service
ADMIN_SECRET = "pgadmin-admin"
OAUTH2_SECRET = "pgadmin-oauth2"


def admin_email(ctx: InstallContext) -> str:
    return str(ctx.config.get("adminEmail") or ctx.spec.cluster.admin_email)


def python_str(value: str) -> str:
    """A Python string literal (pgAdmin evaluates PGADMIN_CONFIG_* values)."""
    return repr(str(value))


def oauth2_config(client: OidcClient, secret: str) -> str:
    """The OAUTH2_CONFIG value: a Python list literal with the Keycloak provider."""
    base = f"{client.issuer}/protocol/openid-connect"
    entries = {
        "OAUTH2_NAME": "keycloak",
        "OAUTH2_DISPLAY_NAME": "Keycloak",
        "OAUTH2_CLIENT_ID": client.client_id,
        "OAUTH2_CLIENT_SECRET": secret,
        "OAUTH2_TOKEN_URL": f"{base}/token",
        "OAUTH2_AUTHORIZATION_URL": f"{base}/auth",
        "OAUTH2_API_BASE_URL": f"{base}/",
        "OAUTH2_USERINFO_ENDPOINT": f"{base}/userinfo",
        "OAUTH2_SERVER_METADATA_URL": f"{client.issuer}/.well-known/openid-configuration",
        "OAUTH2_SCOPE": "openid email profile",
        "OAUTH2_USERNAME_CLAIM": "email",
        "OAUTH2_ICON": "fa-key",
        "OAUTH2_BUTTON_COLOR": "#4d5bd9",
    }
    return "[{" + ", ".join(f"{python_str(k)}: {python_str(v)}" for k, v in entries.items()) + "}]"


def chart_values(ctx: InstallContext, *, with_ca: bool) -> dict[str, Any]:
    c = ctx.config
    host = hostname(ctx)
    variables = [
        {"name": "PGADMIN_CONFIG_AUTHENTICATION_SOURCES", "value": "['oauth2', 'internal']"},
        {"name": "PGADMIN_CONFIG_OAUTH2_AUTO_CREATE_USER", "value": "True"},
        # e-mail addresses on a homelab domain (.lan, .home) are not "deliverable"
        {"name": "PGADMIN_CONFIG_CHECK_EMAIL_DELIVERABILITY", "value": "False"},
        {
            "name": "PGADMIN_CONFIG_ALLOW_SPECIAL_EMAIL_DOMAINS",
            "value": repr([ctx.spec.cluster.domain.rsplit(".", 1)[-1]]),
        },
        {"name": "PGADMIN_CONFIG_PROXY_X_PROTO_COUNT", "value": "1"},
        {"name": "PGADMIN_CONFIG_PROXY_X_HOST_COUNT", "value": "1"},
    ]
    values: dict[str, Any] = {
        "fullnameOverride": NAME,
        "existingSecret": ADMIN_SECRET,
        "secretKeys": {"pgadminPasswordKey": "password"},
        "env": {"email": admin_email(ctx), "variables": variables},
        "envVarsFromSecrets": [OAUTH2_SECRET],
        "persistentVolume": {"enabled": True, "size": str(c["storageSize"])},
        "ingress": {
            "enabled": True,
            "ingressClassName": "nginx",
            "hosts": [{"host": host, "paths": [{"path": "/", "pathType": "Prefix"}]}],
            # no secretName: ingress-nginx serves its default certificate, the *.{domain} wildcard
            "tls": [{"hosts": [host]}],
        },
        "serverDefinitions": {"enabled": False},
    }
    if c["registerSharedServer"]:
        values["serverDefinitions"] = {
            "enabled": True,
            "resourceType": "ConfigMap",
            "servers": {
                "thinkube": {
                    "Name": "Thinkube (shared PostgreSQL)",
                    "Group": "Servers",
                    "Host": pg_host(ctx),
                    "Port": PG_PORT,
                    "MaintenanceDB": "postgres",
                    "Username": "postgres",
                    "SSLMode": "prefer",
                }
            },
        }
    if with_ca:
        values["extraConfigmapMounts"] = [
            {"name": "thinkube-ca", "configMap": CA_CONFIGMAP, "mountPath": CA_MOUNT, "subPath": "", "readOnly": True}
        ]
        variables += [{"name": "REQUESTS_CA_BUNDLE", "value": CA_FILE}, {"name": "SSL_CERT_FILE", "value": CA_FILE}]
    return values


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    host = hostname(ctx)
    await ctx.step("namespace", lambda: ensure_namespace(ctx, ns))
    await ctx.step("the local admin password", lambda: _admin(ctx))
    client = await oidc_client_for(ctx, "pgadmin")
    await ctx.step("Keycloak login settings", lambda: _oauth2(ctx, client))
    await ctx.step("install the pgAdmin chart", lambda: _chart(ctx))

    # Verify
    await rollout(ctx, "Deployment", NAME, ns, timeout=600)
    ctx.log(
        f"pgAdmin is ready at https://{host} (Keycloak login, or {admin_email(ctx)} with the password in "
        f"Secret {ns}/{ADMIN_SECRET})"
        + ("; the shared PostgreSQL is registered as a server" if ctx.config["registerSharedServer"] else "")
    )


async def _chart(ctx: InstallContext) -> None:
    # the CA ConfigMap is checked inside this step, so a resumed run sends the same values
    with_ca = await trusted_ca(ctx, ctx.component.namespace)
    await ctx.helm(chart_values(ctx, with_ca=with_ca), timeout_s=600)


async def _admin(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    password = await keep_or_make(
        ctx,
        [(ADMIN_SECRET, ns, "password")],
        ref=ctx.config.get("adminPassword"),
        used_for="the pgAdmin admin password",
    )
    await ensure_secret(ctx, ADMIN_SECRET, ns, {"password": password})


async def _oauth2(ctx: InstallContext, client: OidcClient) -> None:
    ns = ctx.component.namespace
    found = await secret_values(ctx, client.secret_name, client.namespace, secret_keys=(client.secret_key,)) or {}
    secret = found.get(client.secret_key)
    if not secret:  # oidc_client_for stores it first; only a dry run finds nothing
        ctx.log(f"Secret {client.namespace}/{client.secret_name} has no client secret yet")
        secret = ""
    await ensure_secret(ctx, OAUTH2_SECRET, ns, {"PGADMIN_CONFIG_OAUTH2_CONFIG": oauth2_config(client, secret)})


async def uninstall(ctx: InstallContext) -> None:
    """What install created goes; its data stays unless purge (support/uninstall.py)."""
    await standard(ctx)
