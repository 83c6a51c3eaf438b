"""5.13 OpenSearch: the opensearch-project chart, sized for a homelab, security plugin on, and
OpenSearch Dashboards (chart `opensearch-dashboards` of the same repository) at
`opensearch.<domain>`.

- The initial admin password (OpenSearch >= 2.12 refuses to start its demo security
  configuration without one): `adminPassword`, else generated once (`keep_or_make`), kept in
  Secret `opensearch/opensearch-admin` (keys `username`, `password`) and handed to the
  container as `OPENSEARCH_INITIAL_ADMIN_PASSWORD` from that Secret (`extraEnvs` valueFrom).
  The Helm values carry no secret.
- One node (`replicas: 1`) runs with `singleNode: true` (discovery.type single-node); more form
  a cluster. `opensearchJavaOpts` sets the heap (`heapSize`), the memory request is twice the
  heap; `persistence.size` the data volume; `sysctlInit` raises vm.max_map_count on the node.
- Dashboards (`dashboards: true`) talk to `https://opensearch-cluster-master:9200` with the
  chart's default (demo) `kibanaserver` account and are published with an Ingress in class
  nginx under the wildcard certificate.

Chart values: https://github.com/opensearch-project/helm-charts/blob/main/charts/opensearch/values.yaml
(clusterName, nodeGroup, singleNode, replicas, opensearchJavaOpts, resources, persistence,
extraEnvs, sysctlInit), .../charts/opensearch-dashboards/values.yaml (opensearchHosts, ingress);
the admin password: https://opensearch.org/docs/latest/install-and-configure/install-opensearch/helm/
"""

from __future__ import annotations

import re
from typing import Any

from .base import InstallContext
from .support.apps import extra_chart
from .support.components import hostname
from .support.objects import ensure_namespace, rollout
from .support.secret_objects import ensure_secret, keep_or_make
from .support.uninstall import standard

CLUSTER = "opensearch-cluster"
NODE_GROUP = "master"
STATEFULSET = f"{CLUSTER}-{NODE_GROUP}"  # also the Service, port 9200
ADMIN_SECRET = "opensearch-admin"
DASHBOARDS = "opensearch-dashboards"  # release, Deployment and Service (port 5601)
# The opensearch-dashboards chart released alongside opensearch chart 2.20.0 (both OpenSearch
# 2.14). Not in the catalog (one chart per component there); pinned here.
DASHBOARDS_VERSION = "2.18.0"


def heap_mi(heap: str) -> int:
    m = re.fullmatch(r"([0-9]+)([mg])", heap)
    if not m:
        return 1024
    return int(m.group(1)) * (1024 if m.group(2) == "g" else 1)


def chart_values(ctx: InstallContext) -> dict[str, Any]:
    c = ctx.config
    replicas = int(c["replicas"])
    heap = str(c["heapSize"])
    return {
        "clusterName": CLUSTER,
        "nodeGroup": NODE_GROUP,
        "singleNode": replicas == 1,
        "replicas": replicas,
        "opensearchJavaOpts": f"-Xms{heap} -Xmx{heap}",
        "resources": {
            "requests": {"cpu": "500m", "memory": f"{heap_mi(heap) * 2}Mi"},
            "limits": {"memory": f"{heap_mi(heap) * 2}Mi"},
        },
        "persistence": {"enabled": True, "size": str(c["storageSize"])},
        "sysctlInit": {"enabled": True},
        "extraEnvs": [
            {
                "name": "OPENSEARCH_INITIAL_ADMIN_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": ADMIN_SECRET, "key": "password"}},
            }
        ],
    }


def dashboards_values(ctx: InstallContext) -> dict[str, Any]:
    host = hostname(ctx)
    return {
        "fullnameOverride": DASHBOARDS,
        "opensearchHosts": f"https://{STATEFULSET}:9200",
        "ingress": {
            "enabled": True,
            "ingressClassName": "nginx",
            "hosts": [{"host": host, "paths": [{"path": "/", "backend": {"serviceName": "", "servicePort": ""}}]}],
            # no secretName: ingress-nginx serves its default certificate, the *.{domain} wildcard
            "tls": [{"hosts": [host]}],
        },
    }


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    await ctx.step("namespace", lambda: ensure_namespace(ctx, ns))
    await ctx.step("the initial admin password", lambda: _admin(ctx))
    await ctx.step("install the OpenSearch chart", lambda: ctx.helm(chart_values(ctx), timeout_s=900))
    dashboards = bool(ctx.config["dashboards"])
    if dashboards:
        repo = ctx.component.install.repo
        await ctx.step(
            "install OpenSearch Dashboards",
            lambda: extra_chart(
                ctx, DASHBOARDS, DASHBOARDS, DASHBOARDS_VERSION, dashboards_values(ctx), repo=repo, timeout_s=600
            ),
        )

    # Verify
    await rollout(ctx, "StatefulSet", STATEFULSET, ns, timeout=900)
    if dashboards:
        await rollout(ctx, "Deployment", DASHBOARDS, ns, timeout=600)
    ctx.log(
        f"OpenSearch is ready at https://{STATEFULSET}.{ns}.svc.cluster.local:9200 (user admin, password in "
        f"Secret {ns}/{ADMIN_SECRET})" + (f"; Dashboards at https://{hostname(ctx)}" if dashboards else "")
    )


async def _admin(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    ref = ctx.config.get("adminPassword")
    password = await keep_or_make(
        ctx, [(ADMIN_SECRET, ns, "password")], ref=ref, used_for="the OpenSearch admin password"
    )
    if ref is None and password.isalnum():
        # OpenSearch's password policy wants a special character; generated ones are alphanumeric.
        password += "_"
        ctx.cluster.secrets.register(password)
    await ensure_secret(ctx, ADMIN_SECRET, ns, {"username": "admin", "password": password})


async def uninstall(ctx: InstallContext) -> None:
    """What install created goes; its data stays unless purge (support/uninstall.py)."""
    await standard(ctx)
