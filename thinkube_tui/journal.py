"""The install journal: what is done, step by step, persisted before the next step starts.

A run that was killed resumes from here: steps recorded done are not repeated, the step that
was interrupted runs again (installers check before they act, so it converges). The file is
written atomically (temp file, fsync, rename, fsync of the directory) with mode 0600, so a
kill -9 at any moment leaves either the old or the new journal, never a torn one.

It holds no secrets: statuses, step names, times, hashes of the configuration, the version
each component was installed at (its chart version, MicroK8s channel, or the thinkube-tui
release that built its manifests), the nodes of the cluster when it last ran (so that a node
added later is joined, and the per-node components converge for it), and error messages
(which the installers build without secrets).

A journal is read only if it matches the schema of its own format version (`SCHEMA`): a file
written by a newer thinkube-tui is refused by its version, an older format is migrated, and
anything else (torn, nested past reason, NaN, a wrong type) is "damaged" -- never half-read.
A write that fails (a full disk) raises `JournalWriteError`: the journal is the truth, so the
install stops rather than go on with steps it could not record.

During an install the engine records through the awaitable methods (`astarted`,
`astep_finished`, ...): the write and its fsyncs run in a thread, off the event loop, and the
awaiting step goes on only once a write holding its record is on disk. Records made while a
write is in flight go to disk together in the next one (group commit): when many nodes finish
steps at once, they share writes instead of queueing one write each.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .files import FileReadError, read_limited, write_atomic

FORMAT = 3
Status = Literal["running", "done", "failed"]
MAX_BYTES = 16 * 1024 * 1024  # a journal of every component's steps is a few KiB

# The journal's own schema, for FORMAT. A later format adds a migration from this one.
_RECORD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "config_hash"],
    "additionalProperties": False,
    "properties": {
        "status": {"enum": ["running", "done", "failed"]},
        "config_hash": {"type": "string", "maxLength": 128},
        "steps_done": {"type": "array", "items": {"type": "string", "maxLength": 2000}, "maxItems": 10000},
        "attempts": {"type": "integer", "minimum": 1},
        "started_at": {"type": "number", "minimum": 0},
        "finished_at": {"type": ["number", "null"], "minimum": 0},
        "error": {"type": ["string", "null"]},
        "version": {"type": ["string", "null"], "maxLength": 200},
        "nodes": {
            "type": ["array", "null"],
            "items": {"type": "string", "maxLength": 253},
            "maxItems": 10000,
        },
    },
}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["format", "components"],
    "additionalProperties": False,
    "properties": {
        "format": {"const": FORMAT},
        "components": {
            "type": "object",
            "propertyNames": {"pattern": "^[a-z0-9][a-z0-9-]{0,62}$"},
            "additionalProperties": _RECORD_SCHEMA,
        },
    },
}


def _from_format_1(data: Any) -> Any:
    """Format 1 recorded no versions: what those components were installed at is unknown."""
    components = data.get("components") if isinstance(data, dict) else None
    if isinstance(components, dict):
        for record in components.values():
            if isinstance(record, dict):
                record.setdefault("version", None)
    return {**data, "format": 2} if isinstance(data, dict) else data


def _from_format_2(data: Any) -> Any:
    """Format 2 recorded no nodes: which nodes those components were installed for is unknown."""
    components = data.get("components") if isinstance(data, dict) else None
    if isinstance(components, dict):
        for record in components.values():
            if isinstance(record, dict):
                record.setdefault("nodes", None)
    return {**data, "format": 3} if isinstance(data, dict) else data


# Older formats and how to bring each to the next.
_MIGRATIONS: dict[int, Any] = {1: _from_format_1, 2: _from_format_2}


class JournalError(Exception):
    """The journal file cannot be used; the message says which file and what to do."""


class JournalWriteError(JournalError):
    """The journal could not be written (a full disk, an I/O error): the install must stop."""


@dataclass
class ComponentRecord:
    status: Status
    config_hash: str
    steps_done: list[str] = field(default_factory=list)
    attempts: int = 1
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    error: str | None = None
    version: str | None = None  # what it was installed at; None: before versions were recorded
    nodes: list[str] | None = None  # the answers' nodes when it last ran; None: before nodes were recorded


def config_hash(config: Any) -> str:
    """A stable fingerprint of a component's settings (secret references, never secret values)."""
    text = json.dumps(_plain(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    return value


class Journal:
    def __init__(self, path: Path | None, components: dict[str, ComponentRecord] | None = None) -> None:
        self.path = path  # None: in memory only (dry runs, tests)
        self.components: dict[str, ComponentRecord] = components or {}
        self.write_error: JournalWriteError | None = None  # the first write that failed, kept
        self._lock = threading.Lock()  # one write at a time, from the loop's threads or `save`
        self._taken = 0  # snapshots taken (numbered on the event loop, where records change)
        self._on_disk = 0  # the number of the newest snapshot written
        self._batch: asyncio.Future[None] | None = None  # the next write's outcome, shared by its waiters
        self._writer: asyncio.Task[None] | None = None

    @classmethod
    def open(cls, path: Path) -> Journal:
        """Read the journal at `path`, or start an empty one if there is none yet."""
        if not os.path.lexists(path):
            return cls(path)
        try:  # bounded, and a FIFO or a device planted there is refused, never waited on
            raw = read_limited(path, MAX_BYTES, "install journal")
        except FileReadError as exc:
            raise JournalError(str(exc)) from None
        try:
            records = parse(json.loads(raw.decode("utf-8"), parse_constant=_no_constant))
        except NewerFormat as exc:
            raise JournalError(
                f"{path}: the install journal was written by a newer thinkube-tui (format {exc.found}; this "
                f"one reads format {FORMAT} and older). Run the newer thinkube-tui, or upgrade this one."
            ) from None
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise JournalError(
                f"{path}: the install journal is damaged ({reason}). Move it aside to start over; "
                "installers check before they act, so components already installed are found again."
            ) from None
        return cls(path, records)

    # ------------------------------------------------------------ queries

    @property
    def installed(self) -> frozenset[str]:
        return frozenset(cid for cid, rec in self.components.items() if rec.status == "done")

    @property
    def failed(self) -> frozenset[str]:
        return frozenset(cid for cid, rec in self.components.items() if rec.status == "failed")

    def step_done(self, component: str, step: str) -> bool:
        rec = self.components.get(component)
        return rec is not None and step in rec.steps_done

    def out_of_date(self, pins: Mapping[str, str]) -> dict[str, tuple[str | None, str]]:
        """Installed components whose version is not what `pins` says now: id -> (installed, pinned).
        A component installed before versions were recorded has None as its installed version."""
        return {
            cid: (rec.version, pins[cid])
            for cid, rec in sorted(self.components.items())
            if rec.status == "done" and cid in pins and rec.version != pins[cid]
        }

    def changed_config(self, component: str, config: Any) -> bool:
        """True when an installed component's settings differ from those it was installed with."""
        rec = self.components.get(component)
        return rec is not None and rec.status == "done" and rec.config_hash != config_hash(config)

    # ------------------------------------------------------------ updates (each one persisted)
    # The plain methods write at once, on the caller's thread; their awaitable twins (what the
    # engine uses) write off the event loop and return once the record is on disk.

    def started(self, component: str, config: Any, version: str | None = None, nodes: list[str] | None = None) -> None:
        self._started(component, config, version, nodes)
        self.save()

    def step_finished(self, component: str, step: str) -> None:
        self._step_finished(component, step)
        self.save()

    def finished(self, component: str) -> None:
        self._finished(component)
        self.save()

    def failed_with(self, component: str, error: str) -> None:
        self._failed_with(component, error)
        self.save()

    def forget(self, component: str) -> None:
        self.components.pop(component, None)
        self.save()

    async def aforget(self, *components: str) -> None:
        """Forget `components` (removed, or gone with a reset); one write, off the event loop."""
        for component in components:
            self.components.pop(component, None)
        await self.commit()

    async def aupgraded(self, component: str, version: str) -> None:
        """The component now runs at `version` (`thinkube-tui upgrade`); off the event loop."""
        self.components[component].version = version
        await self.commit()

    async def astarted(
        self, component: str, config: Any, version: str | None = None, nodes: list[str] | None = None
    ) -> None:
        self._started(component, config, version, nodes)
        await self.commit()

    async def astep_finished(self, component: str, step: str) -> None:
        self._step_finished(component, step)
        await self.commit()

    async def afinished(self, component: str) -> None:
        self._finished(component)
        await self.commit()

    async def afailed_with(self, component: str, error: str) -> None:
        self._failed_with(component, error)
        await self.commit()

    def _started(self, component: str, config: Any, version: str | None = None, nodes: list[str] | None = None) -> None:
        rec = self.components.get(component)
        digest = config_hash(config)
        if rec is None or rec.status == "done":  # a done one runs again from the start: it converges
            self.components[component] = ComponentRecord(
                status="running", config_hash=digest, version=version, nodes=nodes
            )
        else:  # resuming or retrying: keep the steps already done
            if rec.version is not None and version is not None and rec.version != version:
                # They were done for another version (a cut-off upgrade, then a newer release of
                # thinkube-tui): skipping them would record a version the cluster does not run.
                rec.steps_done = []
            rec.status, rec.config_hash, rec.error, rec.version = "running", digest, None, version
            rec.nodes = nodes
            rec.attempts += 1
            rec.started_at, rec.finished_at = time.time(), None

    def _step_finished(self, component: str, step: str) -> None:
        rec = self.components[component]
        if step not in rec.steps_done:
            rec.steps_done.append(step)

    def _finished(self, component: str) -> None:
        rec = self.components[component]
        rec.status, rec.finished_at, rec.error = "done", time.time(), None

    def _failed_with(self, component: str, error: str) -> None:
        rec = self.components[component]
        rec.status, rec.finished_at, rec.error = "failed", time.time(), error

    # ------------------------------------------------------------ persistence

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "components": {cid: vars(rec) for cid, rec in sorted(self.components.items())},
        }

    def save(self) -> None:
        """Write the journal now; raises `JournalWriteError` (saying where, and what to do) if it cannot."""
        if self.path is None:
            return
        self._write(*self._snapshot())

    async def commit(self) -> None:
        """Return once the journal as it is now is on disk (raises `JournalWriteError` if it
        cannot be written). The write runs in a thread. Called while a write is in flight, it
        joins the next write, which starts when that one ends and holds every record made
        until then: one write for all of them."""
        if self.path is None:
            return
        batch = self._batch
        if batch is None:
            batch = self._batch = asyncio.get_running_loop().create_future()
            if self._writer is None or self._writer.done():
                self._writer = asyncio.ensure_future(self._write_batches())
        await asyncio.shield(batch)  # a waiter cancelled (the run stopping) leaves the write to finish

    async def _write_batches(self) -> None:
        while self._batch is not None:
            batch, self._batch = self._batch, None
            try:
                await asyncio.to_thread(self._write, *self._snapshot())  # snapshot taken here, on the loop
            except asyncio.CancelledError:  # the loop is closing: nobody waits for these writes
                batch.cancel()
                if self._batch is not None:
                    self._batch.cancel()
                    self._batch = None
                raise
            except Exception as error:  # JournalWriteError (or a bug): every waiter gets it
                batch.set_exception(error)
            else:
                batch.set_result(None)

    def _snapshot(self) -> tuple[int, str]:
        self._taken += 1
        return self._taken, json.dumps(self.to_json(), indent=1) + "\n"

    def _write(self, number: int, text: str) -> None:
        """Write snapshot `number`, unless a newer one is on disk already (it holds all of this one)."""
        assert self.path is not None
        with self._lock:
            if number < self._on_disk:
                return
            try:
                write_atomic(self.path, text)
            except OSError as exc:
                error = JournalWriteError(write_error_message(self.path, exc))
                self.write_error = self.write_error or error
                raise error from None
            self._on_disk = number


class NewerFormat(ValueError):
    def __init__(self, found: int) -> None:
        super().__init__(f"format {found}")
        self.found = found


def parse(data: Any) -> dict[str, ComponentRecord]:
    """The records of a journal's JSON, checked against its format's schema; `ValueError` if
    it does not match (with what is wrong), `NewerFormat` if a later thinkube-tui wrote it."""
    from jsonschema import Draft202012Validator

    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    version = data.get("format")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"no format version (format: {version!r:.40})")
    if version > FORMAT:
        raise NewerFormat(version)
    while version < FORMAT:
        if version not in _MIGRATIONS:
            raise ValueError(f"unknown format {version}")
        data, version = _MIGRATIONS[version](data), version + 1
    error = next(iter(sorted(Draft202012Validator(SCHEMA).iter_errors(data), key=lambda e: list(e.path))), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "the top level"
        raise ValueError(f"at {where}: {error.message:.200}")
    return {cid: ComponentRecord(**rec) for cid, rec in data["components"].items()}


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a journal holds")


def write_error_message(path: Path, exc: OSError) -> str:
    """Why `path` could not be written, where, and what to do; "no space on ..." for a full disk."""
    again = "then run the same command again: finished steps are not repeated"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space on {_mount_point(path.parent)}: cannot write {path}. Free some space there, {again}"
    return f"cannot write {path}: {exc.strerror or exc}. Fix the state directory, {again}"


def _mount_point(directory: Path) -> Path:
    """The file system holding `directory` (its mount point), for messages."""
    path = Path(os.path.abspath(directory))
    while not os.path.ismount(path) and path.parent != path:
        path = path.parent
    return path
