"""Object logic for the lab's Kubernetes API emulator, free of HTTP and storage.

Status errors, name/label/schema validation, merge / JSON patches, server-side apply with
field ownership, and label/field selectors -- each a plain function on dicts.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .kubeapi_resources import ResourceType
from .kubeapi_validation import FieldError

Obj = dict[str, Any]
Path_ = tuple[str, ...]
FieldPath = tuple[str | int, ...]  # a path into an object, list indices included
SERVER_META = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
)

# ----------------------------------------------------------------------------- errors


class ApiError(Exception):
    """Becomes a `kind: Status` failure response."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> Obj:
        out: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if not self.reason:  # StatusReasonUnknown: a real server leaves it out
            del out["reason"]
        if self.details:
            out["details"] = self.details
        return out


def not_found_error(rt: ResourceType, name: str) -> ApiError:
    res = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
    return ApiError(404, "NotFound", f'{res} "{name}" not found', {"name": name, "group": rt.group, "kind": rt.plural})


def invalid_error(rt: ResourceType, name: str, errors: list[FieldError | str]) -> ApiError:
    """422 Invalid, as `apierrors.NewInvalid` builds it: every error a cause, the message their
    de-duplicated list (in brackets when more than one)."""
    errs = [e if isinstance(e, FieldError) else FieldError.parse(e) for e in errors]
    kind = f"{rt.kind}.{rt.group}" if rt.group else rt.kind
    texts = list(dict.fromkeys(str(e) for e in errs))
    joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    return ApiError(
        422,
        "Invalid",
        f'{kind} "{name}" is invalid: {joined}',
        {"name": name, "group": rt.group, "kind": rt.kind, "causes": [e.cause() for e in errs]},
    )


def terminating_error(rt: ResourceType, name: str, namespace: str) -> ApiError:
    """403 from the NamespaceLifecycle admission: nothing new in a namespace being deleted."""
    res = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
    return ApiError(
        403,
        "Forbidden",
        f'{res} "{name}" is forbidden: unable to create new content in namespace {namespace} '
        "because it is being terminated",
        {
            "name": name,
            "group": rt.group,
            "kind": rt.plural,
            "causes": [
                {
                    "reason": "NamespaceTerminating",
                    "message": f"namespace {namespace} is being terminated",
                    "field": "metadata.namespace",
                }
            ],
        },
    )


NO_RESOURCE = ApiError(404, "NotFound", "the server could not find the requested resource")


# ----------------------------------------------------------------------------- validation


class SchemaValidator:
    """Validators from kubernetes-validate's JSON schemas, built once per kind.

    `kubernetes_validate.validate` re-reads its 1.4 MB definitions file on every call
    (about 7 ms); building the validator once makes a check cost well under a millisecond.
    """

    def __init__(self, k8s_version: str):
        import kubernetes_validate.utils as kvu

        want = tuple(int(p) for p in k8s_version.lstrip("v").split(".")[:2])
        usable = [v for v in kvu.all_versions() if tuple(int(p) for p in v.split(".")[:2]) <= want]
        if not usable:
            raise ValueError(f"kubernetes-validate has no schemas for Kubernetes {k8s_version}")
        self.version = usable[-1]
        self._root = Path(kvu.__file__).parent / "kubernetes-json-schema"
        self._defs: dict[bool, Any] = {}
        self._cache: dict[tuple[str, str, bool], Any] = {}

    def _validator(self, api_version: str, kind: str, strict: bool) -> Any:
        key = (api_version, kind, strict)
        if key not in self._cache:
            import jsonschema
            from referencing import Registry, Resource

            folder = self._root / f"v{self.version}-local{'-strict' if strict else ''}"
            gv = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
            file = folder / f"{kind.lower()}-{gv}.json"
            if not file.exists():
                self._cache[key] = None
            else:
                if strict not in self._defs:
                    self._defs[strict] = Resource.from_contents(json.loads((folder / "_definitions.json").read_text()))
                schema = json.loads(file.read_text())
                registry = Registry().with_resources(
                    [
                        ("https://kubernetes.io/api/_definitions.json", self._defs[strict]),
                        ("/api/_definitions.json", self._defs[strict]),
                    ]
                )
                self._cache[key] = jsonschema.Draft202012Validator(schema, registry=registry)
        return self._cache[key]

    def errors(self, obj: Obj, strict: bool = True) -> list[str]:
        v = self._validator(obj["apiVersion"], obj["kind"], strict)
        return [] if v is None else schema_messages(v, obj)

    def findings(self, obj: Obj) -> tuple[list[FieldPath], list[str]]:
        """(unknown field paths, other schema errors), from the strict schema."""
        v = self._validator(obj["apiVersion"], obj["kind"], True)
        # A built-in kind's `required` fields are the validation code's to report, in its words.
        return ([], []) if v is None else schema_findings(v, obj, required=False)


def schema_messages(validator: Any, obj: Obj) -> list[str]:
    unknown, errors = schema_findings(validator, obj)
    return [f'{field_path(p)}: Invalid value: unknown field "{p[-1]}"' for p in unknown] + errors


def schema_findings(validator: Any, obj: Obj, required: bool = True) -> tuple[list[FieldPath], list[str]]:
    """(unknown fields' paths, other schema errors) of `obj` against a strict `validator`;
    ``required``: report missing required properties (`spec.x: Required value`)."""
    unknown: list[FieldPath] = []
    errors: list[str] = []
    for e in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.path))):
        path = field_path(e.path)
        if e.validator == "additionalProperties" and e.validator_value is False:
            for extra in sorted(set(e.instance) - set(e.schema.get("properties", {}))):
                unknown.append((*e.path, extra))
        elif e.validator == "required":
            if required and isinstance(e.instance, dict):
                missing = [p for p in e.validator_value if p not in e.instance]
                errors += [f"{path + '.' if path else ''}{p}: Required value" for p in missing]
        elif len(errors) < 10:
            errors.append(f"{path or '<root>'}: Invalid value: {e.message}")
    return unknown, errors


def field_path(parts: Any) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")


def drop_fields(obj: Obj, paths: list[FieldPath]) -> None:
    """Remove unknown fields, as a real server's decoder drops them."""
    for path in paths:
        node: Any = obj
        for p in path[:-1]:
            node = node[p]
        node.pop(path[-1], None)


def structural(s: Any, strict: bool) -> Any:
    """An OpenAPI v3 CRD schema as plain JSON Schema; strict refuses undeclared fields."""
    if not isinstance(s, dict):
        return s
    s = dict(s)
    if s.pop("nullable", False) and isinstance(s.get("type"), str):
        s["type"] = [s["type"], "null"]
    if s.pop("x-kubernetes-int-or-string", False):
        s.pop("type", None)
        s.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    preserve = s.pop("x-kubernetes-preserve-unknown-fields", False)
    for k in [k for k in s if k.startswith("x-kubernetes-")]:
        del s[k]
    if isinstance(s.get("properties"), dict):
        s["properties"] = {k: structural(v, strict) for k, v in s["properties"].items()}
        if strict and not preserve and "additionalProperties" not in s:
            s["additionalProperties"] = False
    for k in ("additionalProperties", "items", "not"):
        if isinstance(s.get(k), dict):
            s[k] = structural(s[k], strict)
    for k in ("allOf", "anyOf", "oneOf"):
        if isinstance(s.get(k), list):
            s[k] = [structural(x, strict) for x in s[k]]
    return s


def crd_validator(schema: Obj | None, strict: bool) -> Any:
    import jsonschema

    root = structural(schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}, strict)
    root.setdefault("properties", {})
    root["properties"].update(
        {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}}
    )
    return jsonschema.Draft4Validator(root)


# ----------------------------------------------------------------------------- object helpers


def timestamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch. The result shares nothing with `target` (which may be stored)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


#: Lists merged by a key in a strategic merge patch (`patchMergeKey` in k8s.io/api), by field
#: name; the other lists are replaced whole, as in a JSON merge patch.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "imagePullSecrets": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "hostAliases": "ip",
    "ownerReferences": "uid",
    "conditions": "type",
    "resourceClaims": "name",
    "schedulingGates": "name",
}
MERGED_SCALAR_LISTS = {"finalizers"}  # lists of strings merged as sets


def merge_key(kind: str, path: tuple[str, ...]) -> str | None:
    if path[-1:] == ("ports",):  # a Service's ports by port, a container's by containerPort
        return "port" if kind == "Service" and path == ("spec", "ports") else "containerPort"
    return MERGE_KEYS.get(path[-1]) if path else None


def strategic_merge_patch(kind: str, target: Any, patch: Any, path: tuple[str, ...] = ()) -> Any:
    """A strategic merge patch for the built-in kinds' common lists (`MERGE_KEYS`), with the
    `$patch: replace|delete`, `$retainKeys`, `$setElementOrder/` and `$deleteFromPrimitiveList/`
    directives kubectl sends."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    out = {} if directive == "replace" or not isinstance(target, dict) else copy.deepcopy(target)
    if isinstance(patch.get("$retainKeys"), list):
        out = {k: v for k, v in out.items() if k in patch["$retainKeys"]}
    orders = {}
    for k, v in patch.items():
        if k.startswith("$setElementOrder/"):
            orders[k.partition("/")[2]] = v
        elif k.startswith("$deleteFromPrimitiveList/"):
            field = k.partition("/")[2]
            if isinstance(out.get(field), list):
                out[field] = [x for x in out[field] if x not in v]
        elif k.startswith("$"):
            continue
        elif v is None:
            out.pop(k, None)
        elif isinstance(v, list):
            out[k] = _merge_list(kind, out.get(k), v, (*path, k))
        else:
            merged = strategic_merge_patch(kind, out.get(k), v, (*path, k))
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
    for field, order in orders.items():
        key = merge_key(kind, (*path, field))
        if key and isinstance(out.get(field), list):
            rank = {o.get(key): i for i, o in enumerate(order) if isinstance(o, dict)}
            out[field] = sorted(out[field], key=lambda x: rank.get(x.get(key), len(rank)))
    return out


def smd_path(kind: str, obj: Obj, path: FieldPath) -> str:
    """A field path as structured-merge-diff prints it: `.spec.containers[name="web"].x`."""
    out, node, names = "", obj, []
    for p in path:
        if isinstance(p, int):
            key = merge_key(kind, tuple(names))
            item = node[p] if isinstance(node, list) and p < len(node) else None
            if key and isinstance(item, dict) and key in item:
                out += f"[{key}={json.dumps(item[key])}]"
            else:
                out += f"[{p}]"
        else:
            out += f".{p}"
            names.append(p)
        node = node[p] if isinstance(node, dict | list) else None
    return out


def _merge_list(kind: str, current: Any, patch: list[Any], path: tuple[str, ...]) -> list[Any]:
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [copy.deepcopy(p) for p in patch if not (isinstance(p, dict) and p.get("$patch") == "replace")]
    current = copy.deepcopy(current) if isinstance(current, list) else []
    if path[-1] in MERGED_SCALAR_LISTS:
        return current + [p for p in patch if p not in current]
    key = merge_key(kind, path)
    if key is None or not all(isinstance(p, dict) for p in patch):
        return copy.deepcopy(patch)
    for item in patch:
        at = next((i for i, c in enumerate(current) if isinstance(c, dict) and c.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if at is not None:
                del current[at]
        elif at is None:
            current.append(strategic_merge_patch(kind, None, item, path))
        else:
            current[at] = strategic_merge_patch(kind, current[at], item, path)
    return current


def json_patch(doc: Any, ops: list[Obj]) -> Any:
    """RFC 6902 JSON patch: add, remove, replace, test (what node label/taint edits use)."""
    doc = copy.deepcopy(doc)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = doc
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent[p]
        last = parts[-1] if parts else None
        kind = op["op"]
        if kind == "test":
            cur = parent[int(last)] if isinstance(parent, list) else parent[last]
            if cur != op["value"]:
                raise ApiError(422, "Invalid", f"testing value {op['path']} failed")
        elif isinstance(parent, list):
            i = len(parent) if last == "-" else int(last)
            if kind == "add":
                parent.insert(i, op["value"])
            elif kind == "remove":
                del parent[i]
            elif kind == "replace":
                parent[i] = op["value"]
        elif kind in ("add", "replace"):
            if kind == "replace" and last not in parent:
                raise ApiError(422, "Invalid", f"replace operation does not apply: doc is missing key: {op['path']}")
            parent[last] = op["value"]
        elif kind == "remove":
            if last not in parent:
                raise ApiError(422, "Invalid", f"remove operation does not apply: doc is missing path: {op['path']}")
            del parent[last]
        else:
            raise ApiError(400, "BadRequest", f"unsupported JSON patch operation {kind!r}")
    return doc


# Field ownership for server-side apply, approximated: a manager owns a set of field paths;
# lists are atomic (owned whole), maps are owned key by key. Stored in metadata.managedFields
# in the FieldsV1 trie format so it survives restarts and is visible like on a real server.


def owned_fields(obj: Any, prefix: Path_ = ()) -> set[Path_]:
    out: set[Path_] = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not prefix and k in ("apiVersion", "kind"):
                continue
            if prefix == ("metadata",) and k in (*SERVER_META, "name", "namespace"):
                continue
            p = (*prefix, k)
            out.add(p)
            out |= owned_fields(v, p)
    return out


def to_fields_v1(paths: set[Path_]) -> Obj:
    root: Obj = {}
    for p in sorted(paths):
        node = root
        for seg in p:
            node = node.setdefault(f"f:{seg}", {})
    for p in paths:  # a member that also has members below it is marked with "."
        node = root
        for seg in p:
            node = node[f"f:{seg}"]
        if any(k.startswith("f:") for k in node):
            node["."] = {}
    return root


def from_fields_v1(trie: Obj, prefix: Path_ = ()) -> set[Path_]:
    out: set[Path_] = set()
    for k, v in (trie or {}).items():
        if k.startswith("f:"):
            p = (*prefix, k[2:])
            if not v or "." in v:
                out.add(p)
            out |= from_fields_v1(v, p)
    return out


def lookup_path(obj: Any, path: Path_) -> Any:
    for seg in path:
        if not isinstance(obj, dict) or seg not in obj:
            return MISSING
        obj = obj[seg]
    return obj


MISSING = object()


def read_managers(obj: Obj) -> dict[tuple[str, str, str], set[Path_]]:
    """{(manager, operation, subresource): owned paths} from metadata.managedFields."""
    out = {}
    for m in (obj.get("metadata") or {}).get("managedFields") or []:
        out[(m.get("manager", ""), m.get("operation", "Update"), m.get("subresource", ""))] = from_fields_v1(
            m.get("fieldsV1") or {}
        )
    return out


def write_managers(obj: Obj, managers: dict[tuple[str, str, str], set[Path_]], old: Obj | None) -> None:
    previous = {
        (m.get("manager", ""), m.get("operation", "Update"), m.get("subresource", "")): m
        for m in ((old or {}).get("metadata") or {}).get("managedFields") or []
    }
    entries = []
    for (manager, op, sub), paths in managers.items():
        paths = {p for p in paths if lookup_path(obj, p) is not MISSING}  # drop fields that are gone
        if not paths:
            continue
        fields = to_fields_v1(paths)
        prev = previous.get((manager, op, sub))
        if prev and prev.get("fieldsV1") == fields:
            entries.append(prev)  # same fields: keep the entry and its timestamp
            continue
        e = {
            "manager": manager,
            "operation": op,
            "apiVersion": obj["apiVersion"],
            "time": timestamp(),
            "fieldsType": "FieldsV1",
            "fieldsV1": fields,
        }
        if sub:
            e["subresource"] = sub
        entries.append(e)
    obj["metadata"]["managedFields"] = entries
    if not entries:
        del obj["metadata"]["managedFields"]


# ----------------------------------------------------------------------------- selectors

_REQ_RE = re.compile(r"\s*(!?)([^\s!=(),]+)\s*(?:(==|=|!=)\s*([^\s,()]*)|(in|notin)\s*\(([^)]*)\))?\s*")


def label_matcher(selector: str) -> Callable[[Obj], bool]:
    """labelSelector: a=b, a==b, a!=b, a in (x,y), a notin (x), a, !a -- comma-separated, ANDed."""
    reqs = []
    s = selector.strip()
    while s:
        m = _REQ_RE.match(s)
        if not m or m.end() == 0:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {selector!r}")
        neg, key, op, val, setop, vals = m.groups()
        if setop:
            reqs.append((key, setop, {v.strip() for v in vals.split(",") if v.strip()}))
        elif op:
            reqs.append((key, "!=" if op == "!=" else "=", {val}))
        else:
            reqs.append((key, "!exists" if neg else "exists", set()))
        s = s[m.end() :]
        if s.startswith(","):
            s = s[1:]
        elif s:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {selector!r}")

    def match(obj: Obj) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        for key, op, vals in reqs:
            has, v = key in labels, labels.get(key)
            ok = {
                "=": has and v in vals,
                "in": has and v in vals,
                "!=": not has or v not in vals,
                "notin": not has or v not in vals,
                "exists": has,
                "!exists": not has,
            }[op]
            if not ok:
                return False
        return True

    return match


FIELDS = ("metadata.name", "metadata.namespace", "spec.nodeName")  # the last: Pods only, as a real server


def field_matcher(selector: str, kind: str = "") -> Callable[[Obj], bool]:
    """fieldSelector: metadata.name and metadata.namespace (and a Pod's spec.nodeName) with =, == or !=."""
    reqs = []
    for part in filter(None, (p.strip() for p in selector.split(","))):
        m = re.fullmatch(r"([\w.]+)\s*(==|=|!=)\s*(.*)", part)
        if not m or m.group(1) not in FIELDS or (m.group(1) == "spec.nodeName" and kind != "Pod"):
            raise ApiError(400, "BadRequest", f'field label not supported: "{part}"')
        section, field = m.group(1).split(".")
        reqs.append((section, field, m.group(2) != "!=", m.group(3)))

    def match(obj: Obj) -> bool:
        return all(((obj.get(s) or {}).get(f, "") == v) == eq for s, f, eq, v in reqs)

    return match


# ----------------------------------------------------------------------------- small helpers


def spec_of(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def node_ready(node: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (node.get("status") or {}).get("conditions") or []
    )


def as_version(obj: Obj, rt: ResourceType) -> Obj:
    """A CRD's objects are stored once and served under each version (no conversion)."""
    if obj.get("apiVersion") == rt.api_version:
        return obj
    return {**obj, "apiVersion": rt.api_version}


def conflict_error(rt: ResourceType, name: str) -> ApiError:
    res = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {res} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        {"name": name, "group": rt.group, "kind": rt.plural},
    )


def crd_errors(crd: Obj) -> list[str]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    want = f"{names.get('plural')}.{spec.get('group')}"
    errors = []
    if crd["metadata"]["name"] != want:
        errors.append(
            f'metadata.name: Invalid value: "{crd["metadata"]["name"]}": must be spec.names.plural+"."+spec.group'
        )
    if sum(1 for v in spec.get("versions") or [] if v.get("storage")) != 1:
        errors.append("spec.versions: Invalid value: must have exactly one version marked as storage version")
    return errors


def track_update(obj: Obj, old: Obj | None, manager: str, sub: str) -> None:
    """An Update operation: `manager` now owns the fields it changed; others lose them."""
    new_fields = owned_fields(obj)
    if sub:
        new_fields = {p for p in new_fields if p[0] == "status"}
    changed = {p for p in new_fields if old is None or lookup_path(old, p) != lookup_path(obj, p)}
    managers = read_managers(old) if old else {}
    for k in managers:
        managers[k] -= changed
    key = (manager, "Update", sub)
    managers[key] = managers.get(key, set()) | changed
    write_managers(obj, managers, old)


def deep_apply(live: Any, applied: Any) -> Any:
    """Maps merge key by key; lists and scalars from the applier replace (lists are atomic here)."""
    if isinstance(live, dict) and isinstance(applied, dict):
        out = dict(live)
        for k, v in applied.items():
            if v is not None:
                out[k] = deep_apply(live.get(k), v)
        return out
    return copy.deepcopy(applied)


def server_side_apply(rt: ResourceType, old: Obj | None, body: Obj, manager: str, force: bool, sub: str | None) -> Obj:
    """Server-side apply, approximated: conflicts with other managers' differing fields (unless
    forced), removes fields this manager applied before and no longer sends (unless another
    manager also owns them), deep-merges the rest."""
    body = copy.deepcopy(body)
    body.setdefault("metadata", {})
    for k in SERVER_META:
        body["metadata"].pop(k, None)
    if old is None:
        return body
    sub_ = sub or ""
    applied = owned_fields(body)
    if sub:
        applied = {p for p in applied if p[0] == "status"}
    elif rt.status:
        applied = {p for p in applied if p[0] != "status"}
    managers = read_managers(old)
    mine = (manager, "Apply", sub_)
    conflicts = []
    for other, paths in managers.items():
        if other == mine:
            continue
        for p in paths & applied:
            if lookup_path(old, p) != lookup_path(body, p) and not isinstance(lookup_path(body, p), dict):
                conflicts.append((other[0], p))
    if conflicts and not force:
        lines = "; ".join(f'conflict with "{m}": .{".".join(p)}' for m, p in sorted(conflicts))
        raise ApiError(
            409,
            "Conflict",
            f"Apply failed with {len(conflicts)} conflict(s): {lines}",
            {
                "name": old["metadata"]["name"],
                "group": rt.group,
                "kind": rt.plural,
                "causes": [
                    {"reason": "FieldManagerConflict", "message": f'conflict with "{m}"', "field": "." + ".".join(p)}
                    for m, p in conflicts
                ],
            },
        )
    obj = copy.deepcopy(old)
    others = set().union(*[v for k, v in managers.items() if k != mine]) if managers else set()
    for p in sorted(managers.get(mine, set()) - applied - others, key=len, reverse=True):
        parent = lookup_path(obj, p[:-1])
        if isinstance(parent, dict) and p[-1] in parent and (not isinstance(parent[p[-1]], dict) or not parent[p[-1]]):
            del parent[p[-1]]
    obj = deep_apply(obj, body)
    if force:  # the applier takes the fields it set to different values
        for other, paths in managers.items():
            if other != mine:
                managers[other] = {
                    p for p in paths if not (p in applied and lookup_path(old, p) != lookup_path(obj, p))
                }
    managers[mine] = applied
    obj["metadata"]["managedFields"] = old["metadata"].get("managedFields", [])
    write_managers(obj, managers, old)
    return obj
