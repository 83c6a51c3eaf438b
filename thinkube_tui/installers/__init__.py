"""One installer module per component: `installers/<id with - as _>.py` with `async def install(ctx)`,
and `async def uninstall(ctx)` where the component can be removed (support/uninstall.py).

A component without a module fails loudly as "not implemented" (see engine.NotImplementedInstaller).
What the components share lives in `installers/support/`; the context they get in `installers/base.py`.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import InstallContext

Installer = Callable[["InstallContext"], Awaitable[None]]


def module_name(component_id: str) -> str:
    return f"{__name__}.{component_id.replace('-', '_')}"


def installer(component_id: str) -> Installer | None:
    name = module_name(component_id)
    if importlib.util.find_spec(name) is None:
        return None
    install: Installer = importlib.import_module(name).install
    return install


def uninstaller(component_id: str) -> Installer | None:
    """The component's `uninstall`, or None when it has none (it cannot be removed)."""
    name = module_name(component_id)
    if importlib.util.find_spec(name) is None:
        return None
    uninstall: Installer | None = getattr(importlib.import_module(name), "uninstall", None)
    return uninstall


def registry(component_ids: Iterable[str] | None = None) -> dict[str, Installer]:
    from ..catalog import load_catalog

    ids = component_ids if component_ids is not None else load_catalog().ids
    return {cid: fn for cid in ids if (fn := installer(cid)) is not None}
