"""What an installer may ask about another component of the run: its namespace, whether it is in."""

from __future__ import annotations

from ..base import InstallContext


def namespace_of(ctx: InstallContext, component: str) -> str:
    return ctx.cluster.catalog[component].namespace


def enabled(ctx: InstallContext, component: str) -> bool:
    comp = ctx.spec.components.get(component)
    return comp is not None and comp.enabled is True
