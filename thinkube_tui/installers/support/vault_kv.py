"""Vault as the platform's secret store: a copy of each component's credentials in Vault's KV
(version 2) engine, at `secret/thinkube/<component>` (docs/day-two.md, "Vault").

What is copied: the admin login the handover summary names (`support.logins`: the user and
the password), and the OIDC client secret of each SSO component (`<id>-oidc`). The originals
stay in their Kubernetes Secrets; Vault holds copies. Vault's own installer copies what the
components installed before it made; each component installed after it copies its own when it
finishes (`with_copy`). The token is Vault's root token from the keys file the install kept
(`secretsStore: file`); without one, the run says once that Vault holds no copies. A copy
equal to what Vault holds is not written again (no new version).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...engine import InstallError
from ...kube import KubeError
from ..base import Cluster, InstallContext
from .components import namespace_of
from .keycloak import client_secrets_in_vault

if TYPE_CHECKING:
    from ...engine import Installer

KEYS_FILE = "vault-init.json"
MOUNT = "secret"
POD = "vault-0"  # the Raft leader the installer initialised; a standby forwards to the active one
PORT = 8200


def keys_file(state_dir: Path) -> Path:
    """Where Vault's unseal keys and root token are written (`secretsStore: file`): the cluster's
    own state directory, the one holding its journal. The summaries name this path."""
    return state_dir / KEYS_FILE


def path_of(component: str) -> str:
    return f"{MOUNT}/thinkube/{component}"


def token(ctx: InstallContext) -> str | None:
    """Vault's root token from the keys file this cluster's install kept, or None."""
    import json

    try:
        record = json.loads(keys_file(ctx.cluster.state_dir).read_text())
    except (OSError, ValueError):
        return None
    value = record.get("root_token") if isinstance(record, dict) else None
    if isinstance(value, str) and value:
        ctx.cluster.secrets.register(value)
        return value
    return None


async def _secret_value(ctx: InstallContext, namespace: str, name: str, key: str) -> str | None:
    secret = await (await ctx.kube()).get("v1", "Secret", name, namespace)
    raw = ((secret or {}).get("data") or {}).get(key)
    return base64.b64decode(raw).decode() if raw else None


async def credentials(ctx: InstallContext, component: str) -> dict[str, str]:
    """What the cluster holds of `component`'s credentials now (empty: none, or not installed)."""
    from .logins import logins

    found: dict[str, str] = {}
    login = logins(ctx.spec).get(component)
    ns = namespace_of(ctx, component)
    if login is not None and (password := await _secret_value(ctx, ns, login.secret, login.password_key)):
        found.update({"username": login.user, "password": password})
    if (
        client_secrets_in_vault(ctx.spec)
        and ctx.cluster.catalog[component].sso
        and (client_secret := await _secret_value(ctx, ns, f"{component}-oidc", "client-secret"))
    ):
        found.update({"oidc-client-id": component, "oidc-client-secret": client_secret})
    for key in ("password", "oidc-client-secret"):  # names and ids are not secrets: never masked
        if key in found:
            ctx.cluster.secrets.register(found[key])
    return found


async def _vault(ctx: InstallContext, method: str, path: str, root: str, body: Any = None) -> tuple[int, Any]:
    kube = await ctx.kube()
    try:
        response = await kube.proxy(
            method, namespace_of(ctx, "vault"), POD, PORT, path, kind="pods", body=body, headers={"X-Vault-Token": root}
        )
    except KubeError as exc:
        raise InstallError(f"Vault {method} {path}: {exc}") from None
    return response.status, response.body


async def _ensure_mount(ctx: InstallContext, root: str) -> None:
    status, mounts = await _vault(ctx, "GET", "/v1/sys/mounts", root)
    if status != 200:
        raise InstallError(f"Vault GET /v1/sys/mounts answered {status}")
    if f"{MOUNT}/" in (mounts.get("data") or mounts):
        return
    status, _ = await _vault(ctx, "POST", f"/v1/sys/mounts/{MOUNT}", root, {"type": "kv", "options": {"version": "2"}})
    if status not in (200, 204):
        raise InstallError(f"Vault could not enable the KV engine at {MOUNT}/ (answered {status})")
    ctx.log(f"Vault: the KV version 2 engine is enabled at {MOUNT}/")


async def copy(ctx: InstallContext, components: Iterable[str]) -> list[str]:
    """Copy each component's credentials into Vault KV; the ones written (or already there)."""
    root = token(ctx)
    if root is None:
        ctx.log(
            "note: Vault holds no copies of the platform's credentials: this machine kept no Vault token "
            "(vault.secretsStore is not `file`). They stay in their Kubernetes Secrets, which the summary "
            "names; copy one yourself with `vault kv put secret/thinkube/<component> ...` if you want it there"
        )
        return []
    await _ensure_mount(ctx, root)
    copied = []
    for component in components:
        found = await credentials(ctx, component)
        if not found:
            continue
        api = f"/v1/{MOUNT}/data/thinkube/{component}"
        status, held = await _vault(ctx, "GET", api, root)
        if status == 200 and ((held or {}).get("data") or {}).get("data") == found:
            copied.append(component)
            continue
        status, _ = await _vault(ctx, "POST", api, root, {"data": found})
        if status not in (200, 204):
            raise InstallError(f"Vault could not store {path_of(component)} (answered {status})")
        ctx.log(f"Vault: {component}'s credentials copied to {path_of(component)}")
        copied.append(component)
    return copied


def has_credentials(ctx_spec: Any, catalog: Any, component: str) -> bool:
    """Whether `component` makes credentials Vault keeps a copy of (an admin login, an OIDC client)."""
    from .logins import logins

    return component in logins(ctx_spec) or bool(catalog[component].sso)


def with_copy(component: str, install: Installer, vault_installed: Callable[[], bool]) -> Installer:
    """`install`, then -- when Vault is installed by then -- its credentials copied into Vault."""

    async def installed_and_copied(ctx: InstallContext) -> None:
        await install(ctx)
        if vault_installed() and token(ctx) is not None:  # without one, Vault's own run said so
            await ctx.step("copy its credentials into Vault KV", lambda: copy(ctx, [component]))

    return installed_and_copied


async def read_refs(cluster: Cluster) -> None:
    """The answers' `{vault: "MOUNT/PATH#KEY"}` references, read once at the start of a run with
    the token the install kept, into the run's Secrets (installers resolve them from there); the
    ones not read say why when an installer asks for them."""
    refs = sorted({ref.vault for _path, ref in cluster.spec.secret_refs() if ref.vault})
    if not refs:
        return
    try:
        import json

        root = json.loads(keys_file(cluster.state_dir).read_text()).get("root_token")
    except (OSError, ValueError, AttributeError):
        root = None
    if not root:
        cluster.secrets.provide_vault({}, "this machine keeps no Vault token (vault.secretsStore: file keeps it)")
        return
    cluster.secrets.register(root)
    try:
        kube = await cluster.kube()
    except Exception as exc:  # MicroK8s not installed yet: no Vault either
        cluster.secrets.provide_vault({}, f"the cluster's API cannot be read yet ({exc}): install Vault first")
        return
    values: dict[str, str] = {}
    why = ""
    for ref in refs:
        where, _, key = ref.partition("#")
        mount, _, rest = where.partition("/")
        try:
            response = await kube.proxy(
                "GET", cluster.catalog["vault"].namespace, POD, PORT, f"/v1/{mount}/data/{rest}", kind="pods",
                headers={"X-Vault-Token": root},
            )  # fmt: skip
        except KubeError as exc:
            why = f"Vault did not answer ({exc}); is it installed? (`--only vault`)"
            continue
        data = ((response.body or {}).get("data") or {}).get("data") if response.status == 200 else None
        if isinstance(data, dict) and isinstance(data.get(key), str):
            values[ref] = data[key]
        else:
            why = f"Vault answered {response.status} for {where}, or it has no key {key!r} there"
    cluster.secrets.provide_vault(values, why)
