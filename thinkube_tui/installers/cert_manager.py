"""5.3 cert-manager: the Jetstack chart with its CRDs.

Values (https://cert-manager.io/docs/installation/helm/ and the chart's README at
https://artifacthub.io/packages/helm/cert-manager/cert-manager):
- `crds.enabled: true` installs the CRDs with the release; `crds.keep: true` keeps them (and
  so every Certificate) if the release is ever uninstalled. (`installCRDs` is deprecated since
  v1.15; the pinned v1.19 chart uses `crds.*`.)
- `global.logLevel` from the component's logLevel.
- `dns01RecursiveNameservers` + `dns01RecursiveNameserversOnly` when the component lists
  nameservers for the DNS-01 propagation check
  (https://cert-manager.io/docs/configuration/acme/dns01/#setting-nameservers-for-dns01-self-check).
- `prometheus.servicemonitor.enabled` when asked and the ServiceMonitor CRD is served.
"""

from __future__ import annotations

from typing import Any

from .base import InstallContext
from .support.objects import rollout, wait_crds

DEPLOYMENTS = ("cert-manager", "cert-manager-webhook", "cert-manager-cainjector")
CRDS = ("certificates.cert-manager.io", "clusterissuers.cert-manager.io", "issuers.cert-manager.io")
SERVICE_MONITOR_CRD = "servicemonitors.monitoring.coreos.com"


async def values(ctx: InstallContext) -> dict[str, Any]:
    config = ctx.config
    out: dict[str, Any] = {
        "crds": {"enabled": True, "keep": True},
        "global": {"logLevel": int(config["logLevel"])},
    }
    nameservers = list(config["dns01RecursiveNameservers"])
    if nameservers:
        out["dns01RecursiveNameservers"] = ",".join(nameservers)
        out["dns01RecursiveNameserversOnly"] = True
    if config["serviceMonitor"]:
        kube = await ctx.kube()
        if await kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", SERVICE_MONITOR_CRD) is not None:
            out["prometheus"] = {"enabled": True, "servicemonitor": {"enabled": True}}
        else:
            ctx.log(
                "serviceMonitor: Prometheus' ServiceMonitor CRD is not installed yet; "
                "run this component again after prometheus to add it"
            )
    return out


async def install(ctx: InstallContext) -> None:
    wanted = await values(ctx)
    await ctx.step("install cert-manager with its CRDs", lambda: ctx.helm(wanted, timeout_s=600))

    # Verify: the controller, the webhook and the CA injector run; the CRDs are established.
    namespace = ctx.component.namespace
    for name in DEPLOYMENTS:
        await rollout(ctx, "Deployment", name, namespace, timeout=300)
    await wait_crds(ctx, CRDS, hint="the chart installs it with crds.enabled=true")
    ctx.log(f"cert-manager is running; CRDs {', '.join(CRDS)} are established")
