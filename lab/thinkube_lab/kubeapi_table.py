"""Table output (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), what `kubectl get` asks for.

A real API server prints each kind with its own columns (pkg/printers/internalversion); custom
resources with their CRD's additionalPrinterColumns, else NAME and AGE. The columns here are
the ones kubectl shows for the kinds the lab serves; values are computed from the stored
objects the same way (READY as ready/desired, AGE as a human duration, ...). Columns of
priority 1 are those `-o wide` adds.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

from .kubeapi_resources import ResourceType

Obj = dict[str, Any]
Column = tuple[str, str, int, Callable[[Obj], Any]]  # name, type, priority, cell


def table_version(accept: str) -> str | None:
    """meta.k8s.io version of the Table the client asks for (v1 or v1beta1), if it asks for one."""
    for part in accept.split(","):
        params = dict(p.strip().partition("=")[::2] for p in part.split(";")[1:])
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
            return params["v"]
    return None


def human_duration(seconds: float) -> str:
    """kubectl's age format (apimachinery's duration.HumanDuration)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d{h % 24}h" if h % 24 else f"{h // 24}d"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        dy = (h // 24) % 365
        return f"{h // 24 // 365}y{dy}d" if dy else f"{h // 24 // 365}y"
    return f"{h // 24 // 365}y"


def _since(stamp: Any) -> str:
    if not stamp:
        return "<unknown>"
    when = dt.datetime.strptime(str(stamp), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    return human_duration((dt.datetime.now(dt.UTC) - when).total_seconds())


def _age(o: Obj) -> str:
    return _since(o["metadata"].get("creationTimestamp"))


def _spec(o: Obj) -> Obj:
    return o.get("spec") or {}


def _status(o: Obj) -> Obj:
    return o.get("status") or {}


def _none(v: Any) -> Any:
    return "<none>" if v in (None, "", []) else v


def _labels(sel: Any) -> str:
    return ",".join(f"{k}={v}" for k, v in (sel or {}).items()) or "<none>"


def _containers(o: Obj) -> list[Obj]:
    return list(((_spec(o).get("template") or {}).get("spec") or {}).get("containers") or [])


def _ports(o: Obj) -> str:
    out = []
    for p in _spec(o).get("ports") or []:
        node = f":{p['nodePort']}" if p.get("nodePort") else ""
        out.append(f"{p.get('port')}{node}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def _external_ip(o: Obj) -> str:
    spec = _spec(o)
    ingress = [i.get("ip") or i.get("hostname") for i in (_status(o).get("loadBalancer") or {}).get("ingress") or []]
    ips = list(spec.get("externalIPs") or [])
    if spec.get("type") == "LoadBalancer":
        return ",".join(ingress + ips) or "<pending>"
    if spec.get("type") == "ExternalName":
        return str(spec.get("externalName", ""))
    return ",".join(ips) or "<none>"


def _node_status(o: Obj) -> str:
    ready = next((c for c in _status(o).get("conditions") or [] if c.get("type") == "Ready"), None)
    state = "Ready" if ready and ready.get("status") == "True" else "NotReady" if ready else "Unknown"
    return state + (",SchedulingDisabled" if _spec(o).get("unschedulable") else "")


def _node_roles(o: Obj) -> str:
    roles = [
        k.split("/", 1)[1]
        for k in (o["metadata"].get("labels") or {})
        if k.startswith("node-role.kubernetes.io/") and k.split("/", 1)[1]
    ]
    return ",".join(sorted(roles)) or "<none>"


def _address(o: Obj, kind: str) -> str:
    return next((a["address"] for a in _status(o).get("addresses") or [] if a.get("type") == kind), "<none>")


def _job_status(o: Obj) -> str:
    conds = {c.get("type") for c in _status(o).get("conditions") or [] if c.get("status") == "True"}
    for t, word in (("Complete", "Complete"), ("Failed", "Failed"), ("Suspended", "Suspended")):
        if t in conds:
            return word
    return "Running"


def _job_duration(o: Obj) -> str:
    st = _status(o)
    if not st.get("startTime"):
        return ""
    end = st.get("completionTime")
    start = dt.datetime.strptime(st["startTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    stop = dt.datetime.strptime(end, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC) if end else dt.datetime.now(dt.UTC)
    return human_duration((stop - start).total_seconds())


def _pod_ready(o: Obj) -> str:
    statuses = _status(o).get("containerStatuses") or []
    total = len(_spec(o).get("containers") or [])
    return f"{sum(1 for c in statuses if c.get('ready'))}/{total}"


def _event_object(o: Obj) -> str:
    ref = o.get("involvedObject") or o.get("regarding") or {}
    return f"{str(ref.get('kind', '')).lower()}/{ref.get('name', '')}"


NAME: Column = ("Name", "string", 0, lambda o: o["metadata"]["name"])
AGE: Column = ("Age", "string", 0, _age)

COLUMNS: dict[str, list[Column]] = {
    "Namespace": [NAME, ("Status", "string", 0, lambda o: _status(o).get("phase", "")), AGE],
    "Node": [
        NAME,
        ("Status", "string", 0, _node_status),
        ("Roles", "string", 0, _node_roles),
        AGE,
        ("Version", "string", 0, lambda o: (_status(o).get("nodeInfo") or {}).get("kubeletVersion", "")),
        ("Internal-IP", "string", 1, lambda o: _address(o, "InternalIP")),
        ("External-IP", "string", 1, lambda o: _address(o, "ExternalIP")),
        ("OS-Image", "string", 1, lambda o: (_status(o).get("nodeInfo") or {}).get("osImage", "")),
        ("Kernel-Version", "string", 1, lambda o: (_status(o).get("nodeInfo") or {}).get("kernelVersion", "")),
        (
            "Container-Runtime",
            "string",
            1,
            lambda o: (_status(o).get("nodeInfo") or {}).get("containerRuntimeVersion", ""),
        ),
    ],
    "ConfigMap": [
        NAME,
        ("Data", "integer", 0, lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
        AGE,
    ],
    "Secret": [
        NAME,
        ("Type", "string", 0, lambda o: o.get("type", "Opaque")),
        ("Data", "integer", 0, lambda o: len(o.get("data") or {})),
        AGE,
    ],
    "Service": [
        NAME,
        ("Type", "string", 0, lambda o: _spec(o).get("type", "ClusterIP")),
        ("Cluster-IP", "string", 0, lambda o: _none(_spec(o).get("clusterIP"))),
        ("External-IP", "string", 0, _external_ip),
        ("Port(s)", "string", 0, _ports),
        AGE,
        ("Selector", "string", 1, lambda o: _labels(_spec(o).get("selector"))),
    ],
    "ServiceAccount": [NAME, ("Secrets", "integer", 0, lambda o: len(o.get("secrets") or [])), AGE],
    "Pod": [
        NAME,
        ("Ready", "string", 0, _pod_ready),
        ("Status", "string", 0, lambda o: _status(o).get("phase", "Pending")),
        (
            "Restarts",
            "string",
            0,
            lambda o: str(sum(c.get("restartCount", 0) for c in _status(o).get("containerStatuses") or [])),
        ),
        AGE,
        ("IP", "string", 1, lambda o: _none(_status(o).get("podIP"))),
        ("Node", "string", 1, lambda o: _none(_spec(o).get("nodeName"))),
    ],
    "PersistentVolumeClaim": [
        NAME,
        ("Status", "string", 0, lambda o: _status(o).get("phase", "Pending")),
        ("Volume", "string", 0, lambda o: _spec(o).get("volumeName", "")),
        ("Capacity", "string", 0, lambda o: (_status(o).get("capacity") or {}).get("storage", "")),
        ("Access Modes", "string", 0, lambda o: ",".join(_status(o).get("accessModes") or [])),
        ("StorageClass", "string", 0, lambda o: _spec(o).get("storageClassName", "")),
        ("VolumeAttributesClass", "string", 0, lambda o: _none(_spec(o).get("volumeAttributesClassName"))),
        AGE,
    ],
    "Deployment": [
        NAME,
        ("Ready", "string", 0, lambda o: f"{_status(o).get('readyReplicas', 0)}/{_spec(o).get('replicas', 1)}"),
        ("Up-to-date", "integer", 0, lambda o: _status(o).get("updatedReplicas", 0)),
        ("Available", "integer", 0, lambda o: _status(o).get("availableReplicas", 0)),
        AGE,
        ("Containers", "string", 1, lambda o: ",".join(c.get("name", "") for c in _containers(o))),
        ("Images", "string", 1, lambda o: ",".join(c.get("image", "") for c in _containers(o))),
        ("Selector", "string", 1, lambda o: _labels((_spec(o).get("selector") or {}).get("matchLabels"))),
    ],
    "StatefulSet": [
        NAME,
        ("Ready", "string", 0, lambda o: f"{_status(o).get('readyReplicas', 0)}/{_spec(o).get('replicas', 1)}"),
        AGE,
        ("Containers", "string", 1, lambda o: ",".join(c.get("name", "") for c in _containers(o))),
        ("Images", "string", 1, lambda o: ",".join(c.get("image", "") for c in _containers(o))),
    ],
    "DaemonSet": [
        NAME,
        ("Desired", "integer", 0, lambda o: _status(o).get("desiredNumberScheduled", 0)),
        ("Current", "integer", 0, lambda o: _status(o).get("currentNumberScheduled", 0)),
        ("Ready", "integer", 0, lambda o: _status(o).get("numberReady", 0)),
        ("Up-to-date", "integer", 0, lambda o: _status(o).get("updatedNumberScheduled", 0)),
        ("Available", "integer", 0, lambda o: _status(o).get("numberAvailable", 0)),
        (
            "Node Selector",
            "string",
            0,
            lambda o: _labels(((_spec(o).get("template") or {}).get("spec") or {}).get("nodeSelector")),
        ),
        AGE,
    ],
    "ReplicaSet": [
        NAME,
        ("Desired", "integer", 0, lambda o: _spec(o).get("replicas", 1)),
        ("Current", "integer", 0, lambda o: _status(o).get("replicas", 0)),
        ("Ready", "integer", 0, lambda o: _status(o).get("readyReplicas", 0)),
        AGE,
    ],
    "Job": [
        NAME,
        ("Status", "string", 0, _job_status),
        ("Completions", "string", 0, lambda o: f"{_status(o).get('succeeded', 0)}/{_spec(o).get('completions', 1)}"),
        ("Duration", "string", 0, _job_duration),
        AGE,
    ],
    "CronJob": [
        NAME,
        ("Schedule", "string", 0, lambda o: _spec(o).get("schedule", "")),
        ("Timezone", "string", 0, lambda o: _none(_spec(o).get("timeZone"))),
        ("Suspend", "boolean", 0, lambda o: bool(_spec(o).get("suspend", False))),
        ("Active", "integer", 0, lambda o: len(_status(o).get("active") or [])),
        (
            "Last Schedule",
            "string",
            0,
            lambda o: _since(_status(o).get("lastScheduleTime")) if _status(o).get("lastScheduleTime") else "<none>",
        ),
        AGE,
    ],
    "Ingress": [
        NAME,
        ("Class", "string", 0, lambda o: _none(_spec(o).get("ingressClassName"))),
        ("Hosts", "string", 0, lambda o: ",".join(r.get("host", "*") for r in _spec(o).get("rules") or []) or "*"),
        (
            "Address",
            "string",
            0,
            lambda o: ",".join(
                i.get("ip") or i.get("hostname", "")
                for i in (_status(o).get("loadBalancer") or {}).get("ingress") or []
            ),
        ),
        ("Ports", "string", 0, lambda o: "80, 443" if _spec(o).get("tls") else "80"),
        AGE,
    ],
    "Event": [
        (
            "Last Seen",
            "string",
            0,
            lambda o: _since(o.get("lastTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")),
        ),
        ("Type", "string", 0, lambda o: o.get("type", "")),
        ("Reason", "string", 0, lambda o: o.get("reason", "")),
        ("Object", "string", 0, _event_object),
        ("Message", "string", 0, lambda o: o.get("message") or o.get("note") or ""),
    ],
    "CustomResourceDefinition": [NAME, ("Created At", "date", 0, lambda o: o["metadata"].get("creationTimestamp", ""))],
}


def _jsonpath(o: Obj, path: str) -> Any:
    """The simple `.a.b[0].c` JSONPaths additionalPrinterColumns use."""
    cur: Any = o
    for name, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path):
        if name:
            cur = cur.get(name) if isinstance(cur, dict) else None
        else:
            cur = cur[int(index)] if isinstance(cur, list) and int(index) < len(cur) else None
        if cur is None:
            return None
    return cur


def _crd_columns(crd_version: Obj | None) -> list[Column]:
    cols: list[Column] = [NAME]
    for c in (crd_version or {}).get("additionalPrinterColumns") or []:
        path, kind = c.get("jsonPath", ""), c.get("type", "string")
        shown = "string" if kind == "date" else kind  # dates print as ages, like AGE
        cols.append((c["name"], shown, c.get("priority", 0), _printer(path, _since if kind == "date" else _cell)))
    if not any(c[0] == "Age" for c in cols):
        cols.append(AGE)
    return cols


def _printer(path: str, show: Callable[[Any], Any]) -> Callable[[Obj], Any]:
    return lambda o: show(_jsonpath(o, path))


def _cell(v: Any) -> Any:
    if v is None:
        return None
    return v if isinstance(v, (str, int, float, bool)) else json.dumps(v)


def columns(rt: ResourceType, crd_version: Obj | None = None) -> list[Column]:
    if rt.crd:
        return _crd_columns(crd_version)
    return COLUMNS.get(rt.kind, [NAME, AGE])


def _row_object(o: Obj, include: str) -> Obj | None:
    if include == "None":
        return None
    if include == "Object":
        return o
    meta = {k: v for k, v in o["metadata"].items() if k != "managedFields"}
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}


def table(
    rt: ResourceType,
    objs: list[Obj],
    version: str,
    *,
    resource_version: str,
    include: str = "Metadata",
    crd_version: Obj | None = None,
) -> Obj:
    cols = columns(rt, crd_version)
    rows = []
    for o in objs:
        row: Obj = {"cells": [c[3](o) for c in cols]}
        obj = _row_object(o, include)
        if obj is not None:
            row["object"] = obj
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {
                "name": name,
                "type": kind,
                "format": "name" if name == "Name" else "",
                "description": "",
                "priority": priority,
            }
            for name, kind, priority, _ in cols
        ],
        "rows": rows,
    }
