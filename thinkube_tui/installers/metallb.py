"""5.3 MetalLB: MicroK8s' metallb addon with the address pool `cluster.metallbRange`.

`microk8s enable metallb:START-END` (https://microk8s.io/docs/addon-metallb) installs MetalLB
in namespace metallb-system and creates the `metallb.io/v1beta1` IPAddressPool
`default-addresspool` with that range (canonical/microk8s-core-addons, addons/metallb/enable).
The addon is enabled only when `microk8s status` does not list it; when it is enabled but its
pool holds other addresses (the range was changed in the answers), the pool is converged.
Layer-2 announcement needs an L2Advertisement (https://metallb.universe.tf/configuration/#layer-2-configuration);
one is created for the pool when the addon made none.
"""

from __future__ import annotations

from typing import Any

from ..engine import InstallError
from ..kube import KubeError
from .base import InstallContext
from .support.microk8s import ensure_addon
from .support.net import metallb_range
from .support.objects import ensure, rollout, wait

NAMESPACE = "metallb-system"
POOL = "default-addresspool"
L2_ADVERTISEMENT = "thinkube-l2"
API = "metallb.io/v1beta1"


async def install(ctx: InstallContext) -> None:
    wanted = metallb_range(ctx.spec.cluster.metallb_range)
    await ctx.step(f"enable the metallb addon ({wanted})", lambda: ensure_addon(ctx, ctx.control, f"metallb:{wanted}"))
    await ctx.step("check the address pool", lambda: _converge_pool(ctx, wanted))
    await ctx.step("announce the pool on the LAN (layer 2)", lambda: _l2_advertisement(ctx))

    # Verify: MetalLB runs and serves the pool.
    await rollout(ctx, "Deployment", "controller", NAMESPACE, timeout=300)
    await rollout(ctx, "DaemonSet", "speaker", NAMESPACE, timeout=300)
    pool = await wait(
        ctx,
        API,
        "IPAddressPool",
        POOL,
        NAMESPACE,
        lambda obj: wanted in _addresses(obj),
        timeout=120,
        what=f"IPAddressPool {NAMESPACE}/{POOL} with {wanted}",
        hint="`microk8s enable metallb` should have created it",
    )
    ctx.log(f"MetalLB hands out {', '.join(_addresses(pool))}")


def _addresses(pool: dict[str, Any]) -> list[str]:
    return [str(a) for a in pool.get("spec", {}).get("addresses") or []]


async def _converge_pool(ctx: InstallContext, wanted: str) -> None:
    kube = await ctx.kube()
    pool = await kube.get(API, "IPAddressPool", POOL, NAMESPACE)
    if pool is None:
        # Freshly enabled: the addon applies the pool right after its controller is ready; the
        # verification below waits for it.
        return
    current = _addresses(pool)
    if current == [wanted]:
        ctx.log(f"IPAddressPool {POOL} already hands out {wanted}")
        return
    if current:
        ctx.log(f"IPAddressPool {POOL} hands out {', '.join(current)}; the answers ask for {wanted}")
    # A merge patch replaces the list: the addon created the pool with client-side apply, and
    # server-side apply would leave it co-owned.
    await kube.merge_patch(API, "IPAddressPool", POOL, NAMESPACE, {"spec": {"addresses": [wanted]}})
    ctx.log(f"IPAddressPool {POOL} now hands out {wanted}")


async def _l2_advertisement(ctx: InstallContext) -> None:
    kube = await ctx.kube()
    try:
        existing = await kube.list(API, "L2Advertisement", NAMESPACE)
    except KubeError as exc:  # the CRD comes with the addon
        raise InstallError(
            f"could not list MetalLB's L2Advertisements ({exc}); is the metallb addon enabled?"
        ) from None
    others = [a for a in existing if a.get("metadata", {}).get("name") != L2_ADVERTISEMENT]
    if others:
        ctx.log(f"layer-2 announcement already configured ({', '.join(a['metadata']['name'] for a in others)})")
        return
    await ensure(
        ctx,
        {
            "apiVersion": API,
            "kind": "L2Advertisement",
            "metadata": {"name": L2_ADVERTISEMENT, "namespace": NAMESPACE},
            "spec": {"ipAddressPools": [POOL]},
        },
    )
