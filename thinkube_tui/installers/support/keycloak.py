"""The shared Keycloak contract: an OIDC client for a consumer in the platform realm.

``async def oidc_client_for(ctx, consumer) -> OidcClient``
    A confidential OIDC client ``<consumer>`` in the ``thinkube`` realm (issuer
    ``https://auth.<domain>/realms/thinkube``), redirect URIs ``https://<hostname>/*`` for the
    consumer's catalog hostnames. Its secret is generated once and kept in the Secret
    ``<consumer>-oidc`` (key ``client-secret``, plus ``client-id`` and ``issuer``) in the
    consumer's namespace. Clients of SSO components selected when Keycloak is installed come
    with the realm (a ``KeycloakRealmImport``); a client added later is created by a one-shot
    Job running ``kcadm.sh`` inside the cluster (the realm import cannot change an existing
    realm, and Keycloak's admin API cannot be reached through the API server proxy).

Called from an installer with its own `ctx`: runs as one journaled step of the calling
component, is idempotent, and returns names and places, never a secret value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...spec import Spec
from ..base import InstallContext
from .components import namespace_of
from .objects import MANAGED_BY, condition, ensure, ensure_namespace
from .secret_objects import ensure_secret, keep_or_make

Obj = dict[str, Any]

KEYCLOAK_API = "k8s.keycloak.org/v2alpha1"
KEYCLOAK_CR = "keycloak"
KEYCLOAK_SERVICE = f"{KEYCLOAK_CR}-service"  # the operator names the Service after the CR
KEYCLOAK_ADMIN_SECRET = "keycloak-admin"
KEYCLOAK_IMAGE = "quay.io/keycloak/keycloak:26.2.0"


@dataclass(frozen=True)
class OidcClient:
    issuer: str
    client_id: str
    secret_name: str  # in `namespace`; key client-secret (and client-id, issuer)
    namespace: str
    secret_key: str = "client-secret"


def realm_name(ctx: InstallContext) -> str:
    realm: str = ctx.spec.components["keycloak"].config["realm"]
    return realm


def client_secrets_in_vault(spec: Spec) -> bool:
    """keycloak.storeSecretsInVault: Vault KV keeps a copy of each OIDC client secret (vault_kv.py)."""
    return bool(spec.components["keycloak"].config["storeSecretsInVault"])


def issuer_url(ctx: InstallContext) -> str:
    return f"https://auth.{ctx.spec.cluster.domain}/realms/{realm_name(ctx)}"


def keycloak_secret_name(consumer: str) -> str:
    """The copy of a client secret in the keycloak namespace (realm import placeholders, Jobs)."""
    return f"oidc-{consumer}"


def placeholder(consumer: str) -> str:
    return "CLIENT_SECRET_" + "".join(ch if ch.isalnum() else "_" for ch in consumer.upper())


def client_representation(ctx: InstallContext, consumer: str, secret: str) -> Obj:
    """The Keycloak ClientRepresentation of `consumer` (`secret`: the value or a placeholder)."""
    hosts = [h.format(domain=ctx.spec.cluster.domain) for h in ctx.cluster.catalog[consumer].hostnames]
    return {
        "clientId": consumer,
        "name": ctx.cluster.catalog[consumer].title,
        "enabled": True,
        "protocol": "openid-connect",
        "publicClient": False,
        "clientAuthenticatorType": "client-secret",
        "secret": secret,
        "standardFlowEnabled": True,
        "directAccessGrantsEnabled": False,
        "redirectUris": [f"https://{h}/*" for h in hosts],
        "webOrigins": [f"https://{h}" for h in hosts],
        "attributes": {"post.logout.redirect.uris": "+"},
        "protocolMappers": [
            {
                "name": "groups",
                "protocol": "openid-connect",
                "protocolMapper": "oidc-group-membership-mapper",
                "config": {
                    "claim.name": "groups",
                    "full.path": "false",
                    "id.token.claim": "true",
                    "access.token.claim": "true",
                    "userinfo.token.claim": "true",
                },
            }
        ],
    }


async def ensure_client_secret(ctx: InstallContext, consumer: str) -> OidcClient:
    """The client secret of `consumer`: generated once, in its namespace and in keycloak's."""
    kc_ns = namespace_of(ctx, "keycloak")
    ns = namespace_of(ctx, consumer)
    client = OidcClient(issuer=issuer_url(ctx), client_id=consumer, secret_name=f"{consumer}-oidc", namespace=ns)
    secret = await keep_or_make(
        ctx,
        [(client.secret_name, ns, "client-secret"), (keycloak_secret_name(consumer), kc_ns, "client-secret")],
        used_for=f"the OIDC client secret of {consumer}",
    )
    await ensure_secret(ctx, keycloak_secret_name(consumer), kc_ns, {"client-secret": secret})
    await ensure_namespace(ctx, ns)
    await ensure_secret(
        ctx, client.secret_name, ns, {"client-id": consumer, "client-secret": secret, "issuer": client.issuer}
    )
    return client


async def oidc_client_for(ctx: InstallContext, consumer: str) -> OidcClient:
    """An OIDC client for `consumer` in the platform realm (see the module doc)."""
    client = OidcClient(
        issuer=issuer_url(ctx),
        client_id=consumer,
        secret_name=f"{consumer}-oidc",
        namespace=namespace_of(ctx, consumer),
    )
    await ctx.step(f"Keycloak OIDC client {consumer}", lambda: _ensure_client(ctx, consumer))
    return client


async def _ensure_client(ctx: InstallContext, consumer: str) -> None:
    await ensure_client_secret(ctx, consumer)
    kc_ns = namespace_of(ctx, "keycloak")
    realm = realm_name(ctx)
    kube = await ctx.kube()
    imported = await kube.get(KEYCLOAK_API, "KeycloakRealmImport", realm, kc_ns)
    clients = (((imported or {}).get("spec") or {}).get("realm") or {}).get("clients") or []
    if any(c.get("clientId") == consumer for c in clients):
        await kube.wait_for(
            KEYCLOAK_API, "KeycloakRealmImport", realm, kc_ns, realm_imported, timeout=600, what=f"realm import {realm}"
        )
        ctx.log(f"client {consumer} came with the {realm} realm import")
        return
    await _client_job(ctx, consumer)


def realm_imported(obj: Mapping[str, Any]) -> bool:
    return condition(obj, "Done") and not condition(obj, "HasErrors")


KCADM_SCRIPT = """\
set -eu
kcadm=/opt/keycloak/bin/kcadm.sh
cfg=/tmp/kcadm.config
# KC_CLI_PASSWORD carries the admin password (kept out of the command line)
$kcadm config credentials --config "$cfg" --server "$KEYCLOAK_URL" --realm master --user "$ADMIN_USER"
found=$($kcadm get clients --config "$cfg" -r "$REALM" -q "clientId=$CLIENT_ID" --fields id --format csv --noquotes)
if [ -z "$found" ]; then
  printf '%s' "$CLIENT_JSON" | $kcadm create clients --config "$cfg" -r "$REALM" -f - -s "secret=$CLIENT_SECRET"
  echo "created client $CLIENT_ID"
else
  echo "client $CLIENT_ID exists"
fi
"""


def kcadm_job(ctx: InstallContext, name: str, script: str, env: Mapping[str, str | tuple[str, str]]) -> Obj:
    """A Job running `script` with Keycloak's admin CLI (kcadm.sh) inside the cluster, logged in
    as the realm admin: the admin API is reachable from there, and secrets come as env from
    Secrets. `env` values are literals, or (Secret name, key) pairs."""
    kc_ns = namespace_of(ctx, "keycloak")
    variables: list[Obj] = [
        {"name": "KEYCLOAK_URL", "value": f"http://{KEYCLOAK_SERVICE}.{kc_ns}.svc:8080"},
        {"name": "REALM", "value": realm_name(ctx)},
        {"name": "ADMIN_USER", "valueFrom": {"secretKeyRef": {"name": KEYCLOAK_ADMIN_SECRET, "key": "username"}}},
        {"name": "KC_CLI_PASSWORD", "valueFrom": {"secretKeyRef": {"name": KEYCLOAK_ADMIN_SECRET, "key": "password"}}},
    ]
    for var, value in env.items():
        if isinstance(value, tuple):
            variables.append({"name": var, "valueFrom": {"secretKeyRef": {"name": value[0], "key": value[1]}}})
        else:
            variables.append({"name": var, "value": value})
    container = {"name": "kcadm", "image": KEYCLOAK_IMAGE, "command": ["/bin/bash", "-c", script], "env": variables}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name[:63], "namespace": kc_ns, "labels": dict(MANAGED_BY)},
        "spec": {"backoffLimit": 6, "template": {"spec": {"restartPolicy": "OnFailure", "containers": [container]}}},
    }


async def _client_job(ctx: InstallContext, consumer: str) -> None:
    """Create the client with kcadm.sh in a Job inside the cluster (idempotent script)."""
    kc_ns = namespace_of(ctx, "keycloak")
    name = f"keycloak-client-{consumer}"[:63]
    representation = client_representation(ctx, consumer, "")
    representation.pop("secret")
    job = kcadm_job(
        ctx,
        name,
        KCADM_SCRIPT,
        {
            "CLIENT_ID": consumer,
            "CLIENT_JSON": json.dumps(representation, sort_keys=True),
            "CLIENT_SECRET": (keycloak_secret_name(consumer), "client-secret"),
        },
    )
    await ensure(ctx, job)
    kube = await ctx.kube()
    await kube.wait_for(
        "batch/v1", "Job", name, kc_ns, job_succeeded, timeout=600, what=f"Job {kc_ns}/{name} (OIDC client {consumer})"
    )
    ctx.log(f"client {consumer} is in realm {realm_name(ctx)}")


def job_succeeded(obj: Mapping[str, Any]) -> bool:
    return int((obj.get("status") or {}).get("succeeded") or 0) >= 1 or condition(obj, "Complete")
