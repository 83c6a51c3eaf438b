"""/openapi/v3: the OpenAPI documents kubectl reads before `apply`, `diff`, `explain`.

kubectl 1.33 validates with `--validate=strict` by default: it looks in /openapi/v3/<group
version> for a PATCH operation of the object's kind that takes the `fieldValidation` query
parameter; when there is one it leaves validation to the server (fieldValidation=Strict),
otherwise it falls back to /openapi/v2, which it only reads as protobuf. Client-side apply and
diff also take their strategic-merge-patch keys from the kind's schema here.

The documents are derived from what the emulator serves: built-in kinds with their schemas
from kubernetes-validate's definitions (the same ones the emulator validates against,
converted back to OpenAPI form), CRD-backed kinds with their CRD's openAPIV3Schema. The
paths list each kind's operations; the index's hashes change with the kinds, so clients
caching documents by hash see a new CRD.
"""

from __future__ import annotations

import copy
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from .kubeapi_resources import ResourceType

Obj = dict[str, Any]
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
# Written by hand in the real documents (they are not generated from Go structs).
SPECIAL = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"type": "string", "format": "int-or-string"},
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {"type": "string"},
}


def _convert(node: Any) -> Any:
    """kubernetes-validate's JSON Schema form back to OpenAPI v3: refs into components, no
    `null` in types, no enums on apiVersion/kind."""
    if isinstance(node, list):
        return [_convert(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: Obj = {}
    for k, v in node.items():
        if k == "$ref" and isinstance(v, str):
            out[k] = v.replace("#/$defs/", "#/components/schemas/")
        elif k == "type" and isinstance(v, list):
            kinds = [t for t in v if t != "null"]
            out[k] = kinds[0] if len(kinds) == 1 else kinds
        elif k == "properties" and isinstance(v, dict):
            out[k] = {
                p: {a: b for a, b in _convert(s).items() if not (p in ("apiVersion", "kind") and a == "enum")}
                for p, s in v.items()
            }
        else:
            out[k] = _convert(v)
    return out


@cache
def _definitions(version: str) -> tuple[dict[str, Obj], dict[tuple[str, str, str], str]]:
    """(name -> OpenAPI schema, (group, version, kind) -> name) for a Kubernetes version."""
    import kubernetes_validate.utils as kvu

    folder = Path(kvu.__file__).parent / "kubernetes-json-schema" / f"v{version}-local"
    raw = json.loads((folder / "_definitions.json").read_text())["$defs"]
    defs = {name: SPECIAL.get(name) or _convert(schema) for name, schema in raw.items()}
    by_gvk = {
        (g.get("group", ""), g["version"], g["kind"]): name
        for name, schema in raw.items()
        for g in schema.get("x-kubernetes-group-version-kind") or []
    }
    return defs, by_gvk


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for v in node.values():
            _refs(v, found)
    elif isinstance(node, list):
        for v in node:
            _refs(v, found)


def _closure(defs: dict[str, Obj], roots: set[str]) -> dict[str, Obj]:
    out: dict[str, Obj] = {}
    todo = [r for r in roots if r in defs]
    while todo:
        name = todo.pop()
        if name in out:
            continue
        out[name] = defs[name]
        more: set[str] = set()
        _refs(defs[name], more)
        todo.extend(m for m in more if m in defs and m not in out)
    return out


def crd_schema_name(rt: ResourceType) -> str:
    """The component name a real server gives a CRD's kind: reversed group, version, kind."""
    return ".".join([*reversed(rt.group.split(".")), rt.version, rt.kind])


def _crd_schema(rt: ResourceType) -> Obj:
    schema = copy.deepcopy(rt.schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    props = schema.setdefault("properties", {})
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    props["metadata"] = {"$ref": f"#/components/schemas/{OBJECT_META}"}
    schema["x-kubernetes-group-version-kind"] = [{"group": rt.group, "version": rt.version, "kind": rt.kind}]
    return schema


def _param(name: str, where: str = "query") -> Obj:
    return {
        "name": name,
        "in": where,
        "schema": {"type": "string", "uniqueItems": True},
        **({"required": True} if where == "path" else {}),
    }


def _op(rt: ResourceType, action: str, verb: str, schema_ref: Obj, params: list[str]) -> Obj:
    op_kind = {"get": "read", "list": "list", "post": "create", "put": "replace", "patch": "patch"}.get(action, action)
    return {
        "operationId": f"{op_kind}{rt.kind}",
        "parameters": [_param(p) for p in params],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": schema_ref}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
    }


def _paths(rt: ResourceType, schema_ref: Obj) -> dict[str, Obj]:
    base = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
    scope = "/namespaces/{namespace}" if rt.namespaced else ""
    ns_param = [_param("namespace", "path")] if rt.namespaced else []
    writes = ["dryRun", "fieldManager", "fieldValidation"]
    item: Obj = {
        "parameters": [_param("name", "path"), *ns_param],
        "get": _op(rt, "get", "GET", schema_ref, []),
        "put": _op(rt, "put", "PUT", schema_ref, writes),
        "patch": _op(rt, "patch", "PATCH", schema_ref, [*writes, "force"]),
        "delete": _op(rt, "delete", "DELETE", {"type": "object"}, ["dryRun", "propagationPolicy"]),
    }
    collection: Obj = {
        "parameters": ns_param,
        "get": _op(rt, "list", "GET", {"type": "object"}, ["labelSelector", "fieldSelector", "watch"]),
        "post": _op(rt, "post", "POST", schema_ref, writes),
    }
    # The patch types a real server takes: strategic merge only for built-in kinds (not CRDs).
    # kubectl computes a client-side apply's strategic patch from the schema only when listed.
    patch_types = ["application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json"]
    if not rt.crd:
        patch_types.append("application/strategic-merge-patch+json")
    item["patch"]["requestBody"] = {"content": {t: {"schema": {"type": "object"}} for t in patch_types}}
    paths = {f"{base}{scope}/{rt.plural}": collection, f"{base}{scope}/{rt.plural}/{{name}}": item}
    if rt.status:
        paths[f"{base}{scope}/{rt.plural}/{{name}}/status"] = {
            "parameters": item["parameters"],
            "get": item["get"],
            "put": item["put"],
            "patch": item["patch"],
        }
    return paths


def gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def document(k8s_version: str, schema_version: str, group: str, version: str, types: list[ResourceType]) -> Obj:
    """The OpenAPI v3 document of one group/version."""
    defs, by_gvk = _definitions(schema_version)
    schemas: dict[str, Obj] = {}
    paths: dict[str, Obj] = {}
    roots: set[str] = set()
    for rt in sorted(types, key=lambda t: t.plural):
        if rt.crd:
            name = crd_schema_name(rt)
            schemas[name] = _crd_schema(rt)
            roots.add(OBJECT_META)
        else:
            name = by_gvk.get((rt.group, rt.version, rt.kind), "")
            roots.add(name)
        paths.update(_paths(rt, {"$ref": f"#/components/schemas/{name}"}))
    schemas.update(_closure(defs, roots))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (thinkube-lab, simulated)", "version": f"v{k8s_version}.0"},
        "paths": paths,
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


def doc_hash(group: str, version: str, types: list[ResourceType]) -> str:
    """Changes when the group/version's kinds or CRD schemas change."""
    key = json.dumps(
        [gv_path(group, version), sorted((t.kind, t.plural, t.namespaced, t.status, t.schema or {}) for t in types)],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha512(key.encode()).hexdigest().upper()


def index(types_by_gv: dict[tuple[str, str], list[ResourceType]]) -> Obj:
    """/openapi/v3: where each group/version's document is."""
    return {
        "paths": {
            gv_path(g, v): {"serverRelativeURL": f"/openapi/v3/{gv_path(g, v)}?hash={doc_hash(g, v, types)}"}
            for (g, v), types in sorted(types_by_gv.items())
        }
    }
