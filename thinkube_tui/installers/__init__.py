"""One installer per component. A component missing here fails loudly as "not implemented"."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any

# component id -> module in this package with `async def install(ctx)`
MODULES = {
    "microk8s-control": "microk8s_control",
    "microk8s-workers": "microk8s_workers",
}


def installer(component_id: str) -> Callable[[Any], Awaitable[None]] | None:
    module = MODULES.get(component_id)
    if module is None:
        return None
    install: Callable[[Any], Awaitable[None]] = importlib.import_module(f"{__name__}.{module}").install
    return install


def registry() -> dict[str, Callable[[Any], Awaitable[None]]]:
    return {cid: fn for cid in MODULES if (fn := installer(cid)) is not None}
