"""5.12 Thinkube dashboard: a landing page linking every service of the platform, behind Keycloak.

- The page: a static `index.html` generated from the catalog and the answers (the components
  this Spec installs, core ones included, with their URLs and descriptions, plus `extraLinks`),
  kept in the ConfigMap `thinkube-dashboard` and served by nginx (pinned image) from it; the pod
  template carries the page's hash, so a changed page rolls the pod. Each service's status is
  checked live by the browser (a `no-cors` fetch of its URL: "up" when it answers, "down" when the
  request fails), so the page never shows a state frozen at install time.
- Keycloak: `oidc_client_for` + `apps.oauth2_proxy` (oauth2-proxy at `dashboard.<domain>/oauth2`,
  ingress-nginx external auth on the page's Ingress).
- Verified: the nginx and oauth2-proxy Deployments rolled out.
"""

from __future__ import annotations

import hashlib
import html
from typing import Any

from .base import InstallContext
from .support.apps import auth_annotations, oauth2_proxy
from .support.components import enabled, hostname
from .support.keycloak import oidc_client_for
from .support.objects import MANAGED_BY, ensure, ensure_namespace, rollout
from .support.uninstall import standard
from .support.workspace import ingress

NAME = "thinkube-dashboard"
NGINX_IMAGE = "nginx:1.27.5-alpine"
LABELS = {"app.kubernetes.io/name": NAME, **MANAGED_BY}

STYLE = """\
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1d2330}
h1{margin-bottom:.2rem}.sub{color:#5b6475;margin-top:0}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr));gap:1rem}
.card{border:1px solid #d8dce5;border-radius:.5rem;padding:1rem}.card h2{font-size:1.05rem;margin:0 0 .4rem}
.card p{font-size:.9rem;color:#485063;margin:.3rem 0}.status{font-size:.8rem;float:right}
.up{color:#1a7f37}.down{color:#cf222e}.unknown{color:#8c959f}
"""
SCRIPT = """\
for (const el of document.querySelectorAll('[data-url]')) {
  const s = el.querySelector('.status');
  const t = new AbortController(); setTimeout(() => t.abort(), 8000);
  fetch(el.dataset.url, {mode: 'no-cors', signal: t.signal, credentials: 'include'})
    .then(() => { s.textContent = 'up'; s.className = 'status up'; })
    .catch(() => { s.textContent = 'down'; s.className = 'status down'; });
}
"""


def services(ctx: InstallContext) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for comp in ctx.cluster.catalog:
        if comp.tier == "core" or enabled(ctx, comp.id):
            out.append(
                {
                    "title": comp.title,
                    "description": comp.description,
                    "urls": list(comp.urls(ctx.spec.cluster.domain)),
                    "group": comp.group,
                }
            )
    for link in ctx.config["extraLinks"]:
        out.append(
            {
                "title": link["title"],
                "description": link.get("description", ""),
                "urls": [link["url"]],
                "group": "links",
            }
        )
    return out


def page(ctx: InstallContext) -> str:
    title = html.escape(str(ctx.config["title"]))
    cards = []
    for s in services(ctx):
        url = s["urls"][0] if s["urls"] else ""
        links = " ".join(f'<a href="{html.escape(u)}">{html.escape(u.removeprefix("https://"))}</a>' for u in s["urls"])
        status = (
            '<span class="status unknown">checking…</span>' if url else '<span class="status unknown">in-cluster</span>'
        )
        attr = f' data-url="{html.escape(url)}"' if url else ""
        cards.append(
            f'<div class="card"{attr}>{status}<h2>{html.escape(s["title"])}</h2>'
            f"<p>{html.escape(s['description'])}</p><p>{links}</p></div>"
        )
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{STYLE}</style></head>\n'
        f'<body><h1>{title}</h1><p class="sub">{html.escape(ctx.spec.cluster.name)} at '
        f'{html.escape(ctx.spec.cluster.domain)}</p>\n<div class="grid">\n'
        + "\n".join(cards)
        + f"\n</div><script>{SCRIPT}</script></body></html>\n"
    )


def objects(ctx: InstallContext) -> list[dict[str, Any]]:
    ns = ctx.component.namespace
    content = page(ctx)
    digest = hashlib.sha256(content.encode()).hexdigest()[:16]
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": NAME, "namespace": ns, "labels": LABELS},
            "data": {"index.html": content},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": NAME, "namespace": ns, "labels": LABELS},
            "spec": {
                "replicas": int(ctx.config["replicas"]),
                "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
                "template": {
                    "metadata": {"labels": LABELS, "annotations": {"thinkube.io/page-sha256": digest}},
                    "spec": {
                        "containers": [
                            {
                                "name": "nginx",
                                "image": NGINX_IMAGE,
                                "ports": [{"name": "http", "containerPort": 80}],
                                "volumeMounts": [
                                    {"name": "page", "mountPath": "/usr/share/nginx/html", "readOnly": True}
                                ],
                                "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 10},
                                "resources": {
                                    "requests": {"cpu": "5m", "memory": "16Mi"},
                                    "limits": {"memory": "64Mi"},
                                },
                            }
                        ],
                        "volumes": [{"name": "page", "configMap": {"name": NAME}}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": NAME, "namespace": ns, "labels": LABELS},
            "spec": {
                "selector": {"app.kubernetes.io/name": NAME},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
        ingress(ctx, NAME, hostname(ctx), NAME, 80, annotations=auth_annotations(NAME, ns)),
    ]


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    host = hostname(ctx)
    await ctx.step("namespace", lambda: ensure_namespace(ctx, ns))
    client = await oidc_client_for(ctx, NAME)
    await ctx.step("Keycloak login (oauth2-proxy)", lambda: oauth2_proxy(ctx, NAME, ns, host, client))

    async def apply() -> None:
        for obj in objects(ctx):
            await ensure(ctx, obj)

    await ctx.step("the dashboard page", apply)
    # Verify
    await rollout(ctx, "Deployment", NAME, ns, timeout=300)
    await rollout(ctx, "Deployment", f"{NAME}-oauth2-proxy", ns, timeout=300)
    ctx.log(f"the dashboard is at https://{host} (Keycloak login), listing {len(services(ctx))} services")


async def uninstall(ctx: InstallContext) -> None:
    """What install created goes; its data stays unless purge (support/uninstall.py)."""
    await standard(ctx, releases=())
