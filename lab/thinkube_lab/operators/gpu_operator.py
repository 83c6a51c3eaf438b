"""NVIDIA GPU Operator: GPU nodes advertise `nvidia.com/gpu` (x time-slicing replicas)."""

from __future__ import annotations

import copy

import yaml

from ..kubeapi_objects import node_ready
from .base import (
    ControllerApi,
)


def reconcile(ctl: ControllerApi) -> None:
    release = ctl.release_ready("gpu-operator")
    if release is None or not ctl.after(f"gpu/{release['namespace']}/{release['revision']}", "gpu-device-plugin"):
        return
    values = release.get("values") or {}
    plugin_cfg = (values.get("devicePlugin") or {}).get("config") or {}
    replicas, rename = 1, False
    if plugin_cfg.get("name"):
        cm = ctl.get("v1", "ConfigMap", str(plugin_cfg["name"]), release["namespace"])
        text = ((cm or {}).get("data") or {}).get(str(plugin_cfg.get("default") or "any"))
        try:
            config = yaml.safe_load(text) if text else None
        except yaml.YAMLError:
            config = None
        ts = ((config or {}).get("sharing") or {}).get("timeSlicing") or {}
        rename = bool(ts.get("renameByDefault"))
        for res in ts.get("resources") or []:
            if res.get("name") == "nvidia.com/gpu":
                replicas = max(1, int(res.get("replicas") or 1))
    resource = "nvidia.com/gpu.shared" if rename and replicas > 1 else "nvidia.com/gpu"
    for node in ctl.list("v1", "Node"):
        lab_node = ctl.lab.nodes.get(node["metadata"]["name"])
        if lab_node is None or lab_node.profile.gpu is None or not node_ready(node):
            continue
        gpus = 1  # every lab GPU profile carries one GPU (the H100 capture)
        count = str(gpus * replicas)
        status = node.get("status") or {}
        cap = {k: v for k, v in (status.get("capacity") or {}).items() if not k.startswith("nvidia.com/gpu")}
        alloc = {k: v for k, v in (status.get("allocatable") or {}).items() if not k.startswith("nvidia.com/gpu")}
        cap[resource] = alloc[resource] = count
        labels = dict(node["metadata"].get("labels") or {})
        gpu = lab_node.profile.gpu
        labels.update(
            {
                "nvidia.com/gpu.present": "true",
                "nvidia.com/gpu.count": str(gpus),
                "nvidia.com/gpu.product": gpu.model.replace(" ", "-"),
                "nvidia.com/gpu.replicas": str(replicas),
                "nvidia.com/cuda.driver.major": gpu.driver.split(".")[0],
                "nvidia.com/gpu.deploy.device-plugin": "true",
            }
        )
        if (
            cap == status.get("capacity")
            and alloc == status.get("allocatable")
            and labels == node["metadata"].get("labels")
        ):
            continue
        updated = copy.deepcopy(node)
        updated["metadata"]["labels"] = labels
        updated["status"]["capacity"], updated["status"]["allocatable"] = cap, alloc
        ctl.kube.put(updated, manager="nvidia-device-plugin")
