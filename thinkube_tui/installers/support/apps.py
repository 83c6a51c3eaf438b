"""Helpers shared by the ML tools, platform management and application installers (5.10-5.14).

Ingress, the cluster CA ConfigMap and GPU facts come from `support/workspace.py` (another group's
helpers, reused as they are). What is added here:

- `oauth2_proxy(...)`: Keycloak SSO in front of an app that has no OIDC of its own (MLflow's
  web UI, the dashboard), the ingress-nginx *external authentication* pattern
  (https://kubernetes.github.io/ingress-nginx/examples/auth/oauth-external-auth/): an
  oauth2-proxy Deployment + Service in the app's namespace answering `/oauth2/*` on the app's
  host, and annotations (`auth_annotations`) for the app's own Ingress so nginx asks the proxy
  (`auth-url`) before every request and sends unauthenticated browsers to the Keycloak login
  (`auth-signin`). The app keeps its own Ingress (and Host header), nothing sits in its data path.
  oauth2-proxy settings (environment variables OAUTH2_PROXY_*):
  https://oauth2-proxy.github.io/oauth2-proxy/configuration/overview and the OIDC/Keycloak
  provider page https://oauth2-proxy.github.io/oauth2-proxy/configuration/providers/keycloak_oidc
- `fetch_manifest(...)`: a release manifest fetched on the control node (`curl`, as keycloak.py
  does) and parsed into objects.
- `extra_chart(...)`: a second Helm chart of a component (OpenSearch Dashboards), through
  `ctx.helm_chart` like the component's own chart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from ...engine import InstallError
from ...helm import Chart
from ..base import InstallContext, quote
from .keycloak import OidcClient
from .objects import MANAGED_BY, ensure
from .secret_objects import ensure_secret, env_from_secret, keep_or_make
from .workspace import CA_FILE, ca_volume, trusted_ca

Obj = dict[str, Any]

OAUTH2_PROXY_IMAGE = "quay.io/oauth2-proxy/oauth2-proxy:v7.9.0"
OAUTH2_PROXY_PORT = 4180


# ---------------------------------------------------------------- oauth2-proxy


def proxy_name(app: str) -> str:
    return f"{app}-oauth2-proxy"


def auth_annotations(app: str, namespace: str) -> dict[str, str]:
    """ingress-nginx external-auth annotations for the app's Ingress
    (https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#external-authentication)."""
    base = f"http://{proxy_name(app)}.{namespace}.svc.cluster.local:{OAUTH2_PROXY_PORT}"
    return {
        "nginx.ingress.kubernetes.io/auth-url": f"{base}/oauth2/auth",
        "nginx.ingress.kubernetes.io/auth-signin": "https://$host/oauth2/start?rd=$escaped_request_uri",
        "nginx.ingress.kubernetes.io/auth-response-headers": "X-Auth-Request-User,X-Auth-Request-Email",
        # Keycloak's tokens make large session cookies
        "nginx.ingress.kubernetes.io/proxy-buffer-size": "16k",
    }


def oauth2_proxy_objects(
    ctx: InstallContext, app: str, namespace: str, host: str, client: OidcClient, *, with_ca: bool
) -> list[Obj]:
    name = proxy_name(app)
    labels = {"app.kubernetes.io/name": name, **MANAGED_BY}
    env: list[Obj] = [
        {"name": "OAUTH2_PROXY_PROVIDER", "value": "oidc"},
        {"name": "OAUTH2_PROXY_PROVIDER_DISPLAY_NAME", "value": "Keycloak"},
        {"name": "OAUTH2_PROXY_OIDC_ISSUER_URL", "value": client.issuer},
        {"name": "OAUTH2_PROXY_CLIENT_ID", "value": client.client_id},
        env_from_secret("OAUTH2_PROXY_CLIENT_SECRET", client.secret_name, client.secret_key),
        env_from_secret("OAUTH2_PROXY_COOKIE_SECRET", name, "cookie-secret"),
        {"name": "OAUTH2_PROXY_HTTP_ADDRESS", "value": f"0.0.0.0:{OAUTH2_PROXY_PORT}"},
        # auth_request mode: nginx asks /oauth2/auth; there is no upstream to proxy to
        {"name": "OAUTH2_PROXY_UPSTREAMS", "value": "static://202"},
        {"name": "OAUTH2_PROXY_REDIRECT_URL", "value": f"https://{host}/oauth2/callback"},
        {"name": "OAUTH2_PROXY_EMAIL_DOMAINS", "value": "*"},
        {"name": "OAUTH2_PROXY_REVERSE_PROXY", "value": "true"},
        {"name": "OAUTH2_PROXY_SET_XAUTHREQUEST", "value": "true"},
        {"name": "OAUTH2_PROXY_COOKIE_SECURE", "value": "true"},
        {"name": "OAUTH2_PROXY_COOKIE_DOMAINS", "value": host},
        {"name": "OAUTH2_PROXY_SKIP_PROVIDER_BUTTON", "value": "true"},
        {"name": "OAUTH2_PROXY_CODE_CHALLENGE_METHOD", "value": "S256"},
    ]
    container: Obj = {
        "name": "oauth2-proxy",
        "image": OAUTH2_PROXY_IMAGE,
        "env": env,
        "ports": [{"name": "http", "containerPort": OAUTH2_PROXY_PORT}],
        "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 10},
        "livenessProbe": {"httpGet": {"path": "/ping", "port": "http"}, "periodSeconds": 20},
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    pod: Obj = {"containers": [container]}
    if with_ca:  # Keycloak's certificate is signed by the cluster's own CA
        volume, mount = ca_volume()
        env.append({"name": "OAUTH2_PROXY_PROVIDER_CA_FILES", "value": CA_FILE})
        container["volumeMounts"] = [mount]
        pod["volumes"] = [volume]
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "selector": {"app.kubernetes.io/name": name},
            "ports": [{"name": "http", "port": OAUTH2_PROXY_PORT, "targetPort": "http"}],
        },
    }
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": {"nginx.ingress.kubernetes.io/proxy-buffer-size": "16k"},
        },
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": [host]}],  # the controller's default (wildcard) certificate, see workspace.ingress
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": "/oauth2",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": name, "port": {"number": OAUTH2_PROXY_PORT}}},
                            }
                        ]
                    },
                }
            ],
        },
    }
    return [deployment, service, ingress]


async def oauth2_proxy(ctx: InstallContext, app: str, namespace: str, host: str, client: OidcClient) -> str:
    """oauth2-proxy for `app` at `https://<host>/oauth2/`; returns its Deployment's name.

    The cookie secret is generated once and kept in the Secret `<app>-oauth2-proxy`; the client
    secret is read by the proxy from `client.secret_name` (both by reference, never values)."""
    name = proxy_name(app)
    cookie = await keep_or_make(
        ctx, [(name, namespace, "cookie-secret")], used_for=f"the oauth2-proxy cookie secret of {app}"
    )
    await ensure_secret(ctx, name, namespace, {"cookie-secret": cookie})  # 32 characters: AES-256
    with_ca = await trusted_ca(ctx, namespace)
    for obj in oauth2_proxy_objects(ctx, app, namespace, host, client, with_ca=with_ca):
        await ensure(ctx, obj)
    return name


# ---------------------------------------------------------------- manifests and extra charts


def parse_manifest(text: str) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict) and doc.get("kind")]


async def fetch_manifest(ctx: InstallContext, url: str) -> list[Obj]:
    result = await ctx.run(ctx.control, f"curl -fsSL --retry 3 {quote(url)}", timeout=180, quiet=True)
    ctx.log(f"{ctx.control.name}: fetched {url}")
    try:
        return parse_manifest(result.stdout)
    except yaml.YAMLError as exc:
        raise InstallError(f"{url} is not valid YAML: {exc}", node=ctx.control.name) from None


async def extra_chart(
    ctx: InstallContext,
    release: str,
    chart: str,
    version: str,
    values: Mapping[str, Any],
    *,
    repo: str | None = None,
    namespace: str | None = None,
    timeout_s: float = 900,
) -> bool:
    """A second chart of this component (same repository unless `repo`), like `ctx.helm`."""
    spec = Chart(release, chart, repo or str(ctx.component.install.repo), version, namespace or ctx.component.namespace)
    return await ctx.helm_chart(spec, values, timeout_s=timeout_s)
