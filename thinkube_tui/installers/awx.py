"""5.13 AWX: the AWX Operator (awx-operator-helm chart) and one `AWX` object on the shared
PostgreSQL, with Keycloak login.

1. The operator chart (release `awx-operator`; the chart's own `AWX` object stays off:
   `AWX.enabled: false`), verified by the rollout of `awx-operator-controller-manager`.
2. Database: `database_for` (database `awx`, Secret `awx/awx-db`) and, in the format the
   operator wants for an external database, Secret `awx-postgres-configuration` (keys host,
   port, database, username, password, sslmode, type=unmanaged), named by the CR's
   `postgres_configuration_secret`.
3. Admin: `adminUser`, password from `adminPassword` or generated once, Secret
   `awx-admin-password` (key `password`) = the CR's `admin_password_secret`.
4. Keycloak: python-social-auth's generic OIDC backend. Its settings, with the client secret,
   are a Python settings file in Secret `awx-sso-settings` (key `oidc.py`) that the operator
   mounts into the web and task pods (`extra_settings_files.secrets`), so the secret is never
   in the CR: SOCIAL_AUTH_OIDC_KEY, SOCIAL_AUTH_OIDC_SECRET, SOCIAL_AUTH_OIDC_OIDC_ENDPOINT
   (the realm's issuer), SOCIAL_AUTH_OIDC_VERIFY_SSL. With self-signed certificates the
   cluster CA goes to Secret `awx-custom-certs` (key `bundle-ca.crt`, the CR's
   `bundle_cacert_secret`), so AWX verifies Keycloak.
5. The CR: `service_type: ClusterIP`, `ingress_type: none` plus our own Ingress `awx.<domain>`
   -> Service `awx-service:80` (class nginx, wildcard default certificate), web/task replicas,
   projects volume. Verified: the CR's `Successful` condition (the operator's Ansible run
   finished without errors), then the `awx-web` and `awx-task` rollouts.

Docs: https://ansible-community.github.io/awx-operator-helm/ (chart values, AWX.enabled),
https://ansible.readthedocs.io/projects/awx-operator/en/latest/ : "External PostgreSQL Service"
(postgres_configuration_secret format), "Admin user account configuration",
"Extra Settings" (extra_settings_files), "Trusting a Custom Certificate Authority"
(bundle_cacert_secret), "Network and TLS Configuration" (ingress_type, service_type);
AWX OIDC: https://ansible.readthedocs.io/projects/awx/en/latest/administration/social_auth.html
"""

from __future__ import annotations

from typing import Any

from .base import InstallContext
from .support.ca import cluster_ca
from .support.components import hostname
from .support.keycloak import OidcClient, oidc_client_for
from .support.objects import condition, ensure, ensure_namespace, rollout, wait
from .support.postgres import DbCredentials, database_for
from .support.secret_objects import ensure_secret, keep_or_make, secret_values
from .support.uninstall import database_released, helm_release_gone, namespace_gone, oidc_client_gone
from .support.workspace import ingress

AWX_API = "awx.ansible.com/v1beta1"
NAME = "awx"  # the AWX object: Deployments awx-web, awx-task, Service awx-service
RELEASE = "awx-operator"
OPERATOR = "awx-operator-controller-manager"
PG_SECRET = "awx-postgres-configuration"
ADMIN_SECRET = "awx-admin-password"
SSO_SECRET = "awx-sso-settings"
CA_BUNDLE_SECRET = "awx-custom-certs"
CR_TIMEOUT_S = 1800  # first install: image pulls and database migrations


def awx_object(ctx: InstallContext, *, with_ca: bool) -> dict[str, Any]:
    c = ctx.config
    spec: dict[str, Any] = {
        "admin_user": str(c["adminUser"]),
        "admin_password_secret": ADMIN_SECRET,
        "postgres_configuration_secret": PG_SECRET,
        "service_type": "ClusterIP",
        "ingress_type": "none",  # our own Ingress below
        "web_replicas": int(c["webReplicas"]),
        "task_replicas": int(c["taskReplicas"]),
        "projects_persistence": True,
        "projects_storage_size": str(c["projectsStorageSize"]),
        "projects_storage_access_mode": "ReadWriteOnce",
        "extra_settings_files": {"secrets": [{"name": SSO_SECRET, "key": "oidc.py"}]},
        "extra_settings": [{"setting": "CSRF_TRUSTED_ORIGINS", "value": [f"https://{hostname(ctx)}"]}],
    }
    if with_ca:
        spec["bundle_cacert_secret"] = CA_BUNDLE_SECRET
    return {
        "apiVersion": AWX_API,
        "kind": "AWX",
        "metadata": {"name": NAME, "namespace": ctx.component.namespace},
        "spec": spec,
    }


def sso_settings(client: OidcClient, secret: str) -> str:
    return (
        f"SOCIAL_AUTH_OIDC_KEY = {client.client_id!r}\n"
        f"SOCIAL_AUTH_OIDC_SECRET = {secret!r}\n"
        f"SOCIAL_AUTH_OIDC_OIDC_ENDPOINT = {client.issuer!r}\n"
        "SOCIAL_AUTH_OIDC_VERIFY_SSL = True\n"
    )


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    host = hostname(ctx)
    await ctx.step("namespace", lambda: ensure_namespace(ctx, ns))
    await ctx.step(
        "install the AWX Operator chart", lambda: ctx.helm({"AWX": {"enabled": False}}, release=RELEASE, timeout_s=600)
    )
    await rollout(ctx, "Deployment", OPERATOR, ns, timeout=600)
    db = await database_for(ctx, "awx")
    await ctx.step("the database settings for the operator", lambda: _postgres(ctx, db))
    await ctx.step("the admin password", lambda: _admin(ctx))
    client = await oidc_client_for(ctx, "awx")
    await ctx.step("Keycloak login settings", lambda: _sso(ctx, client))
    await ctx.step("declare AWX", lambda: _awx(ctx))
    await ctx.step(f"publish {host}", lambda: ensure(ctx, ingress(ctx, NAME, host, f"{NAME}-service", 80)))

    # Verify: the operator's reconciliation succeeded, web and task are rolled out.
    await wait(
        ctx,
        AWX_API,
        "AWX",
        NAME,
        ns,
        lambda o: condition(o, "Successful"),
        timeout=CR_TIMEOUT_S,
        what=f"AWX {ns}/{NAME} (condition Successful)",
        hint=f"see `microk8s kubectl -n {ns} logs deploy/{OPERATOR} -c awx-manager` for the operator's run",
    )
    for name in (f"{NAME}-web", f"{NAME}-task"):
        await rollout(ctx, "Deployment", name, ns, timeout=900)
    admin = ctx.config["adminUser"]
    ctx.log(
        f'AWX is ready at https://{host} (Keycloak: "Sign in with OIDC"; admin {admin} with the '
        f"password in Secret {ns}/{ADMIN_SECRET})"
    )


async def _postgres(ctx: InstallContext, db: DbCredentials) -> None:
    ns = ctx.component.namespace
    found = await secret_values(ctx, db.secret_name, db.namespace, secret_keys=("password",)) or {}
    password = found.get("password")
    if not password:  # database_for wrote it first; only a dry run finds nothing
        ctx.log(f"Secret {db.namespace}/{db.secret_name} has no password yet")
        password = ""
    await ensure_secret(
        ctx,
        PG_SECRET,
        ns,
        {
            "host": db.host,
            "port": str(db.port),
            "database": db.database,
            "username": db.user,
            "password": password,
            "sslmode": "prefer",
            "type": "unmanaged",
        },
    )


async def _admin(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    password = await keep_or_make(
        ctx, [(ADMIN_SECRET, ns, "password")], ref=ctx.config.get("adminPassword"), used_for="the AWX admin password"
    )
    await ensure_secret(ctx, ADMIN_SECRET, ns, {"password": password})


async def _sso(ctx: InstallContext, client: OidcClient) -> None:
    ns = ctx.component.namespace
    found = await secret_values(ctx, client.secret_name, client.namespace, secret_keys=(client.secret_key,)) or {}
    await ensure_secret(ctx, SSO_SECRET, ns, {"oidc.py": sso_settings(client, found.get(client.secret_key, ""))})


async def _awx(ctx: InstallContext) -> None:
    pem = await cluster_ca(ctx)  # self-signed clusters only
    if pem is not None:
        await ensure_secret(ctx, CA_BUNDLE_SECRET, ctx.component.namespace, {"bundle-ca.crt": pem})
    with_ca = pem is not None
    await ensure(ctx, awx_object(ctx, with_ca=with_ca))


async def uninstall(ctx: InstallContext) -> None:
    """What install created goes; its data stays unless purge (support/uninstall.py)."""
    await helm_release_gone(ctx, RELEASE, ctx.component.namespace)
    await oidc_client_gone(ctx)
    await database_released(ctx)
    await namespace_gone(ctx)
