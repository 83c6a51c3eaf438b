"""A small Kubernetes API server for the lab, on aiohttp.

It serves what Thinkube's installers use through kubernetes-asyncio -- discovery, get, list
(label and field selectors), create, replace, delete, merge / strategic-merge / JSON /
server-side-apply patches, /status, watch -- for the kinds in `kubeapi_resources` plus
CRD-backed kinds once their CRD exists. Objects are checked against the Kubernetes OpenAPI
schemas (`kubernetes-validate`) and CRD schemas -- unknown fields dropped with a warning, or
refused under `fieldValidation=Strict` and by server-side apply, as a real server does -- and
by the validation code of each core kind (`kubeapi_validation`), in the real server's words.
A deleted namespace terminates: nothing new may be created in it while it is emptied.
A tiny "controller" makes Deployments, StatefulSets, DaemonSets and Jobs report a finished
rollout after a simulated delay, so readiness waits run for real. State is persisted to a
JSON file so the lab and the installer can each restart.

HTTP, storage, watches, persistence and the controllers live here; the object logic (errors,
validation, patches, server-side apply, selectors) in `kubeapi_objects`, the kinds in
`kubeapi_resources`. What a real client needs besides: TLS with the lab's own CA and client
certificates (`kubeapi_tls`), /openapi/v3 (`kubeapi_openapi`), Table output for `kubectl get`
(`kubeapi_table`), protobuf creates (`kubeapi_protobuf`), /scale (`kubeapi_scale`).

It is a simulator, and says so: /version reports platform "thinkube-lab".
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import copy
import json
import logging
import os
import secrets
import uuid
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from . import kubeapi_openapi as openapi
from . import kubeapi_protobuf as protobuf
from .kubeapi_objects import (
    NO_RESOURCE,
    SERVER_META,
    ApiError,
    FieldPath,
    SchemaValidator,
    as_version,
    conflict_error,
    crd_errors,
    crd_validator,
    drop_fields,
    field_matcher,
    field_path,
    invalid_error,
    json_patch,
    label_matcher,
    merge_patch,
    node_ready,
    not_found_error,
    owned_fields,
    read_managers,
    schema_findings,
    server_side_apply,
    smd_path,
    spec_of,
    strategic_merge_patch,
    terminating_error,
    timestamp,
    track_update,
    write_managers,
)
from .kubeapi_resources import BUILTIN, ResourceType, crd_types
from .kubeapi_scale import SCALABLE, discovery_extras, scale_of, scaled
from .kubeapi_store import Ident, StateFiles, ident
from .kubeapi_table import table, table_version
from .kubeapi_tls import Issued, LabCA, client_user
from .kubeapi_validation import generate_job_selector, name_warnings, validate

log = logging.getLogger(__name__)
Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace or "", name)

STATE_FILE = "kubeapi-state.json"
BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
NAMESPACE_FINALIZE_S = 0.5  # how long the namespace controller takes to empty a namespace (simulated)
FIELD_VALIDATION = ("Strict", "Warn", "Ignore")
# Warnings for the current request (`Warning: 299 - "..."` headers), as a real server collects them.
_warnings: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("kubeapi_warnings", default=None)
HISTORY = 5000  # watch events kept for resourceVersion resumes; older ones answer 410 Gone


# ----------------------------------------------------------------------------- the emulator


class _Watch:
    def __init__(self, rt: ResourceType, ns: str | None, match: Callable[[Obj], bool]):
        self.rt, self.ns, self.match = rt, ns, match
        self.queue: asyncio.Queue[tuple[str, Obj] | None] = asyncio.Queue()

    def offer(self, rt: ResourceType, kind: str, new: Obj, old: Obj | None) -> None:
        if rt.key != self.rt.key or (self.ns and new["metadata"].get("namespace") != self.ns):
            return
        now, before = self.match(new), old is not None and self.match(old)
        if kind == "MODIFIED" and now != before:  # moved in or out of the selection
            kind = "ADDED" if now else "DELETED"
        if now or before:
            self.queue.put_nowait((kind, new))


RolloutDelay = float | Callable[[Obj], float | None]


class KubeApiEmulator:
    """An in-process Kubernetes API server for the lab.

    ``rollout_delay``: seconds (or a callable object -> seconds, None = never ready) before a
    Deployment/StatefulSet/DaemonSet/Job reports its rollout done; divided by ``speed``.
    ``field_validation``: what a request that names no fieldValidation gets (a real server's
    default, Warn: unknown fields dropped, a `Warning` header sent back; Strict refuses them).
    """

    def __init__(
        self,
        state_dir: str | os.PathLike[str] | None = None,
        k8s_version: str = "1.33",
        *,
        rollout_delay: RolloutDelay = 1.0,
        speed: float = 1.0,
        host: str = "127.0.0.1",
        token: str | None = None,
        field_validation: str = "Warn",
        addresses: tuple[str, ...] = (),
    ):
        self.k8s_version = k8s_version
        self.rollout_delay, self.speed, self.host = rollout_delay, speed, host
        # The fieldValidation a request gets when it names none; a real server's is Warn
        # (unknown fields dropped, a warning sent back).
        assert field_validation in FIELD_VALIDATION, field_validation
        self.field_validation = field_validation
        self.state_file = Path(state_dir) / STATE_FILE if state_dir else None
        self._files = StateFiles(self.state_file) if self.state_file else None
        self._dirty: dict[Ident, Obj | None] = {}  # written (None: deleted) since the last save
        self.validator = SchemaValidator(k8s_version)
        self.token = token or secrets.token_hex(16)
        # TLS as on a MicroK8s node: the CA (kept in state_dir/certs) and the addresses the server
        # certificate names besides loopback (the lab's simulated control-node address).
        self.addresses = list(addresses)
        self._certs_dir = Path(state_dir) / "certs" if state_dir else None
        self.ca = LabCA.load_or_create(self._certs_dir)
        self.port: int | None = None
        self.rv = 0
        self.store: dict[tuple[str, str], dict[Key, Obj]] = {}
        self._types: dict[tuple[str, str], dict[str, ResourceType]] = {}  # (group, version) -> plural -> type
        self._history: deque[tuple[int, ResourceType, str, Obj, Obj | None]] = deque(maxlen=HISTORY)
        self._history_floor = 0
        self._watches: set[_Watch] = set()
        self._timers: dict[tuple[tuple[str, str], Key], asyncio.TimerHandle] = {}
        self._finalizing: set[str] = set()  # namespaces the namespace controller is emptying now
        self._crd_validators: dict[tuple[str, str, str, bool], Any] = {}
        self._save_future: asyncio.Future[None] | None = None
        self._runner: web.AppRunner | None = None
        self._next_ip = 1
        self._up = asyncio.Event()  # cleared while the API server is away (pause(refuse=False))
        self._up.set()
        # Hooks for the lab's simulated controllers (lab/controllers.py): called after every
        # stored change as listener(resource_type, event, obj, old); and backends answering the
        # API server's proxy (/api/v1/namespaces/NS/{pods|services}/NAME[:PORT]/proxy/...).
        self.listeners: list[Callable[[ResourceType, str, Obj, Obj | None], None]] = []
        self.proxy: Callable[[web.Request, str, str, str, str], Any] | None = None
        self._load()

    # -- lifecycle

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    async def start(self, port: int | None = None) -> None:
        """Serve on ``port``; None reuses the port of the last run (so kubeconfigs stay valid)
        when it is free, else any free port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        tls = self.ca.server_context([self.host, *self.addresses])
        ports = [port] if port is not None else ([self.port, 0] if self.port else [0])
        for i, p in enumerate(ports):
            site = web.TCPSite(self._runner, self.host, p, ssl_context=tls)
            try:
                await site.start()
                break
            except OSError:
                if i == len(ports) - 1:
                    await self._runner.cleanup()
                    raise
        self.port = self._runner.addresses[-1][1]
        for rt in [t for t in BUILTIN if t.kind in WORKLOAD_KINDS]:
            for obj in list(self.store.get(rt.key, {}).values()):
                status = obj.get("status") or {}
                done = (
                    "completionTime" in status
                    if rt.kind == "Job"
                    else status.get("observedGeneration") == obj["metadata"].get("generation")
                )
                if not done:
                    self._schedule_rollout(rt, obj)  # finish what a restart interrupted
        self._resume_namespace_controller()
        self._save_soon()

    async def stop(self) -> None:
        for w in list(self._watches):
            w.queue.put_nowait(None)  # end open watches first, or shutdown waits for them
        for t in self._timers.values():
            t.cancel()
        self._timers.clear()
        if self._runner:
            await self._runner.cleanup()
            self._runner = None
        if self._save_future and not self._save_future.done():
            self._save_now()

    @property
    def serving(self) -> bool:
        return self._runner is not None and self._up.is_set()

    async def pause(self, *, refuse: bool = True) -> None:
        """The API server goes away (`snap restart microk8s.daemon-kubelite`) until `resume()`;
        the objects stay, open watches end.

        ``refuse=True`` is what a real restart does: the port closes, connections are refused
        (clients see ECONNREFUSED). ``refuse=False`` is gentler: the port stays open and requests
        wait until the API answers again -- for runs that must not fail on a client's missing retry.
        """
        self._up.clear()
        if refuse:
            if self._runner is not None:
                await self.stop()
            return
        for w in list(self._watches):
            w.queue.put_nowait(None)

    async def resume(self) -> None:
        """The API server is back, on the same port (kubeconfigs stay valid)."""
        if self._runner is None:
            await self.start(self.port)
        self._up.set()

    async def __aenter__(self) -> KubeApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def kubeconfig(self, *, server_name: str | None = None, token: str | None = None) -> Obj:
        """A kubeconfig shaped like `microk8s config` prints: https, the CA's data, and the admin
        client certificate (MicroK8s >= 1.28) -- or `token` as the user's credential.

        ``server_name``: the name the client checks the server's certificate against
        (`tls-server-name`), e.g. the control node's simulated address; the connection itself
        goes to 127.0.0.1, where the lab serves.
        """
        assert self.port, "start() first"
        admin = None if token else self.ca.admin(self._certs_dir)
        return kubeconfig(self.url, token, ca_pem=self.ca.cert_pem, client=admin, tls_server_name=server_name)

    # -- persistence: one JSON file, replaced atomically; writes close together share one save

    def _load(self) -> None:
        self._rebuild_types([])
        data, objs = self._files.load() if self._files is not None else ({}, [])
        self.rv = data.get("resourceVersion", 0)
        self.token = data.get("token", self.token)
        self.port = data.get("port")
        self._next_ip = data.get("nextServiceIP", 1)
        self._rebuild_types([o for o in objs if o.get("kind") == "CustomResourceDefinition"])
        for o in objs:
            rt = self._type_of(o)
            self.store.setdefault(rt.key, {})[(o["metadata"].get("namespace", ""), o["metadata"]["name"])] = o
        self._resume_namespace_controller()
        for ns in BUILTIN_NAMESPACES:
            if ("", ns) not in self.store.get(("", "namespaces"), {}):
                rt = self._lookup_type("", "v1", "namespaces")
                self._commit(
                    rt,
                    self._finish(rt, self._prepare_new(rt, {"metadata": {"name": ns}}, None), None, None),
                    None,
                )
        self._history_floor = self.rv

    def _save_soon(self) -> asyncio.Future[None] | None:
        if not self.state_file:
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None  # before start(): the first start saves
        if self._save_future is None or self._save_future.done():
            self._save_future = loop.create_future()
            loop.call_soon(self._save_now)
        return self._save_future

    def _save_now(self) -> None:
        fut, self._save_future = self._save_future, None
        if fut is not None and fut.done():
            return
        try:
            assert self._files is not None
            counters = {
                "resourceVersion": self.rv,
                "token": self.token,
                "port": self.port,
                "nextServiceIP": self._next_ip,
            }
            changed, self._dirty = self._dirty, {}
            try:
                self._files.save(counters, (o for objs in self.store.values() for o in objs.values()), changed)
            except BaseException:
                self._dirty = {**changed, **self._dirty}  # not saved: the next save writes them
                raise
            if fut:
                fut.set_result(None)
        except Exception as e:
            if fut:
                fut.set_exception(e)
                fut.exception()  # mark retrieved: timers save without waiting
            else:
                raise

    # -- kinds

    def _rebuild_types(self, crds: list[Obj]) -> None:
        self._types = {}
        for rt in list(BUILTIN) + [t for c in crds for t in crd_types(c)]:
            self._types.setdefault((rt.group, rt.version), {})[rt.plural] = rt

    def _crds(self) -> list[Obj]:
        return list(self.store.get(("apiextensions.k8s.io", "customresourcedefinitions"), {}).values())

    def _lookup_type(self, group: str, version: str, plural: str) -> ResourceType:
        rt = self._types.get((group, version), {}).get(plural)
        if rt is None:
            raise NO_RESOURCE
        return rt

    def _type_of(self, obj: Obj) -> ResourceType:
        group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
        for rt in self._types.get((group, version), {}).values():
            if rt.kind == obj.get("kind"):
                return rt
        raise ApiError(404, "NotFound", f'no matches for kind "{obj.get("kind")}" in version "{obj.get("apiVersion")}"')

    # -- the write path shared by every verb and by the Python API

    def _prepare_new(self, rt: ResourceType, body: Obj, ns: str | None) -> Obj:
        """A new object as the server stores it on create."""
        obj = copy.deepcopy(body)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
        if rt.namespaced:
            meta["namespace"] = ns
        for k in SERVER_META:
            meta.pop(k, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = timestamp()
        if rt.generation:
            meta["generation"] = 1
        if rt.status:
            obj.pop("status", None)  # status is the controllers' business
        return obj

    def _finish(
        self,
        rt: ResourceType,
        obj: Obj,
        old: Obj | None,
        sub: str | None,
        validation: str = "Strict",
        verb: str = "create",
        schema: bool = True,
    ) -> Obj:
        """Server-owned fields, defaults and validation for an object about to be stored.

        ``validation``: the request's fieldValidation (Strict refuses unknown fields, Warn drops
        them and warns, Ignore drops them); ``verb`` (create, update, patch, apply) picks the
        wording of a refusal. Server-side apply refuses unknown fields whatever the directive.
        """
        meta = obj["metadata"]
        if old is not None:
            for k in ("uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds"):
                if k in old["metadata"]:
                    meta[k] = old["metadata"][k]
                else:
                    meta.pop(k, None)
            if rt.status and sub != "status":
                obj.pop("status", None)
                if "status" in old:
                    obj["status"] = copy.deepcopy(old["status"])
        meta.pop("resourceVersion", None)
        if rt.kind == "Service" and old is not None and isinstance(obj.get("spec"), dict):
            for k in ("clusterIP", "clusterIPs"):  # allocated once, kept by updates
                if k in old.get("spec", {}):
                    obj["spec"].setdefault(k, old["spec"][k])
        if rt.kind == "Job" and old is None:
            generate_job_selector(obj)
        self._defaults(rt, obj)
        unknown, schema_errors = self._schema_errors(rt, obj) if schema else ([], [])
        if unknown:
            if verb == "apply" or validation == "Strict":
                raise self._unknown_fields_error(rt, obj, unknown, verb)
            drop_fields(obj, unknown)
            if validation == "Warn" and (warnings := _warnings.get()) is not None:
                warnings += [f'unknown field "{field_path(p)}"' for p in unknown]
        name = meta.get("name", "")
        errors: list[Any] = []
        if sub != "status" and not schema_errors:  # a custom resource gets the metadata checks only
            errors = list(validate("" if rt.crd else rt.kind, obj, old))
        if rt.kind == "CustomResourceDefinition":
            errors += crd_errors(obj)
        if errors or schema_errors:
            raise invalid_error(rt, name, errors + schema_errors)
        if old is None and not rt.crd and (warnings := _warnings.get()) is not None:
            warnings += name_warnings(rt.kind, name)
        if old is not None and rt.generation and spec_of(obj) != spec_of(old):
            meta["generation"] = old["metadata"].get("generation", 0) + 1
        return obj

    def _schema_errors(self, rt: ResourceType, obj: Obj) -> tuple[list[FieldPath], list[str]]:
        """(unknown fields, other schema errors) against the kind's OpenAPI or CRD schema."""
        if not rt.crd:
            return self.validator.findings(obj)
        key = (rt.group, rt.version, rt.kind, True)
        if key not in self._crd_validators:
            self._crd_validators[key] = crd_validator(rt.schema, True)
        return schema_findings(self._crd_validators[key], obj)

    @staticmethod
    def _unknown_fields_error(rt: ResourceType, obj: Obj, unknown: list[FieldPath], verb: str) -> ApiError:
        if verb == "apply":  # structured-merge-diff's typed conversion of the applied object
            meta = obj["metadata"]
            where = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
            gvk = f"{rt.group}/{rt.version}, Kind={rt.kind}"
            paths = "; ".join(smd_path(rt.kind, obj, p) + ": field not declared in schema" for p in unknown)
            return ApiError(500, "", f"failed to create typed patch object ({where}; {gvk}): {paths}")
        fields = ", ".join(f'unknown field "{field_path(p)}"' for p in unknown)
        prefix = "" if verb == "patch" else f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
        return ApiError(400, "BadRequest", f"{prefix}strict decoding error: {fields}")

    def _defaults(self, rt: ResourceType, obj: Obj) -> None:
        """The few defaults and server-set fields installers read back."""
        meta, spec = obj["metadata"], obj.get("spec")
        if rt.kind == "Namespace":
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
            phase = "Terminating" if meta.get("deletionTimestamp") else "Active"
            obj["status"] = {**(obj.get("status") or {}), "phase": phase}
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        elif rt.kind == "Secret":
            if obj.get("stringData"):
                data = obj.setdefault("data", {})
                for k, v in obj.pop("stringData").items():
                    data[k] = base64.b64encode(str(v).encode()).decode()
            obj.pop("stringData", None)
            obj.setdefault("type", "Opaque")
        elif rt.kind == "Service" and isinstance(spec, dict):
            spec.setdefault("type", "ClusterIP")
            if "clusterIP" not in spec and spec.get("type") != "ExternalName":
                used = {(o.get("spec") or {}).get("clusterIP") for o in self.store.get(("", "services"), {}).values()}
                while f"10.152.183.{self._next_ip % 254 + 1}" in used and len(used) < 254:
                    self._next_ip += 1
                spec["clusterIP"] = f"10.152.183.{self._next_ip % 254 + 1}"  # MicroK8s service CIDR
                spec["clusterIPs"] = [spec["clusterIP"]]
                self._next_ip += 1
        elif rt.kind in ("Deployment", "StatefulSet", "ReplicaSet") and isinstance(spec, dict):
            spec.setdefault("replicas", 1)
        elif rt.kind == "CustomResourceDefinition":
            names = (spec or {}).get("names") or {}
            obj["status"] = {
                "acceptedNames": {k: v for k, v in names.items()},
                "storedVersions": [v["name"] for v in (spec or {}).get("versions", []) if v.get("storage")],
                "conditions": [
                    {"type": t, "status": "True", "reason": r, "message": m, "lastTransitionTime": timestamp()}
                    for t, r, m in (
                        ("NamesAccepted", "NoConflicts", "no conflicts found"),
                        ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
                    )
                ],
            }

    def _commit(self, rt: ResourceType, obj: Obj, old: Obj | None, dry_run: bool = False) -> Obj:
        """Store (or skip a no-op), bump resourceVersion, tell watchers, save, run controllers."""
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if old is not None:
            same = {**obj, "metadata": {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}}
            was = {**old, "metadata": {k: v for k, v in old["metadata"].items() if k != "resourceVersion"}}
            if same == was:
                return old  # nothing changed: no new resourceVersion, no event
        if dry_run:
            obj["metadata"]["resourceVersion"] = str(self.rv)
            return obj
        meta = obj["metadata"]
        if old is not None and meta.get("deletionTimestamp") and not meta.get("finalizers") and rt.kind != "Namespace":
            self.store[rt.key][key] = obj  # its last finalizer is gone: so is the object
            return self._remove(rt, key)
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.store.setdefault(rt.key, {})[key] = obj
        self._dirty[ident(obj)] = obj
        self._event(rt, "ADDED" if old is None else "MODIFIED", obj, old)
        if rt.kind == "CustomResourceDefinition":
            self._rebuild_types(self._crds())
            self._crd_validators.clear()
        if rt.kind in WORKLOAD_KINDS and (
            old is None or obj["metadata"].get("generation") != old["metadata"].get("generation")
        ):
            self._schedule_rollout(rt, obj)
        if rt.kind == "Node":
            for ds in self.store.get(("apps", "daemonsets"), {}).values():
                self._schedule_rollout(self._type_of(ds), ds)
        self._save_soon()
        return obj

    def _remove(self, rt: ResourceType, key: Key) -> Obj:
        old = self.store.get(rt.key, {}).pop(key)
        self._dirty[ident(old)] = None
        self.rv += 1
        gone = copy.deepcopy(old)
        gone["metadata"]["resourceVersion"] = str(self.rv)
        self._event(rt, "DELETED", gone, None)
        if timer := self._timers.pop((rt.key, key), None):
            timer.cancel()
        namespace = self.store.get(("", "namespaces"), {}).get(("", key[0])) if rt.namespaced else None
        if namespace and namespace["metadata"].get("deletionTimestamp") and key[0] not in self._finalizing:
            self._schedule_finalize(key[0])  # its namespace waits for it
        if rt.kind == "Namespace":  # a real namespace terminates with everything in it
            for other in [t for t in self._all_types() if t.namespaced]:
                for k in [k for k in self.store.get(other.key, {}) if k[0] == key[1]]:
                    self._remove(other, k)
        if rt.kind == "CustomResourceDefinition":
            crd_types_ = crd_types(old)
            if crd_types_:
                for k in list(self.store.get(crd_types_[0].key, {})):
                    self._remove(crd_types_[0], k)
                self.store.pop(crd_types_[0].key, None)
            self._rebuild_types(self._crds())
            self._crd_validators.clear()
        self._save_soon()
        return gone

    def _all_types(self) -> list[ResourceType]:
        seen: dict[tuple[str, str], ResourceType] = {}
        for types in self._types.values():
            for rt in types.values():
                seen.setdefault(rt.key, rt)
        return list(seen.values())

    def _event(self, rt: ResourceType, kind: str, obj: Obj, old: Obj | None) -> None:
        self._history.append((self.rv, rt, kind, obj, old))
        if len(self._history) == HISTORY:
            self._history_floor = self._history[0][0]
        for w in list(self._watches):
            w.offer(rt, kind, obj, old)
        for listener in list(self.listeners):
            listener(rt, kind, obj, old)

    # -- the simulated controllers

    def _schedule_rollout(self, rt: ResourceType, obj: Obj) -> None:
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if t := self._timers.pop((rt.key, key), None):
            t.cancel()
        delay = self.rollout_delay(obj) if callable(self.rollout_delay) else self.rollout_delay
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not serving yet: start() reschedules unfinished rollouts
        if delay is not None:
            gen = obj["metadata"].get("generation")
            self._timers[(rt.key, key)] = loop.call_later(
                max(0.0, delay / self.speed), self._finish_rollout, rt, key, gen
            )

    def _finish_rollout(self, rt: ResourceType, key: Key, generation: int) -> None:
        self._timers.pop((rt.key, key), None)
        old = self.store.get(rt.key, {}).get(key)
        if old is None or old["metadata"].get("generation") != generation:
            return
        obj = copy.deepcopy(old)
        obj["status"] = self._rollout_status(rt.kind, obj)
        managers = read_managers(obj)
        managers[("kube-controller-manager", "Update", "status")] = {p for p in owned_fields(obj) if p[0] == "status"}
        write_managers(obj, managers, old)
        self._commit(rt, obj, old)

    def _rollout_status(self, kind: str, obj: Obj) -> Obj:
        spec, gen, now = obj.get("spec") or {}, obj["metadata"].get("generation"), timestamp()
        name = obj["metadata"]["name"]
        if kind == "DaemonSet":
            selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
            n = sum(
                1
                for node in self.store.get(("", "nodes"), {}).values()
                if node_ready(node)
                and all((node["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
            )
            return {
                "observedGeneration": gen,
                "desiredNumberScheduled": n,
                "currentNumberScheduled": n,
                "updatedNumberScheduled": n,
                "numberReady": n,
                "numberAvailable": n,
                "numberMisscheduled": 0,
            }
        if kind == "Job":
            done = spec.get("completions", 1)
            cond = [
                {"type": t, "status": "True", "lastProbeTime": now, "lastTransitionTime": now}
                for t in ("SuccessCriteriaMet", "Complete")
            ]
            return {
                "startTime": now,
                "completionTime": now,
                "succeeded": done,
                "ready": 0,
                "terminating": 0,
                "uncountedTerminatedPods": {},
                "conditions": cond,
            }
        n = spec.get("replicas", 1)
        status: Obj = {"observedGeneration": gen, "replicas": n}
        if n:
            status.update(readyReplicas=n, updatedReplicas=n, availableReplicas=n)
        if kind == "StatefulSet":
            rev = f"{name}-{gen:x}"
            status.update(currentReplicas=n, currentRevision=rev, updateRevision=rev, collisionCount=0)
        else:
            status["conditions"] = [
                {
                    "type": "Available",
                    "status": "True",
                    "reason": "MinimumReplicasAvailable",
                    "message": "Deployment has minimum availability.",
                    "lastUpdateTime": now,
                    "lastTransitionTime": now,
                },
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "NewReplicaSetAvailable",
                    "message": f'ReplicaSet "{name}" has successfully progressed.',
                    "lastUpdateTime": now,
                    "lastTransitionTime": now,
                },
            ]
        return {k: v for k, v in status.items() if v != 0 or k == "collisionCount"}

    # -- Python API for the lab

    # Reads hand out the stored objects themselves, not copies: the store never changes an
    # object in place (every write stores a new one), so a reader's view stays as it was read.
    # Copying each object on every get and list was half of a full demo's CPU. Readers must
    # not change what they get: to change an object, put() a changed copy.

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        """The stored object (read-only), or None."""
        rt = self._type_of({"apiVersion": api_version, "kind": kind})
        return self.store.get(rt.key, {}).get(((namespace or "default") if rt.namespaced else "", name)) or None

    def list(self, api_version: str, kind: str, namespace: str | None = None) -> list[Obj]:
        """The stored objects (read-only), by namespace and name."""
        rt = self._type_of({"apiVersion": api_version, "kind": kind})
        return [o for (ns, _), o in sorted(self.store.get(rt.key, {}).items()) if namespace is None or ns == namespace]

    def put(self, obj: Obj, *, manager: str = "thinkube-lab", schema: bool = True) -> Obj:
        """Create or update an object, status included, as `manager` (an Update operation).

        `schema=False` skips the OpenAPI check for objects the lab builds whole itself (the
        kubelet's Node: two writes per joining node, against the largest core schema); the
        lab's tests check those objects against the schema instead."""
        rt = self._type_of(obj)
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") if rt.namespaced else None
        if rt.namespaced:
            ns = ns or "default"
            self._require_namespace(ns)
        old = self.store.get(rt.key, {}).get((ns or "", meta.get("name", "")))
        if old:
            new = copy.deepcopy(obj)
            new["metadata"]["managedFields"] = old["metadata"].get("managedFields", [])
            if rt.namespaced:
                new["metadata"]["namespace"] = ns
        else:
            new = self._prepare_new(rt, obj, ns)
            self._refuse_if_terminating(rt, ns, new["metadata"].get("name", ""))
        with_status = rt.status and "status" in obj
        if with_status:  # the lab writes status directly, as a controller or kubelet would
            new["status"] = copy.deepcopy(obj["status"])
        new = self._finish(
            rt, new, old, "status" if with_status else None, "Strict", "update" if old else "create", schema
        )
        track_update(new, old, manager, "")
        return copy.deepcopy(self._commit(rt, new, old))

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        rt = self._type_of({"apiVersion": api_version, "kind": kind})
        key = ((namespace or "default") if rt.namespaced else "", name)
        if key not in self.store.get(rt.key, {}):
            return False
        if rt.kind == "Namespace":
            if not self.store[rt.key][key]["metadata"].get("deletionTimestamp"):
                self._terminate_namespace(name, False)
            return True
        self._delete_object(rt, key)
        return True

    def set_node(
        self,
        name: str,
        *,
        ready: bool = True,
        labels: dict[str, str] | None = None,
        address: str = "127.0.0.1",
        cpu: str = "4",
        memory: str = "16Gi",
        gpus: int = 0,
        os_image: str = "Ubuntu 24.04.2 LTS",
        taints: list[Obj] | None = None,
    ) -> Obj:
        """Add or update a Node as a kubelet would (the lab's `microk8s join` calls this).

        Labels set by installers are kept; `labels` adds to them."""
        old = self.get("v1", "Node", name)
        meta_labels = dict((old or {}).get("metadata", {}).get("labels") or {})
        meta_labels.update(
            {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64",
            }
        )
        meta_labels.update(labels or {})
        now = timestamp()
        capacity = {"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "100Gi"}
        if gpus:
            capacity["nvidia.com/gpu"] = str(gpus)
        version = f"v{self.k8s_version}.0" if self.k8s_version.count(".") == 1 else f"v{self.k8s_version}"
        node: Obj = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {**((old or {}).get("metadata") or {}), "name": name, "labels": meta_labels},
            "spec": {**((old or {}).get("spec") or {})},
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True" if ready else "False",
                        "reason": "KubeletReady" if ready else "KubeletNotReady",
                        "message": "kubelet is posting ready status (simulated by thinkube-lab)"
                        if ready
                        else "container runtime not ready (simulated by thinkube-lab)",
                        "lastHeartbeatTime": now,
                        "lastTransitionTime": now,
                    }
                ],
                "addresses": [{"type": "InternalIP", "address": address}, {"type": "Hostname", "address": name}],
                "capacity": capacity,
                "allocatable": dict(capacity),
                "nodeInfo": {
                    "machineID": uuid.uuid5(uuid.NAMESPACE_DNS, name).hex,
                    "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
                    "bootID": str(uuid.uuid5(uuid.NAMESPACE_OID, name)),
                    "kernelVersion": "6.8.0-lab",
                    "osImage": os_image,
                    "containerRuntimeVersion": "containerd://1.7.27",
                    "kubeletVersion": version,
                    "kubeProxyVersion": version,
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                },
            },
        }
        if taints is not None:
            node["spec"]["taints"] = taints
        if old and node_ready(old) == ready:  # keep the transition time of an unchanged condition
            node["status"]["conditions"][0]["lastTransitionTime"] = old["status"]["conditions"][0]["lastTransitionTime"]
            node["status"]["conditions"][0]["lastHeartbeatTime"] = old["status"]["conditions"][0]["lastHeartbeatTime"]
        return self.put(node, manager="kubelet", schema=False)

    def delete_node(self, name: str) -> bool:
        return self.delete("v1", "Node", name)

    def _require_namespace(self, ns: str) -> None:
        if ("", ns) not in self.store.get(("", "namespaces"), {}):
            raise ApiError(404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"})

    def _refuse_if_terminating(self, rt: ResourceType, ns: str | None, name: str) -> None:
        """The NamespaceLifecycle admission: no new objects in a namespace being deleted."""
        namespace = self.store.get(("", "namespaces"), {}).get(("", ns or ""))
        if rt.namespaced and namespace and namespace["metadata"].get("deletionTimestamp"):
            raise terminating_error(rt, name, ns or "")

    # -- the namespace controller: a deleted namespace terminates, is emptied, then goes

    def _terminate_namespace(self, name: str, dry_run: bool) -> Obj:
        rt = self._lookup_type("", "v1", "namespaces")
        old = self.store[rt.key][("", name)]
        if old["metadata"].get("deletionTimestamp"):
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on namespaces "{name}": The system is ensuring all content is '
                "removed from this namespace.  Upon completion, this namespace will automatically be purged "
                "by the system.",
                {"name": name, "kind": "namespaces"},
            )
        obj = copy.deepcopy(old)
        obj["metadata"]["deletionTimestamp"] = timestamp()
        obj["status"] = {**(obj.get("status") or {}), "phase": "Terminating"}
        obj = self._commit(rt, obj, old, dry_run)
        if not dry_run:
            self._schedule_finalize(name)
        return obj

    def _schedule_finalize(self, name: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._finalize_namespace(name)  # no event loop (the lab's Python API before start)
            return
        key = (("", "namespaces"), ("", name))
        if t := self._timers.pop(key, None):
            t.cancel()
        self._timers[key] = loop.call_later(NAMESPACE_FINALIZE_S / self.speed, self._finalize_namespace, name)

    def _resume_namespace_controller(self) -> None:
        """Finish what a stop interrupted: terminating namespaces are emptied and go."""
        namespaces = self.store.get(("", "namespaces"), {})
        for ns in [k[1] for k, o in namespaces.items() if o["metadata"].get("deletionTimestamp")]:
            self._schedule_finalize(ns)

    def _finalize_namespace(self, name: str) -> None:
        """Delete what the namespace holds; once nothing is left (finalizers hold objects back),
        the namespace goes too."""
        rt = self._lookup_type("", "v1", "namespaces")
        if t := self._timers.pop((rt.key, ("", name)), None):
            t.cancel()
        if ("", name) not in self.store.get(rt.key, {}):
            return
        remaining: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        self._finalizing.add(name)  # the removals below need not ask for another pass
        try:
            for other in [t for t in self._all_types() if t.namespaced]:
                for k in [k for k in self.store.get(other.key, {}) if k[0] == name]:
                    kept = self._delete_object(other, k)
                    if kept is not None:
                        res = f"{other.plural}.{other.group}"
                        remaining[res] = remaining.get(res, 0) + 1
                        for f in kept["metadata"].get("finalizers") or []:
                            finalizers[f] = finalizers.get(f, 0) + 1
        finally:
            self._finalizing.discard(name)
        if not remaining:
            self._remove(rt, ("", name))
            return
        old = self.store[rt.key][("", name)]
        obj = copy.deepcopy(old)
        now = timestamp()
        obj["status"]["conditions"] = [
            {
                "type": "NamespaceContentRemaining",
                "status": "True",
                "reason": "SomeResourcesRemain",
                "message": "Some resources are remaining: "
                + ", ".join(f"{r} has {n} resource instances" for r, n in sorted(remaining.items())),
                "lastTransitionTime": now,
            },
            {
                "type": "NamespaceFinalizersRemaining",
                "status": "True",
                "reason": "SomeFinalizersRemain",
                "message": "Some content in the namespace has finalizers remaining: "
                + ", ".join(f"{f} in {n} resource instances" for f, n in sorted(finalizers.items())),
                "lastTransitionTime": now,
            },
        ]
        self._commit(rt, obj, old)

    def _delete_object(self, rt: ResourceType, key: Key, dry_run: bool = False) -> Obj | None:
        """Delete an object: gone (None), or, while finalizers hold it, marked for deletion (it)."""
        obj = self.store[rt.key][key]
        if not obj["metadata"].get("finalizers"):
            if not dry_run:
                self._remove(rt, key)
            return None
        if obj["metadata"].get("deletionTimestamp"):
            return obj
        marked = copy.deepcopy(obj)
        marked["metadata"]["deletionTimestamp"] = timestamp()
        marked["metadata"]["deletionGracePeriodSeconds"] = 0
        return self._commit(rt, marked, obj, dry_run)

    # -- HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if not self._up.is_set():
            await self._up.wait()
        warnings: list[str] = []
        _warnings.set(warnings)  # this request's task has its own context
        try:
            response = await self._route(request)
            for text in dict.fromkeys(warnings):  # `Warning: 299 - "text"`, as a real server sends
                response.headers.add("Warning", f"299 - {json.dumps(text)}")
            return response
        except ApiError as e:
            return web.json_response(e.status(), status=e.code)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            # Malformed bodies end up here; so would our own bugs, hence the traceback.
            log.warning("bad request %s %s", request.method, request.path_qs, exc_info=True)
            err = ApiError(400, "BadRequest", f"the request could not be handled: {type(e).__name__}: {e}")
            return web.json_response(err.status(), status=400)

    async def _route(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.path.strip("/")
        if path == "/version":
            major, minor = self.k8s_version.lstrip("v").split(".")[:2]
            return web.json_response(
                {
                    "major": major,
                    "minor": minor,
                    "gitVersion": f"v{major}.{minor}.0",
                    "platform": "thinkube-lab",
                    "buildDate": "simulated",
                    "goVersion": "none (simulated)",
                    "compiler": "thinkube-lab",
                    "gitCommit": "thinkube-lab",
                }
            )
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok")
        if not self._authenticated(request):
            raise ApiError(401, "Unauthorized", "Unauthorized")
        parts = path.strip("/").split("/")
        if parts[0] == "openapi":
            return self._openapi(request, parts[1:])
        if path == "/api":
            return web.json_response(
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self.host}:{self.port}"}
                    ],
                }
            )
        if path == "/apis":
            return web.json_response(
                {"kind": "APIGroupList", "apiVersion": "v1", "groups": [self._group(g) for g in self._groups()]}
            )
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) == 2 and parts[1] in self._groups():
            return web.json_response({"kind": "APIGroup", "apiVersion": "v1", **self._group(parts[1])})
        elif parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise NO_RESOURCE
        types = self._types.get((group, version))
        if types is None:
            raise NO_RESOURCE
        if not rest:
            resources = discovery_extras([r for rt in types.values() for r in rt.discovery()])
            return web.json_response(
                {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": f"{group}/{version}" if group else version,
                    "resources": resources,
                }
            )
        if (
            group == ""
            and len(rest) >= 5
            and rest[0] == "namespaces"
            and rest[2] in ("pods", "services")
            and rest[4] == "proxy"
        ):
            if self.proxy is None:
                raise ApiError(503, "ServiceUnavailable", "thinkube-lab: the API server proxy has no backends")
            prefix = "/" + "/".join(["api", version, *rest[:5]])
            sub_path = request.path[len(prefix) :] if request.path.startswith(prefix) else "/" + "/".join(rest[5:])
            return await self.proxy(request, rest[1], rest[2], rest[3], sub_path or "/")
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] in types and types[rest[2]].namespaced:
            ns: str | None = rest[1]
            rest = rest[2:]
        else:
            ns = None
        rt = types.get(rest[0])
        if rt is not None and rt.kind in SCALABLE and len(rest) == 3 and rest[2] == "scale" and ns is not None:
            return await self._scale(request, rt, ns, rest[1], request.rel_url.query)
        if rt is not None and rt.kind == "Pod" and len(rest) == 3 and rest[2] == "eviction" and ns is not None:
            if request.method != "POST":
                raise ApiError(
                    405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
                )
            return web.json_response(self._evict(rt, ns, rest[1]), status=201)
        if rt is None or len(rest) > 3 or (len(rest) == 3 and (rest[2] != "status" or not rt.status)):
            raise NO_RESOURCE
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if (not rt.namespaced and ns is not None) or (rt.namespaced and name is not None and ns is None):
            raise NO_RESOURCE
        q = request.rel_url.query
        m = request.method
        if request.content_type == protobuf.CONTENT_TYPE:
            return await self._protobuf(request, rt, ns, name, q)
        if name is None:
            if m == "GET":
                if q.get("watch", "").lower() in ("true", "1"):
                    return await self._watch(request, rt, ns)
                return web.json_response(self._as_table(request, rt, self._list(rt, ns, q)))
            if m == "POST":
                if rt.namespaced and ns is None:
                    raise ApiError(
                        405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
                    )
                return web.json_response(await self._create(rt, ns, await self._body(request), q), status=201)
            if m == "DELETE":
                return web.json_response(await self._delete_collection(rt, ns, q))
        else:
            if m == "GET":
                return web.json_response(self._as_table(request, rt, self._get(rt, ns, name)))
            if m == "PUT":
                return web.json_response(await self._replace(rt, ns, name, sub, await self._body(request), q))
            if m == "PATCH":
                obj, created = await self._patch(rt, ns, name, sub, request, q)
                return web.json_response(obj, status=201 if created else 200)
            if m == "DELETE":
                return web.json_response(await self._delete(rt, ns, name, q))
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _evict(self, rt: ResourceType, ns: str, name: str) -> Obj:
        """POST pods/NAME/eviction (policy/v1 Eviction): the pod is deleted unless a
        PodDisruptionBudget selecting it allows no disruption now (429, as a real server)."""
        pod = self._get(rt, ns, name)
        pod_labels = (pod.get("metadata") or {}).get("labels") or {}
        for pdb in self.list("policy/v1", "PodDisruptionBudget", ns):
            wanted = ((pdb.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            if wanted and all(pod_labels.get(k) == v for k, v in wanted.items()) and self._disruptions(pdb) <= 0:
                needs, has = pdb["spec"].get("minAvailable", 0), self._healthy(pdb)
                cause = f"The disruption budget {pdb['metadata']['name']} needs {needs} healthy pods and has {has}"
                raise ApiError(
                    429,
                    "TooManyRequests",
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                    {"causes": [{"reason": "DisruptionBudget", "message": cause}]},
                )
        self.delete("v1", "Pod", name, ns)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}

    def _healthy(self, pdb: Obj) -> int:
        wanted = pdb["spec"]["selector"].get("matchLabels") or {}
        pods = self.list("v1", "Pod", pdb["metadata"]["namespace"])
        return sum(
            1
            for p in pods
            if all(((p.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in wanted.items())
            and any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (p.get("status") or {}).get("conditions") or []
            )
        )

    def _disruptions(self, pdb: Obj) -> int:
        """disruptionsAllowed: healthy pods beyond minAvailable (an integer; the lab's PDBs)."""
        return self._healthy(pdb) - int((pdb.get("spec") or {}).get("minAvailable", 0))

    def _authenticated(self, request: web.Request) -> bool:
        """A client certificate the TLS handshake verified against the lab's CA, or the token."""
        transport = request.transport
        if transport is not None and client_user(transport.get_extra_info("peercert")):
            return True
        return secrets.compare_digest(request.headers.get("Authorization", ""), f"Bearer {self.token}")

    async def _protobuf(
        self, request: web.Request, rt: ResourceType, ns: str | None, name: str | None, q: Any
    ) -> web.StreamResponse:
        """A create sent as protobuf (kubectl's typed commands), for the kinds kubeapi_protobuf
        decodes; anything else is refused with 415, saying so."""
        try:
            if request.method != "POST" or name is not None:
                raise protobuf.Undecodable(f"{request.method} with a protobuf body")
            body = protobuf.decode(await request.read())
        except protobuf.Undecodable as e:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"thinkube-lab decodes protobuf bodies only for creating Namespaces, ConfigMaps, Secrets and "
                f"ServiceAccounts (not {e}): a known gap of the simulator, a real server accepts it; send JSON "
                "or YAML instead (e.g. `kubectl apply`)",
            ) from None
        if rt.namespaced and ns is None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        return web.json_response(await self._create(rt, ns, body, q), status=201)

    async def _scale(self, request: web.Request, rt: ResourceType, ns: str, name: str, q: Any) -> web.StreamResponse:
        """GET/PUT/PATCH .../NAME/scale: the workload's replicas as a Scale (kubeapi_scale)."""
        if request.method == "GET":
            return web.json_response(scale_of(self._get(rt, ns, name)))
        if request.method not in ("PUT", "PATCH"):
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        old = self.store.get(rt.key, {}).get((ns, name))
        if old is None:
            raise not_found_error(rt, name)
        obj = scaled(copy.deepcopy(old), request.method, request.content_type, await self._body(request))
        return web.json_response(scale_of(await self._replace(rt, ns, name, None, obj, q)))

    def _openapi(self, request: web.Request, parts: list[str]) -> web.StreamResponse:
        """/openapi/v3 and its per group/version documents (kubeapi_openapi); no /openapi/v2."""
        if parts[:1] != ["v3"]:
            raise ApiError(404, "NotFound", "thinkube-lab serves /openapi/v3 only (kubectl reads v2 as protobuf)")
        by_gv = {gv: list(types.values()) for gv, types in self._types.items()}
        if len(parts) == 1:
            return web.json_response(openapi.index(by_gv))
        rest = parts[1:]
        gv = ("", rest[1]) if rest[0] == "api" and len(rest) == 2 else (rest[1], rest[2]) if len(rest) == 3 else None
        if gv is None or gv not in by_gv:
            raise ApiError(404, "NotFound", f"no OpenAPI document for {'/'.join(rest)}")
        doc = openapi.document(self.k8s_version, self.validator.version, gv[0], gv[1], by_gv[gv])
        return web.json_response(doc, headers={"Cache-Control": "no-cache, private"})

    def _as_table(self, request: web.Request, rt: ResourceType, body: Obj) -> Obj:
        """The object or list as a Table when the client asks for one (`kubectl get`)."""
        version = table_version(request.headers.get("Accept", ""))
        if version is None:
            return body
        items = body["items"] if "items" in body and body.get("kind", "").endswith("List") else [body]
        rv = (body.get("metadata") or {}).get("resourceVersion", str(self.rv))
        include = request.rel_url.query.get("includeObject", "Metadata")
        return table(rt, items, version, resource_version=rv, include=include, crd_version=self._crd_version(rt))

    def _crd_version(self, rt: ResourceType) -> Obj | None:
        if not rt.crd:
            return None
        for crd in self._crds():
            spec = crd.get("spec") or {}
            if spec.get("group") == rt.group and (spec.get("names") or {}).get("plural") == rt.plural:
                return next((v for v in spec.get("versions") or [] if v.get("name") == rt.version), None)
        return None

    def _groups(self) -> list[str]:
        return sorted({g for g, _ in self._types if g})

    def _group(self, group: str) -> Obj:
        versions = [{"groupVersion": f"{group}/{v}", "version": v} for g, v in self._types if g == group]
        return {"name": group, "versions": versions, "preferredVersion": versions[0]}

    @staticmethod
    async def _body(request: web.Request) -> Any:
        raw = await request.read()
        try:
            return json.loads(raw)
        except ValueError:
            if "yaml" in request.content_type:
                import yaml

                try:
                    return yaml.safe_load(raw)
                except yaml.YAMLError:
                    pass
            raise ApiError(400, "BadRequest", "the request body is not valid JSON") from None

    def _strict(self, q: Any) -> str:
        """The request's fieldValidation directive (Strict, Warn or Ignore)."""
        mode = q.get("fieldValidation") or self.field_validation
        if mode not in FIELD_VALIDATION:
            raise ApiError(
                400,
                "BadRequest",
                f"fieldValidation parameter unsupported: {mode!r}; supported values: Ignore, Warn, Strict",
            )
        return str(mode)

    @staticmethod
    def _manager(q: Any) -> str:
        return q.get("fieldManager") or "OpenAPI-Generator"  # real servers use the User-Agent's product

    # -- verbs

    def _get(self, rt: ResourceType, ns: str | None, name: str) -> Obj:
        obj = self.store.get(rt.key, {}).get((ns or "", name))
        if obj is None:
            raise not_found_error(rt, name)
        return as_version(obj, rt)

    def _list(self, rt: ResourceType, ns: str | None, q: Any) -> Obj:
        labels = label_matcher(q.get("labelSelector", ""))
        fields = field_matcher(q.get("fieldSelector", ""), rt.kind)
        items = [
            as_version(o, rt)
            for (ons, _), o in sorted(self.store.get(rt.key, {}).items())
            if (ns is None or ons == ns) and labels(o) and fields(o)
        ]
        return {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(self.rv)},
            "items": items,
        }

    async def _create(self, rt: ResourceType, ns: str | None, body: Any, q: Any) -> Obj:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the request body must be an object")
        body_ns = (body.get("metadata") or {}).get("namespace")
        if rt.namespaced and body_ns and body_ns != ns:
            raise ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            )
        self._check_kind(rt, body)
        validation = self._strict(q)
        if ns is not None:
            self._require_namespace(ns)
        obj = self._prepare_new(rt, body, ns)
        name = obj["metadata"].get("name", "")
        self._refuse_if_terminating(rt, ns, name)
        if (ns or "", name) in self.store.get(rt.key, {}):
            res = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
            raise ApiError(
                409,
                "AlreadyExists",
                f'{res} "{name}" already exists',
                {"name": name, "group": rt.group, "kind": rt.plural},
            )
        obj = self._finish(rt, obj, None, None, validation, "create")
        track_update(obj, None, self._manager(q), "")
        return await self._done(rt, self._commit(rt, obj, None, "dryRun" in q))

    async def _replace(self, rt: ResourceType, ns: str | None, name: str, sub: str | None, body: Any, q: Any) -> Obj:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the request body must be an object")
        self._check_kind(rt, body)
        old = self.store.get(rt.key, {}).get((ns or "", name))
        if old is None:
            raise not_found_error(rt, name)
        if (body.get("metadata") or {}).get("name", name) != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        want_rv = (body.get("metadata") or {}).get("resourceVersion")
        if want_rv and want_rv != old["metadata"]["resourceVersion"]:
            raise conflict_error(rt, name)
        obj = copy.deepcopy(body)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        obj["metadata"]["name"] = name
        if rt.namespaced:
            obj["metadata"]["namespace"] = ns
        if sub == "status":  # only .status changes through /status
            obj = {**copy.deepcopy(old), "status": obj.get("status")}
            obj["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        obj["metadata"]["managedFields"] = old["metadata"].get("managedFields", [])
        obj = self._finish(rt, obj, old, sub, self._strict(q), "update")
        track_update(obj, old, self._manager(q), sub or "")
        return await self._done(rt, self._commit(rt, obj, old, "dryRun" in q))

    async def _patch(
        self, rt: ResourceType, ns: str | None, name: str, sub: str | None, request: web.Request, q: Any
    ) -> tuple[Obj, bool]:
        ctype = request.content_type
        body = await self._body(request)
        if ns is not None:
            self._require_namespace(ns)
        old = self.store.get(rt.key, {}).get((ns or "", name))
        strict = self._strict(q)
        if ctype == "application/apply-patch+yaml":
            if not q.get("fieldManager"):
                raise ApiError(
                    422,
                    "Invalid",
                    'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
                )
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "the apply patch must be an object")
            self._check_kind(rt, body, required=True)
            if (body.get("metadata") or {}).get("name") != name:
                raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
            obj = server_side_apply(rt, old, body, q["fieldManager"], q.get("force", "").lower() == "true", sub)
            if old is None:
                obj = self._prepare_new(rt, obj, ns)
                self._refuse_if_terminating(rt, ns, name)
            elif sub == "status":
                obj = {
                    **copy.deepcopy(old),
                    "status": obj.get("status"),
                    "metadata": {**old["metadata"], "managedFields": obj["metadata"].get("managedFields", [])},
                }
            obj = self._finish(rt, obj, old, sub, strict, "apply")
            if old is None:  # the applier owns what it sent (and the server kept)
                write_managers(obj, {(q["fieldManager"], "Apply", sub or ""): owned_fields(body)}, None)
            return await self._done(rt, self._commit(rt, obj, old, "dryRun" in q)), old is None
        if old is None:
            raise not_found_error(rt, name)
        if ctype == "application/strategic-merge-patch+json" and rt.crd:
            raise _unsupported_patch(ctype)  # custom resources have no patch merge keys
        if ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "a merge patch must be an object")
            if ctype == "application/merge-patch+json":
                obj = merge_patch(old, body)
            else:
                obj = strategic_merge_patch(rt.kind, old, body)
        elif ctype == "application/json-patch+json":
            if not isinstance(body, list):
                raise ApiError(400, "BadRequest", "a JSON patch must be a list of operations")
            try:
                obj = json_patch(old, body)
            except (KeyError, IndexError, ValueError, TypeError) as e:
                raise ApiError(422, "Invalid", f"the JSON patch could not be applied: {e}") from None
        else:
            raise _unsupported_patch(ctype)
        want_rv = (body.get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None
        if want_rv and want_rv != old["metadata"]["resourceVersion"]:
            raise conflict_error(rt, name)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        obj["metadata"]["name"] = name
        if rt.namespaced:
            obj["metadata"]["namespace"] = ns
        if sub == "status":
            obj = {**copy.deepcopy(old), "status": obj.get("status")}
        obj = self._finish(rt, obj, old, sub, strict, "patch")
        track_update(obj, old, self._manager(q), sub or "")
        return await self._done(rt, self._commit(rt, obj, old, "dryRun" in q)), False

    async def _delete(self, rt: ResourceType, ns: str | None, name: str, q: Any) -> Obj:
        key = (ns or "", name)
        if key not in self.store.get(rt.key, {}):
            raise not_found_error(rt, name)
        if rt.kind == "Namespace" and name in ("default", "kube-system", "kube-public"):
            raise ApiError(403, "Forbidden", f'namespaces "{name}" is forbidden: this namespace may not be deleted')
        if rt.kind == "Namespace":  # it terminates: its content goes first, then the namespace
            terminating = self._terminate_namespace(name, "dryRun" in q)
            await self._saved()
            return as_version(terminating, rt)
        if self.store[rt.key][key]["metadata"].get("finalizers"):  # it stays until they are removed
            kept = self._delete_object(rt, key, "dryRun" in q)
            await self._saved()
            return as_version(kept, rt)
        if "dryRun" not in q:
            gone = self._remove(rt, key)
            await self._saved()
        else:
            gone = self.store[rt.key][key]
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": gone["metadata"]["uid"]},
        }

    async def _delete_collection(self, rt: ResourceType, ns: str | None, q: Any) -> Obj:
        listed = self._list(rt, ns, q)
        for o in listed["items"]:
            if rt.kind == "Namespace" and o["metadata"]["name"] in BUILTIN_NAMESPACES:
                continue
            if rt.kind == "Namespace":
                if not o["metadata"].get("deletionTimestamp"):
                    self._terminate_namespace(o["metadata"]["name"], False)
                continue
            self._delete_object(rt, (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        await self._saved()
        return {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(self.rv)},
            "items": listed["items"],
        }

    async def _done(self, rt: ResourceType, obj: Obj) -> Obj:
        await self._saved()
        return as_version(obj, rt)

    async def _saved(self) -> None:
        if self._save_future is not None:
            await asyncio.shield(self._save_future)

    @staticmethod
    def _check_kind(rt: ResourceType, body: Obj, required: bool = False) -> None:
        kind, av = body.get("kind"), body.get("apiVersion")
        if (required or kind) and kind != rt.kind:
            raise ApiError(400, "BadRequest", f"the kind {kind!r} does not match the URL ({rt.kind})")
        if (required or av) and av != rt.api_version:
            raise ApiError(400, "BadRequest", f"the apiVersion {av!r} does not match the URL ({rt.api_version})")
        if not isinstance(body.get("metadata", {}), dict):
            raise ApiError(400, "BadRequest", "metadata must be an object")

    async def _watch(self, request: web.Request, rt: ResourceType, ns: str | None) -> web.StreamResponse:
        q = request.rel_url.query
        labels, fields = label_matcher(q.get("labelSelector", "")), field_matcher(q.get("fieldSelector", ""), rt.kind)
        w = _Watch(rt, ns, lambda o: labels(o) and fields(o))
        as_table = table_version(request.headers.get("Accept", "")) is not None
        since = q.get("resourceVersion", "")
        # Queue the starting events before the first await, so nothing slips in between.
        if since in ("", "0"):
            for (ons, _), o in sorted(self.store.get(rt.key, {}).items()):
                if (ns is None or ons == ns) and w.match(o):
                    w.queue.put_nowait(("ADDED", o))
        elif not since.isdigit():
            raise ApiError(400, "BadRequest", f"invalid resourceVersion {since!r}")
        elif int(since) < self._history_floor:
            gone = ApiError(410, "Expired", f"too old resource version: {since} ({self._history_floor})")
            w.queue.put_nowait(("ERROR", gone.status()))
            w.queue.put_nowait(None)
        else:
            for rv, hrt, kind, obj, old in self._history:
                if rv > int(since):
                    w.offer(hrt, kind, obj, old)
        self._watches.add(w)
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(q.get("timeoutSeconds", 1800))
        try:
            while (left := deadline - loop.time()) > 0:
                if request.transport is None or request.transport.is_closing():
                    break  # the client went away (aiohttp does not cancel the handler)
                try:
                    item = await asyncio.wait_for(w.queue.get(), min(left, 1.0))
                except TimeoutError:
                    continue
                if item is None:
                    break
                kind, obj = item
                out = obj if kind == "ERROR" else as_version(obj, rt)
                if as_table and kind != "ERROR":
                    out = self._as_table(request, rt, out)
                await resp.write(json.dumps({"type": kind, "object": out}).encode() + b"\n")
        except ConnectionResetError:
            pass
        finally:
            self._watches.discard(w)
        return resp


def _unsupported_patch(ctype: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
    )


def kubeconfig(
    server_url: str,
    token: str | None = None,
    *,
    ca_pem: bytes,
    client: Issued | None = None,
    tls_server_name: str | None = None,
    name: str = "microk8s",
) -> Obj:
    """A kubeconfig shaped like `microk8s config` prints: the cluster's server and CA data, the
    admin user's client certificate (or a bearer token)."""
    cluster: Obj = {"certificate-authority-data": base64.b64encode(ca_pem).decode(), "server": server_url}
    if tls_server_name:
        cluster["tls-server-name"] = tls_server_name
    user: Obj = {}
    if client is not None:
        user["client-certificate-data"] = base64.b64encode(client.cert_pem).decode()
        user["client-key-data"] = base64.b64encode(client.key_pem).decode()
    if token:
        user["token"] = token
    return {
        "apiVersion": "v1",
        "clusters": [{"cluster": cluster, "name": f"{name}-cluster"}],
        "contexts": [{"context": {"cluster": f"{name}-cluster", "user": "admin"}, "name": name}],
        "current-context": name,
        "kind": "Config",
        "preferences": {},
        "users": [{"name": "admin", "user": user}],
    }
