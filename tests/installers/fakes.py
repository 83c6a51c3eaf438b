"""Stand-ins shared by the installer tests: one fake Kubernetes API (`FakeKube` over an
`ApiStore`), a node whose Helm remembers releases, and helpers to read what was applied. Each test
module adds the controllers its installers wait for (`controllers=`) and little else."""

from __future__ import annotations

import base64
import copy
import json
import shlex
from collections.abc import Callable, Iterable
from typing import Any

import yaml

from thinkube_tui.dryrun import RecordingKube, RecordingTransport, Transcript
from thinkube_tui.engine import EngineSettings, Steps
from thinkube_tui.events import EventBus, LineBatcher, LogLines
from thinkube_tui.installers.base import InstallContext
from thinkube_tui.journal import Journal
from thinkube_tui.kube import FIELD_MANAGER, KubeError
from thinkube_tui.transport import CommandResult

Releases = dict[tuple[str, str], tuple[str, str, Any]]  # (namespace, release) -> (chart, version, values)
Obj = dict[str, Any]
Key = tuple[str, str, str, str]  # (apiVersion, kind, namespace or "", name)


def merge(base: Any, patch: Any) -> Any:
    """`patch` laid over `base`, as server-side apply merges maps."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = merge(base.get(k), v)
        return out
    return copy.deepcopy(patch)


def select(objects: Any, kind: str, name: str | None = None, ns: str | None = None) -> list[dict[str, Any]]:
    """The objects of `kind` (and `name`, `ns` when given) among `objects`."""
    return [
        o
        for o in objects
        if o["kind"] == kind
        and (name is None or o["metadata"]["name"] == name)
        and (ns is None or o["metadata"].get("namespace") == ns)
    ]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """A container's environment: name -> value, or the valueFrom reference."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


class HelmNode(RecordingTransport):
    """A control node whose `microk8s helm3` remembers releases and their values, so a second
    run sees them deployed. Commands it does not know go to `other` (None: exit 0, no output);
    `deployed` plays what a chart's controllers make."""

    def __init__(self, node: str, transcript: Transcript, releases: Releases) -> None:
        super().__init__(node, transcript)
        self.releases = releases
        self.commands: list[tuple[str, str | None]] = []

    async def run(self, command: str, *, input: str | None = None, **kwargs: Any) -> CommandResult:
        await super().run(command, input=input, **kwargs)
        self.commands.append((command, input))
        argv = shlex.split(command)
        if argv[:3] == ["microk8s", "helm3", "upgrade"]:
            release, chart, ns = argv[4], argv[5], argv[argv.index("--namespace") + 1]
            version = argv[argv.index("--version") + 1]
            self.releases[(ns, release)] = (chart, version, yaml.safe_load(input or "{}") or {})
            self.deployed(release, chart, ns, self.releases[(ns, release)][2])
        elif argv[:3] == ["microk8s", "helm3", "list"]:
            ns, release = argv[argv.index("--namespace") + 1], argv[argv.index("--filter") + 1].strip("^$")
            if (ns, release) in self.releases:
                chart, version, _ = self.releases[(ns, release)]
                return CommandResult(command, 0, json.dumps([{"name": release, "chart": f"{chart}-{version}"}]), "")
            return CommandResult(command, 0, "[]", "")
        elif argv[:4] == ["microk8s", "helm3", "get", "values"]:
            _, _, values = self.releases[(argv[argv.index("--namespace") + 1], argv[4])]
            return CommandResult(command, 0, json.dumps(values), "")
        else:
            answer = self.other(argv, command, input)
            if answer is not None:
                return answer
        return CommandResult(command, 0, "", "")

    def other(self, argv: list[str], command: str, input: str | None) -> CommandResult | None:
        return None

    def deployed(self, release: str, chart: str, namespace: str, values: dict[str, Any]) -> None:
        """What the chart's controllers make once it is deployed (none here)."""


async def install_in_order(cluster: Any, order: Any) -> tuple[list[str], list[BaseException]]:
    """Run each (component id, installer module) of `order` against `cluster`, one after another,
    as the engine would. Returns every log line and every exception (collected, not raised: the
    tests search them for secrets too)."""
    spec = cluster.spec
    bus = EventBus()
    logs: list[str] = []
    bus.subscribe(lambda e: logs.extend(e.lines) if isinstance(e, LogLines) else None)
    batcher = LineBatcher(bus, 0.0)
    journal = Journal(None)
    errors: list[BaseException] = []
    for cid, module in order:
        steps = Steps(cid, spec.components[cid].config, journal, bus, batcher, EngineSettings(step_timeout_s=60))
        journal.started(cid, spec.components[cid].config)
        try:
            await module.install(InstallContext(steps, cluster))
        except Exception as exc:
            errors.append(exc)
        batcher.flush()
    return logs, errors


# ---------------------------------------------------------------- the Kubernetes API


class ApiStore(dict[Key, Obj]):
    """The cluster's objects by (apiVersion, kind, namespace or "", name); it outlives one run."""

    @staticmethod
    def key(obj: Obj) -> Key:
        meta = obj["metadata"]
        return (obj["apiVersion"], obj["kind"], meta.get("namespace") or "", meta["name"])

    def put(self, obj: Obj) -> None:
        """An object as another party (a chart, an operator, an earlier run) left it."""
        self[self.key(obj)] = obj

    def find(self, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        return next(
            (o for (_, k, ns, n), o in self.items() if (k, ns, n) == (kind, namespace or "", name)),
            None,
        )


#: Plays an operator: given the store and the object as it now lives, sets its status (in place)
#: or puts the objects the operator would make.
Controller = Callable[[ApiStore, Obj], None]


def operator_statuses(store: ApiStore, live: Obj) -> None:
    """Jobs succeed, Workflows succeed, Applications sync, and the shared services' operators
    (CloudNativePG, MinIO) report what the installers wait for."""
    kind = live["kind"]
    if kind == "Job":
        live["status"] = {"succeeded": 1}
    elif kind == "Workflow":
        live["status"] = {"phase": "Succeeded"}
    elif kind == "Application":
        live["status"] = {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}
    elif kind == "Cluster":
        roles = [r["name"] for r in live["spec"].get("managed", {}).get("roles", [])]
        live["status"] = {"managedRolesStatus": {"byStatus": {"reconciled": roles}}}
    elif kind == "Database":
        live["status"] = {"applied": True}
    elif kind == "Tenant":
        live["status"] = {"currentState": "Initialized"}


class FakeKube(RecordingKube):
    """The installer tests' API server: applies merge into the store as server-side apply does
    (recorded with their field manager, and in the dry-run transcript), reads answer from it.

    A wait for an object nobody made answers `{}` as the dry run does (another group's controller
    would make it), unless `missing_is_error`; a wait for an object that is not ready fails as a
    timeout would, unless `lenient` (then `{}`: the suite checks what was awaited, in `waits`).
    """

    def __init__(
        self,
        transcript: Transcript,
        store: ApiStore | None = None,
        *,
        controllers: Iterable[Controller] = (),
        missing_is_error: bool = False,
        lenient: bool = False,
    ) -> None:
        super().__init__(transcript)
        self.store = ApiStore() if store is None else store
        self.controllers = tuple(controllers)
        self.missing_is_error = missing_is_error
        self.lenient = lenient
        self.applied: list[tuple[Obj, str]] = []  # (object as sent, field manager)
        self.waits: list[str] = []
        self.deleted: list[tuple[str, str]] = []
        self.patched: list[tuple[str, str, Obj]] = []

    def put(self, obj: Obj) -> None:
        self.store.put(obj)

    def find(self, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        return self.store.find(kind, name, namespace)

    def applied_objects(self) -> list[Obj]:
        return [obj for obj, _ in self.applied]

    async def apply(self, obj: Any, field_manager: str = FIELD_MANAGER, **kw: Any) -> Any:  # type: ignore[override]
        await super().apply(obj, field_manager=field_manager, **kw)
        self.applied.append((copy.deepcopy(obj), field_manager))
        key = ApiStore.key(obj)
        live = merge(self.store.get(key) or {}, obj)
        for controller in self.controllers:
            controller(self.store, live)
        self.store[key] = live
        return copy.deepcopy(live)

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Any:
        return copy.deepcopy(self.store.get((api_version, kind, namespace or "", name)))

    async def list(self, api_version: str, kind: str, namespace: str | None = None, **_: Any) -> list[Any]:
        return [
            copy.deepcopy(o)
            for (api, k, ns, _n), o in self.store.items()
            if (api, k, ns) == (api_version, kind, namespace or "")
        ]

    async def merge_patch(self, api_version: str, kind: str, name: str, namespace: str | None, patch: Any) -> Any:
        await super().merge_patch(api_version, kind, name, namespace, patch)
        self.patched.append((kind, name, patch))
        obj = self.store.get((api_version, kind, namespace or "", name))
        assert obj is not None, f"patch of a missing {kind} {name}"
        self.store[(api_version, kind, namespace or "", name)] = merge(obj, patch)
        return copy.deepcopy(self.store[(api_version, kind, namespace or "", name)])

    async def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        await super().delete(api_version, kind, name, namespace)
        self.deleted.append((kind, name))
        return self.store.pop((api_version, kind, namespace or "", name), None) is not None

    async def wait_for(
        self, api_version: str, kind: str, name: str, namespace: str | None, ready: Any, *, timeout: float, what: str
    ) -> dict[str, Any]:
        await super().wait_for(api_version, kind, name, namespace, ready, timeout=timeout, what=what)
        self.waits.append(what)
        obj = self.store.get((api_version, kind, namespace or "", name))
        if obj is None and not self.missing_is_error:
            return {}
        if obj is None or not ready(obj):
            if self.lenient:
                return {}
            raise KubeError(f"{what}: not ready after {timeout:g} s")
        return copy.deepcopy(obj)

    async def wait_rollout(self, kind: str, name: str, namespace: str, *, timeout: float = 600) -> dict[str, Any]:
        await super().wait_rollout(kind, name, namespace, timeout=timeout)
        self.waits.append(f"rollout {kind} {namespace}/{name}")
        return {}
