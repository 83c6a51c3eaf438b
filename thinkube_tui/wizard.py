"""The wizard's model: what the operator has told the screens so far, without any Textual.

The screens only show and edit a `WizardModel`; everything the wizard decides — which
components the selection pulls in and why, whether a node's settings are valid, building
and validating the Spec with the same validators as an answers file, exporting the answers
and a 0600 secrets file — happens here, so it is unit-tested without a terminal.

The wizard's side of the session (connecting, discovering, installing) is `wizard_run.py`;
how it opens (the command line, the demo) is `wizard_start.py`; formatting is `formatting.py`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .catalog import Catalog, Component, load_catalog
from .files import check_state_dir, default_state_dir, write_atomic
from .journal import Journal, JournalError
from .plan import Plan
from .secrets import Secrets
from .session import is_archived
from .spec import (
    API_VERSION,
    AUTO,
    AnswersError,
    Problem,
    SecretRef,
    Spec,
    answers_problems,
    answers_schema,
    dump_spec,
    is_ref,
    load_answers,
    parse_answers,
    schema_problems,
    spec_from_data,
    spec_to_data,
)
from .targets import NodeTarget, SecretRequest

if TYPE_CHECKING:  # discovery, preflight and the engine load when first used: a faster first screen
    from rich.text import Text

    from .discovery import NodeResult
    from .facts import Facts
    from .preflight import Finding
    from .spec import NodeSpec

AuthMethod = Literal["agent", "key", "password"]
SecretKind = Literal["passphrase", "password", "sudo"]
ComponentState = Literal["installed", "core", "selected", "required", "auto", "off"]
SOURCE = "<wizard>"
ANSWERS_IN_STATE_DIR = "answers.yaml"  # the answers of the last install started from the wizard


# ---------------------------------------------------------------- nodes


@dataclass
class NodeDraft:
    """One node as the Nodes and Roles screens edit it (mutable; becomes a `NodeSpec`)."""

    name: str
    host: str
    user: str
    port: int = 22
    auth_method: AuthMethod = "agent"
    key_file: str | None = None
    role: Literal["control", "worker"] = "worker"
    host_key: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[str] = field(default_factory=list)
    # References kept from a loaded answers file (values typed in the wizard replace them).
    password_ref: SecretRef | None = None
    passphrase_ref: SecretRef | None = None
    sudo_ref: SecretRef | None = None

    def target(self) -> NodeTarget:
        from .access import node_target

        return node_target(_node_spec(self._data(None)))

    def _data(self, refs: Mapping[SecretKind, dict[str, str]] | None) -> dict[str, Any]:
        auth: dict[str, Any] = {"method": self.auth_method}
        if self.auth_method == "key" and self.key_file:
            auth["keyFile"] = self.key_file
        refs = refs or {}
        if self.auth_method == "key" and "passphrase" in refs:
            auth["passphrase"] = refs["passphrase"]
        if self.auth_method == "password":
            auth["password"] = refs.get("password") or {"env": env_name(self.name, "password")}
        out: dict[str, Any] = {
            "name": self.name,
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "role": self.role,
            "auth": auth,
        }
        if "sudo" in refs:
            out["sudoPassword"] = refs["sudo"]
        if self.host_key:
            out["hostKey"] = self.host_key
        out["labels"] = dict(self.labels)
        out["taints"] = list(self.taints)
        return out


def _node_spec(data: Mapping[str, Any]) -> NodeSpec:
    from .spec import _node

    return _node(data)


def env_name(*parts: str) -> str:
    """`THINKUBE_<PARTS>` as an environment variable name: `('gpu-1', 'password')` -> THINKUBE_GPU_1_PASSWORD."""
    return "THINKUBE_" + "_".join(re.sub(r"[^A-Za-z0-9]+", "_", p).strip("_").upper() for p in parts)


def secret_key(*parts: str) -> str:
    """The key a secret gets in the secrets file: `gpu-1-sudo`, `keycloak-adminPassword` (as SchemaForm names them)."""
    return "-".join(parts)


def parse_labels(text: str) -> dict[str, str]:
    """`a=b, c=d` -> {'a': 'b', 'c': 'd'}; raises ValueError naming the bad item."""
    labels: dict[str, str] = {}
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{item!r} is not KEY=VALUE")
        labels[key.strip()] = value.strip()
    return labels


def format_labels(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in labels.items())


def parse_taints(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


# ---------------------------------------------------------------- selection


@dataclass(frozen=True)
class SelectionChange:
    """What ticking or unticking did: `added` pulled in as requirements, or why it was refused."""

    component: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    refused: str | None = None
    now: Literal["selected", "unselected", "automatic"] = "selected"  # what the tick says after it

    @property
    def ok(self) -> bool:
        return self.refused is None

    def explain(self, catalog: Catalog) -> str:
        if self.refused:
            return self.refused
        title = catalog[self.component].title
        if self.now == "automatic":
            return f"{title} automatic: installed when discovery finds an {catalog[self.component].core_when}"
        if self.added:
            return f"{title} selected; also selected what it requires: {', '.join(self.added)}"
        if self.removed:
            return f"{title} unselected; no longer needed: {', '.join(self.removed)}"
        return f"{title} {self.now}"


# ---------------------------------------------------------------- clusters on record (re-entry)


@dataclass(frozen=True)
class ClusterRecord:
    """A cluster this machine installed before: its journal and, if saved, its answers."""

    name: str
    state_dir: Path
    installed: frozenset[str]
    failed: frozenset[str]
    answers: Path | None
    error: str | None = None
    ran_for: Mapping[str, list[str] | None] = field(default_factory=dict)  # component -> nodes (journal)


def known_clusters(state_dir: Path | None) -> list[ClusterRecord]:
    """Every cluster with an install journal under the state dir, by name."""
    base = state_dir or default_state_dir()
    records: list[ClusterRecord] = []
    if not base.is_dir():
        return records
    for journal_path in sorted(base.glob("*/journal.json")):
        directory = journal_path.parent
        if is_archived(directory):  # what `reset` kept of a cluster that is gone
            continue
        answers = directory / ANSWERS_IN_STATE_DIR
        try:
            journal = Journal.open(journal_path)
        except JournalError as exc:
            records.append(ClusterRecord(directory.name, directory, frozenset(), frozenset(), None, str(exc)))
            continue
        records.append(
            ClusterRecord(
                directory.name,
                directory,
                journal.installed,
                journal.failed,
                answers if answers.is_file() else None,
                ran_for={cid: rec.nodes for cid, rec in journal.components.items()},
            )
        )
    return records


# ---------------------------------------------------------------- the model


def _saved_answers(path: Path, catalog: Catalog | None) -> Spec | None:
    """The answers saved beside a journal, read as any answers file is (bounded, regular files
    only); None when they no longer load (damaged, or from another version)."""
    from .spec import read_bounded

    try:
        return parse_answers(read_bounded(path, "answers file"), str(path), catalog)
    except AnswersError:
        return None


@dataclass(frozen=True)
class Exported:
    answers: Path
    secrets: Path | None
    spec: Spec
    warning: str | None = None  # e.g. saved inside a git work tree that does not ignore the files


class WizardModel:
    """Everything the wizard knows: nodes, facts, findings, selection, settings, secrets in memory."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog or load_catalog()
        self.nodes: list[NodeDraft] = []
        self.facts: dict[str, Facts] = {}
        self.discovery_errors: dict[str, str] = {}
        self.findings: list[Finding] = []
        self.cluster: dict[str, Any] = {}
        self.component_config: dict[str, dict[str, Any]] = {}
        self.choices: dict[str, bool] = {}  # optional components the operator ticked (True) or unticked (False)
        self.installed: frozenset[str] = frozenset()
        self.ran_for: dict[str, list[str] | None] = {}  # re-entry: the nodes each component ran for
        self.failed: frozenset[str] = frozenset()
        self.reentry: bool = False
        # Secret values typed during this session: memory only, written only to a 0600 secrets file.
        self.node_secrets: dict[tuple[str, SecretKind], str] = {}
        self.component_secrets: dict[str, dict[str, str]] = {}

    # ------------------------------------------------------------ loading

    @classmethod
    def from_spec(
        cls,
        spec: Spec,
        catalog: Catalog | None = None,
        secrets: Mapping[str, str] | None = None,
    ) -> WizardModel:
        """Pre-fill every screen from a Spec (`--answers FILE --interactive`, re-entry)."""
        model = cls(catalog)
        data = spec_to_data(spec)
        model.cluster = dict(data["cluster"])
        for n in spec.nodes:
            model.nodes.append(
                NodeDraft(
                    name=n.name,
                    host=n.host,
                    user=n.user,
                    port=n.port,
                    auth_method=n.auth.method,
                    key_file=n.auth.key_file,
                    role=n.role,
                    host_key=n.host_key,
                    labels=dict(n.labels),
                    taints=list(n.taints),
                    password_ref=n.auth.password,
                    passphrase_ref=n.auth.passphrase,
                    sudo_ref=n.sudo_password,
                )
            )
        for cid, comp in spec.components.items():
            entry = data["components"][cid]
            model.component_config[cid] = {k: v for k, v in entry.items() if k != "enabled"}
            component = model.catalog[cid]
            if comp.enabled is True and not component.core:
                model.choices[cid] = True
            elif comp.enabled is False and not component.core:
                model.choices[cid] = False
        for node in model.nodes:  # secret values from a secrets file, so a re-export keeps them
            for kind, ref in (
                ("password", node.password_ref),
                ("passphrase", node.passphrase_ref),
                ("sudo", node.sudo_ref),
            ):
                if ref is not None and ref.secret and secrets and ref.secret in secrets:
                    model.node_secrets[(node.name, kind)] = secrets[ref.secret]  # type: ignore[index]
        return model

    @classmethod
    def from_answers_file(cls, path: Path, secrets: Path | None = None) -> WizardModel:
        from .session import read_secrets

        spec = load_answers(path, secrets=secrets)
        return cls.from_spec(spec, secrets=read_secrets(path, spec, secrets))  # a missing file is an error

    @classmethod
    def for_reentry(
        cls, record: ClusterRecord, catalog: Catalog | None = None, current: WizardModel | None = None
    ) -> WizardModel:
        """Come back to an installed cluster: its saved answers, what is installed and what failed.

        Without saved answers (a headless install, e.g. `make demo`), the nodes and cluster
        settings the wizard already holds for a cluster of that name (the demo's lab) are kept;
        otherwise the nodes are entered again."""
        saved = _saved_answers(record.answers, catalog) if record.answers is not None else None
        if saved is not None:
            model = cls.from_spec(saved, catalog)
        elif current is not None and current.cluster.get("name") == record.name and current.nodes:
            model = cls(catalog)
            model.cluster = copy.deepcopy(current.cluster)
            model.nodes = copy.deepcopy(current.nodes)
            model.component_config = copy.deepcopy(current.component_config)
            model.node_secrets = dict(current.node_secrets)
        else:
            model = cls(catalog)
            model.cluster = {"name": record.name}
        model.installed = record.installed
        model.failed = record.failed
        model.ran_for = dict(record.ran_for)
        model.reentry = True
        for cid in record.installed | record.failed:
            if cid in model.catalog and not model.catalog[cid].core:
                model.choices[cid] = True
        return model

    # ------------------------------------------------------------ nodes

    def node(self, name: str) -> NodeDraft:
        return next(n for n in self.nodes if n.name == name)

    def node_problems(self, draft: NodeDraft, replacing: str | None = None) -> list[Problem]:
        """What is wrong with one node's settings (schema and uniqueness), by field name."""
        data = draft._data({"password": {"secret": "x"}, "passphrase": {"secret": "x"}})
        document = {"apiVersion": API_VERSION, "cluster": _PLACEHOLDER_CLUSTER, "nodes": [data]}
        problems = [Problem(p.path[2:], p.message) for p in schema_problems(document) if p.path[:2] == ("nodes", 0)]
        others = [n for n in self.nodes if n.name != replacing]
        if any(n.name == draft.name for n in others):
            problems.append(Problem(("name",), f"{draft.name!r} is already the name of another node"))
        if any(n.host.lower() == draft.host.lower() and n.port == draft.port for n in others):
            problems.append(Problem(("host",), f"{draft.host}:{draft.port} is already another node's address"))
        return problems

    def add_node(self, draft: NodeDraft) -> list[Problem]:
        problems = self.node_problems(draft)
        if not problems:
            if not any(n.role == "control" for n in self.nodes):
                draft.role = "control"
            self.nodes.append(draft)
        return problems

    def update_node(self, name: str, draft: NodeDraft) -> list[Problem]:
        problems = self.node_problems(draft, replacing=name)
        if not problems:
            index = next(i for i, n in enumerate(self.nodes) if n.name == name)
            old = self.nodes[index]
            draft.role, draft.labels, draft.taints = old.role, old.labels, old.taints
            self.nodes[index] = draft
            if name != draft.name or (old.host, old.port, old.user) != (draft.host, draft.port, draft.user):
                self.forget_discovery(name)
            if name != draft.name:  # the secrets typed for it follow the node to its new name
                self.node_secrets = {
                    (draft.name if node == name else node, kind): value
                    for (node, kind), value in self.node_secrets.items()
                }
        return problems

    def remove_node(self, name: str) -> None:
        was_control = self.node(name).role == "control"
        self.nodes = [n for n in self.nodes if n.name != name]
        self.forget_discovery(name)
        self.node_secrets = {k: v for k, v in self.node_secrets.items() if k[0] != name}  # never exported
        if was_control and self.nodes:
            self.nodes[0].role = "control"

    def forget_discovery(self, name: str) -> None:
        self.facts.pop(name, None)
        self.discovery_errors.pop(name, None)
        self.findings = [f for f in self.findings if f.node != name]

    def set_control(self, name: str) -> None:
        for n in self.nodes:
            n.role = "control" if n.name == name else "worker"

    @property
    def control(self) -> str | None:
        return next((n.name for n in self.nodes if n.role == "control"), None)

    def record_discovery(self, result: NodeResult) -> None:
        if result.facts is not None:
            self.facts[result.node] = result.facts
            self.discovery_errors.pop(result.node, None)
        else:
            self.facts.pop(result.node, None)
            self.discovery_errors[result.node] = result.error or "discovery failed"

    def findings_for(self, node: str | None) -> list[Finding]:
        return [f for f in self.findings if f.node == node]

    @property
    def discovered(self) -> bool:
        """Every node was discovered (successfully or not) since it was last changed."""
        return bool(self.nodes) and all(n.name in self.facts or n.name in self.discovery_errors for n in self.nodes)

    @property
    def blocking_findings(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    @property
    def gpu_present(self) -> bool | None:
        if not self.facts:
            return None
        return any(f.gpus for f in self.facts.values())

    # ------------------------------------------------------------ selection

    def _roots(self) -> set[str]:
        """What is wanted for its own sake: core, ticked, installed, and auto components that apply."""
        roots = set(self.installed)
        for comp in self.catalog:
            choice = self.choices.get(comp.id)
            if (
                comp.core
                or choice is True
                or (choice is None and comp.core_when and self.gpu_present)
                or (choice is None and not comp.core_when and comp.default)
            ):
                roots.add(comp.id)
        return roots

    def selection(self) -> set[str]:
        """Roots plus everything they require, transitively."""
        out: set[str] = set()
        queue = list(self._roots())
        while queue:
            cid = queue.pop()
            if cid in out:
                continue
            out.add(cid)
            queue.extend(self.catalog[cid].requires)
        return out

    def is_selected(self, cid: str) -> bool:
        return cid in self.selection()

    def needed_by(self, cid: str, selection: set[str] | None = None) -> list[str]:
        """Selected components that require `cid` directly."""
        chosen = self.selection() if selection is None else selection
        return [c.id for c in self.catalog if c.id in chosen and cid in c.requires]

    def required_by(self, cid: str) -> list[str]:
        """The roots (core, ticked) that pull `cid` in, when it is not a root itself."""
        roots = self._roots()
        if cid in roots:
            return []
        return sorted(r for r in roots if cid in self._closure(r) - {r})

    def _closure(self, cid: str) -> set[str]:
        out: set[str] = set()
        queue = [cid]
        while queue:
            c = queue.pop()
            if c not in out:
                out.add(c)
                queue.extend(self.catalog[c].requires)
        return out

    def state(self, cid: str) -> ComponentState:
        comp = self.catalog[cid]
        if cid in self.installed:
            return "installed"
        if comp.core:
            return "core"
        chosen = self.selection()
        if cid not in chosen:
            return "auto" if comp.core_when and self.choices.get(cid) is None else "off"
        if cid in self._roots():
            return "auto" if comp.core_when and self.choices.get(cid) is None else "selected"
        return "required"

    def locked(self, cid: str) -> bool:
        return cid in self.installed or self.catalog[cid].core

    def select(self, cid: str) -> SelectionChange:
        before = self.selection()
        self.choices[cid] = True
        after = self.selection()
        added = tuple(c.id for c in self.catalog if c.id in after - before and c.id != cid)
        return SelectionChange(cid, added=added)

    def deselect(self, cid: str) -> SelectionChange:
        comp = self.catalog[cid]
        if cid in self.installed:
            return SelectionChange(
                cid, refused=f"{comp.title} is installed already; the wizard adds components, it does not remove them"
            )
        if comp.core:
            return SelectionChange(cid, refused=f"{comp.title} is a core component: it is always installed")
        chosen = self.selection()
        needing = self.needed_by(cid, chosen)
        if needing:
            titles = ", ".join(self.catalog[c].title for c in needing)
            return SelectionChange(
                cid, refused=f"{comp.title} is needed by {titles}: untick {'it' if len(needing) == 1 else 'them'} first"
            )
        self.choices[cid] = False
        removed = tuple(c.id for c in self.catalog if c.id in chosen - self.selection() and c.id != cid)
        return SelectionChange(cid, removed=removed, now="unselected")

    def toggle(self, cid: str) -> SelectionChange:
        if self.catalog[cid].core_when and not self.locked(cid):
            return self._cycle_automatic(cid)
        return self.deselect(cid) if self.is_selected(cid) else self.select(cid)

    def _cycle_automatic(self, cid: str) -> SelectionChange:
        """A component discovery can decide cycles automatic -> off -> on -> automatic."""
        choice = self.choices.get(cid)
        if choice is None:
            change = self.deselect(cid)
            return change if change.ok else self.select(cid)
        if choice is False:
            return self.select(cid)
        before = self.selection()
        del self.choices[cid]
        after = self.selection()
        removed = tuple(c.id for c in self.catalog if c.id in before - after and c.id != cid)
        added = tuple(c.id for c in self.catalog if c.id in after - before and c.id != cid)
        return SelectionChange(cid, added=added, removed=removed, now="automatic")

    # ------------------------------------------------------------ settings

    def component_schema(self, cid: str) -> dict[str, Any]:
        """The component's settings schema as it sits in the answers schema (refs resolvable there)."""
        schema: dict[str, Any] = answers_schema()["properties"]["components"]["properties"][cid]
        return schema

    def has_settings(self, cid: str) -> bool:
        return any(k != "enabled" for k in self.component_schema(cid).get("properties", {}))

    def configurable(self) -> list[str]:
        """Selected components that have settings, in catalog order (installed ones left out)."""
        chosen = self.selection()
        return [c.id for c in self.catalog if c.id in chosen and c.id not in self.installed and self.has_settings(c.id)]

    def set_component_settings(
        self, cid: str, values: Mapping[str, Any], secret_entries: Mapping[str, str] | None = None
    ) -> None:
        """Settings from the component's form: `values` refer to secrets as `{secret: KEY}`;
        `secret_entries` (KEY -> value, typed in the form) stay in memory until exported."""
        self.component_config[cid] = {k: copy.deepcopy(v) for k, v in values.items() if k != "enabled"}
        self.component_secrets[cid] = {k: v for k, v in (secret_entries or {}).items() if v}

    def set_cluster_settings(self, values: Mapping[str, Any]) -> None:
        self.cluster = {k: copy.deepcopy(v) for k, v in values.items() if v not in (None, "")}

    # ------------------------------------------------------------ Spec

    def answers_data(self, *, secrets_as_env: bool = False, secrets_file: str | None = None) -> dict[str, Any]:
        """The answers file's data: secrets as `{secret: KEY}` (or `{env: NAME}`), never values."""

        def ref(key: str) -> dict[str, str]:
            return {"env": env_name(key)} if secrets_as_env else {"secret": key}

        data: dict[str, Any] = {"apiVersion": API_VERSION}
        if secrets_file and not secrets_as_env and self.secret_values():
            data["secretsFile"] = secrets_file
        data["cluster"] = dict(self.cluster)
        nodes = []
        for node in self.nodes:
            refs: dict[SecretKind, dict[str, str]] = {}
            for kind, loaded in (
                ("password", node.password_ref),
                ("passphrase", node.passphrase_ref),
                ("sudo", node.sudo_ref),
            ):
                if (node.name, kind) in self.node_secrets:
                    refs[kind] = ref(secret_key(node.name, kind))  # type: ignore[index]
                elif loaded is not None:
                    refs[kind] = loaded.to_answers()  # type: ignore[index]
            nodes.append(node._data(refs))
        data["nodes"] = nodes
        chosen = self.selection()
        components: dict[str, Any] = {}
        for comp in self.catalog:
            config = _swap_refs(self.component_config.get(comp.id, {}), self._secret_keys(), ref)
            if comp.core:
                enabled: bool | str = True
            elif comp.core_when and self.choices.get(comp.id) is None and comp.id not in self.installed:
                enabled = AUTO  # decided by discovery, in the wizard as in an answers file
            else:
                enabled = comp.id in chosen
            components[comp.id] = {"enabled": enabled, **config}
        data["components"] = components
        return data

    def _secret_keys(self) -> set[str]:
        return set(self.secret_values())

    def secret_values(self) -> dict[str, str]:
        """Every secret typed in this session, by its secrets-file key."""
        names = {n.name for n in self.nodes}
        out = {secret_key(node, kind): value for (node, kind), value in self.node_secrets.items() if node in names}
        for entries in self.component_secrets.values():
            out.update(entries)
        return out

    def problems(self, *, secrets_as_env: bool = False, secrets_file: str | None = None) -> list[Problem]:
        """Every problem of the current answers, schema first, then the cross-field rules."""
        data = self.answers_data(secrets_as_env=secrets_as_env, secrets_file=secrets_file)
        return answers_problems(data, None, self.catalog)

    def build_spec(self, *, secrets_as_env: bool = False, secrets_file: str | None = None) -> Spec:
        """The Spec the screens describe; raises `AnswersError` with every problem."""
        data = self.answers_data(secrets_as_env=secrets_as_env, secrets_file=secrets_file)
        problems = answers_problems(data, None, self.catalog)
        if problems:
            raise AnswersError(SOURCE, problems)
        return spec_from_data(data, self.catalog)

    def plan(self, spec: Spec | None = None) -> Plan:
        """The plan of `spec` (default: the one the screens describe), by the session's Plan phase."""
        from .wizard_run import plan_of

        return plan_of(self, spec or self.build_spec())

    def secrets(self) -> Secrets:
        """The secrets typed in this session, for the installers (in memory; masked in every log)."""
        values = self.secret_values()
        store = Secrets(values)
        for value in values.values():
            store.register(value)
        return store

    # ------------------------------------------------------------ export

    def export(self, answers: Path, secrets: Path | None = None, *, secrets_as_env: bool = False) -> Exported:
        """Write the answers (and the secrets, mode 0600) and check they load back to the same Spec."""
        values = self.secret_values()
        secrets_path = (
            None if secrets_as_env or not values else (secrets or answers.with_name(answers.stem + ".secrets.yaml"))
        )
        name = None
        if secrets_path is not None:
            name = secrets_path.name if secrets_path.parent.resolve() == answers.parent.resolve() else str(secrets_path)
        spec = self.build_spec(secrets_as_env=secrets_as_env, secrets_file=name)
        if secrets_path is not None:
            import yaml

            write_atomic(secrets_path, yaml.safe_dump(values, sort_keys=True), mode=0o600)
        write_atomic(answers, dump_spec(spec), mode=0o644)
        again = load_answers(answers, secrets=secrets_path)
        if again != spec:
            raise AnswersError(
                str(answers),
                [
                    Problem(
                        (),
                        "the saved answers do not load back to what the wizard "
                        "shows (a bug in thinkube-tui: please report it)",
                    )
                ],
            )
        return Exported(answers, secrets_path, spec, git_warning(answers, secrets_path))

    def save_for_reentry(self, spec: Spec, state_dir: Path) -> Path:
        """Keep the answers (references only) next to the journal, so a later session can add to it."""
        path = check_state_dir(state_dir) / ANSWERS_IN_STATE_DIR
        write_atomic(path, dump_spec(spec))
        return path

    # ------------------------------------------------------------ descriptions for the screens

    def describe(self, cid: str, domain: str | None = None) -> Text:
        """The component for people: its title in bold, the rest (with the operator's domain) as text."""
        from .textsafe import styled

        comp = self.catalog[cid]
        state = self.state(cid)
        lines = [
            f"  ({comp.id}, group {comp.group})",
            "",
            comp.description,
            "",
            f"Namespace: {comp.namespace}",
        ]
        urls = comp.urls(domain or self.cluster.get("domain") or "<domain>")
        if urls:
            lines.append("URL: " + ", ".join(urls))
        if comp.requires:
            lines.append("Requires: " + ", ".join(comp.requires))
        needed = self.needed_by(cid)
        if needed:
            lines.append("Needed by: " + ", ".join(needed))
        why = {
            "installed": "installed already",
            "core": "core: always installed",
            "selected": "selected",
            "off": "not selected",
            "auto": f"automatic: installed when an {comp.core_when} is found",
        }.get(state)
        if state == "required":
            why = "required by " + ", ".join(self.required_by(cid))
        lines += ["", f"Status: {why}"]
        if cid in self.failed:
            lines.append("Failed last time: it will be tried again")
        return styled("[b]{title}[/b]{rest}", title=comp.title, rest="\n".join(lines))


def git_warning(answers: Path, secrets: Path | None) -> str | None:
    """What to tell the operator who saved the answers (and secrets) where git could commit them."""
    from .files import unignored_in_git

    exposed = [(p, root) for p in (secrets, answers) if p is not None and (root := unignored_in_git(p)) is not None]
    if not exposed:
        return None
    names = " and ".join(str(p) for p, _ in exposed)
    holds = "secrets" if secrets is not None and exposed[0][0] == secrets else "node addresses and settings"
    return (
        f"{names}: inside the git work tree {exposed[0][1]} and not ignored there; the file holds {holds} "
        "and could be committed. Move it out of the repository, or add it to the repository's ignore file."
    )


def _swap_refs(value: Any, keys: set[str], ref: Callable[[str], dict[str, str]]) -> Any:
    """A copy of `value` with every `{secret: KEY}` whose KEY is in `keys` replaced by `ref(KEY)`."""
    if _is_ref(value) and value.get("secret") in keys:
        return ref(value["secret"])
    if isinstance(value, dict):
        return {k: _swap_refs(v, keys, ref) for k, v in value.items()}
    if isinstance(value, list):
        return [_swap_refs(v, keys, ref) for v in value]
    return value


def _is_ref(value: Any) -> bool:
    return isinstance(value, dict) and is_ref(value)


_PLACEHOLDER_CLUSTER = {
    "domain": "example.lan",
    "adminEmail": "a@example.lan",
    "metallbRange": "10.0.0.1-10.0.0.9",
    "ingressIP": "10.0.0.1",
    "ingressKnIP": "10.0.0.2",
}


def group_components(catalog: Catalog) -> list[tuple[str, str, list[Component]]]:
    """(group id, title, components) for every group, in catalog order."""
    return [(g.id, g.title, list(catalog.in_group(g.id))) for g in catalog.groups]


def answer_from_memory(model: WizardModel, request: SecretRequest) -> str | None:
    """A secret the operator typed earlier in this session (or one from the loaded secrets file)."""
    kind: SecretKind = request.kind
    value = model.node_secrets.get((request.node, kind))
    if value is None and kind == "sudo":  # sudo with the login password, as ssh users expect
        value = model.node_secrets.get((request.node, "password"))
    return value


def credentials_note(spec: Spec, secrets_path: Path | None, state_dir: Path) -> list[str]:
    """Where the operator finds the credentials the install used or generated."""
    lines = []
    if secrets_path is not None:
        lines.append(f"Secrets you entered: {secrets_path} (mode 0600)")
    else:
        lines.append("Secrets you entered were kept in memory only; they are not saved anywhere.")
    lines.append(
        "Generated admin passwords are stored as Kubernetes Secrets in each component's namespace "
        "(e.g. `microk8s kubectl -n keycloak get secret`)."
    )
    lines.append(f"Install journal and logs: {state_dir}")
    return lines
