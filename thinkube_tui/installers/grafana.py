"""5.9 Grafana: the grafana chart with Keycloak SSO, Prometheus and Loki as data sources.

1. `oidc_client_for` (client `grafana`, secret in Secret `monitoring/grafana-oidc`).
2. The local admin: user `admin`, password the operator's `adminPassword` or generated once
   (`keep_or_make`), in Secret `grafana-admin` (keys admin-user, admin-password), which the
   chart reads through `admin.existingSecret`: the password is never in the values.
3. With self-signed certificates, the cluster CA as ConfigMap `thinkube-ca`, mounted at
   /etc/thinkube-ca (`extraConfigmapMounts`) and named as `tls_client_ca`, so Grafana verifies
   Keycloak's token endpoint.
4. The chart: `grafana.ini` `auth.generic_oauth` against the realm, the client secret as
   `$__env{GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET}`, that variable filled from the Secret
   (`envValueFrom`); Keycloak group `adminGroup` -> Grafana Admin, everyone else Viewer;
   data sources Prometheus (the kube-prometheus-stack Service) and Loki (its gateway) when the
   loki component is in the Spec; the dashboard sidecar loads the kube-prometheus-stack
   dashboards (ConfigMaps labelled `grafana_dashboard`) and, with GPU nodes, NVIDIA's DCGM
   dashboard; a PVC of `storageSize`; Ingress `grafana.<domain>`.

Verified: the Deployment `grafana` rolls out (its readiness probe is Grafana's /api/health,
so it is ready only once the database and the provisioned data sources are loaded).

Chart docs: https://github.com/grafana/helm-charts/tree/main/charts/grafana (README:
admin.existingSecret, envValueFrom, grafana.ini, datasources, sidecar.dashboards, dashboards,
dashboardProviders, extraConfigmapMounts, persistence, ingress, plugins); Grafana's Keycloak
guide: https://grafana.com/docs/grafana/latest/setup-grafana/configure-security/configure-authentication/keycloak/
($__env expansion: https://grafana.com/docs/grafana/latest/setup-grafana/configure-grafana/#variable-expansion).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .base import InstallContext
from .prometheus import prometheus_url
from .support.ca import self_signed
from .support.components import enabled
from .support.keycloak import oidc_client_for
from .support.objects import ensure_namespace, rollout
from .support.secret_objects import ensure_secret, keep_or_make
from .support.uninstall import standard
from .support.workspace import CA_CONFIGMAP, CA_FILE, CA_MOUNT, gpu_nodes, helm_ingress, host, trusted_ca

NAME = "grafana"  # release, Deployment, Service
ADMIN_SECRET = "grafana-admin"
SECRET_ENV = "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"
DCGM_DASHBOARD = 12239  # grafana.com: "NVIDIA DCGM Exporter Dashboard"


def loki_url(ctx: InstallContext) -> str:
    from .loki import GATEWAY

    return f"http://{GATEWAY}.{ctx.cluster.catalog['loki'].namespace}.svc.cluster.local"


def datasources(ctx: InstallContext) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {
            "name": "Prometheus",
            "type": "prometheus",
            "uid": "prometheus",
            "access": "proxy",
            "isDefault": True,
            "url": prometheus_url(ctx.cluster.catalog["prometheus"].namespace),
        }
    ]
    if enabled(ctx, "loki"):
        out.append({"name": "Loki", "type": "loki", "uid": "loki", "access": "proxy", "url": loki_url(ctx)})
    return out


def chart_values(ctx: InstallContext, *, issuer: str, client_id: str, oidc_secret: str, ca: bool) -> dict[str, Any]:
    c = ctx.config
    hostname = host(ctx, NAME)
    oidc = f"{issuer}/protocol/openid-connect"
    admin_group = str(c["adminGroup"])
    after_logout = quote(f"https://{hostname}/login", safe="")
    generic_oauth: dict[str, Any] = {
        "enabled": True,
        "name": "Keycloak",
        "allow_sign_up": True,
        "client_id": client_id,
        "client_secret": f"$__env{{{SECRET_ENV}}}",
        "scopes": "openid email profile",
        "email_attribute_path": "email",
        "login_attribute_path": "preferred_username",
        "name_attribute_path": "name",
        "groups_attribute_path": "groups",
        "auth_url": f"{oidc}/auth",
        "token_url": f"{oidc}/token",
        "api_url": f"{oidc}/userinfo",
        "use_pkce": True,
        "role_attribute_path": f"contains(groups[*], '{admin_group}') && 'Admin' || 'Viewer'",
    }
    if ca:
        generic_oauth["tls_client_ca"] = CA_FILE
    ini: dict[str, Any] = {
        "server": {"domain": hostname, "root_url": f"https://{hostname}"},
        "auth": {
            "signout_redirect_url": f"{oidc}/logout?client_id={client_id}&post_logout_redirect_uri={after_logout}"
        },
        "auth.generic_oauth": generic_oauth,
        "auth.anonymous": {"enabled": bool(c["anonymousViewer"]), "org_role": "Viewer"},
        "analytics": {"reporting_enabled": False, "check_for_updates": False},
    }
    values: dict[str, Any] = {
        "admin": {"existingSecret": ADMIN_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
        "envValueFrom": {SECRET_ENV: {"secretKeyRef": {"name": oidc_secret, "key": "client-secret"}}},
        "grafana.ini": ini,
        "persistence": {"enabled": True, "size": str(c["storageSize"])},
        "ingress": helm_ingress(ctx, hostname),
        "datasources": {"datasources.yaml": {"apiVersion": 1, "datasources": datasources(ctx)}},
    }
    if c["plugins"]:
        values["plugins"] = list(c["plugins"])
    if c["defaultDashboards"]:
        # kube-prometheus-stack's dashboards (forceDeployDashboards), from any namespace
        values["sidecar"] = {"dashboards": {"enabled": True, "label": "grafana_dashboard", "searchNamespace": "ALL"}}
        if gpu_nodes(ctx):
            values["dashboardProviders"] = {
                "dashboardproviders.yaml": {
                    "apiVersion": 1,
                    "providers": [
                        {
                            "name": "thinkube",
                            "orgId": 1,
                            "folder": "Thinkube",
                            "type": "file",
                            "disableDeletion": False,
                            "options": {"path": "/var/lib/grafana/dashboards/thinkube"},
                        }
                    ],
                }
            }
            values["dashboards"] = {
                "thinkube": {"nvidia-dcgm": {"gnetId": DCGM_DASHBOARD, "revision": 2, "datasource": "Prometheus"}}
            }
    if ca:
        values["extraConfigmapMounts"] = [
            {"name": "thinkube-ca", "mountPath": CA_MOUNT, "configMap": CA_CONFIGMAP, "readOnly": True}
        ]
    return values


async def _admin(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    password = await keep_or_make(
        ctx,
        [(ADMIN_SECRET, ns, "admin-password")],
        ref=ctx.config.get("adminPassword"),
        used_for="the Grafana admin password",
    )
    await ensure_secret(ctx, ADMIN_SECRET, ns, {"admin-user": "admin", "admin-password": password})


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    await ctx.step("namespace", lambda: ensure_namespace(ctx, ns))
    client = await oidc_client_for(ctx, NAME)
    await ctx.step("admin credentials", lambda: _admin(ctx))
    ca = self_signed(ctx)
    if ca:
        await ctx.step("trust the cluster CA", lambda: trusted_ca(ctx, ns))
    values = chart_values(ctx, issuer=client.issuer, client_id=client.client_id, oidc_secret=client.secret_name, ca=ca)
    await ctx.step("install the Grafana chart", lambda: ctx.helm(values, timeout_s=600))

    # Verify: ready means /api/health answers (database migrated, provisioning loaded).
    await rollout(ctx, "Deployment", NAME, ns, timeout=600)
    sources = ", ".join(d["name"] for d in values["datasources"]["datasources.yaml"]["datasources"])
    ctx.log(
        f"Grafana is ready at https://{host(ctx, NAME)} (Keycloak login; group "
        f"{ctx.config['adminGroup']} -> Admin, others Viewer); data sources {sources}; local "
        f"admin in Secret {ns}/{ADMIN_SECRET}"
    )


async def uninstall(ctx: InstallContext) -> None:
    """What install created goes; its data stays unless purge (support/uninstall.py)."""
    await standard(ctx)
