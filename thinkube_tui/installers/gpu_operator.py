"""5.3 NVIDIA GPU Operator: device plugin, container toolkit for MicroK8s' containerd, GPU
feature discovery, DCGM metrics, optional time-slicing and MIG.

Values (NVIDIA GPU Operator docs, https://docs.nvidia.com/datacenter/cloud-native/gpu-operator/latest/):
- toolkit.env, per "Getting Started > MicroK8s" and "Specifying Configuration Options for
  containerd" (getting-started.html#microk8s, getting-started.html#specifying-configuration-options-for-containerd):
  CONTAINERD_CONFIG=/var/snap/microk8s/current/args/containerd-template.toml,
  CONTAINERD_SOCKET=/var/snap/microk8s/common/run/containerd.sock,
  CONTAINERD_RUNTIME_CLASS=nvidia, CONTAINERD_SET_AS_DEFAULT=1 (both paths overridable in
  the component's config).
- driver.enabled=false when the GPU nodes use the host's driver (what discovery found;
  getting-started.html#pre-installed-nvidia-gpu-drivers), true with `driver: operator`
  (+ driver.version when given).
- Time-slicing (gpu-sharing.html): a ConfigMap `time-slicing-config` with one entry `any` and
  devicePlugin.config.name/default pointing at it.
- mig.strategy (gpu-operator-mig.html), cdi.enabled (cdi.html), dcgmExporter.enabled.
The install itself can take ~15 minutes on a real node (driver/toolkit containers, containerd
restart), hence the Helm timeout.
"""

from __future__ import annotations

from typing import Any

import yaml

from ..engine import InstallError
from ..spec import NodeSpec
from .base import InstallContext
from .support.objects import ensure, ensure_namespace, wait
from .support.uninstall import standard

HELM_TIMEOUT_S = 900
ALLOCATABLE_TIMEOUT_S = 900
TIME_SLICING_CONFIG = "time-slicing-config"
TIME_SLICING_KEY = "any"


def gpu_nodes(ctx: InstallContext) -> list[NodeSpec]:
    return [n for n in ctx.spec.nodes if ctx.facts(n).gpus]


def host_driver(ctx: InstallContext, node: NodeSpec) -> str | None:
    facts = ctx.facts(node)
    return facts.nvidia_driver_version or next((g.driver_version for g in facts.gpus if g.driver_version), None)


def time_slicing(ctx: InstallContext) -> dict[str, Any]:
    ts = ctx.config["timeSlicing"]
    return {"replicas": int(ts["replicas"]), "renameByDefault": bool(ts["renameByDefault"])}


def time_slicing_configmap(ctx: InstallContext) -> dict[str, Any]:
    ts = time_slicing(ctx)
    config = {
        "version": "v1",
        "flags": {"migStrategy": ctx.config["migStrategy"]},
        "sharing": {
            "timeSlicing": {
                "renameByDefault": ts["renameByDefault"],
                "resources": [{"name": "nvidia.com/gpu", "replicas": ts["replicas"]}],
            }
        },
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": TIME_SLICING_CONFIG, "namespace": ctx.component.namespace},
        "data": {TIME_SLICING_KEY: yaml.safe_dump(config, sort_keys=False)},
    }


def values(ctx: InstallContext) -> dict[str, Any]:
    config = ctx.config
    operator_driver = config["driver"] == "operator"
    driver: dict[str, Any] = {"enabled": operator_driver}
    if operator_driver and config.get("driverVersion"):
        driver["version"] = str(config["driverVersion"])
    out: dict[str, Any] = {
        "driver": driver,
        "toolkit": {
            "enabled": True,
            "env": [
                {
                    "name": "CONTAINERD_CONFIG",
                    "value": str(config["containerdConfig"]),
                },
                {
                    "name": "CONTAINERD_SOCKET",
                    "value": str(config["containerdSocket"]),
                },
                {"name": "CONTAINERD_RUNTIME_CLASS", "value": "nvidia"},
                {"name": "CONTAINERD_SET_AS_DEFAULT", "value": "1"},
            ],
        },
        "mig": {"strategy": config["migStrategy"]},
        "cdi": {"enabled": bool(config["cdi"])},
        "dcgmExporter": {"enabled": bool(config["dcgmExporter"])},
    }
    if time_slicing(ctx)["replicas"] > 0:
        out["devicePlugin"] = {"config": {"name": TIME_SLICING_CONFIG, "default": TIME_SLICING_KEY}}
    return out


def _check_nodes(ctx: InstallContext) -> list[NodeSpec]:
    nodes = gpu_nodes(ctx)
    if not nodes:
        if ctx.spec.components["gpu-operator"].enabled is True:
            raise InstallError(
                "components.gpu-operator.enabled is true, but discovery found no NVIDIA GPU on any "
                "node: set it to auto (installed only where a GPU is found) or false"
            )
        ctx.log(
            "discovery has not reported a GPU node (a dry run has no discovery): installing without "
            "checking any node's GPUs"
        )
        return nodes
    if ctx.config["driver"] == "host":
        missing = [n.name for n in nodes if not host_driver(ctx, n)]
        if missing:
            raise InstallError(
                f"driver: host, but discovery found no working NVIDIA driver on {', '.join(missing)}: "
                "install the driver there (`sudo ubuntu-drivers install --gpgpu`) or set "
                "components.gpu-operator.driver to operator"
            )
        for n in nodes:
            ctx.log(f"{n.name}: host driver {host_driver(ctx, n)}, {len(ctx.facts(n).gpus)} GPU(s)")
    return nodes


def _has_gpus(resource_names: tuple[str, ...]) -> Any:
    def ready(node: dict[str, Any]) -> bool:
        allocatable = node.get("status", {}).get("allocatable") or {}
        return any(
            _count(v) > 0 for k, v in allocatable.items() if k in resource_names or k.startswith("nvidia.com/mig-")
        )

    return ready


def _count(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


async def install(ctx: InstallContext) -> None:
    nodes = _check_nodes(ctx)
    namespace = ctx.component.namespace
    if time_slicing(ctx)["replicas"] > 0:

        async def time_slicing_config() -> None:
            await ensure_namespace(ctx, namespace)
            await ensure(ctx, time_slicing_configmap(ctx))

        await ctx.step("write the time-slicing configuration", time_slicing_config)
    wanted = values(ctx)
    await ctx.step(
        "install the NVIDIA GPU Operator (can take 15 minutes)",
        lambda: ctx.helm(wanted, timeout_s=HELM_TIMEOUT_S),
        timeout=HELM_TIMEOUT_S + 300,
    )

    # Verify: every GPU node advertises GPUs to the scheduler.
    ts = time_slicing(ctx)
    names = ("nvidia.com/gpu.shared",) if ts["replicas"] > 0 and ts["renameByDefault"] else ("nvidia.com/gpu",)
    for node in nodes:
        name = ctx.hostname(node)
        obj = await wait(
            ctx,
            "v1",
            "Node",
            name,
            None,
            _has_gpus(names),
            timeout=ALLOCATABLE_TIMEOUT_S,
            what=f"node {name} advertising {names[0]}",
            hint=f"see `microk8s kubectl -n {namespace} get pods -o wide` for the operator's "
            f"pods on {name} (toolkit, device plugin, validator)",
        )
        allocatable = obj.get("status", {}).get("allocatable") or {}
        found = {k: v for k, v in allocatable.items() if k.startswith("nvidia.com/")}
        ctx.log(f"{node.name}: allocatable {', '.join(f'{k}={v}' for k, v in sorted(found.items()))}")


async def uninstall(ctx: InstallContext) -> None:
    """What install created goes; its data stays unless purge (support/uninstall.py)."""
    await standard(ctx)
