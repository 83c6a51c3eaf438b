"""Faults the lab can inject, per node and per command pattern.

Kinds:

- ``drop``: close the SSH connection while the command runs -- at once, or after the
  command wrote ``after_bytes`` bytes of stdout (the client sees the connection lost, no
  exit status).
- ``hang``: the command never finishes (until killed with `kill -KILL -PGID`, the client
  gives up, or the lab stops).
- ``fail``: the command exits ``exit_status`` (1) with ``message`` on stderr instead of running.
- ``refuse``: close new connections before the SSH banner (like sshd's MaxStartups).
- ``reboot``: when a matching command arrives, drop every connection of the node, refuse
  connections for ``down_for`` seconds (real seconds; the port is closed), then come back.
- ``outage``: the same, but when a client asks for a new session (before any command): the
  session is never opened -- a restart or a network blip hitting a session open.

``times`` bounds how often a fault fires (None: every time), so "fail once, then succeed" is
``Fault("fail", pattern=..., times=1)``. ``node`` None matches every node; ``pattern`` is a
regular expression searched in the command line as received (None matches any command).

From a file (JSON, or YAML if PyYAML is there)::

    faults:
      - {kind: fail, node: tk-worker-1, pattern: "microk8s join", times: 1}
      - {kind: refuse, node: tk-control, times: 2}
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

KINDS = ("drop", "hang", "fail", "refuse", "reboot", "outage")
_AT_CONNECT = ("refuse",)  # matched when a connection arrives
_AT_SESSION = ("outage",)  # matched when a session is asked for


@dataclass
class Fault:
    kind: str
    node: str | None = None
    pattern: str | None = None
    times: int | None = None
    after_bytes: int = 0
    message: str = "thinkube-lab: injected failure"
    exit_status: int = 1
    down_for: float = 1.0
    fired: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(KINDS)}")
        self._regex = re.compile(self.pattern) if self.pattern else None

    def matches(self, node: str, command: str | None) -> bool:
        if self.node is not None and self.node != node:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        if command is None:
            return True
        return self._regex is None or bool(self._regex.search(command))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("fired")
        return {k: v for k, v in d.items() if v is not None}


class Faults:
    """The lab's fault table; shared by all node servers, changeable while the lab runs."""

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self.faults: list[Fault] = list(faults)

    def add(self, kind: str, **kw: Any) -> Fault:
        fault = Fault(kind, **kw)
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    def for_command(self, node: str, command: str) -> Fault | None:
        """The first command fault (drop/hang/fail/reboot) that fires for this command, counted."""
        for f in self.faults:
            if f.kind not in _AT_CONNECT + _AT_SESSION and f.matches(node, command):
                f.fired += 1
                return f
        return None

    def for_session(self, node: str) -> Fault | None:
        """The first session fault (outage) that fires for a new session on `node`, counted."""
        for f in self.faults:
            if f.kind in _AT_SESSION and f.matches(node, None):
                f.fired += 1
                return f
        return None

    def refuse_connection(self, node: str) -> bool:
        for f in self.faults:
            if f.kind == "refuse" and f.matches(node, None):
                f.fired += 1
                return True
        return False

    @classmethod
    def from_data(cls, data: Any) -> Faults:
        items = data.get("faults", []) if isinstance(data, dict) else data or []
        known = {f.name for f in fields(Fault)} - {"fired"}
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or "kind" not in item:
                raise ValueError(f"fault #{i + 1}: expected a mapping with a 'kind'")
            unknown = set(item) - known
            if unknown:
                raise ValueError(f"fault #{i + 1}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
            out.append(Fault(**item))
        return cls(out)

    @classmethod
    def load(cls, path: str | Path) -> Faults:
        text = Path(path).read_text()
        if str(path).endswith((".yaml", ".yml")):
            import yaml

            return cls.from_data(yaml.safe_load(text))
        return cls.from_data(json.loads(text))

    def to_data(self) -> dict[str, Any]:
        return {"faults": [f.to_dict() for f in self.faults]}
