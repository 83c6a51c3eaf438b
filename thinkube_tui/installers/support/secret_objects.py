"""Kubernetes Secrets as installers keep them: read (and mask), write only when they differ, and
`keep_or_make` (reuse a stored value, else the operator's, else a new one — never rotate); and
`env_from_secret`, how a pod reads one (never as a literal value)."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ...secrets import generate_password
from ...spec import SecretRef
from ..base import InstallContext
from .objects import MANAGED_BY, ensure

Obj = dict[str, Any]


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


async def secret_values(
    ctx: InstallContext, name: str, namespace: str, secret_keys: Iterable[str] = ()
) -> dict[str, str] | None:
    """The decoded data of Secret `namespace/name` (None when it does not exist).

    Values under `secret_keys` are registered as secrets, so they are masked from then on.
    """
    kube = await ctx.kube()
    obj = await kube.get("v1", "Secret", name, namespace)
    if obj is None:
        return None
    out: dict[str, str] = {}
    for key, value in (obj.get("data") or {}).items():
        try:
            out[key] = base64.b64decode(value).decode()
        except (ValueError, UnicodeDecodeError):
            continue
    for key in secret_keys:
        if out.get(key):
            ctx.cluster.secrets.register(out[key])
    return out


def secret_object(
    name: str,
    namespace: str,
    values: Mapping[str, str],
    *,
    type: str = "Opaque",
    labels: Mapping[str, str] | None = None,
) -> Obj:
    meta: Obj = {
        "name": name,
        "namespace": namespace,
        "labels": {**MANAGED_BY, **(labels or {})},
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": type,
        "data": {k: b64(v) for k, v in values.items()},
    }


async def ensure_secret(
    ctx: InstallContext,
    name: str,
    namespace: str,
    values: Mapping[str, str],
    *,
    type: str = "Opaque",
    labels: Mapping[str, str] | None = None,
) -> bool:
    return await ensure(ctx, secret_object(name, namespace, values, type=type, labels=labels))


def env_from_secret(var: str, secret: str, key: str, *, optional: bool = False) -> Obj:
    """An EnvVar that reads one key of a Secret: secret values never appear in a pod spec."""
    ref: Obj = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": var, "valueFrom": {"secretKeyRef": ref}}


async def keep_or_make(
    ctx: InstallContext, stored: Sequence[tuple[str, str, str]], *, ref: SecretRef | None = None, used_for: str
) -> str:
    """A secret value: the operator's (`ref`), else one stored before (the first of `stored`,
    each (secret name, namespace, key), that has it), else a newly generated password.

    Never rotates: a re-run finds the stored value and returns it. Always registered.
    """
    if ref is not None:
        return ctx.cluster.secrets.resolve(ref, used_for)
    for name, namespace, key in stored:
        found = await secret_values(ctx, name, namespace, secret_keys=(key,))
        if found and found.get(key):
            ctx.log(f"{used_for}: reusing the value kept in Secret {namespace}/{name}")
            return found[key]
    value = generate_password()
    ctx.cluster.secrets.register(value)
    ctx.log(f"{used_for}: generated a new one")
    return value
