"""Helpers shared by the networking and certificate installers (groups 5.3 and 5.10).

- `ensure(ctx, obj)`: server-side apply, but only when the live object differs from what we
  want (checked before acted), so a second run sends nothing and says so in the log.
- The two ingress controllers (`ingress`, `ingress-kn`) are one function with two settings.
- Names other components rely on: the wildcard TLS Secret and where it lives.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from ...engine import InstallError
from ...spec import Spec, metallb_pool
from ..base import InstallContext
from .objects import rollout, wait

# The wildcard certificate ssl-certificates issues for `*.{domain}` and `{domain}`; every
# ingress controller serves it as its default certificate.
WILDCARD_NAMESPACE = "ingress"
WILDCARD_SECRET = "thinkube-wildcard-tls"
WILDCARD_CERTIFICATE = "thinkube-wildcard"

# MetalLB ≥ 0.13 pins a LoadBalancer Service to an address with this annotation
# (https://metallb.universe.tf/usage/#requesting-specific-ips); `spec.loadBalancerIP` is
# deprecated in Kubernetes and in MetalLB.
METALLB_IPS_ANNOTATION = "metallb.universe.tf/loadBalancerIPs"


# ---------------------------------------------------------------- addresses


def ingress_address(spec: Spec, component_id: str) -> str:
    """The external address of an ingress controller: its own `loadBalancerIP` setting, else
    `cluster.ingressIP` (ingress) / `cluster.ingressKnIP` (ingress-kn)."""
    comp = spec.components.get(component_id)
    configured = comp.config.get("loadBalancerIP") if comp is not None else None
    if configured:
        return str(configured)
    return spec.cluster.ingress_kn_ip if component_id == "ingress-kn" else spec.cluster.ingress_ip


def metallb_range(text: str) -> str:
    """`cluster.metallbRange` as MetalLB's `START-END` form (a CIDR is converted)."""
    try:
        start, end = metallb_pool(text)
    except ValueError as exc:
        raise InstallError(f"cluster.metallbRange: {exc}") from None
    return f"{start}-{end}"


def in_range(address: str, range_text: str) -> bool:
    start, end = metallb_pool(range_text)
    return start <= ipaddress.IPv4Address(address) <= end


# ---------------------------------------------------------------- objects


def ingress_values(
    ctx: InstallContext, *, fullname: str, class_name: str, controller_value: str, default_class: bool, address: str
) -> dict[str, Any]:
    """Values for one ingress-nginx release.

    Chart values: https://github.com/kubernetes/ingress-nginx/blob/main/charts/ingress-nginx/README.md
    (controller.ingressClassResource.*, controller.ingressClass, controller.electionID,
    controller.service.annotations, controller.extraArgs, controller.config); two controllers
    side by side: https://kubernetes.github.io/ingress-nginx/user-guide/multiple-ingress/
    (a distinct class name, controllerValue and election ID each). ConfigMap keys:
    https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/configmap/
    """
    config = ctx.config
    controller: dict[str, Any] = {
        "replicaCount": int(config["replicas"]),
        "ingressClass": class_name,  # the legacy kubernetes.io/ingress.class annotation value
        "ingressClassResource": {
            "name": class_name,
            "enabled": True,
            "default": default_class,
            "controllerValue": controller_value,
        },
        "electionID": f"{fullname}-leader",
        "service": {
            "type": "LoadBalancer",
            "annotations": {METALLB_IPS_ANNOTATION: address},
        },
        "config": {
            "hsts": "true" if config["hsts"] else "false",
            "proxy-body-size": str(config["proxyBodySize"]),
        },
    }
    if config["defaultCertificate"]:
        # The Secret comes later (ssl-certificates runs after cert-manager, which runs after
        # ingress); until it exists nginx serves its built-in fake certificate and picks the
        # Secret up as soon as cert-manager writes it — no restart, no second helm upgrade.
        controller["extraArgs"] = {"default-ssl-certificate": f"{WILDCARD_NAMESPACE}/{WILDCARD_SECRET}"}
    # fullnameOverride keeps the two releases' cluster-scoped objects (ClusterRole, admission
    # webhook configuration) apart and gives readable names: <fullname>-controller.
    return {"fullnameOverride": fullname, "controller": controller}


async def install_ingress(
    ctx: InstallContext, *, fullname: str, class_name: str, controller_value: str, default_class: bool
) -> None:
    namespace = ctx.component.namespace
    address = ingress_address(ctx.spec, ctx.component.id)
    if not in_range(address, ctx.spec.cluster.metallb_range):
        raise InstallError(
            f"{address} is outside cluster.metallbRange {ctx.spec.cluster.metallb_range}: "
            "MetalLB can only hand out addresses from its pool"
        )
    values = ingress_values(
        ctx,
        fullname=fullname,
        class_name=class_name,
        controller_value=controller_value,
        default_class=default_class,
        address=address,
    )
    await ctx.step(f"install ingress-nginx ({class_name}) in {namespace}", lambda: ctx.helm(values, timeout_s=600))

    # Verify: the controller runs, MetalLB gave its Service the wanted address, the class exists.
    service = f"{fullname}-controller"
    await rollout(ctx, "Deployment", service, namespace, timeout=600)

    def has_address(obj: Mapping[str, Any]) -> bool:
        ingress = obj.get("status", {}).get("loadBalancer", {}).get("ingress") or []
        return bool(ingress) and ingress[0].get("ip") == address

    await wait(
        ctx,
        "v1",
        "Service",
        service,
        namespace,
        has_address,
        timeout=300,
        what=f"Service {namespace}/{service} with external address {address}",
        hint=f"MetalLB did not assign {address}: check that it is free and inside the pool "
        "(`microk8s kubectl -n metallb-system get ipaddresspools`) and the Service's events",
    )
    ctx.log(f"Service {namespace}/{service} answers on {address}")
    ingress_class = await wait(
        ctx,
        "networking.k8s.io/v1",
        "IngressClass",
        class_name,
        None,
        lambda obj: obj.get("spec", {}).get("controller") == controller_value,
        timeout=60,
        what=f"IngressClass {class_name} of controller {controller_value}",
        hint="the chart creates it (controller.ingressClassResource); if it exists with another controller, "
        "another ingress controller owns that class name",
    )
    default = (ingress_class.get("metadata", {}).get("annotations") or {}).get(
        "ingressclass.kubernetes.io/is-default-class"
    ) == "true"
    ctx.log(f"IngressClass {class_name} ({controller_value}){' is the default class' if default else ''}")
