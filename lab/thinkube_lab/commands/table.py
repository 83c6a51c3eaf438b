"""The command table: programs by absolute path, found through `$PATH` like a real shell does."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..shell import Handler

if TYPE_CHECKING:
    from ..node import LabNode


@dataclass(frozen=True)
class Program:
    path: str
    handler: Handler
    available: Callable[[LabNode], bool] | None = None

    def on(self, node: LabNode) -> bool:
        return self.available is None or self.available(node)


def _canonical(path: str) -> str:
    path = posixpath.normpath(path)
    for old, new in (("/bin/", "/usr/bin/"), ("/sbin/", "/usr/sbin/")):
        if path.startswith(old):
            return new + path[len(old) :]
    return path


class CommandTable:
    def __init__(self) -> None:
        self.programs: dict[str, Program] = {}

    def register(self, path: str, handler: Handler, available: Callable[[LabNode], bool] | None = None) -> None:
        self.programs[_canonical(path)] = Program(path, handler, available)

    def lookup(self, node: LabNode, name: str, path_var: str) -> tuple[str, Handler] | None:
        if "/" in name:
            prog = self.programs.get(_canonical(name))
            return (name, prog.handler) if prog and prog.on(node) else None
        for d in (path_var or "").split(":"):
            if not d:
                continue
            full = posixpath.join(d, name)
            prog = self.programs.get(_canonical(full))
            if prog and prog.on(node):
                return (full if not full.startswith(("/bin/", "/sbin/")) else _canonical(full), prog.handler)
        return None

    def is_executable(self, node: LabNode, path: str) -> bool:
        prog = self.programs.get(_canonical(path))
        return bool(prog and prog.on(node))


TABLE = CommandTable()


def program(*paths: str, available: Callable[[LabNode], bool] | None = None) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for path in paths:
            TABLE.register(path, handler, available)
        return handler

    return register
