"""The pipeline's phases; `thinkube_tui.session` says which run in which order for each face."""

from .base import Phase, Session, run_phases
from .install import (
    AdoptClusterState,
    Install,
    OpenState,
    PlanInstall,
    TakeLock,
    build_engine,
    make_cluster,
    open_journal,
)
from .nodes import Connect, Discover, Preflight, ResolveHostnames, SudoCheck, node_checks

__all__ = [
    "AdoptClusterState",
    "Connect",
    "Discover",
    "Install",
    "OpenState",
    "Phase",
    "PlanInstall",
    "Preflight",
    "ResolveHostnames",
    "Session",
    "SudoCheck",
    "TakeLock",
    "build_engine",
    "make_cluster",
    "node_checks",
    "open_journal",
    "run_phases",
]
