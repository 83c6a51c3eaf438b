"""Argo CD: Applications of a chart with a data file in charts/ (or bedag's `raw` chart) are
applied, Synced, and Healthy once their workloads roll out."""

from __future__ import annotations

import copy

import yaml

from .. import charts
from ..kubeapi_objects import ApiError
from .base import (
    ControllerApi,
    Obj,
    workload_ready,
)


def reconcile(ctl: ControllerApi) -> None:
    """Applications whose source is a chart with a data file in thinkube_lab/charts/, or bedag's `raw`
    chart (the manifests in values.resources): applied into spec.destination.namespace, then
    Synced, and Healthy once their workloads are rolled out. Other sources (Git) are not
    simulated: the Application says so in its status."""
    if ctl.release_ready("argo-cd") is None:
        return
    for app in ctl.list("argoproj.io/v1alpha1", "Application"):
        meta, spec = app["metadata"], app.get("spec") or {}
        source = spec.get("source") or {}
        dest_ns = (spec.get("destination") or {}).get("namespace") or meta["namespace"]
        gen = meta.get("generation")
        helm = source.get("helm") or {}
        values = dict(helm.get("valuesObject") or {})
        if helm.get("values"):
            values = {**(yaml.safe_load(helm["values"]) or {}), **values}
        objects: list[Obj] = []
        error = None
        if source.get("chart") == "raw":
            objects = [copy.deepcopy(o) for o in values.get("resources") or [] if isinstance(o, dict)]
        elif source.get("chart"):
            try:
                doc = charts.load(source["chart"])
                if doc is None:
                    error = f"thinkube-lab: no data file lab/charts/{source['chart']}.yaml for this chart"
                else:
                    objects = charts.render(
                        doc,
                        release=helm.get("releaseName") or meta["name"],
                        namespace=dest_ns,
                        chart=source["chart"],
                        version=str(source.get("targetRevision", "0.0.0")),
                        values=values,
                        source=str(charts.chart_file(source["chart"])),
                    ).objects
            except charts.ChartFileError as exc:
                error = str(exc)
        else:
            error = "thinkube-lab: Git sources are not simulated (no network)"
        if error:
            ctl.set_status(
                app,
                {
                    "sync": {"status": "Unknown"},
                    "health": {"status": "Missing"},
                    "conditions": [{"type": "ComparisonError", "message": error}],
                },
                "argocd-application-controller",
            )
            continue
        key = f"argo/{meta['namespace']}/{meta['name']}/{gen}"
        synced = ((app.get("status") or {}).get("operationState") or {}).get("syncResult", {}).get("revision")
        if synced != str(gen):
            if not ctl.after(key, "generic"):
                continue
            if (
                ctl.get("v1", "Namespace", dest_ns) is None
                and (spec.get("syncPolicy") or {}).get("syncOptions")
                and "CreateNamespace=true" in spec["syncPolicy"]["syncOptions"]
            ):
                ctl.kube.put(
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": dest_ns}},
                    manager="argocd-application-controller",
                )
            resources = []
            try:
                for o in objects:
                    o.setdefault("metadata", {})
                    if o.get("kind") not in (
                        "Namespace",
                        "ClusterRole",
                        "ClusterRoleBinding",
                        "StorageClass",
                        "CustomResourceDefinition",
                        "IngressClass",
                        "PersistentVolume",
                    ):
                        o["metadata"].setdefault("namespace", dest_ns)
                    o["metadata"].setdefault("labels", {})["app.kubernetes.io/instance"] = meta["name"]
                    ctl.kube.put(o, manager="argocd-controller")
                    resources.append(
                        {
                            "kind": o["kind"],
                            "name": o["metadata"]["name"],
                            "namespace": o["metadata"].get("namespace", ""),
                            "status": "Synced",
                        }
                    )
            except ApiError as exc:
                ctl.set_status(
                    app,
                    {
                        "sync": {"status": "OutOfSync"},
                        "health": {"status": "Degraded"},
                        "operationState": {"phase": "Failed", "message": str(exc)},
                    },
                    "argocd-application-controller",
                )
                continue
            ctl.set_status(
                app,
                {
                    "sync": {"status": "Synced", "revision": str(source.get("targetRevision", ""))},
                    "resources": resources,
                    "health": {"status": "Progressing"},
                    "operationState": {
                        "phase": "Succeeded",
                        "message": "successfully synced",
                        "syncResult": {"revision": str(gen)},
                    },
                },
                "argocd-application-controller",
            )
            continue
        healthy = all(
            workload_ready(ctl.get("apps/v1", r["kind"], r["name"], r["namespace"]))
            for r in (app.get("status") or {}).get("resources") or []
            if r["kind"] in ("Deployment", "StatefulSet", "DaemonSet")
        )
        ctl.set_status(
            app, {"health": {"status": "Healthy" if healthy else "Progressing"}}, "argocd-application-controller"
        )
