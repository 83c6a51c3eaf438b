"""Generic: CR kinds in `GENERIC_STATUS` (operators the lab does not simulate in code) get
their status after a delay, once their operator's release is rolled out."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .base import (
    ControllerApi,
    Obj,
    cond,
    workload_ready,
)


def reconcile(ctl: ControllerApi) -> None:
    for entry in GENERIC_STATUS:
        if entry.get("release") and ctl.release_ready(entry["release"]) is None:
            continue
        for obj in ctl.list(entry["apiVersion"], entry["kind"]):
            meta = obj["metadata"]
            gen = meta.get("generation")
            if not _generic_children(ctl, entry, obj):
                continue
            if not ctl.after(f"gen/{entry['kind']}/{meta.get('namespace', '')}/{meta['name']}/{gen}", "generic"):
                continue
            old = (obj.get("status") or {}).get("conditions")
            status = copy.deepcopy(entry.get("status") or {})
            if entry.get("conditions"):
                status["conditions"] = [cond(old, t, s, r, m, gen) for t, s, r, m in entry["conditions"]]
            ctl.set_status(obj, status, entry.get("manager", "thinkube-lab-controller"))


def _generic_children(ctl: ControllerApi, entry: Mapping[str, Any], owner: Obj) -> bool:
    """Create the workloads / Services an entry's operator would; True once they are ready."""
    ns, base = owner["metadata"].get("namespace"), owner["metadata"]["name"]
    all_ready = True
    for c in entry.get("creates") or []:
        name = c["name"].replace("{name}", base)
        labels = {k: v.replace("{name}", base) for k, v in (c.get("labels") or {}).items()}
        if c["kind"] == "Service":
            sel = {k: v.replace("{name}", base) for k, v in (c.get("selector") or {}).items()}
            ctl.ensure(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": name, "namespace": ns},
                    "spec": {
                        "type": "ClusterIP",
                        "selector": sel,
                        "ports": [{"name": "http", "port": int(c.get("port", 80)), "protocol": "TCP"}],
                    },
                },
                entry.get("manager", "thinkube-lab-controller"),
            )
            continue
        spec: Obj = {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{"name": name.rsplit("-", 1)[-1], "image": "registry.thinkube-lab.invalid/operand"}]
                },
            },
        }
        if c["kind"] != "DaemonSet":
            spec["replicas"] = int(c.get("replicas", 1))
        ctl.ensure(
            {
                "apiVersion": c["apiVersion"],
                "kind": c["kind"],
                "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
                "spec": spec,
            },
            entry.get("manager", "thinkube-lab-controller"),
        )
        all_ready = all_ready and workload_ready(ctl.get(c["apiVersion"], c["kind"], name, ns))
    return all_ready


# ============================================================================ tables and small helpers

#: CR kinds whose operator the lab does not simulate in code: once the release named in
#: `release` (a chart name) is rolled out, every object of the kind gets `status` and
#: `conditions` ((type, status, reason, message)) after DELAYS["generic"].
GENERIC_STATUS: list[dict[str, Any]] = [
    {
        "apiVersion": "nvidia.com/v1",
        "kind": "ClusterPolicy",
        "release": "gpu-operator",
        "status": {"state": "ready"},
        "conditions": [("Ready", "True", "Reconciled", "ClusterPolicy is ready")],
        "manager": "gpu-operator",
    },
    {
        "apiVersion": "nvidia.com/v1alpha1",
        "kind": "NVIDIADriver",
        "release": "gpu-operator",
        "status": {"state": "ready"},
        "conditions": [("Ready", "True", "Reconciled", "")],
        "manager": "gpu-operator",
    },
    {
        "apiVersion": "operator.knative.dev/v1beta1",
        "kind": "KnativeServing",
        "release": "knative-operator",
        "status": {"version": "1.22.3"},
        "manager": "knative-operator",
        "conditions": [
            ("Ready", "True", "", ""),
            ("InstallSucceeded", "True", "", ""),
            ("DeploymentsAvailable", "True", "", ""),
            ("DependenciesInstalled", "True", "", ""),
        ],
    },
    {
        "apiVersion": "operator.knative.dev/v1beta1",
        "kind": "KnativeEventing",
        "release": "knative-operator",
        "status": {"version": "1.22.3"},
        "manager": "knative-operator",
        "conditions": [
            ("Ready", "True", "", ""),
            ("InstallSucceeded", "True", "", ""),
            ("DeploymentsAvailable", "True", "", ""),
            ("DependenciesInstalled", "True", "", ""),
        ],
    },
    {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "release": "argo-workflows",
        "status": {
            "phase": "Succeeded",
            "progress": "1/1",
            "message": "thinkube-lab: simulated run (no step was executed)",
        },
        "conditions": [("Completed", "True", "", "")],
        "manager": "workflow-controller",
    },
    {
        "apiVersion": "awx.ansible.com/v1beta1",
        "kind": "AWX",
        "release": "awx-operator",
        "manager": "awx-operator",
        "creates": [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "{name}-web",
                "labels": {"app.kubernetes.io/name": "{name}-web"},
            },
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "{name}-task",
                "labels": {"app.kubernetes.io/name": "{name}-task"},
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "name": "{name}-service",
                "port": 80,
                "selector": {"app.kubernetes.io/name": "{name}-web"},
            },
        ],
        "conditions": [
            ("Successful", "True", "Successful", "Last reconciliation succeeded"),
            ("Running", "True", "Running", ""),
        ],
    },
]
