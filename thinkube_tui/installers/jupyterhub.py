"""5.8 JupyterHub: the zero-to-jupyterhub chart with Keycloak login, the hub's database in the
shared PostgreSQL, a MinIO bucket for the users, notebook images through Harbor, and GPU
server profiles when discovery found GPU nodes.

1. `oidc_client_for` (Keycloak client `jupyterhub`, secret in Secret `jupyterhub-oidc`),
   `database_for` (role + database `jupyterhub`, password in Secret `jupyterhub-db`) and
   `bucket_for` (bucket `jupyterhub`, access key in Secret `jupyterhub-s3`).
2. With self-signed certificates, the cluster CA as ConfigMap `thinkube-ca`, mounted into the
   hub so the authenticator verifies https://auth.<domain>.
3. The chart, values on stdin. No secret is in the values: the hub reads the OIDC client secret
   and the database password from environment variables filled from the Secrets
   (`hub.extraEnv[*].valueFrom.secretKeyRef`); `hub.extraConfig` hands the client secret to
   the authenticator, libpq reads `PGPASSWORD` itself. Users get the bucket's credentials as
   environment variables from the Secret (`singleuser.extraEnv`, valueFrom).
4. Verified: the `hub` and `proxy` Deployments roll out (the hub only becomes ready after it
   has connected to PostgreSQL and loaded the authenticator).

Chart docs (z2jh 4.x): https://z2jh.jupyter.org/en/stable/resources/reference.html (hub.db,
hub.config, hub.extraEnv, hub.extraConfig, hub.extraVolumes, singleuser.image, .storage,
.profileList, .extraEnv, cull, ingress, prePuller, scheduling);
https://z2jh.jupyter.org/en/stable/administrator/authentication.html (GenericOAuthenticator);
https://z2jh.jupyter.org/en/stable/jupyterhub/customizing/user-environment.html (profileList,
kubespawner_override); OAuthenticator 17 traits (allow_all, admin_groups,
manage_groups, auth_state_groups_key, http_request_kwargs):
https://oauthenticator.readthedocs.io/en/latest/reference/api/gen/oauthenticator.generic.html
"""

from __future__ import annotations

from typing import Any

from .base import InstallContext
from .support.ca import self_signed
from .support.keycloak import oidc_client_for
from .support.minio import bucket_for
from .support.objects import ensure_namespace, rollout
from .support.postgres import database_for
from .support.uninstall import bucket_user_gone, database_released, helm_release_gone, namespace_gone, oidc_client_gone
from .support.workspace import (
    CA_FILE,
    ca_volume,
    gpu_models,
    gpu_nodes,
    gpu_product_label,
    gpu_resource,
    gpu_tolerations,
    harbor_image,
    helm_ingress,
    host,
    note_direct_pull,
    split_tag,
    trusted_ca,
)

HOSTNAME = "jupyter"
DEFAULT_IMAGE = "quay.io/jupyter/scipy-notebook:latest"  # the schema's default
GPU_PRESENT = {"nvidia.com/gpu.present": "true"}
SECRET_ENV = "OAUTH_CLIENT_SECRET"
# The authenticator gets the client secret from the environment, never from the values.
EXTRA_CONFIG = f"import os\nc.GenericOAuthenticator.client_secret = os.environ[{SECRET_ENV!r}]\n"


def _env(secret: str, key: str) -> dict[str, Any]:
    return {"valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _cpu(value: Any) -> float:
    return float(value)


def profiles(ctx: InstallContext, default_image: str) -> list[dict[str, Any]]:
    """The spawn form's profiles: the default image, one per GPU model found (when the setting
    asks for them), and the operator's extra profiles."""
    c = ctx.config
    out: list[dict[str, Any]] = [
        {
            "display_name": "Default",
            "description": f"CPU only, {default_image.rsplit('/', 1)[-1]}",
            "slug": "default",
            "default": True,
            "kubespawner_override": {"image": default_image},
        }
    ]
    resource = gpu_resource(ctx)
    tolerations = gpu_tolerations(ctx)
    models = gpu_models(ctx)
    if c["gpuProfiles"] and models:
        for model, count in models:
            selector = dict(GPU_PRESENT)
            if len(models) > 1:  # pick the model when the cluster has several
                selector["nvidia.com/gpu.product"] = gpu_product_label(model)
            out.append(
                {
                    "display_name": f"GPU: {model}",
                    "description": f"1 {model} ({count} in the cluster)",
                    "slug": "gpu-" + "".join(ch if ch.isalnum() else "-" for ch in model.lower()).strip("-"),
                    "kubespawner_override": {
                        "image": default_image,
                        "extra_resource_limits": {resource: "1"},
                        "node_selector": selector,
                        "tolerations": tolerations,
                    },
                }
            )
    for extra in c["extraProfiles"]:
        override: dict[str, Any] = {
            "image": harbor_image(ctx, str(extra["image"])),
            "cpu_limit": _cpu(extra.get("cpu", 2)),
            "mem_limit": str(extra.get("memory", "8Gi")).replace("i", ""),  # KubeSpawner: 8G, not 8Gi
        }
        gpus = int(extra.get("gpus", 0))
        if gpus > 0:
            override.update(
                {
                    "extra_resource_limits": {resource: str(gpus)},
                    "node_selector": dict(GPU_PRESENT),
                    "tolerations": tolerations,
                }
            )
        out.append(
            {
                "display_name": str(extra["displayName"]),
                "slug": "".join(ch if ch.isalnum() else "-" for ch in str(extra["displayName"]).lower()).strip("-"),
                "kubespawner_override": override,
            }
        )
    return out


def chart_values(
    ctx: InstallContext,
    *,
    issuer: str,
    client_id: str,
    oidc_secret: str,
    db_url: str,
    db_secret: str,
    s3_secret: str,
    ca: bool,
) -> dict[str, Any]:
    c = ctx.config
    hostname = host(ctx, HOSTNAME)
    image = harbor_image(ctx, str(c["defaultImage"]))
    image_name, image_tag = split_tag(image)
    oidc = f"{issuer}/protocol/openid-connect"
    authenticator: dict[str, Any] = {
        "client_id": client_id,
        "oauth_callback_url": f"https://{hostname}/hub/oauth_callback",
        "authorize_url": f"{oidc}/auth",
        "token_url": f"{oidc}/token",
        "userdata_url": f"{oidc}/userinfo",
        "logout_redirect_url": f"{oidc}/logout",
        "login_service": "Keycloak",
        "scope": ["openid", "profile", "email"],
        "username_claim": "preferred_username",
        # the realm's `groups` mapper puts group names into the userinfo
        "auth_state_groups_key": "oauth_user.groups",
        "manage_groups": True,  # OAuthenticator 17: admin_groups needs it; hub groups follow Keycloak's
        "admin_groups": list(c["adminGroups"]),
        "allow_all": True,  # every user of the platform realm may log in
    }
    hub: dict[str, Any] = {
        "config": {"JupyterHub": {"authenticator_class": "generic-oauth"}, "GenericOAuthenticator": authenticator},
        "extraEnv": {
            SECRET_ENV: _env(oidc_secret, "client-secret"),
            "PGPASSWORD": _env(db_secret, "password"),  # libpq reads it; the URL has no password
        },
        "extraConfig": {"thinkube-oidc": EXTRA_CONFIG},
        "db": {"type": "postgres", "url": db_url},
    }
    if ca:
        volume, mount = ca_volume()
        hub["extraVolumes"] = [volume]
        hub["extraVolumeMounts"] = [mount]
        authenticator["http_request_kwargs"] = {"ca_certs": CA_FILE}
    singleuser: dict[str, Any] = {
        "image": {"name": image_name, "tag": image_tag},
        "storage": {"capacity": str(c["userStorageSize"])},
        "profileList": profiles(ctx, image),
        # The users' bucket: endpoint, name and access key, all read from the Secret.
        "extraEnv": {
            "AWS_ACCESS_KEY_ID": _env(s3_secret, "AWS_ACCESS_KEY_ID"),
            "AWS_SECRET_ACCESS_KEY": _env(s3_secret, "AWS_SECRET_ACCESS_KEY"),
            "AWS_ENDPOINT_URL": _env(s3_secret, "endpoint"),
            "S3_BUCKET": _env(s3_secret, "bucket"),
        },
    }
    if ca:
        singleuser["extraEnv"]["THINKUBE_CA_FILE"] = CA_FILE
    cull_seconds = int(c["cullIdleSeconds"])
    return {
        "hub": hub,
        "proxy": {"service": {"type": "ClusterIP"}},  # reached through the Ingress only
        "singleuser": singleuser,
        "ingress": helm_ingress(ctx, hostname),
        "cull": {"enabled": cull_seconds > 0, **({"timeout": cull_seconds} if cull_seconds > 0 else {})},
        # The pre-pull hook would hold `helm --wait` until multi-GB notebook images are on every
        # node; the continuous puller (a DaemonSet) still pulls them in the background.
        "prePuller": {"hook": {"enabled": False}},
        # A homelab does not need the packing user scheduler.
        "scheduling": {"userScheduler": {"enabled": False}},
    }


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    await ctx.step("namespace", lambda: ensure_namespace(ctx, ns))
    client = await oidc_client_for(ctx, "jupyterhub")
    db = await database_for(ctx, "jupyterhub")
    bucket = await bucket_for(ctx, "jupyterhub")
    ca = self_signed(ctx)
    if ca:
        await ctx.step("trust the cluster CA", lambda: trusted_ca(ctx, ns))
    nodes = gpu_nodes(ctx)
    if ctx.config["gpuProfiles"]:
        if nodes:
            ctx.log(
                f"GPU profiles for {', '.join(m for m, _ in gpu_models(ctx))} on {', '.join(n.name for n in nodes)}"
            )
        else:
            ctx.log("gpuProfiles is on, but discovery found no GPU node: no GPU profiles")
    note_direct_pull(ctx, str(ctx.config["defaultImage"]))
    db_url = f"postgresql+psycopg2://{db.user}@{db.host}:{db.port}/{db.database}"
    values = chart_values(
        ctx,
        issuer=client.issuer,
        client_id=client.client_id,
        oidc_secret=client.secret_name,
        db_url=db_url,
        db_secret=db.secret_name,
        s3_secret=bucket.secret_name,
        ca=bool(ca),
    )
    await ctx.step("install the JupyterHub chart", lambda: ctx.helm(values, timeout_s=900), timeout=1200)

    # Verify: hub (ready only once it reached the database) and proxy are rolled out.
    await rollout(ctx, "Deployment", "hub", ns, timeout=600)
    await rollout(ctx, "Deployment", "proxy", ns, timeout=600)
    ctx.log(
        f"JupyterHub is ready at https://{host(ctx, HOSTNAME)} (log in with Keycloak, realm users; admins: "
        f"groups {', '.join(ctx.config['adminGroups'])}); hub database {db.database} on "
        f"{db.host}; users' bucket {bucket.bucket} (credentials from Secret {ns}/{bucket.secret_name} as "
        f"AWS_* environment variables); {len(values['singleuser']['profileList'])} server profile(s)"
    )


async def uninstall(ctx: InstallContext) -> None:
    """What install created goes; its data stays unless purge (support/uninstall.py)."""
    await helm_release_gone(ctx, ctx.component.id, ctx.component.namespace)
    await oidc_client_gone(ctx)
    await database_released(ctx)
    await bucket_user_gone(ctx)
    await namespace_gone(ctx)
