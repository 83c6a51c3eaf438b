"""The install journal: what is done, step by step, persisted before the next step starts.

A run that was killed resumes from here: steps recorded done are not repeated, the step that
was interrupted runs again (installers check before they act, so it converges). The file is
written atomically (temp file, fsync, rename, fsync of the directory) with mode 0600, so a
kill -9 at any moment leaves either the old or the new journal, never a torn one.

It holds no secrets: statuses, step names, times, hashes of the configuration, and error
messages (which the installers build without secrets).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .files import write_atomic

FORMAT = 1
Status = Literal["running", "done", "failed"]


class JournalError(Exception):
    """The journal file cannot be used; the message says which file and what to do."""


@dataclass
class ComponentRecord:
    status: Status
    config_hash: str
    steps_done: list[str] = field(default_factory=list)
    attempts: int = 1
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    error: str | None = None


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

    @classmethod
    def open(cls, path: Path) -> Journal:
        """Read the journal at `path`, or start an empty one if there is none yet."""
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise JournalError(f"{path}: cannot read the install journal: {exc.strerror}") from None
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT:
                raise ValueError(f"unknown format {data.get('format')!r}")
            records = {cid: ComponentRecord(**rec) for cid, rec in data["components"].items()}
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise JournalError(
                f"{path}: the install journal is damaged ({exc}). Move it aside to start over; "
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

    def changed_config(self, component: str, config: Any) -> bool:
        """True when an installed component's settings differ from those it was installed with."""
        rec = self.components.get(component)
        return rec is not None and rec.status == "done" and rec.config_hash != config_hash(config)

    # ------------------------------------------------------------ updates (each one persisted)

    def started(self, component: str, config: Any) -> None:
        rec = self.components.get(component)
        digest = config_hash(config)
        if rec is None or rec.status == "done":
            self.components[component] = ComponentRecord(status="running", config_hash=digest)
        else:  # resuming or retrying: keep the steps already done
            rec.status, rec.config_hash, rec.error = "running", digest, None
            rec.attempts += 1
            rec.started_at, rec.finished_at = time.time(), None
        self.save()

    def step_finished(self, component: str, step: str) -> None:
        rec = self.components[component]
        if step not in rec.steps_done:
            rec.steps_done.append(step)
        self.save()

    def finished(self, component: str) -> None:
        rec = self.components[component]
        rec.status, rec.finished_at, rec.error = "done", time.time(), None
        self.save()

    def failed_with(self, component: str, error: str) -> None:
        rec = self.components[component]
        rec.status, rec.finished_at, rec.error = "failed", time.time(), error
        self.save()

    def forget(self, component: str) -> None:
        self.components.pop(component, None)
        self.save()

    # ------------------------------------------------------------ persistence

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "components": {cid: vars(rec) for cid, rec in sorted(self.components.items())},
        }

    def save(self) -> None:
        if self.path is not None:
            write_atomic(self.path, json.dumps(self.to_json(), indent=1) + "\n")
