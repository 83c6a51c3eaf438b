"""5.3 Ingress for Knative: a second ingress-nginx controller, class `nginx-kn` (not default),
on its own MetalLB address `cluster.ingressKnIP`.

Its own class name, controller value (`k8s.io/ingress-nginx-kn`) and election ID keep it from
picking up the main controller's Ingresses, as the ingress-nginx guide to running several
controllers asks (https://kubernetes.github.io/ingress-nginx/user-guide/multiple-ingress/).
"""

from __future__ import annotations

from .base import InstallContext
from .support.net import install_ingress


async def install(ctx: InstallContext) -> None:
    await install_ingress(
        ctx,
        fullname="ingress-nginx-kn",
        class_name="nginx-kn",
        controller_value="k8s.io/ingress-nginx-kn",
        default_class=False,
    )
