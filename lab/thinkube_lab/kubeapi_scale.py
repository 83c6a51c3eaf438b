"""The /scale subresource (`kubectl scale`) and discovery details kubectl relies on.

A Scale (autoscaling/v1) is a view of a workload's `spec.replicas`; writing one changes the
workload itself, through the same write path as any update, so validation, generation and the
simulated rollout follow.
"""

from __future__ import annotations

from typing import Any

from .kubeapi_objects import ApiError, json_patch, merge_patch

Obj = dict[str, Any]
SCALABLE = {"Deployment", "StatefulSet", "ReplicaSet"}
# The kinds in the `all` category (`kubectl get all`), as on a real server.
CATEGORY_ALL = {"Pod", "Service", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}


def scale_of(obj: Obj) -> Obj:
    meta = obj["metadata"]
    selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta
        },
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in selector.items()),
        },
    }


def scaled(obj: Obj, method: str, content_type: str, body: Any) -> Obj:
    """The workload with the replicas a PUT or PATCH of its Scale asks for."""
    current = scale_of(obj)
    if method == "PUT":
        new = body
    elif content_type in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
        new = merge_patch(current, body if isinstance(body, dict) else {})
    elif content_type == "application/json-patch+json" and isinstance(body, list):
        try:
            new = json_patch(current, body)
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise ApiError(422, "Invalid", f"the JSON patch could not be applied: {e}") from None
    else:
        raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {content_type}")
    replicas = ((new or {}).get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise ApiError(
            422,
            "Invalid",
            f'Scale.autoscaling "{obj["metadata"]["name"]}" is invalid: spec.replicas: Invalid value: '
            f"{replicas!r}: must be greater than or equal to 0",
        )
    want_rv = ((new or {}).get("metadata") or {}).get("resourceVersion")
    out = {**obj, "spec": {**(obj.get("spec") or {}), "replicas": replicas}}
    out["metadata"] = {**obj["metadata"], "resourceVersion": want_rv or obj["metadata"]["resourceVersion"]}
    return out


def discovery_extras(resources: list[Obj]) -> list[Obj]:
    """`all` categories and the scale subresources, added to a group/version's resource list."""
    out = []
    for r in resources:
        r = dict(r)
        if "/" not in r["name"] and r["kind"] in CATEGORY_ALL:
            r["categories"] = ["all"]
        out.append(r)
        if "/" not in r["name"] and r["kind"] in SCALABLE:
            out.append(
                {
                    "name": f"{r['name']}/scale",
                    "singularName": "",
                    "namespaced": r["namespaced"],
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": ["get", "patch", "update"],
                }
            )
    return out
