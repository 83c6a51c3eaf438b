"""The one place thinkube-tui loads the lab: `thinkube_lab`, a distribution of its own (`lab/`).

`--demo` and `lab up|serve` run against it; an operator's `pip install thinkube-tui` leaves it
out, and those commands then say what is missing and how to get it instead of a traceback.
Nothing else in the product imports `thinkube_lab`.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

LAB_MODULE = "thinkube_lab.cluster"
HOW_TO_GET_IT = "from a checkout of thinkube-tui, `pip install -e ./lab` installs it (`make demo` does)"


class LabMissing(Exception):
    """The lab (or one of its own dependencies) cannot be imported; `str()` says which and how to get it."""

    def __init__(self, what: str, missing: str) -> None:
        if missing.split(".")[0] == "thinkube_lab":
            missing = "thinkube_lab"
        super().__init__(
            f"{what} needs the lab (the simulated cluster, distribution `thinkube-lab`), which is not "
            f"installed here (no module `{missing}`): {HOW_TO_GET_IT}"
        )


class RunningLab(Protocol):
    """What the product uses of a lab (`thinkube_lab.cluster.Lab`)."""

    sudo_password: str

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    def answers(self) -> dict[str, Any]: ...
    def describe(self) -> str: ...
    def write_answers(self, path: Path) -> Path: ...
    def write_known_hosts(self, path: Path) -> Path: ...


class LabFactory(Protocol):
    def __call__(
        self,
        state_dir: Path,
        *,
        nodes: int = ...,
        gpus: int = ...,
        speed: float = ...,
        faults: Path | None = ...,
        nopasswd: bool = ...,
        log: Callable[[str], None] | None = ...,
    ) -> RunningLab: ...


def check_lab(what: str = "the demo") -> None:
    """`LabMissing` unless the lab is installed; cheap (its package is found, not imported), so
    the demo's first screen does not wait for the simulator to load."""
    try:
        found = importlib.util.find_spec(LAB_MODULE.partition(".")[0])
    except (ImportError, ValueError):  # ValueError: blocked in sys.modules (a test, a broken install)
        found = None
    if found is None:
        raise LabMissing(what, "thinkube_lab")


def load_lab(what: str = "the demo") -> LabFactory:
    """The lab's `Lab` class; `LabMissing` (naming `what` needs it) when it is not installed."""
    try:
        module = importlib.import_module(LAB_MODULE)
    except ImportError as exc:  # ModuleNotFoundError included: the lab, or a dependency of its
        raise LabMissing(what, exc.name or "thinkube_lab") from None
    factory: LabFactory = module.Lab
    return factory
