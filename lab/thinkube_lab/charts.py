"""What a Helm release creates in the lab, read from the per-chart data files in `lab/charts/`.

The lab cannot render real charts (there are no chart downloads in the lab). Each file
`lab/charts/<chart>.yaml` says which objects a release of that chart creates; `render()` turns
one file plus the release's name, namespace, version and values into Kubernetes objects for
the emulator. The format is documented in `lab/charts/README.md`.

Templates: `{release}`, `{namespace}`, `{chart}`, `{version}`, `{fullname}` (Helm's usual
`<release>-<chart>` / fullnameOverride / nameOverride rule) and `{values.a.b}`; a template made
of a single `{values...}` keeps the value's type (numbers, booleans, maps). `{values.a.b|x}`
falls back to `x` when the value is unset. A value that is unset without a fallback falls back
per field (names: `{fullname}`, replicas: 1, ...) and the fallback is reported in the helm
output, so nobody mistakes it for what the chart would do. Renderers: `{corefile:values.servers}`
(the coredns chart's Corefile), `{yaml:values.x}`, `{json:values.x}`.

A malformed file fails the helm command loudly, naming the file.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CHARTS_DIR = Path(__file__).with_name("charts")
KNOWN_KEYS = {"versions", "workloads", "services", "crds", "ingressClass", "configMaps", "secrets", "objects"}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet"}
_TEMPLATE = re.compile(r"\{([^{}]*)\}")
_UNSET = object()
Obj = dict[str, Any]


class ChartFileError(Exception):
    """A chart data file the lab cannot use (the helm command fails with this message)."""


@dataclass
class Rendered:
    """The objects a release creates, and the notes to print in helm's output."""

    objects: list[Obj] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, obj: Obj) -> None:
        self.objects.append(obj)


def chart_file(chart_name: str, directory: Path | None = None) -> Path | None:
    path = (directory or CHARTS_DIR) / f"{chart_name}.yaml"
    return path if path.is_file() else None


def load(chart_name: str, directory: Path | None = None) -> dict[str, Any] | None:
    """The parsed data file of `chart_name`, None when there is none; ChartFileError when malformed."""
    path = chart_file(chart_name, directory)
    if path is None:
        return None
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ChartFileError(f"{path}: not valid YAML: {exc}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ChartFileError(f"{path}: must be a mapping of {', '.join(sorted(KNOWN_KEYS))}")
    unknown = set(doc) - KNOWN_KEYS
    if unknown:
        raise ChartFileError(
            f"{path}: unknown keys {', '.join(sorted(unknown))} "
            f"(the lab knows {', '.join(sorted(KNOWN_KEYS))}; see lab/charts/README.md)"
        )
    problems = _check(doc)
    if problems:
        raise ChartFileError(f"{path}: " + "; ".join(problems))
    return doc


def _check(doc: Mapping[str, Any]) -> list[str]:
    problems = []
    for key in ("versions", "workloads", "services", "crds", "configMaps", "secrets", "objects"):
        if key in doc and not isinstance(doc[key], list):
            problems.append(f"{key} must be a list")
    for i, w in enumerate(doc.get("workloads") or []):
        if not isinstance(w, dict) or "name" not in w:
            problems.append(f"workloads[{i}] needs a name")
        elif w.get("kind", "Deployment") not in WORKLOAD_KINDS:
            problems.append(f"workloads[{i}].kind must be one of {', '.join(sorted(WORKLOAD_KINDS))}")
    for i, s in enumerate(doc.get("services") or []):
        if not isinstance(s, dict) or "name" not in s:
            problems.append(f"services[{i}] needs a name")
        elif not isinstance(s.get("ports", []), list):
            problems.append(f"services[{i}].ports must be a list")
    for i, c in enumerate(doc.get("crds") or []):
        missing = [k for k in ("group", "kind", "plural") if not isinstance(c, dict) or k not in c]
        if missing or not isinstance(c, dict) or not (c.get("version") or c.get("versions")):
            problems.append(f"crds[{i}] needs group, version, kind, plural (missing {', '.join(missing) or 'version'})")
        elif c.get("scope", "Namespaced") not in ("Namespaced", "Cluster"):
            problems.append(f"crds[{i}].scope must be Namespaced or Cluster")
    for key in ("configMaps", "secrets"):
        for i, m in enumerate(doc.get(key) or []):
            if not isinstance(m, dict) or "name" not in m or not isinstance(m.get("data", {}), dict):
                problems.append(f"{key}[{i}] needs a name and a data mapping")
    for i, o in enumerate(doc.get("objects") or []):
        if not isinstance(o, dict) or not {"apiVersion", "kind", "metadata"} <= set(o):
            problems.append(f"objects[{i}] needs apiVersion, kind and metadata")
    ic = doc.get("ingressClass")
    if ic is not None and not isinstance(ic, (str, dict)):
        problems.append("ingressClass must be a name template or a mapping {name, controller, default}")
    return problems


# ---------------------------------------------------------------------------- templates


def lookup(values: Any, path: str) -> Any:
    cur = values
    for part in path.split("."):
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        else:
            return _UNSET
    return _UNSET if cur is None else cur


def fullname(release: str, chart: str, values: Mapping[str, Any]) -> str:
    """Helm's conventional `<chart>.fullname` helper (the scaffold every chart starts from)."""
    override = values.get("fullnameOverride")
    if override:
        return str(override)[:63].rstrip("-")
    name = str(values.get("nameOverride") or chart)
    return (release if name in release else f"{release}-{name}")[:63].rstrip("-")


def render_corefile(servers: Any) -> str:
    """The Corefile the coredns chart renders from `servers` (charts/coredns/templates/configmap.yaml):

    {{ range .zones }}{{ scheme }}{{ zone | default "." }}{{ end }}{{ if .port }}:{{ .port }}{{ end }} {
        {{ .name }}{{ if .parameters }} {{ .parameters }}{{ end }}{{ if .configBlock }} {
    {{ .configBlock | indent 8 }}
        }{{ end }}
    }
    """
    blocks = []
    for server in servers or []:
        zones = server.get("zones") or []
        head = " ".join(f"{z.get('scheme') or ''}{z.get('zone') or '.'}" for z in zones) if zones else "."
        if server.get("port"):
            head += f":{server['port']}"
        lines = [head + " {"]
        for plugin in server.get("plugins") or []:
            line = "    " + str(plugin["name"])
            if plugin.get("parameters"):
                line += f" {plugin['parameters']}"
            if plugin.get("configBlock"):
                body = "\n".join(("        " + ln) if ln else ln for ln in str(plugin["configBlock"]).split("\n"))
                line += " {\n" + body + "\n    }"
            lines.append(line)
        lines.append("}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks) + "\n"


RENDERERS: dict[str, Callable[[Any], str]] = {
    "corefile": render_corefile,
    "yaml": lambda v: yaml.safe_dump(v, sort_keys=False),
    "json": lambda v: json.dumps(v, sort_keys=True),
}


class Templates:
    def __init__(
        self,
        release: str,
        namespace: str,
        chart: str,
        version: str,
        values: Mapping[str, Any],
        notes: list[str],
        source: str,
    ) -> None:
        self.vars = {
            "release": release,
            "namespace": namespace,
            "chart": chart,
            "version": version,
            "fullname": fullname(release, chart, values),
        }
        self.values = values
        self.notes = notes
        self.source = source

    def _one(self, expr: str) -> Any:
        expr = expr.strip()
        fallback: Any = _UNSET
        if "|" in expr:
            expr, fallback = (p.strip() for p in expr.split("|", 1))
        renderer = None
        if ":" in expr:
            renderer, expr = (p.strip() for p in expr.split(":", 1))
            if renderer not in RENDERERS:
                raise ChartFileError(
                    f"{self.source}: unknown renderer {renderer!r} in {{{renderer}:{expr}}} "
                    f"(known: {', '.join(RENDERERS)})"
                )
        if expr.startswith("values."):
            value = lookup(self.values, expr[len("values.") :])
        elif expr in self.vars:
            value = self.vars[expr]
        else:
            raise ChartFileError(
                f"{self.source}: unknown template {{{expr}}} (use {{release}}, {{namespace}}, "
                "{chart}, {version}, {fullname} or {values.a.b})"
            )
        if value is _UNSET:
            if fallback is _UNSET:
                return _UNSET
            value = fallback
        return RENDERERS[renderer](value) if renderer else value

    def name(self, template: Any, *, what: str) -> str:
        """A name: unset parts become the chart's fullname (Helm's default naming), reported."""
        if isinstance(template, str) and not _TEMPLATE.fullmatch(template.strip()):
            return str(self.value(template, what=what, fallback=_UNSET, part_fallback=self.vars["fullname"]))
        return str(self.value(template, what=what, fallback=self.vars["fullname"]))

    def value(self, template: Any, *, what: str, fallback: Any = _UNSET, part_fallback: str | None = None) -> Any:
        """Expand `template`; an unset value gives `fallback` (reported), or _UNSET."""
        if not isinstance(template, str):
            return template
        whole = _TEMPLATE.fullmatch(template.strip())
        if whole:
            out = self._one(whole.group(1))
        else:
            missing: list[str] = []

            def sub(m: re.Match[str]) -> str:
                v = self._one(m.group(1))
                if v is _UNSET:
                    missing.append(m.group(0))
                    return ""
                return str(v).lower() if isinstance(v, bool) else str(v)

            out = _TEMPLATE.sub(sub, template)
            if missing and part_fallback is not None:
                out = _TEMPLATE.sub(lambda m: part_fallback if m.group(0) in missing else m.group(0), template)
                out = _TEMPLATE.sub(sub, out)
                self.notes.append(
                    f"thinkube-lab: chart {self.vars['chart']}: {what}: {', '.join(missing)} not set "
                    f"in the values; the lab uses {out!r} ({self.source})"
                )
            elif missing:
                out = _UNSET
        if out is _UNSET and fallback is not _UNSET:
            self.notes.append(
                f"thinkube-lab: chart {self.vars['chart']}: {what}: {template} is not set in the "
                f"values; the lab uses {fallback!r} ({self.source})"
            )
            return fallback
        return out

    def deep(self, obj: Any, *, what: str) -> Any:
        """Expand every string in a structure; an unset value drops its key (reported)."""
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                x = self.deep(v, what=f"{what}.{k}")
                if x is not _UNSET:
                    out[self.value(k, what=what, fallback=k) if isinstance(k, str) and "{" in k else k] = x
            return out
        if isinstance(obj, list):
            return [x for x in (self.deep(v, what=what) for v in obj) if x is not _UNSET]
        if isinstance(obj, str):
            if what.endswith(".name") or ".selector" in what or ".labels" in what or ".matchLabels" in what:
                partial = not _TEMPLATE.fullmatch(obj.strip())
                return self.value(
                    obj,
                    what=what,
                    part_fallback=self.vars["fullname"] if partial else None,
                    fallback=self.vars["fullname"] if what.endswith(".name") else _UNSET,
                )
            out = self.value(obj, what=what)
            if out is _UNSET:
                self.notes.append(
                    f"thinkube-lab: chart {self.vars['chart']}: {what}: {obj} is not set in the "
                    f"values; left out ({self.source})"
                )
            return out
        return obj


# ---------------------------------------------------------------------------- objects


def _int(value: Any, what: str, source: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ChartFileError(f"{source}: {what} is {value!r}, not a number") from None


def _truthy(value: Any) -> bool:
    if value is _UNSET or value is None:
        return False
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "null")
    return bool(value)


def render(
    doc: Mapping[str, Any],
    *,
    release: str,
    namespace: str,
    chart: str,
    version: str,
    values: Mapping[str, Any],
    source: str,
) -> Rendered:
    """The objects of one release (metadata as Helm sets it; the caller stores them)."""
    out = Rendered()
    t = Templates(release, namespace, chart, version, values, out.notes, source)
    labels = {
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/managed-by": "Helm",
        "helm.sh/chart": f"{chart}-{version}",
    }
    annotations = {"meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": namespace}

    def meta(
        name: str,
        namespaced: bool = True,
        extra_labels: Mapping[str, str] | None = None,
        extra_annotations: Mapping[str, str] | None = None,
    ) -> Obj:
        m: Obj = {
            "name": name,
            "labels": {**labels, **(extra_labels or {})},
            "annotations": {**annotations, **(extra_annotations or {})},
        }
        if namespaced:
            m["namespace"] = namespace
        return m

    def included(entry: Mapping[str, Any], what: str) -> bool:
        if "when" in entry and not _truthy(t.value(entry["when"], what=f"{what}.when")):
            return False
        return not ("unless" in entry and _truthy(t.value(entry["unless"], what=f"{what}.unless")))

    workload_selectors: dict[str, dict[str, str]] = {}
    for i, w in enumerate(doc.get("workloads") or []):
        what = f"workloads[{i}]"
        if not included(w, what):
            continue
        kind = str(t.value(w.get("kind", "Deployment"), what=f"{what}.kind", fallback="Deployment"))
        if kind not in WORKLOAD_KINDS:
            raise ChartFileError(f"{source}: {what}.kind is {kind!r}")
        name = t.name(w["name"], what=f"{what}.name")
        replicas = _int(t.value(w.get("replicas", 1), what=f"{what}.replicas", fallback=1), f"{what}.replicas", source)
        pod_labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": release}
        extra = t.deep(w.get("labels") or {}, what=f"{what}.labels")
        pod_labels.update({str(k): str(v) for k, v in (extra or {}).items()})
        workload_selectors[name] = pod_labels
        spec: Obj = {
            "selector": {"matchLabels": pod_labels},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "containers": [
                        {
                            "name": name.rsplit("-", 1)[-1] if kind != "DaemonSet" else name,
                            "image": f"registry.thinkube-lab.invalid/{chart}:{version}",
                        }
                    ]
                },
            },
        }
        if kind != "DaemonSet":
            spec["replicas"] = replicas
        if kind == "StatefulSet":
            spec["serviceName"] = str(t.value(w.get("serviceName", name), what=f"{what}.serviceName", fallback=name))
        out.add({"apiVersion": "apps/v1", "kind": kind, "metadata": meta(name, extra_labels=pod_labels), "spec": spec})

    first_selector = next(iter(workload_selectors.values()), None)
    for i, s in enumerate(doc.get("services") or []):
        what = f"services[{i}]"
        if not included(s, what):
            continue
        name = t.name(s["name"], what=f"{what}.name")
        stype = str(t.value(s.get("type", "ClusterIP"), what=f"{what}.type", fallback="ClusterIP"))
        ports = []
        for j, p in enumerate(s.get("ports") or []):
            if isinstance(p, dict):
                port = _int(t.value(p.get("port"), what=f"{what}.ports[{j}]", fallback=0), f"{what}.ports[{j}]", source)
                entry: Obj = {
                    "name": str(p.get("name") or f"p{port}"),
                    "port": port,
                    "protocol": str(p.get("protocol", "TCP")),
                }
                if "targetPort" in p:
                    entry["targetPort"] = p["targetPort"]
            else:
                port = _int(t.value(p, what=f"{what}.ports[{j}]", fallback=0), f"{what}.ports[{j}]", source)
                entry = {"name": f"p{port}", "port": port, "protocol": "TCP"}
            if port:
                ports.append(entry)
        svc_spec: Obj = {"type": stype, "ports": ports}
        if "selector" in s:
            selector = t.deep(s["selector"], what=f"{what}.selector") or {}
        else:
            selector = workload_selectors.get(name) or first_selector or {}
        if selector:
            svc_spec["selector"] = {str(k): str(v) for k, v in selector.items()}
        if s.get("headless"):
            svc_spec["clusterIP"] = "None"
        svc_annotations = t.deep(s.get("annotations") or {}, what=f"{what}.annotations")
        if svc_annotations is _UNSET or not isinstance(svc_annotations, dict):
            svc_annotations = {}
        if "loadBalancerIP" in s:
            ip = t.value(s["loadBalancerIP"], what=f"{what}.loadBalancerIP")
            if ip is not _UNSET and ip:
                svc_annotations["metallb.universe.tf/loadBalancerIPs"] = str(ip)
        out.add(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": meta(name, extra_annotations={str(k): str(v) for k, v in svc_annotations.items()}),
                "spec": svc_spec,
            }
        )

    for i, c in enumerate(doc.get("crds") or []):
        out.add(crd_object(c, source=f"{source} crds[{i}]", extra_labels=labels))

    ic = doc.get("ingressClass")
    if ic is not None:
        spec_ic = {"name": ic} if isinstance(ic, str) else dict(ic)
        base = "values.controller.ingressClassResource"
        name = str(t.value(spec_ic.get("name", f"{{{base}.name}}"), what="ingressClass.name", fallback="nginx"))
        controller = str(
            t.value(
                spec_ic.get("controller", f"{{{base}.controllerValue}}"),
                what="ingressClass.controller",
                fallback="k8s.io/ingress-nginx",
            )
        )
        default = _truthy(
            t.value(spec_ic.get("default", f"{{{base}.default}}"), what="ingressClass.default", fallback=False)
        )
        extra_ann = {"ingressclass.kubernetes.io/is-default-class": "true"} if default else {}
        out.add(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "IngressClass",
                "metadata": meta(name, namespaced=False, extra_annotations=extra_ann),
                "spec": {"controller": controller},
            }
        )

    for key, kind in (("configMaps", "ConfigMap"), ("secrets", "Secret")):
        for i, m in enumerate(doc.get(key) or []):
            what = f"{key}[{i}]"
            if not included(m, what):
                continue
            name = t.name(m["name"], what=f"{what}.name")
            data = {}
            for k, v in (m.get("data") or {}).items():
                x = t.value(v, what=f"{what}.data.{k}")
                if x is _UNSET:
                    out.notes.append(
                        f"thinkube-lab: chart {chart}: {what}.data.{k}: {v} is not set in the values; "
                        f"key left out ({source})"
                    )
                    continue
                data[str(k)] = x if isinstance(x, str) else yaml.safe_dump(x, sort_keys=False)
            obj: Obj = {"apiVersion": "v1", "kind": kind, "metadata": meta(name)}
            if kind == "Secret":
                obj["type"] = str(m.get("type", "Opaque"))
                obj["stringData"] = data
            else:
                obj["data"] = data
            out.add(obj)

    for i, o in enumerate(doc.get("objects") or []):
        if not included(o, f"objects[{i}]"):
            continue
        obj = t.deep({k: v for k, v in o.items() if k not in ("when", "unless")}, what=f"objects[{i}]")
        m = obj.setdefault("metadata", {})
        if not m.get("name"):
            raise ChartFileError(f"{source}: objects[{i}] has no metadata.name after templating")
        m.setdefault("labels", {}).update(labels)
        m.setdefault("annotations", {}).update(annotations)
        out.add(obj)
    return out


def crd_object(c: Mapping[str, Any], *, source: str = "", extra_labels: Mapping[str, str] | None = None) -> Obj:
    """A CustomResourceDefinition serving `kind` with a permissive schema and a status subresource."""
    group, kind, plural = str(c["group"]), str(c["kind"]), str(c["plural"])
    versions = c.get("versions") or [c["version"]]
    storage = str(c.get("storageVersion") or versions[0])
    names: Obj = {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()}
    if c.get("shortNames"):
        names["shortNames"] = list(c["shortNames"])
    schema = {
        "openAPIV3Schema": {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
            "description": "thinkube-lab: permissive stand-in for the chart's real schema",
        }
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{group}",
            "labels": dict(extra_labels or {}),
            "annotations": {"thinkube-lab/source": source or "lab"},
        },
        "spec": {
            "group": group,
            "scope": str(c.get("scope", "Namespaced")),
            "names": names,
            "versions": [
                {
                    "name": str(v),
                    "served": True,
                    "storage": str(v) == storage,
                    "schema": copy.deepcopy(schema),
                    "subresources": {"status": {}},
                }
                for v in versions
            ],
        },
    }


# ---------------------------------------------------------------- where releases keep their values

RELEASE_SECRET_TYPE = "helm.sh/release.v1"


def release_secret_name(release: str, revision: int) -> str:
    """Helm's name for a release's storage Secret: `sh.helm.release.v1.<release>.v<revision>`."""
    return f"sh.helm.release.v1.{release}.v{revision}"


def release_secret(record: Mapping[str, Any]) -> Obj:
    """The release record, values included, as Helm keeps it: a Secret in the release's
    namespace (gzipped JSON, base64, as a Secret value). The lab's own state file holds the record without values,
    so values such as qdrant's apiKey are only where real Helm puts them."""
    import base64
    import gzip

    payload = gzip.compress(json.dumps(dict(record), sort_keys=True).encode(), mtime=0)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": RELEASE_SECRET_TYPE,
        "metadata": {
            "name": release_secret_name(record["name"], int(record.get("revision") or 1)),
            "namespace": record["namespace"],
            "labels": {
                "owner": "helm",
                "name": record["name"],
                "status": str(record.get("status") or "deployed"),
                "version": str(record.get("revision") or 1),
            },
        },
        # Helm stores base64(gzip(json)) as the Secret's value, which the API base64s once more.
        "data": {"release": base64.b64encode(base64.b64encode(payload)).decode()},
    }


def values_from_secret(secret: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The values a release Secret holds; None if there is no such Secret or it is not one."""
    import base64
    import binascii
    import gzip

    if not secret or secret.get("type") != RELEASE_SECRET_TYPE:
        return None
    try:
        record = json.loads(gzip.decompress(base64.b64decode(base64.b64decode((secret.get("data") or {})["release"]))))
    except (KeyError, ValueError, OSError, binascii.Error):
        return None
    values = record.get("values") if isinstance(record, dict) else None
    return values if isinstance(values, dict) else None


def without_values(releases: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The releases as the lab's state file keeps them: no values (they live in the Secrets)."""
    return {key: {k: v for k, v in r.items() if k != "values"} for key, r in releases.items()}
