"""5.3 Ingress (nginx): the main ingress-nginx controller, class `nginx` (the cluster's default
IngressClass), on its own MetalLB address `cluster.ingressIP`, serving the wildcard certificate.

See net.install_ingress for the values and the documentation they come from.
"""

from __future__ import annotations

from .base import InstallContext
from .support.net import install_ingress


async def install(ctx: InstallContext) -> None:
    await install_ingress(
        ctx, fullname="ingress-nginx", class_name="nginx", controller_value="k8s.io/ingress-nginx", default_class=True
    )
