"""5.6 Harbor: the goharbor chart, images in MinIO, data in the shared PostgreSQL, Keycloak SSO,
projects and a Docker Hub proxy cache.

1. Credentials, all in Secrets of namespace `registry` and handed to the chart by name only
   (`existingSecret*` values), so no secret is ever part of the Helm values:
   `harbor-admin` (the local admin's password: the operator's `adminPassword`, else generated
   once), `harbor-internal` (the keys Harbor's components share: core/jobservice/registry
   secrets, the CSRF key, the 16-character encryption key), `harbor-registry-credentials`
   (the registry's basic-auth user and its htpasswd line).
2. A bucket from `support.minio.bucket_for` (MinIO, `persistence.imageChartStorage.type: s3`) — or a
   volume when `storageBackend` is `pvc` — and a database from `support.postgres.database_for` (Harbor's
   external-database mode: the chart reads the password from `harbor-db`, key `password`).
3. SSO: Harbor reads its user settings from the environment variable `CONFIG_OVERWRITE_JSON`
   at every start (auth_mode `oidc_auth`, issuer, client id and secret, groups claim, admin
   group). The JSON holds the client secret, so it lives in the Secret `harbor-oidc-config`
   and reaches harbor-core through `core.extraEnvVars` (a `secretKeyRef`); a digest of it in a
   pod annotation restarts core when it changes. The chart's own `core.configureUserSettings`
   would put the JSON (and the secret) into the Helm values: not used.
4. Projects and the Docker Hub proxy cache go through Harbor's API, which takes basic auth:
   the API server proxy cannot carry that (it consumes `Authorization`), so a one-shot Job
   runs `curl` against `harbor-core` inside the cluster with the admin password from the
   Secret as an environment variable (the way the Keycloak installer adds late clients).
   The script checks before it creates (HEAD /projects, GET /registries): safe to run again.

Docs: chart values https://github.com/goharbor/harbor-helm/blob/main/values.yaml (expose.*,
externalURL, existingSecretAdminPassword(Key), existingSecretSecretKey, core.existingSecret,
core.existingXsrfSecret, core.extraEnvVars, jobservice/registry.existingSecret(Key),
registry.credentials.existingSecret, persistence.imageChartStorage.s3.existingSecret,
database.external.*, caBundleSecretName); CONFIG_OVERWRITE_JSON and the OIDC keys:
https://goharbor.io/docs/latest/install-config/configure-system-settings-cli/ ; OIDC:
https://goharbor.io/docs/latest/administration/configure-authentication/oidc-auth/ ; proxy
cache: https://goharbor.io/docs/latest/administration/configure-proxy-cache/ ; API:
https://goharbor.io/docs/latest/build-customize-contribute/configure-swagger/ (/api/v2.0).
"""

from __future__ import annotations

import json
from typing import Any

import bcrypt

from ..secrets import generate_password
from .base import InstallContext
from .support.ca import cluster_ca
from .support.cicd import ADMIN_GROUP, ca_secret_name, digest, ensure_ca_secret, run_job, verify_tls
from .support.components import hostname
from .support.keycloak import OidcClient, oidc_client_for
from .support.minio import bucket_for, provision_buckets
from .support.nodes import ensure_hosts_entry, ensure_root_file
from .support.objects import MANAGED_BY, ensure_namespace, rollout
from .support.postgres import database_for
from .support.secret_objects import ensure_secret, env_from_secret, keep_or_make, secret_values

ADMIN_SECRET = "harbor-admin"
ADMIN_KEY = "HARBOR_ADMIN_PASSWORD"
INTERNAL_SECRET = "harbor-internal"
REGISTRY_CREDENTIALS = "harbor-registry-credentials"
REGISTRY_USER = "harbor_registry_user"
S3_SECRET = "harbor-registry-s3"  # the keys the chart's registry expects (REGISTRY_STORAGE_S3_*)
OIDC_CONFIG_SECRET = "harbor-oidc-config"
DOCKERHUB_SECRET = "harbor-dockerhub"
PROXY_PROJECT = "dockerhub"
PROXY_REGISTRY = "docker-hub"
CURL_IMAGE = "curlimages/curl:8.11.1"
# Release "harbor" of chart "harbor": the chart's fullname is "harbor".
FULLNAME = "harbor"
CORE_SERVICE = f"{FULLNAME}-core"
#: key -> length of the keys Harbor's components share (the chart's own defaults: 16, CSRF 32)
INTERNAL_KEYS = {"secret": 16, "JOBSERVICE_SECRET": 16, "REGISTRY_HTTP_SECRET": 16, "secretKey": 16, "CSRF_KEY": 32}


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    host = hostname(ctx)
    await ctx.step("namespace", lambda: ensure_namespace(ctx, ns))
    await ctx.step("admin and internal credentials", lambda: _credentials(ctx))
    db = await database_for(ctx, "harbor")
    storage: dict[str, Any] = {}
    if ctx.config["storageBackend"] == "minio":
        bucket = await bucket_for(ctx, "harbor")
        name = str(ctx.config["bucket"])
        if name != bucket.bucket:  # the access key of harbor may use every bucket of the Tenant
            await ctx.step(
                f"MinIO bucket {name} for images", lambda: provision_buckets(ctx, ["harbor"], extra=[{"name": name}])
            )
        storage = {"endpoint": bucket.endpoint, "bucket": name, "secret": bucket.secret_name}
        await ctx.step("S3 credentials for the registry", lambda: _s3_secret(ctx, storage["secret"]))
    client = await oidc_client_for(ctx, ctx.component.id)
    await ctx.step("trust the platform CA", lambda: ensure_ca_secret(ctx, ns))
    settings = await oidc_settings_json(ctx, client)  # a read: later steps need it on a resumed run too
    await ctx.step(
        "SSO settings (CONFIG_OVERWRITE_JSON)",
        lambda: ensure_secret(ctx, OIDC_CONFIG_SECRET, ns, {"CONFIG_OVERWRITE_JSON": settings}),
    )
    values = harbor_values(
        ctx,
        db_host=db.host,
        db_port=db.port,
        db_name=db.database,
        db_user=db.user,
        db_secret=db.secret_name,
        storage=storage,
        ca_secret=ca_secret_name(ctx),
        settings_digest=digest(settings, length=16),
    )
    await ctx.step(f"install Harbor at https://{host}", lambda: ctx.helm(values, timeout_s=1200))

    # Verify: every component rolled out, then the API answers the setup Job.
    for kind, name in workloads(ctx):
        await rollout(ctx, kind, name, ns, timeout=900)
    if ctx.config.get("dockerHubToken") is not None:
        await ctx.step("Docker Hub token", lambda: _dockerhub_secret(ctx))
    await ctx.step(
        "projects and the Docker Hub proxy cache",
        lambda: run_job(
            ctx,
            setup_job(ctx),
            what="Harbor projects "
            + ", ".join(projects(ctx))
            + (f" and the proxy cache {PROXY_PROJECT}" if ctx.config["dockerHubProxyCache"] else ""),
        ),
    )
    await ctx.step("let every node pull through the registry", lambda: _node_pulls(ctx, host))
    pulls = f"; Docker Hub images through {host}/{PROXY_PROJECT}/<image>" if ctx.config["dockerHubProxyCache"] else ""
    ctx.log(
        f"Harbor is ready at https://{host}: sign in with Keycloak (members of {ADMIN_GROUP} are Harbor "
        f"admins); the local admin's password is in Secret {ns}/{ADMIN_SECRET} (key {ADMIN_KEY}){pulls}"
    )


async def _node_pulls(ctx: InstallContext, host: str) -> None:
    """containerd on each node pulls from `host`: it resolves there, and trusts the platform CA.

    MicroK8s reads per-registry settings from args/certs.d/<registry>/hosts.toml, without a
    restart (https://microk8s.io/docs/registry-private).
    """
    ca = await cluster_ca(ctx)
    directory = f"{CERTS_D}/{host}"
    hosts_toml = f'server = "https://{host}"\n\n[host."https://{host}"]\ncapabilities = ["pull", "resolve"]\n' + (
        f'ca = "{directory}/ca.crt"\n' if ca else ""
    )
    for node in ctx.spec.nodes:
        await ensure_hosts_entry(ctx, node, host, ctx.spec.cluster.ingress_ip)
        if ca:
            await ensure_root_file(ctx, node, f"{directory}/ca.crt", ca)
        await ensure_root_file(ctx, node, f"{directory}/hosts.toml", hosts_toml)


CERTS_D = "/var/snap/microk8s/current/args/certs.d"


def workloads(ctx: InstallContext) -> list[tuple[str, str]]:
    """What the chart runs with these values (internal Redis; the database is the shared one)."""
    out = [("Deployment", f"{FULLNAME}-{c}") for c in ("core", "portal", "registry", "jobservice")]
    out.append(("StatefulSet", f"{FULLNAME}-redis"))
    if ctx.config["trivy"]:
        out.append(("StatefulSet", f"{FULLNAME}-trivy"))
    return out


def projects(ctx: InstallContext) -> list[str]:
    return [str(p) for p in ctx.config["projects"]]


# ---------------------------------------------------------------- credentials


async def _credentials(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    password = await keep_or_make(
        ctx, [(ADMIN_SECRET, ns, ADMIN_KEY)], ref=ctx.config.get("adminPassword"), used_for="the Harbor admin password"
    )
    await ensure_secret(ctx, ADMIN_SECRET, ns, {"username": "admin", ADMIN_KEY: password})

    stored = await secret_values(ctx, INTERNAL_SECRET, ns, secret_keys=INTERNAL_KEYS) or {}
    internal = {}
    for key, length in INTERNAL_KEYS.items():
        value = stored.get(key)
        if not value or len(value) != length:  # Harbor needs exactly these lengths
            value = generate_password(length)
            ctx.cluster.secrets.register(value)
            ctx.log(f"Harbor's internal key {key}: generated a new one")
        internal[key] = value
    await ensure_secret(ctx, INTERNAL_SECRET, ns, internal)

    # The registry's own basic auth (core -> registry): a password and its htpasswd line. The
    # bcrypt hash is salted, so it is kept and reused while it still matches the password.
    registry = await secret_values(ctx, REGISTRY_CREDENTIALS, ns, secret_keys=("REGISTRY_PASSWD",)) or {}
    reg_password = registry.get("REGISTRY_PASSWD") or await keep_or_make(
        ctx, [], used_for="the password of Harbor's registry user"
    )
    htpasswd = registry.get("REGISTRY_HTPASSWD", "")
    if not _htpasswd_matches(htpasswd, REGISTRY_USER, reg_password):
        hashed = bcrypt.hashpw(reg_password.encode(), bcrypt.gensalt(rounds=10)).decode()
        htpasswd = f"{REGISTRY_USER}:{hashed}"
    await ensure_secret(ctx, REGISTRY_CREDENTIALS, ns, {"REGISTRY_PASSWD": reg_password, "REGISTRY_HTPASSWD": htpasswd})


def _htpasswd_matches(line: str, user: str, password: str) -> bool:
    name, _, hashed = line.partition(":")
    if name != user or not hashed:
        return False
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:
        return False


async def _s3_secret(ctx: InstallContext, bucket_secret: str) -> None:
    ns = ctx.component.namespace
    creds = await secret_values(ctx, bucket_secret, ns, secret_keys=("AWS_SECRET_ACCESS_KEY",)) or {}
    await ensure_secret(
        ctx,
        S3_SECRET,
        ns,
        {
            "REGISTRY_STORAGE_S3_ACCESSKEY": creds.get("AWS_ACCESS_KEY_ID", "harbor"),
            "REGISTRY_STORAGE_S3_SECRETKEY": creds.get("AWS_SECRET_ACCESS_KEY", ""),
        },
    )


async def _dockerhub_secret(ctx: InstallContext) -> None:
    token = ctx.cluster.secrets.resolve(ctx.config["dockerHubToken"], "the Docker Hub token for Harbor's proxy cache")
    await ensure_secret(ctx, DOCKERHUB_SECRET, ctx.component.namespace, {"token": token})


# ---------------------------------------------------------------- SSO


def oidc_settings(ctx: InstallContext, issuer: str, client_id: str, client_secret: str) -> dict[str, Any]:
    """Harbor's user settings for Keycloak (keys of Harbor's configuration API)."""
    return {
        "auth_mode": "oidc_auth",
        "oidc_name": "Keycloak",
        "oidc_endpoint": issuer,
        "oidc_client_id": client_id,
        "oidc_client_secret": client_secret,
        "oidc_scope": "openid,profile,email,offline_access",
        "oidc_groups_claim": "groups",
        "oidc_admin_group": ADMIN_GROUP,
        "oidc_user_claim": "preferred_username",
        "oidc_auto_onboard": True,
        "oidc_verify_cert": verify_tls(ctx),
    }


async def oidc_settings_json(ctx: InstallContext, client: OidcClient) -> str:
    """CONFIG_OVERWRITE_JSON for `client`, with its secret read from the client's Secret."""
    stored = await secret_values(ctx, client.secret_name, client.namespace, secret_keys=(client.secret_key,)) or {}
    settings = oidc_settings(ctx, client.issuer, client.client_id, stored.get(client.secret_key, ""))
    return json.dumps(settings, sort_keys=True)


# ---------------------------------------------------------------- values


def harbor_values(
    ctx: InstallContext,
    *,
    db_host: str,
    db_port: int,
    db_name: str,
    db_user: str,
    db_secret: str,
    storage: dict[str, Any],
    ca_secret: str | None,
    settings_digest: str,
) -> dict[str, Any]:
    host = hostname(ctx)
    c = ctx.config
    image_storage: dict[str, Any]
    if storage:
        # MinIO does not support the registry's redirects to pre-signed URLs (chart comment on
        # disableredirect); the in-cluster endpoint is plain HTTP.
        image_storage = {
            "type": "s3",
            "disableredirect": True,
            "s3": {
                "existingSecret": S3_SECRET,
                "region": "us-east-1",
                "bucket": storage["bucket"],
                "regionendpoint": storage["endpoint"],
                "secure": False,
                "v4auth": True,
            },
        }
    else:
        image_storage = {"type": "filesystem", "filesystem": {"rootdirectory": "/storage"}}
    values: dict[str, Any] = {
        "externalURL": f"https://{host}",
        "expose": {
            "type": "ingress",
            # certSource none: "the default tls certificate is configured in the ingress
            # controller" (chart values): the wildcard certificate; the Ingress gets a TLS
            # entry for the host without a secretName.
            "tls": {"enabled": True, "certSource": "none"},
            "ingress": {
                "hosts": {"core": host},
                "className": "nginx",
                "annotations": {
                    "nginx.ingress.kubernetes.io/ssl-redirect": "true",
                    "nginx.ingress.kubernetes.io/proxy-body-size": "0",
                },
            },
        },
        "existingSecretAdminPassword": ADMIN_SECRET,
        "existingSecretAdminPasswordKey": ADMIN_KEY,
        "existingSecretSecretKey": INTERNAL_SECRET,
        "core": {
            "existingSecret": INTERNAL_SECRET,
            "existingXsrfSecret": INTERNAL_SECRET,
            "existingXsrfSecretKey": "CSRF_KEY",
            "extraEnvVars": [env_from_secret("CONFIG_OVERWRITE_JSON", OIDC_CONFIG_SECRET, "CONFIG_OVERWRITE_JSON")],
            "podAnnotations": {"thinkube.io/sso-settings": settings_digest},
        },
        "jobservice": {"existingSecret": INTERNAL_SECRET, "existingSecretKey": "JOBSERVICE_SECRET"},
        "registry": {
            "existingSecret": INTERNAL_SECRET,
            "existingSecretKey": "REGISTRY_HTTP_SECRET",
            "credentials": {"username": REGISTRY_USER, "existingSecret": REGISTRY_CREDENTIALS},
        },
        "persistence": {
            "enabled": True,
            "resourcePolicy": "keep",
            "persistentVolumeClaim": {"registry": {"size": str(c["registryStorageSize"])}},
            "imageChartStorage": image_storage,
        },
        "database": {
            "type": "external",
            "external": {
                "host": db_host,
                "port": str(db_port),
                "username": db_user,
                "coreDatabase": db_name,
                "existingSecret": db_secret,
                "sslmode": "disable",
            },
        },
        "redis": {"type": "internal"},
        "trivy": {"enabled": bool(c["trivy"])},
        "metrics": {"enabled": False},
    }
    if ca_secret:
        values["caBundleSecretName"] = ca_secret  # Keycloak's certificate is signed by the platform CA
    return values


# ---------------------------------------------------------------- projects and proxy cache

SETUP_SCRIPT = r"""
set -eu
api="http://$HARBOR_HOST/api/v2.0"
umask 077
# basic auth from a netrc file: the admin password never appears on a command line
printf 'machine %s login admin password %s\n' "$HARBOR_HOST" "$HARBOR_ADMIN_PASSWORD" > /tmp/netrc
h() { curl -sS --netrc-file /tmp/netrc -H 'Content-Type: application/json' "$@"; }
until h -f -o /dev/null "$api/ping"; do echo "waiting for the Harbor API"; sleep 5; done

project() {  # name, public, registry id (empty: a normal project)
  code=$(h -o /dev/null -w '%{http_code}' -I "$api/projects?project_name=$1")
  if [ "$code" = 200 ]; then echo "project $1 exists"; return 0; fi
  extra=""
  if [ -n "$3" ]; then extra=",\"registry_id\":$3"; fi
  printf '{"project_name":"%s","metadata":{"public":"%s"}%s}' "$1" "$2" "$extra" > /tmp/project.json
  h -f -X POST --data @/tmp/project.json "$api/projects" && echo "created project $1"
}

for p in $PROJECTS; do project "$p" false ""; done

if [ "$PROXY_CACHE" = true ]; then
  find_registry() {
    h -f "$api/registries?q=name%3D$PROXY_REGISTRY" | tr ',' '\n' \
      | sed -n 's/^.*"id":\([0-9][0-9]*\).*$/\1/p' | head -n 1
  }
  id=$(find_registry)
  if [ -z "$id" ]; then
    if [ -n "${DOCKERHUB_USERNAME:-}" ] && [ -n "${DOCKERHUB_TOKEN:-}" ]; then
      cred=$(printf ',"credential":{"type":"basic","access_key":"%s","access_secret":"%s"}' \
        "$DOCKERHUB_USERNAME" "$DOCKERHUB_TOKEN")
    else
      cred=""
    fi
    printf '{"name":"%s","type":"docker-hub","url":"https://hub.docker.com","insecure":false%s}' \
      "$PROXY_REGISTRY" "$cred" > /tmp/registry.json
    h -f -X POST --data @/tmp/registry.json "$api/registries" && echo "created registry endpoint $PROXY_REGISTRY"
    rm -f /tmp/registry.json
    id=$(find_registry)
  else
    echo "registry endpoint $PROXY_REGISTRY exists"
  fi
  [ -n "$id" ] || { echo "registry endpoint $PROXY_REGISTRY not found after creating it" >&2; exit 1; }
  project "$PROXY_PROJECT" true "$id"
fi
rm -f /tmp/netrc
echo "Harbor setup done"
"""


def setup_job(ctx: InstallContext) -> dict[str, Any]:
    ns = ctx.component.namespace
    proxy = bool(ctx.config["dockerHubProxyCache"])
    env: list[dict[str, Any]] = [
        {"name": "HARBOR_HOST", "value": f"{CORE_SERVICE}.{ns}.svc"},
        {"name": "PROJECTS", "value": " ".join(projects(ctx))},
        {"name": "PROXY_CACHE", "value": "true" if proxy else "false"},
        {"name": "PROXY_REGISTRY", "value": PROXY_REGISTRY},
        {"name": "PROXY_PROJECT", "value": PROXY_PROJECT},
        env_from_secret("HARBOR_ADMIN_PASSWORD", ADMIN_SECRET, ADMIN_KEY),
    ]
    if proxy and ctx.config.get("dockerHubUsername"):
        env.append({"name": "DOCKERHUB_USERNAME", "value": str(ctx.config["dockerHubUsername"])})
        if ctx.config.get("dockerHubToken") is not None:
            env.append(env_from_secret("DOCKERHUB_TOKEN", DOCKERHUB_SECRET, "token"))
    spec = {
        "backoffLimit": 6,
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/name": "harbor-setup"}},
            "spec": {
                "restartPolicy": "OnFailure",
                "containers": [
                    {
                        "name": "setup",
                        "image": CURL_IMAGE,
                        "command": ["/bin/sh", "-c", SETUP_SCRIPT],
                        "env": env,
                        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                    }
                ],
            },
        },
    }
    # Named after what it does: Job specs are immutable, a changed setting needs a new Job.
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": f"harbor-setup-{digest(spec)}", "namespace": ns, "labels": dict(MANAGED_BY)},
        "spec": spec,
    }
