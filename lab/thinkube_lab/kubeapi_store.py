"""The emulator's objects on disk: a snapshot, and a log of what changed since.

Writing every object at every save made a 60-worker install serialise the whole store about
200 times. Now a save appends one line -- the objects written and deleted since the last save,
and the counters -- to `<state>.log` and fsyncs it; when the log has grown past the snapshot,
the next save writes a new snapshot (temp file, fsync, rename) and starts the log over.
Loading replays the log over the snapshot; a last line cut short by a crash is ignored, as
the save it belonged to never finished. Both files are 0600: they hold Secrets and the token.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

Obj = dict[str, Any]
Ident = tuple[str, str, str, str]  # (apiVersion, kind, namespace or "", name)


def ident(obj: Obj) -> Ident:
    meta = obj["metadata"]
    return (obj.get("apiVersion", ""), obj.get("kind", ""), meta.get("namespace", ""), meta["name"])


class StateFiles:
    def __init__(self, snapshot: Path) -> None:
        self.snapshot = snapshot
        self.log = snapshot.with_name(snapshot.name + ".log")
        self._snapshot_bytes = 0
        self._log_bytes = 0
        self._seq = 0  # saves so far: a log line older than the snapshot has a smaller number

    def load(self) -> tuple[Obj, list[Obj]]:
        """The counters (resourceVersion, token, port, nextServiceIP) and the objects saved."""
        data: Obj = json.loads(self.snapshot.read_text()) if self.snapshot.exists() else {}
        objects = {ident(o): o for o in data.pop("objects", [])}
        in_snapshot = self._seq = data.pop("save", 0)
        if self.log.exists():
            for line in self.log.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    break  # cut short by a crash: that save never finished
                seq = entry.pop("save", 0)
                if seq <= in_snapshot:
                    continue  # written before the snapshot (a crash kept the old log): already in it
                self._seq = max(self._seq, seq)
                for o in entry.pop("put", []):
                    objects[ident(o)] = o
                for gone in entry.pop("deleted", []):
                    objects.pop(tuple(gone), None)  # type: ignore[arg-type]
                data.update(entry)
        self._snapshot_bytes = self.snapshot.stat().st_size if self.snapshot.exists() else 0
        self._log_bytes = self.log.stat().st_size if self.log.exists() else 0
        return data, list(objects.values())

    def save(self, counters: Obj, everything: Iterable[Obj], changed: dict[Ident, Obj | None]) -> None:
        """Append what `changed` (None: deleted), or write a new snapshot when the log is long."""
        self.snapshot.parent.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        if not self.snapshot.exists() or self._log_bytes > max(self._snapshot_bytes, 64 * 1024):
            self._write_snapshot({**counters, "save": self._seq, "objects": list(everything)})
            return
        entry = {
            **counters,
            "save": self._seq,
            "put": [o for o in changed.values() if o is not None],
            "deleted": [list(k) for k, o in changed.items() if o is None],
        }
        line = json.dumps(entry, separators=(",", ":")).encode() + b"\n"
        fd = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._log_bytes += len(line)

    def _write_snapshot(self, data: Obj) -> None:
        body = json.dumps(data, separators=(",", ":")).encode()  # dumps: the C encoder; dump is not
        tmp = self.snapshot.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.snapshot)
        self.log.unlink(missing_ok=True)  # after the rename: a crash between leaves a log the snapshot includes
        self._snapshot_bytes, self._log_bytes = len(body), 0
