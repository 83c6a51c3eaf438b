"""Where each component's admin login is: a key of a Secret in its namespace (the handover
summary prints the command that reads it; Vault KV keeps a copy, support/vault_kv.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...spec import Spec


@dataclass(frozen=True)
class Login:
    """Where a component's admin password is: a key of a Secret in its namespace."""

    secret: str
    password_key: str
    user: str  # the user name itself, or what the key holds


def logins(spec: Spec) -> dict[str, Login]:
    """Each component's admin login, from the installers' Secret names and settings."""
    from .. import argocd, awx, grafana, harbor, opensearch, pgadmin
    from .keycloak import KEYCLOAK_ADMIN_SECRET
    from .minio import TENANT_CONFIG_SECRET

    def setting(cid: str, key: str, default: str) -> str:
        component = spec.components.get(cid)
        config: Mapping[str, Any] = (component.config if component is not None else None) or {}
        return str(config.get(key) or default)

    return {
        "keycloak": Login(KEYCLOAK_ADMIN_SECRET, "password", setting("keycloak", "adminUser", "admin")),
        "argocd": Login(argocd.ADMIN_SECRET, "password", "admin"),
        "awx": Login(awx.ADMIN_SECRET, "password", setting("awx", "adminUser", "admin")),
        "grafana": Login(grafana.ADMIN_SECRET, "admin-password", "admin"),
        "harbor": Login(harbor.ADMIN_SECRET, harbor.ADMIN_KEY, "admin"),
        "opensearch": Login(opensearch.ADMIN_SECRET, "password", "admin"),
        "pgadmin": Login(pgadmin.ADMIN_SECRET, "password", setting("pgadmin", "adminEmail", spec.cluster.admin_email)),
        # MinIO's root user and password are both in one env file: print it whole.
        "minio": Login(TENANT_CONFIG_SECRET, "config.env", setting("minio", "rootUser", "minio-admin")),
    }
