"""5.5 Keycloak: the Keycloak Operator (pinned manifests), a Keycloak on the shared PostgreSQL,
the platform realm with an OIDC client for every selected SSO service.

Everything is declarative, no `exec` and no admin REST calls from this machine:

1. The operator's manifests at the catalog's tag (its two CRDs and `kubernetes.yml`) are
   fetched on the control node (`curl`, which the control node can do: it fetched the snap),
   parsed here and applied object by object with server-side apply into namespace `keycloak`.
2. A database and role from `support.postgres.database_for` (CloudNativePG managed role + Database).
3. The admin credentials: generated once (or the operator's `adminPassword`) and kept in the
   Secret `keycloak-admin`, which the Keycloak CR names as `spec.bootstrapAdmin.user.secret`;
   a re-run reads that Secret and reuses it.
4. A `k8s.keycloak.org/v2alpha1 Keycloak` (HTTP inside the cluster, TLS at the ingress) and an
   Ingress for `auth.<domain>`.
5. A `KeycloakRealmImport` with the realm, its groups and users (initial passwords generated,
   temporary), and one confidential client per selected SSO component. Client secrets and
   user passwords reach the import only through `spec.placeholders` (Secret references), so
   they are never written into the CR.

Docs: https://www.keycloak.org/operator/installation (kubectl apply of the CRDs and
kubernetes.yml), https://www.keycloak.org/operator/basic-deployment (Keycloak CR: db,
http, hostname, proxy, ingress; condition Ready), .../advanced-configuration (bootstrapAdmin),
https://www.keycloak.org/operator/realm-import (KeycloakRealmImport, placeholders, conditions
Done / HasErrors; an existing realm is never overwritten).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from ..engine import InstallError
from .base import InstallContext, quote
from .support.components import enabled
from .support.keycloak import (
    KEYCLOAK_ADMIN_SECRET,
    KEYCLOAK_API,
    KEYCLOAK_CR,
    KEYCLOAK_SERVICE,
    client_representation,
    ensure_client_secret,
    keycloak_secret_name,
    placeholder,
    realm_imported,
)
from .support.objects import condition, ensure, ensure_namespace, wait_crds
from .support.postgres import database_for
from .support.secret_objects import ensure_secret, keep_or_make, secret_values

VERSION = "26.2.0"
MANIFESTS = f"https://raw.githubusercontent.com/keycloak/keycloak-k8s-resources/{VERSION}/kubernetes"
CRD_FILES = ("keycloaks.k8s.keycloak.org-v1.yml", "keycloakrealmimports.k8s.keycloak.org-v1.yml")
OPERATOR_FILE = "kubernetes.yml"
CRDS = ("keycloaks.k8s.keycloak.org", "keycloakrealmimports.k8s.keycloak.org")
OPERATOR = "keycloak-operator"
USERS_SECRET = "realm-user-passwords"
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Namespace"}


def sso_consumers(ctx: InstallContext) -> list[str]:
    """Components selected in this Spec that log in through Keycloak (catalog `sso: true`)."""
    return [c.id for c in ctx.cluster.catalog if c.sso and enabled(ctx, c.id)]


def manifest_objects(text: str, namespace: str) -> Iterator[dict[str, Any]]:
    """The objects of a multi-document manifest, placed in `namespace` as `kubectl -n` would."""
    for doc in yaml.safe_load_all(text):
        if not isinstance(doc, dict) or "kind" not in doc:
            continue
        if doc["kind"] not in CLUSTER_SCOPED:
            doc.setdefault("metadata", {})["namespace"] = namespace
        for subject in doc.get("subjects") or []:
            if subject.get("kind") == "ServiceAccount":
                subject["namespace"] = namespace
        yield doc


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    await ctx.step("namespace", lambda: ensure_namespace(ctx, ns))
    await ctx.step(f"apply the Keycloak Operator {VERSION}", lambda: _operator(ctx))
    await wait_crds(ctx, CRDS)
    kube = await ctx.kube()
    await kube.wait_rollout("Deployment", OPERATOR, ns, timeout=600)
    db = await database_for(ctx, "keycloak")
    await ctx.step("admin credentials", lambda: _admin(ctx))
    await ctx.step(
        "declare Keycloak", lambda: ensure(ctx, keycloak_object(ctx, db.host, db.port, db.database, db.secret_name))
    )
    await ctx.step("publish auth." + ctx.spec.cluster.domain, lambda: ensure(ctx, ingress_object(ctx)))
    await kube.wait_for(
        KEYCLOAK_API,
        "Keycloak",
        KEYCLOAK_CR,
        ns,
        lambda o: condition(o, "Ready"),
        timeout=900,
        what=f"Keycloak {ns}/{KEYCLOAK_CR}",
    )
    await kube.wait_rollout("StatefulSet", KEYCLOAK_CR, ns, timeout=600)
    clients = sso_consumers(ctx)
    await ctx.step("client secrets", lambda: _client_secrets(ctx, clients))
    await ctx.step("user passwords", lambda: _user_passwords(ctx))
    realm = str(ctx.config["realm"])
    await ctx.step(f"import the {realm} realm", lambda: ensure(ctx, realm_import_object(ctx, clients)))
    await kube.wait_for(
        KEYCLOAK_API, "KeycloakRealmImport", realm, ns, realm_imported, timeout=600, what=f"realm import {realm}"
    )
    ctx.log(
        f"Keycloak is ready at https://auth.{ctx.spec.cluster.domain} (admin console: /admin); admin "
        f"credentials in Secret {ns}/{KEYCLOAK_ADMIN_SECRET}; realm {realm} with clients "
        f"{', '.join(clients) or '-'}"
        + (f"; initial user passwords in Secret {ns}/{USERS_SECRET}" if ctx.config["users"] else "")
    )


async def _operator(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    control = ctx.control
    for name in (*CRD_FILES, OPERATOR_FILE):  # CRDs first: the operator watches their kinds
        url = f"{MANIFESTS}/{name}"
        result = await ctx.run(control, f"curl -fsSL --retry 3 {quote(url)}", timeout=120, quiet=True)
        ctx.log(f"{control.name}: fetched {url}")
        try:
            objects = list(manifest_objects(result.stdout, ns))
        except yaml.YAMLError as exc:
            raise InstallError(f"{url} is not valid YAML: {exc}", node=control.name) from None
        for obj in objects:
            await ensure(ctx, obj)


async def _admin(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    user = str(ctx.config["adminUser"])
    password = await keep_or_make(
        ctx,
        [(KEYCLOAK_ADMIN_SECRET, ns, "password")],
        ref=ctx.config.get("adminPassword"),
        used_for="the Keycloak admin password",
    )
    await ensure_secret(ctx, KEYCLOAK_ADMIN_SECRET, ns, {"username": user, "password": password})


def keycloak_object(ctx: InstallContext, host: str, port: int, database: str, db_secret: str) -> dict[str, Any]:
    return {
        "apiVersion": KEYCLOAK_API,
        "kind": "Keycloak",
        "metadata": {"name": KEYCLOAK_CR, "namespace": ctx.component.namespace},
        "spec": {
            "instances": int(ctx.config["replicas"]),
            "db": {
                "vendor": "postgres",
                "host": host,
                "port": port,
                "database": database,
                "usernameSecret": {"name": db_secret, "key": "username"},
                "passwordSecret": {"name": db_secret, "key": "password"},
            },
            "http": {"httpEnabled": True},
            "hostname": {"hostname": f"https://auth.{ctx.spec.cluster.domain}"},
            "proxy": {"headers": "xforwarded"},
            "ingress": {"enabled": False},  # our own Ingress below, TLS at ingress-nginx
            "bootstrapAdmin": {"user": {"secret": KEYCLOAK_ADMIN_SECRET}},
        },
    }


def ingress_object(ctx: InstallContext) -> dict[str, Any]:
    host = f"auth.{ctx.spec.cluster.domain}"
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "keycloak",
            "namespace": ctx.component.namespace,
            "annotations": {"nginx.ingress.kubernetes.io/proxy-buffer-size": "128k"},
        },
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": [host]}],
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": KEYCLOAK_SERVICE, "port": {"number": 8080}}},
                            }
                        ]
                    },
                }
            ],
        },
    }


async def _client_secrets(ctx: InstallContext, clients: list[str]) -> None:
    for consumer in clients:
        await ensure_client_secret(ctx, consumer)


def user_placeholder(username: str) -> str:
    return "USER_PASSWORD_" + "".join(ch if ch.isalnum() else "_" for ch in username.upper())


async def _user_passwords(ctx: InstallContext) -> None:
    users = [u["username"] for u in ctx.config["users"]]
    if not users:
        return
    ns = ctx.component.namespace
    stored = await secret_values(ctx, USERS_SECRET, ns, secret_keys=users) or {}
    values = {}
    for username in users:
        values[username] = stored.get(username) or await keep_or_make(
            ctx, [], used_for=f"the initial password of realm user {username}"
        )
    await ensure_secret(ctx, USERS_SECRET, ns, values)


def realm_import_object(ctx: InstallContext, clients: list[str]) -> dict[str, Any]:
    realm = str(ctx.config["realm"])
    users = list(ctx.config["users"])
    groups = sorted({"admins", *(g for u in users for g in u.get("groups", ()))})
    placeholders = {
        placeholder(c): {"secret": {"name": keycloak_secret_name(c), "key": "client-secret"}} for c in clients
    }
    placeholders.update(
        {user_placeholder(u["username"]): {"secret": {"name": USERS_SECRET, "key": u["username"]}} for u in users}
    )
    realm_body: dict[str, Any] = {
        "realm": realm,
        "enabled": True,
        "sslRequired": "external",
        "passwordPolicy": ctx.config["passwordPolicy"],
        "groups": [{"name": g} for g in groups],
        "clients": [client_representation(ctx, c, "${" + placeholder(c) + "}") for c in clients],
        "users": [
            {
                "username": u["username"],
                "email": u["email"],
                "enabled": True,
                "emailVerified": True,
                **({"firstName": u["firstName"]} if u.get("firstName") else {}),
                **({"lastName": u["lastName"]} if u.get("lastName") else {}),
                "groups": [f"/{g}" for g in u.get("groups", ())],
                "credentials": [
                    {"type": "password", "value": "${" + user_placeholder(u["username"]) + "}", "temporary": True}
                ],
            }
            for u in users
        ],
    }
    spec: dict[str, Any] = {"keycloakCRName": KEYCLOAK_CR, "realm": realm_body}
    if placeholders:
        spec["placeholders"] = placeholders
    return {
        "apiVersion": KEYCLOAK_API,
        "kind": "KeycloakRealmImport",
        "metadata": {"name": realm, "namespace": ctx.component.namespace},
        "spec": spec,
    }
