"""What an installer may ask about another component of the run: its namespace, whether it is in."""

from __future__ import annotations

from ..base import InstallContext


def namespace_of(ctx: InstallContext, component: str) -> str:
    return ctx.cluster.catalog[component].namespace


def hostname(ctx: InstallContext, component: str | None = None, index: int = 0) -> str:
    """The `index`-th catalog hostname of `component` (default: this one) in the cluster domain."""
    comp = ctx.cluster.catalog[component] if component else ctx.component
    return comp.hostnames[index].format(domain=ctx.spec.cluster.domain)


def enabled(ctx: InstallContext, component: str) -> bool:
    comp = ctx.spec.components.get(component)
    return comp is not None and comp.enabled is True
