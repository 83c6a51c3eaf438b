"""Server-side validation of the core kinds, in the words a real API server uses.

Kubernetes validates an object after decoding and defaulting (pkg/apis/*/validation) and refuses
it with 422 Invalid, every error at once: `Deployment.apps "web" is invalid: [spec.selector:
Required value, spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}:
`selector` does not match template `labels``]. The checks here are the ones installers can trip
over, one small function per kind; each message follows `k8s.io/apimachinery`'s field errors
(`<path>: <type>[: <value>][: <detail>]`, values printed as Go prints them). Updates add the
immutable-field rules of each kind's registry strategy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

# ----------------------------------------------------------------------------- field errors

TYPES = {
    "FieldValueRequired": "Required value",
    "FieldValueInvalid": "Invalid value",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueNotFound": "Not found",
    "FieldValueForbidden": "Forbidden",
    "FieldValueTooLong": "Too long",
}
_NO_VALUE = ("FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong")
_OMIT = object()


class GoValue(str):
    """A value already printed the way Go's %#v prints it (structs, slices)."""


@dataclass(frozen=True)
class FieldError:
    """One `field.Error`: its cause type, the field path, the bad value and a detail."""

    type: str
    field: str
    value: Any = _OMIT
    detail: str = ""

    def body(self) -> str:
        """What `ErrorBody()` prints: the message without the field (a Status cause's message)."""
        s = TYPES[self.type]
        if self.type not in _NO_VALUE and self.value is not _OMIT:
            s += ": " + go_value(self.value)
        return s + (f": {self.detail}" if self.detail else "")

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}" if self.field else self.body()

    def cause(self) -> Obj:
        return {"reason": self.type, "message": self.body(), "field": self.field}

    @classmethod
    def parse(cls, text: str) -> FieldError:
        """An error the lab wrote as one line (`path: Invalid value: ...`), as a FieldError; the
        rest of the line is kept as printed (in `detail`, so it is not quoted again)."""
        field, _, body = text.partition(": ")
        for type_, words in TYPES.items():
            if body == words:
                return cls(type_, field)
            if body.startswith(words + ": "):
                return cls(type_, field, _OMIT, body[len(words) + 2 :])
        return cls("FieldValueInvalid", field, _OMIT, body)


def required(field: str, detail: str = "") -> FieldError:
    return FieldError("FieldValueRequired", field, _OMIT, detail)


def invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError("FieldValueInvalid", field, value, detail)


def not_supported(field: str, value: Any, supported: list[str]) -> FieldError:
    return FieldError("FieldValueNotSupported", field, value, "supported values: " + ", ".join(map(go_str, supported)))


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError("FieldValueDuplicate", field, value)


def not_found(field: str, value: Any) -> FieldError:
    return FieldError("FieldValueNotFound", field, value)


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", field, _OMIT, detail)


IMMUTABLE = "field is immutable"


def immutable(field: str, value: Any) -> FieldError:
    return invalid(field, value, IMMUTABLE)


def go_str(s: str) -> str:
    """Go's %q for the strings that occur here."""
    return json.dumps(s, ensure_ascii=False)


def go_value(v: Any) -> str:
    """A value as a field error prints it: %q strings, plain numbers, %#v maps."""
    if isinstance(v, GoValue):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return go_str(v)
    if isinstance(v, int | float):
        return str(v)
    if v is None:
        return "null"
    if isinstance(v, dict) and all(isinstance(x, str) for x in v.values()):
        return go_string_map(v)
    return json.dumps(v, sort_keys=True)


def go_string_map(m: dict[str, str] | None) -> str:
    if m is None:
        return "map[string]string(nil)"
    return "map[string]string{" + ", ".join(f"{go_str(k)}:{go_str(m[k])}" for k in sorted(m)) + "}"


def go_label_selector(sel: Any) -> GoValue:
    sel = sel if isinstance(sel, dict) else {}
    exprs = sel.get("matchExpressions")
    if exprs:
        items = ", ".join(
            f"v1.LabelSelectorRequirement{{Key:{go_str(str(e.get('key', '')))}, "
            f"Operator:{go_str(str(e.get('operator', '')))}, Values:" + _go_strings(e.get("values")) + "}"
            for e in exprs
            if isinstance(e, dict)
        )
        expr_text = f"[]v1.LabelSelectorRequirement{{{items}}}"
    else:
        expr_text = "[]v1.LabelSelectorRequirement(nil)"
    labels = go_string_map(sel.get("matchLabels"))
    return GoValue(f"v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{expr_text}}}")


def _go_strings(values: Any) -> str:
    return "[]string{" + ", ".join(go_str(str(x)) for x in values) + "}" if values else "[]string(nil)"


# ----------------------------------------------------------------------------- formats (apimachinery util/validation)

DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_SUBDOMAIN = DNS_LABEL + r"(\." + DNS_LABEL + r")*"
_QUALIFIED = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = r"(" + _QUALIFIED + r")?"
_CONFIG_KEY = r"[-._a-zA-Z0-9]+"


def _regex_msg(what: str, regex: str, examples: tuple[str, ...]) -> str:
    shown = ",  or ".join(f"'{e}'" for e in examples)
    return f"{what} (e.g. {shown}, regex used for validation is '{regex}')"


def _max_len(n: int) -> str:
    return f"must be no more than {n} characters"


def dns1123_label(value: str) -> list[str]:
    out = [_max_len(63)] if len(value) > 63 else []
    if not re.fullmatch(DNS_LABEL, value):
        out.append(
            _regex_msg(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                "and must start and end with an alphanumeric character",
                DNS_LABEL,
                ("my-name", "123-abc"),
            )
        )
    return out


DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
WILDCARD_SUBDOMAIN = r"\*\." + DNS_SUBDOMAIN


def dns1035_label(value: str) -> list[str]:
    out = [_max_len(63)] if len(value) > 63 else []
    if not re.fullmatch(DNS1035_LABEL, value):
        out.append(
            _regex_msg(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                "alphabetic character, and end with an alphanumeric character",
                DNS1035_LABEL,
                ("my-name", "abc-123"),
            )
        )
    return out


def wildcard_subdomain(value: str) -> list[str]:
    out = [_max_len(253)] if len(value) > 253 else []
    if not re.fullmatch(WILDCARD_SUBDOMAIN, value):
        out.append(
            _regex_msg(
                "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which "
                "must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric "
                "character",
                WILDCARD_SUBDOMAIN,
                ("*.example.com",),
            )
        )
    return out


def dns1123_subdomain(value: str) -> list[str]:
    out = [_max_len(253)] if len(value) > 253 else []
    if not re.fullmatch(DNS_SUBDOMAIN, value):
        out.append(
            _regex_msg(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                "and must start and end with an alphanumeric character",
                DNS_SUBDOMAIN,
                ("example.com",),
            )
        )
    return out


def path_segment_name(value: str) -> list[str]:
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in "/%" if c in value]


def qualified_name(value: str) -> list[str]:
    prefix, slash, name = value.rpartition("/")
    out = []
    if slash and not prefix:
        out.append("prefix part must be non-empty")
    elif prefix:
        out += ["prefix part " + m for m in dns1123_subdomain(prefix)]
    if not name:
        out.append("name part must be non-empty")
    else:
        if len(name) > 63:
            out.append("name part " + _max_len(63))
        if not re.fullmatch(_QUALIFIED, name):
            out.append(
                "name part "
                + _regex_msg(
                    "must consist of alphanumeric characters, '-', '_' or '.', "
                    "and must start and end with an alphanumeric character",
                    _QUALIFIED,
                    ("MyName", "my.name", "123-abc"),
                )
            )
    return out


def label_value(value: str) -> list[str]:
    out = [_max_len(63)] if len(value) > 63 else []
    if not re.fullmatch(_LABEL_VALUE, value):
        out.append(
            _regex_msg(
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                "and must start and end with an alphanumeric character",
                _LABEL_VALUE,
                ("MyValue", "my_value", "12345"),
            )
        )
    return out


def config_key(value: str) -> list[str]:
    out = [_max_len(253)] if len(value) > 253 else []
    if not re.fullmatch(_CONFIG_KEY, value):
        out.append(
            _regex_msg(
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                _CONFIG_KEY,
                ("key.name", "KEY_NAME", "key-name"),
            )
        )
    if value in (".", ".."):
        out.append(f"must not be '{value}'")
    elif value.startswith(".."):
        out.append("must not start with '..'")
    return out


def port_number(value: Any) -> list[str]:
    return [] if isinstance(value, int) and 1 <= value <= 65535 else ["must be between 1 and 65535, inclusive"]


def port_name(value: str) -> list[str]:
    out = []
    if len(value) > 15:
        out.append(_max_len(15))
    if not re.fullmatch(r"[-a-z0-9]+", value):
        out.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search(r"[a-z]", value):
        out.append("must contain at least one letter (a-z)")
    if "--" in value:
        out.append("must not contain consecutive hyphens")
    if value.startswith("-") or value.endswith("-"):
        out.append("must not begin or end with a hyphen")
    return out


def each(field: str, value: Any, messages: list[str]) -> list[FieldError]:
    return [invalid(field, value, m) for m in messages]


# ----------------------------------------------------------------------------- object metadata

#: Name rules per kind, as the real registries apply them (RBAC names are path segments).
LABEL_NAMED = {"Namespace", "StatefulSet"}
DNS1035_NAMED = {"Service"}
PATH_SEGMENT_NAMED = {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}


def name_errors(kind: str, name: str) -> list[FieldError]:
    if not name:
        return [required("metadata.name", "name or generateName is required")]
    if kind in PATH_SEGMENT_NAMED:
        check: Callable[[str], list[str]] = path_segment_name
    elif kind in LABEL_NAMED:
        check = dns1123_label
    elif kind in DNS1035_NAMED:
        check = dns1035_label
    else:
        check = dns1123_subdomain
    return each("metadata.name", name, check(name))


def labels_errors(labels: Any, field: str) -> list[FieldError]:
    out: list[FieldError] = []
    for k, v in (labels or {}).items() if isinstance(labels, dict) else ():
        out += each(field, k, qualified_name(k))
        out += each(field, v, label_value(v) if isinstance(v, str) else ["must be a string"])
    return out


def meta_errors(kind: str, meta: Obj) -> list[FieldError]:
    return name_errors(kind, meta.get("name", "")) + labels_errors(meta.get("labels"), "metadata.labels")


# ----------------------------------------------------------------------------- selectors


def selector_matches(sel: Any, labels: Any) -> bool:
    """metav1.LabelSelectorAsSelector(sel).Matches(labels); a missing selector matches nothing."""
    if not isinstance(sel, dict):
        return False
    labels = labels if isinstance(labels, dict) else {}
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        key, op, values = e.get("key"), e.get("operator"), e.get("values") or []
        has = key in labels
        ok = {
            "In": has and labels.get(key) in values,
            "NotIn": not has or labels.get(key) not in values,
            "Exists": has,
            "DoesNotExist": not has,
        }.get(op, False)
        if not ok:
            return False
    return True


def selector_errors(spec: Obj, kind: str, field: str = "spec") -> list[FieldError]:
    """spec.selector against spec.template.metadata.labels, as apps/v1 workloads check it."""
    sel = spec.get("selector")
    template = spec.get("template") if isinstance(spec.get("template"), dict) else {}
    tlabels = (template.get("metadata") or {}).get("labels")
    out: list[FieldError] = []
    empty = isinstance(sel, dict) and not sel.get("matchLabels") and not sel.get("matchExpressions")
    if sel is None and kind != "DaemonSet":
        out.append(required(f"{field}.selector"))
    elif isinstance(sel, dict):
        out += labels_errors(sel.get("matchLabels"), f"{field}.selector.matchLabels")
        if empty:
            why = f"empty selector is invalid for {kind.lower()}"
            out.append(invalid(f"{field}.selector", go_label_selector(sel), why))
    if not empty and not selector_matches(sel, tlabels):  # an empty selector matches every pod
        out.append(
            invalid(
                f"{field}.template.metadata.labels",
                GoValue(go_string_map(tlabels if isinstance(tlabels, dict) else None)),
                "`selector` does not match template `labels`",
            )
        )
    out += labels_errors(tlabels, f"{field}.template.metadata.labels")
    return out


# ----------------------------------------------------------------------------- pod specs

_PROTOCOLS = ["SCTP", "TCP", "UDP"]


def container_errors(c: Any, field: str, names: set[str], volumes: set[str]) -> list[FieldError]:
    if not isinstance(c, dict):
        return []
    out: list[FieldError] = []
    name = c.get("name") or ""
    if not name:
        out.append(required(f"{field}.name"))
    elif msgs := dns1123_label(name):
        out += each(f"{field}.name", name, msgs)
    elif name in names:
        out.append(duplicate(f"{field}.name", name))
    names.add(name)
    if not c.get("image"):
        out.append(required(f"{field}.image"))
    port_names: set[str] = set()
    for i, p in enumerate(c.get("ports") or []):
        pf = f"{field}.ports[{i}]"
        if not isinstance(p, dict):
            continue
        if pn := p.get("name"):
            if msgs := port_name(pn):
                out += each(f"{pf}.name", pn, msgs)
            elif pn in port_names:
                out.append(duplicate(f"{pf}.name", pn))
            port_names.add(pn)
        if not p.get("containerPort"):
            out.append(required(f"{pf}.containerPort"))
        else:
            out += each(f"{pf}.containerPort", p["containerPort"], port_number(p["containerPort"]))
        if p.get("hostPort"):
            out += each(f"{pf}.hostPort", p["hostPort"], port_number(p["hostPort"]))
        if p.get("protocol", "TCP") not in _PROTOCOLS:
            out.append(not_supported(f"{pf}.protocol", p["protocol"], _PROTOCOLS))
    for i, e in enumerate(c.get("env") or []):
        if isinstance(e, dict) and not e.get("name"):
            out.append(required(f"{field}.env[{i}].name"))
    paths: set[str] = set()
    for i, m in enumerate(c.get("volumeMounts") or []):
        mf = f"{field}.volumeMounts[{i}]"
        if not isinstance(m, dict):
            continue
        if not m.get("name"):
            out.append(required(f"{mf}.name"))
        elif m["name"] not in volumes:
            out.append(not_found(f"{mf}.name", m["name"]))
        if not m.get("mountPath"):
            out.append(required(f"{mf}.mountPath"))
        elif m["mountPath"] in paths:
            out.append(invalid(f"{mf}.mountPath", m["mountPath"], "must be unique"))
        paths.add(m.get("mountPath") or "")
    return out


def pod_spec_errors(spec: Any, field: str, restart: list[str] | None = None) -> list[FieldError]:
    """A PodSpec (a Pod's, or a template's); `restart`: the restart policies the owner allows."""
    if not isinstance(spec, dict):
        return [required(field)]
    out: list[FieldError] = []
    volumes: set[str] = set()
    for i, v in enumerate(spec.get("volumes") or []):
        name = v.get("name") or "" if isinstance(v, dict) else ""
        vf = f"{field}.volumes[{i}].name"
        if not name:
            out.append(required(vf))
        elif msgs := dns1123_label(name):
            out += each(vf, name, msgs)
        elif name in volumes:
            out.append(duplicate(vf, name))
        volumes.add(name)
    names: set[str] = set()
    containers = spec.get("containers") or []
    if not containers:
        out.append(required(f"{field}.containers"))
    for key in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(key) or []):
            out += container_errors(c, f"{field}.{key}[{i}]", names, volumes)
    policy = spec.get("restartPolicy", "Always")
    allowed = restart or ["Always", "OnFailure", "Never"]
    if policy not in allowed:
        out.append(not_supported(f"{field}.restartPolicy", policy, allowed))
    return out


def template_errors(spec: Obj, restart: list[str]) -> list[FieldError]:
    template = spec.get("template")
    if not isinstance(template, dict):
        return [required("spec.template")]
    return pod_spec_errors(template.get("spec"), "spec.template.spec", restart)


# ----------------------------------------------------------------------------- one function per kind


def validate_pod(obj: Obj) -> list[FieldError]:
    return pod_spec_errors(obj.get("spec"), "spec")


def validate_deployment(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    return selector_errors(spec, "Deployment") + template_errors(spec, ["Always"])


def validate_replicaset(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}  # its empty-selector message says "deployment" too
    return selector_errors(spec, "Deployment") + template_errors(spec, ["Always"])


def validate_daemonset(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    return selector_errors(spec, "DaemonSet") + template_errors(spec, ["Always"])


def validate_statefulset(obj: Obj) -> list[FieldError]:
    # The apps validation leaves a StatefulSet's pod spec alone (volumeClaimTemplates add volumes);
    # only the selector and the restart policy are checked.
    spec = obj.get("spec") or {}
    out = selector_errors(spec, "StatefulSet")
    if service := spec.get("serviceName"):  # it becomes the pods' subdomain
        out += each("spec.serviceName", service, dns1123_label(service))
    policy = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy", "Always")
    if policy != "Always":
        out.append(not_supported("spec.template.spec.restartPolicy", policy, ["Always"]))
    return out


JOB_UID_LABEL = "batch.kubernetes.io/controller-uid"


def validate_job(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    out = []
    sel = spec.get("selector")
    uid = obj["metadata"].get("uid")
    generated = isinstance(sel, dict) and (sel.get("matchLabels") or {}).get(JOB_UID_LABEL) == uid
    if not spec.get("manualSelector") and isinstance(sel, dict) and not generated:
        out.append(invalid("spec.selector", go_label_selector(sel), "`selector` not auto-generated"))
    out += selector_errors(spec, "Job")
    return out + template_errors(spec, ["OnFailure", "Never"])


def generate_job_selector(obj: Obj) -> None:
    """What the Job registry does on create: a selector on the Job's uid, labels to match."""
    spec = obj.get("spec")
    if not isinstance(spec, dict) or spec.get("manualSelector") or spec.get("selector") is not None:
        return
    uid, name = obj["metadata"]["uid"], obj["metadata"]["name"]
    spec["selector"] = {"matchLabels": {JOB_UID_LABEL: uid}}
    template = spec.get("template")
    if isinstance(template, dict):
        labels = template.setdefault("metadata", {}).setdefault("labels", {})
        labels.update(
            {JOB_UID_LABEL: uid, "batch.kubernetes.io/job-name": name, "controller-uid": uid, "job-name": name}
        )


_SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]


def validate_service(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    out: list[FieldError] = []
    stype = spec.get("type", "ClusterIP")
    if stype not in _SERVICE_TYPES:
        out.append(not_supported("spec.type", stype, _SERVICE_TYPES))
    ports = spec.get("ports") or []
    if not ports and stype != "ExternalName" and spec.get("clusterIP") != "None":
        out.append(required("spec.ports"))
    names: set[str] = set()
    for i, p in enumerate(ports):
        pf = f"spec.ports[{i}]"
        if not isinstance(p, dict):
            continue
        name = p.get("name") or ""
        if not name and len(ports) > 1:
            out.append(required(f"{pf}.name"))
        elif name:
            if msgs := dns1123_label(name):
                out += each(f"{pf}.name", name, msgs)
            elif name in names:
                out.append(duplicate(f"{pf}.name", name))
            names.add(name)
        if "port" in p:
            out += each(f"{pf}.port", p["port"], port_number(p["port"]))
        else:
            out.append(required(f"{pf}.port"))
        if p.get("protocol", "TCP") not in _PROTOCOLS:
            out.append(not_supported(f"{pf}.protocol", p["protocol"], _PROTOCOLS))
        target = p.get("targetPort")
        if isinstance(target, int):
            out += each(f"{pf}.targetPort", target, port_number(target))
        elif isinstance(target, str):
            out += each(f"{pf}.targetPort", target, port_name(target))
    out += labels_errors(spec.get("selector"), "spec.selector")
    return out


def validate_cronjob(obj: Obj) -> list[FieldError]:
    spec = _spec(obj)
    out = [] if spec.get("schedule") else [required("spec.schedule")]
    template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
    if not isinstance(template, dict):
        return [*out, required("spec.jobTemplate.spec.template")]
    return out + pod_spec_errors(template.get("spec"), "spec.jobTemplate.spec.template.spec", ["OnFailure", "Never"])


_PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]


def ingress_backend_errors(backend: Any, field: str) -> list[FieldError]:
    service = (backend or {}).get("service") if isinstance(backend, dict) else None
    if not isinstance(service, dict):
        return []  # a resource backend, or none: not checked here
    out: list[FieldError] = []
    name = service.get("name") or ""
    if not name:
        out.append(required(f"{field}.service.name"))
    else:
        out += each(f"{field}.service.name", name, dns1035_label(name))
    port = service.get("port") or {}
    if port.get("name") and port.get("number"):
        out.append(invalid(field, "", "cannot set both port name & port number"))
    elif port.get("name"):
        out += each(f"{field}.service.port.name", port["name"], port_name(port["name"]))
    elif port.get("number"):
        out += each(f"{field}.service.port.number", port["number"], port_number(port["number"]))
    else:
        out.append(required(field, "port name or number is required"))
    return out


def validate_ingress(obj: Obj) -> list[FieldError]:
    spec = _spec(obj)
    out: list[FieldError] = []
    if "defaultBackend" in spec:
        out += ingress_backend_errors(spec["defaultBackend"], "spec.defaultBackend")
    for i, rule in enumerate(spec.get("rules") or []):
        rf = f"spec.rules[{i}]"
        host = rule.get("host") or ""
        if re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]*:[0-9a-fA-F:.]*", host):
            out.append(invalid(f"{rf}.host", host, "must be a DNS name, not an IP address"))
        elif host:
            out += each(f"{rf}.host", host, wildcard_subdomain(host) if "*" in host else dns1123_subdomain(host))
        for j, path in enumerate(((rule.get("http") or {}).get("paths")) or []):
            pf = f"{rf}.http.paths[{j}]"
            kind, value = path.get("pathType"), path.get("path", "")
            if kind is None:
                out.append(required(f"{pf}.pathType", "pathType must be specified"))
                continue
            if kind not in _PATH_TYPES:
                out.append(not_supported(f"{pf}.pathType", kind, _PATH_TYPES))
            elif (kind != "ImplementationSpecific" or value) and not value.startswith("/"):
                out.append(invalid(f"{pf}.path", value, "must be an absolute path"))
            out += ingress_backend_errors(path.get("backend"), f"{pf}.backend")
    return out


def _keys_errors(obj: Obj, fields: tuple[str, ...]) -> list[FieldError]:
    out: list[FieldError] = []
    for f in fields:
        for k in obj.get(f) or {}:
            out += each(f"{f}[{k}]", k, config_key(k))
    return out


def validate_configmap(obj: Obj) -> list[FieldError]:
    out = _keys_errors(obj, ("data", "binaryData"))
    for k in obj.get("binaryData") or {}:
        if k in (obj.get("data") or {}):
            out.append(invalid(f"binaryData[{k}]", k, "duplicate of key present in data"))
    return out


#: The keys each well-known Secret type must carry (pkg/apis/core/validation ValidateSecret).
SECRET_KEYS = {
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}


def validate_secret(obj: Obj) -> list[FieldError]:
    out = _keys_errors(obj, ("data",))
    data = obj.get("data") or {}
    for key in SECRET_KEYS.get(obj.get("type", "Opaque"), ()):
        if key not in data:
            out.append(required(f"data[{key}]"))
    if obj.get("type") == "kubernetes.io/basic-auth" and "username" not in data and "password" not in data:
        out.append(required("data[username]"))
    return out


VALIDATORS: dict[str, Callable[[Obj], list[FieldError]]] = {
    "Pod": validate_pod,
    "Deployment": validate_deployment,
    "ReplicaSet": validate_replicaset,
    "DaemonSet": validate_daemonset,
    "StatefulSet": validate_statefulset,
    "Job": validate_job,
    "CronJob": validate_cronjob,
    "Ingress": validate_ingress,
    "Service": validate_service,
    "ConfigMap": validate_configmap,
    "Secret": validate_secret,
}


# ----------------------------------------------------------------------------- updates: immutable fields


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def selector_immutable(obj: Obj, old: Obj) -> list[FieldError]:
    new_sel, old_sel = _spec(obj).get("selector"), _spec(old).get("selector")
    return [] if new_sel == old_sel else [immutable("spec.selector", go_label_selector(new_sel))]


_STS_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)


def statefulset_update(obj: Obj, old: Obj) -> list[FieldError]:
    rest = {k: v for k, v in _spec(obj).items() if k not in _STS_MUTABLE}
    was = {k: v for k, v in _spec(old).items() if k not in _STS_MUTABLE}
    if rest == was:
        return []
    allowed = ", ".join(f"'{k}'" for k in _STS_MUTABLE[:-1])
    why = f"updates to statefulset spec for fields other than {allowed} and 'minReadySeconds' are forbidden"
    return [forbidden("spec", why)]


def job_update(obj: Obj, old: Obj) -> list[FieldError]:
    out = selector_immutable(obj, old)
    if _spec(obj).get("template") != _spec(old).get("template"):
        out.append(immutable("spec.template", GoValue("core.PodTemplateSpec{...}")))
    return out


def service_update(obj: Obj, old: Obj) -> list[FieldError]:
    new_ip, old_ip = _spec(obj).get("clusterIP"), _spec(old).get("clusterIP")
    if old_ip and new_ip != old_ip:
        ips = _spec(obj).get("clusterIPs") or ([new_ip] if new_ip else [])
        if ips and ips[0] == old_ip:
            ips = [new_ip]
        value = GoValue("[]string{" + ", ".join(go_str(str(i)) for i in ips) + "}")
        return [invalid("spec.clusterIPs[0]", value, "may not change once set")]
    return []


def _immutable_data(fields: tuple[str, ...]) -> Callable[[Obj, Obj], list[FieldError]]:
    def check(obj: Obj, old: Obj) -> list[FieldError]:
        if not old.get("immutable"):
            return []
        why = "field is immutable when `immutable` is set"
        out = [forbidden("immutable", why)] if not obj.get("immutable") else []
        return out + [forbidden(f, why) for f in fields if (obj.get(f) or {}) != (old.get(f) or {})]

    return check


def secret_update(obj: Obj, old: Obj) -> list[FieldError]:
    out = []
    if obj.get("type", "Opaque") != old.get("type", "Opaque"):
        out.append(immutable("type", obj.get("type", "Opaque")))
    return out + _immutable_data(("data",))(obj, old)


def role_binding_update(obj: Obj, old: Obj) -> list[FieldError]:
    ref = obj.get("roleRef") or {}
    if ref == (old.get("roleRef") or {}):
        return []
    value = GoValue(
        f"rbac.RoleRef{{APIGroup:{go_str(str(ref.get('apiGroup', '')))}, Kind:{go_str(str(ref.get('kind', '')))}, "
        f"Name:{go_str(str(ref.get('name', '')))}}}"
    )
    return [invalid("roleRef", value, "cannot change roleRef")]


def storage_class_update(obj: Obj, old: Obj) -> list[FieldError]:
    out = [
        forbidden(f, f"updates to {f} are forbidden.")
        for f in ("parameters", "provisioner")
        if (obj.get(f) or None) != (old.get(f) or None)
    ]
    if obj.get("reclaimPolicy", "Delete") != old.get("reclaimPolicy", "Delete"):
        out.append(forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
    mode, old_mode = obj.get("volumeBindingMode", "Immediate"), old.get("volumeBindingMode", "Immediate")
    return out + ([immutable("volumeBindingMode", mode)] if mode != old_mode else [])


def pvc_update(obj: Obj, old: Obj) -> list[FieldError]:
    """A claim's spec is fixed once made; a bound claim may grow (resources.requests)."""
    new_spec, old_spec = dict(_spec(obj)), dict(_spec(old))
    if not old_spec.get("volumeName"):
        old_spec["volumeName"] = new_spec.get("volumeName")
    bound = (obj.get("status") or {}).get("phase") == "Bound"
    if bound:
        for spec in (new_spec, old_spec):
            spec.pop("resources", None)
            spec.pop("volumeAttributesClassName", None)
    old_spec = {k: v for k, v in old_spec.items() if v is not None}
    new_spec = {k: v for k, v in new_spec.items() if v is not None}
    if new_spec == old_spec:
        return []
    why = "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
    return [forbidden("spec", why)]


UPDATE_VALIDATORS: dict[str, Callable[[Obj, Obj], list[FieldError]]] = {
    "RoleBinding": role_binding_update,
    "ClusterRoleBinding": role_binding_update,
    "StorageClass": storage_class_update,
    "PersistentVolumeClaim": pvc_update,
    "Deployment": selector_immutable,
    "ReplicaSet": selector_immutable,
    "DaemonSet": selector_immutable,
    "StatefulSet": statefulset_update,
    "Job": job_update,
    "Service": service_update,
    "ConfigMap": _immutable_data(("data", "binaryData")),
    "Secret": secret_update,
}


#: Kinds whose name becomes a pod's hostname: a name that is no DNS label gets a warning.
WORKLOAD_NAMED = {"Pod", "ReplicaSet", "Deployment", "Job", "CronJob", "ReplicationController"}


def name_warnings(kind: str, name: str) -> list[str]:
    """The warnings a real server sends with a create (not errors)."""
    if kind not in WORKLOAD_NAMED or not name or dns1123_subdomain(name) or not (msgs := dns1123_label(name)):
        return []
    return [f"metadata.name: a DNS label is recommended: [{', '.join(msgs)}]"]


def validate(kind: str, obj: Obj, old: Obj | None) -> list[FieldError]:
    """Every error a real server reports for this create (old None) or update, in its order."""
    meta = obj["metadata"]  # names are checked on create; an update cannot change them
    out = meta_errors(kind, meta) if old is None else labels_errors(meta.get("labels"), "metadata.labels")
    if old is not None and old["metadata"].get("deletionTimestamp"):
        had = old["metadata"].get("finalizers") or []
        if added := sorted({f for f in meta.get("finalizers") or [] if f not in had}):
            found = GoValue(_go_strings(added))
            why = f"no new finalizers can be added if the object is being deleted, found new finalizers {found}"
            out.append(forbidden("metadata.finalizers", why))
    if old is not None and kind in UPDATE_VALIDATORS:
        out += UPDATE_VALIDATORS[kind](obj, old)
    if kind in VALIDATORS:
        out += VALIDATORS[kind](obj)
    return out
