"""Helpers shared by the development (5.8) and monitoring (5.9) installers.

- `harbor_image(ctx, image)`: a Docker Hub image reference rewritten to go through Harbor's
  Docker Hub proxy-cache project (`registry.<domain>/dockerhub/...`).
- `ingress(...)`: an Ingress for `<host>.<domain>` in class `nginx`.
- `trusted_ca(ctx, namespace)`: the cluster's self-signed CA certificate as a ConfigMap, so
  services that call Keycloak (`https://auth.<domain>`) from inside the cluster can verify it.
- `gpu_nodes`, `gpu_tolerations`, `gpu_resource`: what discovery and the Spec say about GPUs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...spec import NodeSpec
from ..base import InstallContext
from .ca import CA_KEY, cluster_ca, self_signed
from .components import enabled
from .nodes import parse_taint
from .objects import MANAGED_BY, ensure

Obj = dict[str, Any]

#: Harbor's proxy-cache project that mirrors Docker Hub (created by the harbor installer when
#: its `dockerHubProxyCache` setting is on, the default).
HARBOR_DOCKERHUB_PROJECT = "dockerhub"
DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")

#: The ConfigMap (in the consumer's namespace) holding the cluster CA when certificates are
#: self-signed, key `ca.crt`, and where the installers mount it.
CA_CONFIGMAP = "thinkube-ca"
CA_MOUNT = "/etc/thinkube-ca"
CA_FILE = f"{CA_MOUNT}/{CA_KEY}"

GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"


def domain(ctx: InstallContext) -> str:
    return ctx.spec.cluster.domain


def host(ctx: InstallContext, name: str) -> str:
    return f"{name}.{domain(ctx)}"


# ---------------------------------------------------------------- images


def split_image(image: str) -> tuple[str, str]:
    """(registry host or "", the rest) of an image reference, as Docker reads it: the first path
    element is a registry when it has a dot or a colon or is `localhost`."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return "", image


def dockerhub_proxy(ctx: InstallContext) -> bool:
    """Whether Harbor is in this Spec with its Docker Hub proxy cache (its default)."""
    if not enabled(ctx, "harbor"):
        return False
    return bool(ctx.spec.components["harbor"].config["dockerHubProxyCache"])


def harbor_image(ctx: InstallContext, image: str) -> str:
    """`image` pulled through Harbor's Docker Hub proxy cache when it comes from Docker Hub.

    `codercom/code-server:4.104.2` -> `registry.<domain>/dockerhub/codercom/code-server:4.104.2`,
    `alpine` -> `registry.<domain>/dockerhub/library/alpine`. Images of other registries
    (quay.io, ghcr.io, registry.<domain> itself) are returned as given: Harbor's proxy cache
    here mirrors Docker Hub only.
    """
    if not dockerhub_proxy(ctx):
        return image
    registry, rest = split_image(image)
    if registry and registry not in DOCKER_HUB_HOSTS:
        return image
    if "/" not in rest.split(":", 1)[0].split("@", 1)[0]:
        rest = f"library/{rest}"
    return f"{host(ctx, 'registry')}/{HARBOR_DOCKERHUB_PROJECT}/{rest}"


def note_direct_pull(ctx: InstallContext, image: str) -> None:
    """Say so in the log when `image` is not pulled through Harbor."""
    through = harbor_image(ctx, image)
    if through == image and not image.startswith(host(ctx, "registry") + "/"):
        registry = split_image(image)[0] or "docker.io"
        why = (
            "Harbor's proxy cache mirrors Docker Hub only"
            if dockerhub_proxy(ctx)
            else "Harbor's Docker Hub proxy cache is not part of this install"
        )
        ctx.log(f"note: {image} is pulled from {registry} directly ({why})")


def split_tag(image: str) -> tuple[str, str]:
    """(name, tag) of an image reference; tag "latest" when none is given."""
    name, at, digest = image.partition("@")
    if at:
        return name, f"@{digest}"
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :]
    return name, "latest"


# ---------------------------------------------------------------- objects


def cpu_quantity(value: Any) -> str:
    """A CPU amount as the API server writes it back (1.5 -> "1500m", 2 -> "2"), so a second
    run finds the object unchanged."""
    cores = float(value)
    return str(int(cores)) if cores.is_integer() else f"{round(cores * 1000)}m"


def ingress(
    ctx: InstallContext,
    name: str,
    hostname: str,
    service: str,
    port: int | str,
    *,
    annotations: Mapping[str, str] | None = None,
) -> Obj:
    """An Ingress for `hostname` to `service:port` in class `nginx`.

    TLS: `tls: [{hosts: [...]}]` without a secretName. ingress-nginx then serves its default
    certificate, the wildcard `*.{domain}` that ssl-certificates keeps in
    `ingress/thinkube-wildcard-tls` (the controller's --default-ssl-certificate), so no copy of
    the key is made in every namespace; the `tls` entry still turns on the HTTPS redirect.
    """
    backend_port = {"number": port} if isinstance(port, int) else {"name": port}
    meta: Obj = {"name": name, "namespace": ctx.component.namespace}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": meta,
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": [hostname]}],
            "rules": [
                {
                    "host": hostname,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": service, "port": backend_port}},
                            }
                        ]
                    },
                }
            ],
        },
    }


def helm_ingress(ctx: InstallContext, hostname: str) -> Obj:
    """The `ingress:` values most charts take (grafana, z2jh): class nginx, the wildcard default
    certificate (a tls entry without secretName, see `ingress`)."""
    return {"enabled": True, "ingressClassName": "nginx", "hosts": [hostname], "tls": [{"hosts": [hostname]}]}


# ---------------------------------------------------------------- the cluster CA


async def trusted_ca(ctx: InstallContext, namespace: str) -> bool:
    """With self-signed certificates: copy the CA *certificate* (public, never the key) from
    cert-manager's CA Secret into the ConfigMap `thinkube-ca` of `namespace`. True when the
    ConfigMap is there (services then verify Keycloak against it); False with Let's Encrypt,
    whose chain the images already trust."""
    if not self_signed(ctx):
        return False
    cert = await cluster_ca(ctx)
    if cert is None:
        return False
    await ensure(
        ctx,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": CA_CONFIGMAP,
                "namespace": namespace,
                "labels": dict(MANAGED_BY),
            },
            "data": {CA_KEY: cert},
        },
    )
    return True


def ca_volume() -> tuple[Obj, Obj]:
    """(volume, volumeMount) of the CA ConfigMap at /etc/thinkube-ca."""
    return (
        {"name": "thinkube-ca", "configMap": {"name": CA_CONFIGMAP}},
        {"name": "thinkube-ca", "mountPath": CA_MOUNT, "readOnly": True},
    )


# ---------------------------------------------------------------- GPUs


def gpu_nodes(ctx: InstallContext) -> list[NodeSpec]:
    """The Spec's nodes on which discovery found NVIDIA GPUs."""
    return [n for n in ctx.spec.nodes if ctx.cluster.facts.get(n.name) is not None and ctx.facts(n).gpus]


def gpu_models(ctx: InstallContext) -> list[tuple[str, int]]:
    """(model, how many GPUs of it in the cluster), in discovery order."""
    counts: dict[str, int] = {}
    for node in gpu_nodes(ctx):
        for gpu in ctx.facts(node).gpus:
            model = gpu.model or "NVIDIA GPU"
            counts[model] = counts.get(model, 0) + 1
    return list(counts.items())


def gpu_product_label(model: str) -> str:
    """The `nvidia.com/gpu.product` label GPU feature discovery gives a node (spaces as dashes)."""
    return "-".join(model.split())


def gpu_tolerations(ctx: InstallContext, nodes: Sequence[NodeSpec] | None = None) -> list[Obj]:
    """Tolerations for the GPU nodes' taints (from the Spec) and the usual `nvidia.com/gpu` one."""
    out: list[Obj] = [{"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}]
    for node in nodes if nodes is not None else gpu_nodes(ctx):
        for text in node.taints:
            taint = parse_taint(text)
            tol = {"key": taint["key"], "operator": "Exists", "effect": taint["effect"]}
            if tol not in out:
                out.append(tol)
    return out


def gpu_resource(ctx: InstallContext) -> str:
    """The resource name the device plugin advertises: `nvidia.com/gpu`, or
    `nvidia.com/gpu.shared` with time-slicing's renameByDefault."""
    ts = ctx.spec.components["gpu-operator"].config["timeSlicing"]
    if int(ts["replicas"]) > 0 and ts["renameByDefault"]:
        return "nvidia.com/gpu.shared"
    return "nvidia.com/gpu"
