"""Answers file <-> Spec: validation with JSON paths and YAML lines, the typed Spec, export.

The answers schema is the base schema (`schemas/answers.schema.json`) plus one fragment per
catalog component, merged under `components.<id>`. Validation reports every problem at once,
each with the JSON path and YAML position it is about; rules a schema cannot state (one
control node, unique hosts, ingress addresses inside the MetalLB range, requirements switched
off) are checked after the schema passes.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from types import MappingProxyType
from typing import Any, Literal

import yaml

from . import messages, schema, yamlpos
from .catalog import Catalog, load_catalog
from .schema import AUTO as AUTO  # re-exported: the planner and the wizard read it here
from .schema import answers_schema as answers_schema  # re-exported: the wizard and the CLI read it here
from .schema import with_defaults
from .yamlpos import Located, Mark, Path
from .yamlpos import format_path as format_path  # re-exported: problems and screens format paths here

API_VERSION = "thinkube.io/v1alpha1"
SCHEMA_URL = "https://thinkube.io/schemas/answers/v1alpha1.json"


# ---------------------------------------------------------------- problems


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an answers file: what, where (JSON path, YAML position)."""

    path: Path
    message: str
    mark: Mark | None = None

    @property
    def json_path(self) -> str:
        return format_path(self.path)

    def format(self, source: str) -> str:
        where = f"{source}:{self.mark.line}:{self.mark.column}" if self.mark else source
        return f"{where}: {self.json_path}: {self.message}"


class AnswersError(Exception):
    """The answers (or secrets) file is invalid; `problems` says everything that is wrong."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(p.format(source) for p in problems))


# ---------------------------------------------------------------- the Spec


@dataclass(frozen=True)
class SecretRef:
    """Where a secret comes from; never the secret itself."""

    env: str | None = None
    secret: str | None = None
    vault: str | None = None  # MOUNT/PATH#KEY in Vault's KV engine

    def describe(self) -> str:
        if self.vault:
            return f"Vault key {self.vault}"
        return f"environment variable {self.env}" if self.env else f"secrets file key {self.secret!r}"

    def to_answers(self) -> dict[str, str]:
        """The reference as the answers file writes it."""
        return {"env": self.env} if self.env else {"vault": self.vault} if self.vault else {"secret": self.secret or ""}


@dataclass(frozen=True)
class Auth:
    method: Literal["agent", "key", "password"] = "agent"
    key_file: str | None = None
    passphrase: SecretRef | None = None
    password: SecretRef | None = None


@dataclass(frozen=True)
class NodeSpec:
    name: str
    host: str
    user: str
    role: Literal["control", "worker"]
    port: int = 22
    auth: Auth = Auth()
    sudo_password: SecretRef | None = None
    host_key: str | None = None
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    taints: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClusterSpec:
    domain: str
    admin_email: str
    metallb_range: str
    ingress_ip: str
    ingress_kn_ip: str
    name: str = "thinkube"
    microk8s_channel: str = "1.33/stable"
    certificates: Literal["self-signed", "letsencrypt-staging", "letsencrypt"] = "self-signed"
    dns_resolvers: tuple[str, ...] = ("1.1.1.1", "9.9.9.9")


@dataclass(frozen=True)
class ComponentSpec:
    """A component's choice: enabled (or "auto": decided by discovery) and its settings."""

    id: str
    enabled: bool | Literal["auto"]
    config: Mapping[str, Any]


@dataclass(frozen=True)
class Spec:
    cluster: ClusterSpec
    nodes: tuple[NodeSpec, ...]
    components: Mapping[str, ComponentSpec]
    secrets_file: str | None = None

    @property
    def control(self) -> NodeSpec:
        return next(n for n in self.nodes if n.role == "control")

    @property
    def workers(self) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.role == "worker")

    def node(self, name: str) -> NodeSpec:
        return next(n for n in self.nodes if n.name == name)

    def enabled(self, component_id: str) -> bool | Literal["auto"]:
        return self.components[component_id].enabled

    def secret_refs(self) -> Iterator[tuple[str, SecretRef]]:
        """Every secret reference in the Spec, with a description of where it is used."""
        for node in self.nodes:
            for label, ref in (
                ("passphrase", node.auth.passphrase),
                ("password", node.auth.password),
                ("sudoPassword", node.sudo_password),
            ):
                if ref is not None:
                    yield f"nodes.{node.name}.{label}", ref
        for comp in self.components.values():
            for path, value in _walk(comp.config, ("components", comp.id)):
                if isinstance(value, SecretRef):
                    yield format_path(path), value


def _walk(value: object, path: Path) -> Iterator[tuple[Path, object]]:
    yield path, value
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _walk(v, (*path, k))
    elif isinstance(value, tuple):
        for i, v in enumerate(value):
            yield from _walk(v, (*path, i))


# ---------------------------------------------------------------- validation

# How a cross-field rule reports a problem: the path and the message.
AddProblem = Callable[[Path, str], None]


def schema_problems(data: object, located: Located | None = None) -> list[Problem]:
    """Every schema violation, in the schema reader's words, with their positions."""

    def where(issue: schema.Issue) -> Mark | None:
        return located.mark(issue.path, key=issue.at_key) if located else None

    problems = [Problem(issue.path, issue.message, where(issue)) for issue in schema.answers().problems(data)]
    return sorted(problems, key=lambda p: (p.mark.line, p.mark.column) if p.mark else (0, 0))


def answers_problems(data: object, located: Located | None, catalog: Catalog) -> list[Problem]:
    """Everything wrong with an answers document: the schema's problems and the cross-field
    rules' together (a rule is not repeated where the schema already complains), by position."""
    found = schema_problems(data, located)
    flagged = {p.path for p in found}
    found += [p for p in rule_problems(data, located, catalog) if p.path not in flagged]
    return sorted(found, key=lambda p: (p.mark.line, p.mark.column) if p.mark else (0, 0))


def rule_problems(data: object, located: Located | None, catalog: Catalog) -> list[Problem]:
    """Cross-field rules the schema cannot say. They check whatever parts of `data` are
    well-formed enough, so they are reported together with the schema's problems."""
    problems: list[Problem] = []

    def add(path: Path, message: str) -> None:
        problems.append(Problem(path, message, located.mark(path) if located else None))

    if not isinstance(data, Mapping):
        return problems
    raw_nodes = data.get("nodes")
    nodes = [n if isinstance(n, Mapping) else {} for n in raw_nodes] if isinstance(raw_nodes, list) else []
    _node_rules(nodes, add)
    cluster = data.get("cluster")
    if isinstance(cluster, Mapping):
        _network_rules(cluster, nodes, add)
    chosen = data.get("components")
    if isinstance(chosen, Mapping):
        _requirement_rules(chosen, catalog, add)
    return problems


def _node_rules(nodes: list[Mapping[str, Any]], add: AddProblem) -> None:
    roles = [n.get("role") for n in nodes]
    controls = [i for i, role in enumerate(roles) if role == "control"]
    if nodes and not controls and all(role in ("control", "worker") for role in roles):
        add(("nodes",), "no node has role 'control': exactly one node must be the control plane")
    for i in controls[1:]:
        first = nodes[controls[0]].get("name")
        add(
            ("nodes", i, "role"),
            f"a second control node: {first!r} is the control plane already (exactly one is allowed)",
        )
    for i, node in enumerate(nodes):  # Vault runs on the cluster these credentials are needed to build
        auth: Mapping[str, Any] = node["auth"] if isinstance(node.get("auth"), Mapping) else {}
        for path, ref in (
            (("nodes", i, "sudoPassword"), node.get("sudoPassword")),
            (("nodes", i, "auth", "password"), auth.get("password")),
            (("nodes", i, "auth", "passphrase"), auth.get("passphrase")),
        ):
            if isinstance(ref, Mapping) and "vault" in ref:
                add(
                    path,
                    "a node's credentials cannot come from Vault (it runs on the cluster they build): use env or "
                    "secret",
                )
    for what in ("name", "host"):
        seen: dict[object, int] = {}
        for i, node in enumerate(nodes):
            if not isinstance(node.get(what), str):
                continue
            port = node.get("port", 22)
            ident = node[what] if what == "name" else (node["host"].lower(), port)
            if ident in seen:
                shown = node[what] if what == "name" else f"{node['host']}:{port}"
                add(
                    ("nodes", i, what),
                    f"{shown!r} is already used by nodes[{seen[ident]}]; each node needs its own {what}",
                )
            else:
                seen[ident] = i


# A MetalLB pool hands out addresses to Services; more than a /16 is a mistake (or 0.0.0.0/0).
MAX_POOL_ADDRESSES = 2**16


def _network_rules(cluster: Mapping[str, Any], nodes: list[Mapping[str, Any]], add: AddProblem) -> None:
    node_ips = {ip: node.get("name") for node in nodes if (ip := _ipv4(node.get("host"))) is not None}
    pool = None
    text = cluster.get("metallbRange")
    if isinstance(text, str):
        try:
            pool = metallb_pool(text)
        except ValueError as exc:
            add(("cluster", "metallbRange"), str(exc))
    if pool is not None:
        size = int(pool[1]) - int(pool[0]) + 1
        inside = sorted((ip, name) for ip, name in node_ips.items() if pool[0] <= ip <= pool[1])
        if size > MAX_POOL_ADDRESSES:
            add(
                ("cluster", "metallbRange"),
                f"{text} holds {size} addresses: MetalLB's range must be a few free addresses of your LAN "
                "(at most a /16), e.g. 192.168.1.200-192.168.1.220",
            )
        elif inside:
            listed = ", ".join(f"{ip} ({name})" for ip, name in inside)
            add(
                ("cluster", "metallbRange"),
                f"{text} contains node addresses: {listed}; MetalLB would hand them out to services — "
                "choose addresses no machine uses",
            )
    ingress = {key: _ipv4(cluster.get(key)) for key in ("ingressIP", "ingressKnIP")}
    for key, address in ingress.items():
        if address is None:
            continue
        if address in node_ips:
            add(
                ("cluster", key),
                f"{address} is the address of node {node_ips[address]!r}: the ingress needs a free one",
            )
        elif pool is not None and not pool[0] <= address <= pool[1]:
            add(("cluster", key), f"{address} is outside metallbRange {text}")
    if ingress["ingressIP"] is not None and ingress["ingressIP"] == ingress["ingressKnIP"]:
        add(("cluster", "ingressKnIP"), "must differ from ingressIP: each ingress needs its own external address")


def _ipv4(value: object) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _requirement_rules(chosen: Mapping[str, Any], catalog: Catalog, add: AddProblem) -> None:
    def enabled(cid: str) -> object:
        entry = chosen.get(cid)
        return entry.get("enabled") if isinstance(entry, Mapping) else None

    for comp in catalog:
        if enabled(comp.id) is not True and not (enabled(comp.id) is None and comp.default):
            continue
        for dep in comp.requires:
            # Only a requirement switched off on purpose is a conflict: one left out is pulled in.
            if enabled(dep) is False and not catalog[dep].core:  # a core one gets its own message
                add(
                    ("components", comp.id, "enabled"),
                    f"{comp.id} requires {dep}, which is switched off (enabled: false): "
                    f"switch {dep} on, or leave it out and it is installed with {comp.id}",
                )


def metallb_pool(text: str) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]:
    """First and last address of a MetalLB range, `A-B` or a CIDR."""
    try:
        if "/" in text:
            net = ipaddress.IPv4Network(text, strict=False)
            return net[0], net[-1]
        start, end = (ipaddress.IPv4Address(p.strip()) for p in text.split("-", 1))
    except ValueError:
        raise ValueError(f"{text!r} is not an address range: use START-END or a CIDR like 192.168.1.240/28") from None
    if start > end:
        raise ValueError(f"{text!r} ends before it starts")
    return start, end


# ---------------------------------------------------------------- loading


def load_answers(path: str | os.PathLike[str], *, secrets: str | os.PathLike[str] | None = None) -> Spec:
    """Read, validate and load an answers file, and resolve its `{secret: KEY}` references
    (the secrets file is there, private, and has every key). Raises `AnswersError` with every problem."""
    source = str(path)
    located = read_answers_document(path)
    catalog = load_catalog()
    problems = answers_problems(located.data, located, catalog)
    if problems:
        raise AnswersError(source, problems)
    spec = spec_from_data(located.data, catalog)
    secrets_path = secrets_path_for(path, spec, secrets)
    missing = secret_reference_problems(located, secrets_path)
    if missing:
        raise AnswersError(source, missing)
    return spec


def read_answers_document(path: str | os.PathLike[str]) -> Located:
    """THE reader of answers files (validate, plan, headless, the demo): at most `MAX_BYTES`
    read, regular files only (a FIFO or /dev/zero is refused, not waited on or read forever),
    strict YAML (no tags, no duplicate keys), and a mapping at the top."""
    located = read_yaml_file(path, "answers file")
    if not isinstance(located.data, dict):
        got = messages.type_name(located.data)
        raise AnswersError(str(path), [Problem((), f"expected a mapping (apiVersion:, cluster:, ...), got {got}")])
    return located


def read_yaml_file(path: str | os.PathLike[str], what: str) -> Located:
    """A YAML file read through `read_bounded` and `yamlpos.load`; problems as `AnswersError`."""
    source = str(path)
    text = read_bounded(path, what)
    try:
        return yamlpos.load(text)
    except yamlpos.YamlLoadError as exc:
        raise AnswersError(source, [Problem((), p.message, p.mark) for p in exc.problems]) from None


def read_bounded(path: str | os.PathLike[str], what: str, limit: int = yamlpos.MAX_BYTES) -> str:
    """The text of a regular file of at most `limit` bytes; `AnswersError` saying why not."""
    source = str(path)

    def refuse(message: str) -> AnswersError:
        return AnswersError(source, [Problem((), message)])

    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; the file type is checked next.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise refuse(f"cannot read the file: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise refuse(f"the {what} is not a regular file (a pipe, device or directory); give a file")
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise refuse(f"cannot read the file: {exc.strerror}") from None
    if len(data) > limit:
        raise refuse(f"the {what} is larger than {limit // (1024 * 1024)} MiB; is it the right file?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(f"not UTF-8 text (byte {exc.start})") from None


def secret_reference_problems(located: Located, secrets_path: str | os.PathLike[str] | None) -> list[Problem]:
    """Each `{secret: KEY}` of the answers that cannot be resolved, at its line in the answers file.
    A secrets file that is missing, not private or malformed raises `AnswersError` about that file."""
    refs = list(_secret_refs(located.data, ()))
    if secrets_path is None:
        return [
            Problem(
                path,
                f"refers to key {key!r} of a secrets file, but none is given: add 'secretsFile: FILE' "
                "to the answers file or pass --secrets FILE",
                located.mark(path),
            )
            for path, key in refs
        ]
    values = load_secrets(secrets_path)
    problems = []
    for path, key in refs:
        if key not in values:
            message = f"refers to key {key!r}, which the secrets file {secrets_path} does not have"
            problems.append(Problem(path, message, located.mark(path)))
        elif refused := _refused_password(located.data, path, values[key]):
            message = f"the secret {key!r} of {secrets_path} would be refused: {refused}"
            problems.append(Problem(path, message, located.mark(path)))
    return problems


def _refused_password(data: Mapping[str, Any], path: Path, value: str) -> str | None:
    """Why a component would refuse the password at `path` (`components.ID.KEY.secret`), if it would."""
    if len(path) != 4 or path[0] != "components":
        return None
    cid, key = str(path[1]), str(path[2])
    catalog = load_catalog()
    if cid not in catalog.ids:
        return None
    fragment = catalog.schema(cid)
    rules = fragment.get("properties", {}).get(key, {}).get("x-passwordRules")
    entry = data.get("components", {}).get(cid, {})
    settings = with_defaults(fragment, dict(entry) if isinstance(entry, Mapping) else {})
    return schema.password_problem(rules, value, settings)


def _secret_refs(value: object, path: Path) -> Iterator[tuple[Path, str]]:
    if isinstance(value, Mapping):
        if isinstance(value.get("secret"), str) and schema.answers().under_secret(path):
            yield (*path, "secret"), value["secret"]
            return
        for key, sub in value.items():
            yield from _secret_refs(sub, (*path, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _secret_refs(sub, (*path, i))


def secrets_path_for(
    answers: str | os.PathLike[str], spec: Spec, given: str | os.PathLike[str] | None = None
) -> FsPath | None:
    """The secrets file of an answers file: the one given on the command line, else the
    answers' `secretsFile` (relative to the answers file), else none."""
    if given is not None:
        return FsPath(given)
    if spec.secrets_file is None:
        return None
    candidate = FsPath(spec.secrets_file).expanduser()
    return candidate if candidate.is_absolute() else FsPath(answers).parent / candidate


def parse_answers(text: str, source: str = "<answers>", catalog: Catalog | None = None) -> Spec:
    catalog = catalog or load_catalog()
    try:
        located = yamlpos.load(text)
    except yamlpos.YamlLoadError as exc:
        raise AnswersError(source, [Problem((), p.message, p.mark) for p in exc.problems]) from None
    data = located.data
    problems = answers_problems(data, located, catalog)
    if problems:
        raise AnswersError(source, problems)
    return spec_from_data(data, catalog)


def spec_from_data(data: Mapping[str, Any], catalog: Catalog) -> Spec:
    """Build the Spec from schema-valid data, filling in every default."""
    c = data["cluster"]
    cluster = ClusterSpec(
        name=c.get("name", "thinkube"),
        domain=c["domain"],
        admin_email=c["adminEmail"],
        microk8s_channel=c.get("microk8sChannel", ClusterSpec.microk8s_channel),
        metallb_range=c["metallbRange"],
        ingress_ip=c["ingressIP"],
        ingress_kn_ip=c["ingressKnIP"],
        certificates=c.get("certificates", ClusterSpec.certificates),
        dns_resolvers=tuple(c.get("dnsResolvers", ClusterSpec.dns_resolvers)),
    )
    nodes = tuple(_node(n) for n in data["nodes"])
    chosen = data.get("components", {})
    components: dict[str, ComponentSpec] = {}
    for comp in catalog:
        entry = dict(chosen.get(comp.id, {}))
        default: bool | str = AUTO if comp.core_when else (True if comp.core else comp.default)
        enabled = entry.pop("enabled", default)
        config = with_defaults(catalog.schema(comp.id), entry)
        components[comp.id] = ComponentSpec(comp.id, enabled, _freeze(config))
    return Spec(
        cluster=cluster, nodes=nodes, components=MappingProxyType(components), secrets_file=data.get("secretsFile")
    )


def _node(n: Mapping[str, Any]) -> NodeSpec:
    a = n.get("auth", {"method": "agent"})
    return NodeSpec(
        name=n["name"],
        host=n["host"],
        port=n.get("port", 22),
        user=n["user"],
        role=n["role"],
        auth=Auth(
            method=a["method"],
            key_file=a.get("keyFile"),
            passphrase=_ref(a.get("passphrase")),
            password=_ref(a.get("password")),
        ),
        sudo_password=_ref(n.get("sudoPassword")),
        host_key=n.get("hostKey"),
        labels=MappingProxyType(dict(n.get("labels", {}))),
        taints=tuple(n.get("taints", ())),
    )


REF_KEYS = frozenset({"env", "secret", "vault"})


def is_ref(value: object) -> bool:
    """A mapping that is a secret reference: one of `env`, `secret`, `vault`."""
    return isinstance(value, Mapping) and len(value) == 1 and set(value) <= REF_KEYS


def _ref(raw: Mapping[str, str] | None) -> SecretRef | None:
    return None if raw is None else SecretRef(env=raw.get("env"), secret=raw.get("secret"), vault=raw.get("vault"))


def _freeze(value: Any) -> Any:
    """Deeply immutable: mappings become read-only, lists tuples, secret refs SecretRef."""
    if isinstance(value, dict):
        if is_ref(value):
            return _ref(value)
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


# ---------------------------------------------------------------- secrets file


def load_secrets(path: str | os.PathLike[str]) -> dict[str, str]:
    """The secrets file: a flat YAML mapping of key -> value, refused unless mode 0600."""
    source = str(path)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise AnswersError(source, [Problem((), f"cannot read the secrets file: {exc.strerror}")]) from None
    if stat.S_IMODE(info.st_mode) & 0o077:
        mode = oct(stat.S_IMODE(info.st_mode))[2:]
        raise AnswersError(
            source, [Problem((), f"the secrets file is readable by others (mode {mode}); run: chmod 600 {source}")]
        )
    located = read_yaml_file(path, "secrets file")
    data = located.data
    if not isinstance(data, dict):
        raise AnswersError(source, [Problem((), "the secrets file must be a mapping of KEY: value", Mark(1, 1))])
    bad = [
        Problem((k,), "a secret must be a single text value", located.mark((k,)))
        for k, v in data.items()
        if not isinstance(v, (str, int, float)) or isinstance(v, bool)
    ]
    if bad:
        raise AnswersError(source, bad)
    return {str(k): str(v) for k, v in data.items()}


# ---------------------------------------------------------------- export


def spec_to_data(spec: Spec) -> dict[str, Any]:
    """The Spec as plain data in the answers file's shape (defaults included)."""
    c = spec.cluster
    data: dict[str, Any] = {"apiVersion": API_VERSION}
    if spec.secrets_file:
        data["secretsFile"] = spec.secrets_file
    data["cluster"] = {
        "name": c.name,
        "domain": c.domain,
        "adminEmail": c.admin_email,
        "microk8sChannel": c.microk8s_channel,
        "metallbRange": c.metallb_range,
        "ingressIP": c.ingress_ip,
        "ingressKnIP": c.ingress_kn_ip,
        "certificates": c.certificates,
        "dnsResolvers": list(c.dns_resolvers),
    }
    data["nodes"] = [_node_data(n) for n in spec.nodes]
    data["components"] = {cid: {"enabled": comp.enabled, **_thaw(comp.config)} for cid, comp in spec.components.items()}
    return data


def _node_data(n: NodeSpec) -> dict[str, Any]:
    auth: dict[str, Any] = {"method": n.auth.method}
    if n.auth.key_file:
        auth["keyFile"] = n.auth.key_file
    for key, ref in (("passphrase", n.auth.passphrase), ("password", n.auth.password)):
        if ref is not None:
            auth[key] = _thaw(ref)
    out: dict[str, Any] = {"name": n.name, "host": n.host, "port": n.port, "user": n.user, "role": n.role, "auth": auth}
    if n.sudo_password is not None:
        out["sudoPassword"] = _thaw(n.sudo_password)
    if n.host_key:
        out["hostKey"] = n.host_key
    out["labels"] = dict(n.labels)
    out["taints"] = list(n.taints)
    return out


def _thaw(value: Any) -> Any:
    if isinstance(value, SecretRef):
        return value.to_answers()
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="'" if value == AUTO else None)


_Dumper.add_representer(str, _str_presenter)


def dump_spec(spec: Spec) -> str:
    """YAML that re-validates and re-loads to an equal Spec. Holds references, never secrets."""
    body = yaml.dump(spec_to_data(spec), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return f"# yaml-language-server: $schema={SCHEMA_URL}\n{body}"
