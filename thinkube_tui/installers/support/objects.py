"""Kubernetes objects for installers: apply only what differs, wait with people-readable errors.

`ensure(ctx, obj)` reads the live object first and applies (server-side) only when it does not
already hold what we want, so a second run sends nothing and says so in the log. Content is
never logged: Secrets go through here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from ...engine import InstallError
from ...kube import FIELD_MANAGER, KubeError
from ..base import InstallContext

Obj = dict[str, Any]

#: The label on what thinkube-tui creates itself (not what charts and operators create).
MANAGED_BY: Mapping[str, str] = MappingProxyType({"app.kubernetes.io/managed-by": "thinkube-tui"})


def contains(have: Any, want: Any) -> bool:
    """Whether `have` (an object as the API returns it) already holds every field of `want`.

    Maps: a subset; lists: same length, element by element. Fields the API server or
    controllers add are ignored.
    """
    if isinstance(want, Mapping):
        return isinstance(have, Mapping) and all(k in have and contains(have[k], v) for k, v in want.items())
    if isinstance(want, (list, tuple)):
        return (
            isinstance(have, (list, tuple))
            and len(have) == len(want)
            and all(contains(h, w) for h, w in zip(have, want, strict=True))
        )
    if isinstance(want, bool) or isinstance(have, bool):
        return have is want
    return bool(have == want)


def describe(obj: Mapping[str, Any]) -> str:
    meta = obj["metadata"]
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj['kind']} {where}{meta['name']}"


async def ensure(ctx: InstallContext, obj: Obj, *, field_manager: str = FIELD_MANAGER) -> bool:
    """Apply `obj` (server-side) unless the cluster already has it as wanted; True when applied."""
    kube = await ctx.kube()
    meta = obj["metadata"]
    try:
        live = await kube.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
    except KubeError as exc:
        raise InstallError(f"could not read {describe(obj)}: {exc}") from None
    if live is not None and contains(live, obj):
        ctx.log(f"{describe(obj)} is already as wanted")
        return False
    if live is not None and (obj["apiVersion"], obj["kind"]) == ("batch/v1", "Job"):
        # A Job's template is immutable (the API server refuses a changed one): a Job that
        # differs from the one wanted is deleted and created anew.
        try:
            await kube.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        except KubeError as exc:
            raise InstallError(f"could not delete {describe(obj)} to create it anew: {exc}") from None
        ctx.log(f"{describe(obj)} differs from the one wanted and a Job cannot change: deleted, to be created anew")
        live = None
    try:
        await kube.apply(obj, field_manager=field_manager)
    except KubeError as exc:
        raise InstallError(f"could not apply {describe(obj)}: {exc}") from None
    ctx.log(f"{describe(obj)} {'updated' if live is not None else 'created'}")
    return True


async def ensure_namespace(ctx: InstallContext, name: str) -> bool:
    return await ensure(ctx, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def condition(obj: Mapping[str, Any], type_: str = "Ready", status: str = "True") -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == type_ and str(c.get("status")).lower() == status.lower() for c in conditions)


def condition_message(obj: Mapping[str, Any] | None, type_: str = "Ready") -> str:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return f"{c.get('reason', '')}: {c.get('message', '')}".strip(": ")
    return f"no {type_} condition yet"


async def wait(
    ctx: InstallContext,
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None,
    ready: Any,
    *,
    timeout: float,
    what: str,
    hint: str = "",
) -> Obj:
    """`kube.wait_for`, failing as an InstallError that says what was awaited and what to check."""
    kube = await ctx.kube()
    ctx.log(f"waiting for {what} (at most {timeout:g} s)")
    try:
        return dict(await kube.wait_for(api_version, kind, name, namespace, ready, timeout=timeout, what=what))
    except KubeError as exc:
        raise InstallError(f"{exc}{'. ' + hint if hint else ''}") from None


async def wait_crds(ctx: InstallContext, names: Iterable[str], *, timeout: float = 120, hint: str = "") -> None:
    """Wait until every CustomResourceDefinition in `names` is Established, i.e. served by the API
    server: objects of its kinds can be applied from then on."""
    for name in names:
        await wait(
            ctx,
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            name,
            None,
            lambda crd: condition(crd, "Established"),
            timeout=timeout,
            what=f"CRD {name}",
            hint=hint,
        )


async def rollout(ctx: InstallContext, kind: str, name: str, namespace: str, *, timeout: float = 600) -> None:
    kube = await ctx.kube()
    ctx.log(f"waiting for the rollout of {kind} {namespace}/{name} (at most {timeout:g} s)")
    try:
        await kube.wait_rollout(kind, name, namespace, timeout=timeout)
    except KubeError as exc:
        raise InstallError(
            f"{exc}. See `microk8s kubectl -n {namespace} describe {kind.lower()} {name}` and its pods' events"
        ) from None
    ctx.log(f"{kind} {namespace}/{name} is rolled out")
