"""5.8 code-server: VS Code in the browser, behind Keycloak, with a persistent workspace.

code-server publishes no Helm repository (catalog: `manifests`), so the installer applies the
objects itself, in namespace `code-server`:

- Secret `code-server-oidc` (client secret, from `oidc_client_for`) and Secret
  `code-server-oauth2-proxy` (the cookie secret, generated once with `keep_or_make`);
- with self-signed certificates, ConfigMap `thinkube-ca` (the cluster CA certificate) so
  oauth2-proxy can verify https://auth.<domain>;
- PVC `code-server-workspace` (`storageSize`), mounted as /home/coder: the workspace, the
  installed extensions, ~/.gitconfig;
- Deployment `code-server` (Recreate: the volume is ReadWriteOnce):
  - init container `prepare` (the code-server image): git user.name/email, clones the
    `repositories` not cloned yet into ~/workspace, installs `extensions` (a failure there is
    logged and does not block the start);
  - `code-server` (codercom/code-server, pinned, pulled through Harbor's Docker Hub proxy
    cache) listening on 127.0.0.1:8080 only, `--auth none`: nothing reaches it but the proxy;
  - `oauth2-proxy` (quay.io/oauth2-proxy/oauth2-proxy, pinned) on :4180 with
    `--provider=keycloak-oidc`, client and cookie secrets from the Secrets as environment
    variables (OAUTH2_PROXY_CLIENT_SECRET, OAUTH2_PROXY_COOKIE_SECRET), never in args. Only
    members of the realm group `admins` get in: the workspace is one person's shell.
- Service `code-server` (80 -> oauth2-proxy 4180) and Ingress `code.<domain>`.

Verified: the Deployment rolls out (both containers ready: code-server's /healthz, oauth2-proxy's
/ping).

Docs: https://coder.com/docs/code-server/install#kubernetes and `code-server --help`
(--bind-addr, --auth, --disable-telemetry, --install-extension);
https://oauth2-proxy.github.io/oauth2-proxy/configuration/providers/keycloak_oidc and
https://oauth2-proxy.github.io/oauth2-proxy/configuration/overview (flags, OAUTH2_PROXY_*
environment variables, --provider-ca-file, --allowed-group, cookie secret of 16/24/32 bytes).
"""

from __future__ import annotations

from typing import Any

from .base import InstallContext
from .support.ca import self_signed
from .support.keycloak import oidc_client_for
from .support.objects import MANAGED_BY, ensure, ensure_namespace, rollout
from .support.secret_objects import ensure_secret, env_from_secret, keep_or_make
from .support.uninstall import standard
from .support.workspace import CA_FILE, ca_volume, cpu_quantity, harbor_image, host, ingress, trusted_ca

NAME = "code-server"
HOSTNAME = "code"
CODE_SERVER_IMAGE = "codercom/code-server:4.104.2"
OAUTH2_PROXY_IMAGE = "quay.io/oauth2-proxy/oauth2-proxy:v7.8.1"
WORKSPACE_PVC = "code-server-workspace"
PROXY_SECRET = "code-server-oauth2-proxy"
ALLOWED_GROUP = "admins"
HOME = "/home/coder"
WORKSPACE = f"{HOME}/workspace"
CODE_PORT = 8080
PROXY_PORT = 4180
LABELS = {"app.kubernetes.io/name": NAME, **MANAGED_BY}

# Runs before code-server starts, as the coder user, with the workspace volume as $HOME.
# Inputs come from environment variables (never spliced into the script).
PREPARE_SCRIPT = """\
set -u
set -f
mkdir -p "$WORKSPACE"
if [ -n "${GIT_USER_NAME:-}" ]; then git config --global user.name "$GIT_USER_NAME"; fi
if [ -n "${GIT_USER_EMAIL:-}" ]; then git config --global user.email "$GIT_USER_EMAIL"; fi
for url in ${REPOSITORIES:-}; do
  name=$(basename "$url" .git)
  if [ -d "$WORKSPACE/$name/.git" ]; then
    echo "$name: already cloned"
  else
    git clone -- "$url" "$WORKSPACE/$name" || echo "could not clone $url (continuing)"
  fi
done
for ext in ${EXTENSIONS:-}; do
  code-server --install-extension "$ext" || echo "could not install extension $ext (continuing)"
done
"""


def deployment(ctx: InstallContext, *, issuer: str, client_id: str, oidc_secret: str, ca: bool) -> dict[str, Any]:
    c = ctx.config
    image = harbor_image(ctx, CODE_SERVER_IMAGE)
    hostname = host(ctx, HOSTNAME)
    home = {"name": "home", "mountPath": HOME}
    # Empty values are left out: the API server drops `value: ""`, and a second run would
    # otherwise find the Deployment different from what it wants.
    prepare_env = [
        {"name": k, "value": v}
        for k, v in (
            ("WORKSPACE", WORKSPACE),
            ("GIT_USER_NAME", str(c.get("gitUserName", ""))),
            ("GIT_USER_EMAIL", str(c.get("gitUserEmail", ""))),
            ("REPOSITORIES", " ".join(c["repositories"])),
            ("EXTENSIONS", " ".join(c["extensions"])),
        )
        if v
    ]
    proxy_args = [
        "--provider=keycloak-oidc",
        f"--oidc-issuer-url={issuer}",
        f"--client-id={client_id}",
        f"--redirect-url=https://{hostname}/oauth2/callback",
        f"--upstream=http://127.0.0.1:{CODE_PORT}/",
        f"--http-address=0.0.0.0:{PROXY_PORT}",
        "--email-domain=*",
        f"--allowed-group={ALLOWED_GROUP}",
        "--code-challenge-method=S256",
        "--cookie-secure=true",
        "--reverse-proxy=true",
        "--skip-provider-button=true",
    ]
    volumes: list[dict[str, Any]] = [{"name": "home", "persistentVolumeClaim": {"claimName": WORKSPACE_PVC}}]
    proxy_mounts: list[dict[str, Any]] = []
    if ca:
        volume, mount = ca_volume()
        volumes.append(volume)
        proxy_mounts.append(mount)
        proxy_args.append(f"--provider-ca-file={CA_FILE}")
    proxy: dict[str, Any] = {
        "name": "oauth2-proxy",
        "image": OAUTH2_PROXY_IMAGE,
        "args": proxy_args,
        "env": [
            env_from_secret("OAUTH2_PROXY_CLIENT_SECRET", oidc_secret, "client-secret"),
            env_from_secret("OAUTH2_PROXY_COOKIE_SECRET", PROXY_SECRET, "cookie-secret"),
        ],
        "ports": [{"name": "http", "containerPort": PROXY_PORT}],
        "readinessProbe": {"httpGet": {"path": "/ping", "port": PROXY_PORT}, "periodSeconds": 10},
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
    }
    if proxy_mounts:
        proxy["volumeMounts"] = proxy_mounts
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": ctx.component.namespace, "labels": LABELS},
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},  # the workspace volume is ReadWriteOnce
            "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {
                    "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000},
                    "initContainers": [
                        {
                            "name": "prepare",
                            "image": image,
                            "command": ["/bin/sh", "-c", PREPARE_SCRIPT],
                            "env": prepare_env,
                            "volumeMounts": [home],
                        }
                    ],
                    "containers": [
                        {
                            "name": "code-server",
                            "image": image,
                            "args": [
                                "--bind-addr",
                                f"127.0.0.1:{CODE_PORT}",
                                "--auth",
                                "none",
                                "--disable-telemetry",
                                WORKSPACE,
                            ],
                            "volumeMounts": [home],
                            "readinessProbe": {
                                "exec": {
                                    "command": [
                                        "curl",
                                        "-fsS",
                                        "-o",
                                        "/dev/null",
                                        f"http://127.0.0.1:{CODE_PORT}/healthz",
                                    ]
                                },
                                "periodSeconds": 10,
                            },
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "256Mi"},
                                "limits": {"cpu": cpu_quantity(c["cpu"]), "memory": str(c["memory"])},
                            },
                        },
                        proxy,
                    ],
                    "volumes": volumes,
                },
            },
        },
    }


def workspace_pvc(ctx: InstallContext) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": WORKSPACE_PVC, "namespace": ctx.component.namespace, "labels": LABELS},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": str(ctx.config["storageSize"])}},
        },
    }


def service(ctx: InstallContext) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": ctx.component.namespace, "labels": LABELS},
        "spec": {
            "selector": {"app.kubernetes.io/name": NAME},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def ingress_object(ctx: InstallContext) -> dict[str, Any]:
    # oauth2-proxy's cookies carry Keycloak's tokens: bigger response headers than nginx's default.
    return ingress(
        ctx, NAME, host(ctx, HOSTNAME), NAME, 80, annotations={"nginx.ingress.kubernetes.io/proxy-buffer-size": "16k"}
    )


async def _cookie_secret(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    # 32 letters and digits = 32 bytes: an AES-256 key, as oauth2-proxy wants it.
    value = await keep_or_make(ctx, [(PROXY_SECRET, ns, "cookie-secret")], used_for="the oauth2-proxy cookie secret")
    await ensure_secret(ctx, PROXY_SECRET, ns, {"cookie-secret": value})


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    await ctx.step("namespace", lambda: ensure_namespace(ctx, ns))
    client = await oidc_client_for(ctx, NAME)
    await ctx.step("oauth2-proxy cookie secret", lambda: _cookie_secret(ctx))
    ca = self_signed(ctx)
    if ca:
        await ctx.step("trust the cluster CA", lambda: trusted_ca(ctx, ns))
    await ctx.step("workspace volume", lambda: ensure(ctx, workspace_pvc(ctx)))
    wanted = deployment(ctx, issuer=client.issuer, client_id=client.client_id, oidc_secret=client.secret_name, ca=ca)
    await ctx.step("code-server with oauth2-proxy", lambda: ensure(ctx, wanted))
    await ctx.step("service", lambda: ensure(ctx, service(ctx)))
    await ctx.step(f"publish {host(ctx, HOSTNAME)}", lambda: ensure(ctx, ingress_object(ctx)))

    # Verify: both containers ready (code-server's /healthz, oauth2-proxy's /ping).
    await rollout(ctx, "Deployment", NAME, ns, timeout=600)
    ctx.log(
        f"code-server is ready at https://{host(ctx, HOSTNAME)} (Keycloak login, group {ALLOWED_GROUP}); "
        f"workspace volume {ns}/{WORKSPACE_PVC} ({ctx.config['storageSize']}); OIDC client secret "
        f"in Secret {ns}/{client.secret_name}, cookie secret in Secret {ns}/{PROXY_SECRET}"
    )


async def uninstall(ctx: InstallContext) -> None:
    """What install created goes; its data stays unless purge (support/uninstall.py)."""
    await standard(ctx, releases=())
