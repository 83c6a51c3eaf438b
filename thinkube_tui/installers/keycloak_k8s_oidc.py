"""5.10 Kubernetes API login through Keycloak: OIDC flags on MicroK8s' API server, a Keycloak
group bound to cluster-admin, and `kubectl oidc-login` (kubelogin) for the operator.

1. An OIDC client `keycloak-k8s-oidc` in the platform realm (`support.keycloak.oidc_client_for`), then a
   one-shot kcadm Job that adds what kubelogin needs to it (its loopback redirect URIs
   `http://localhost:8000` / `:18000`) and creates the admin group (`adminGroup`) when missing.
   The client's `groups` mapper puts group names (no path) into the `groups` claim.
2. With self-signed certificates, the cluster CA (public certificate from Secret
   `cert-manager/thinkube-ca`) is written to `/var/snap/microk8s/current/certs/thinkube-oidc-ca.crt`
   (`sudo tee`, content on stdin) for `--oidc-ca-file`.
3. The API server must reach `https://auth.<domain>`: when the control node cannot resolve it,
   `<cluster.ingressIP> auth.<domain>` is appended to /etc/hosts.
4. `/var/snap/microk8s/current/args/kube-apiserver` gets `--oidc-issuer-url`, `--oidc-client-id`,
   `--oidc-username-claim`, `--oidc-username-prefix`, `--oidc-groups-claim`,
   `--oidc-groups-prefix` (and `--oidc-ca-file`): read first; missing flags are appended
   (`sudo tee -a`, lines on stdin), a flag with another value is replaced by rewriting the file
   (`sudo tee`, the whole content on stdin). Then `snap restart microk8s.daemon-kubelite`
   (the API server runs inside kubelite) and a wait until the API answers again. A marker file
   makes a resumed run restart when the previous one stopped between the edit and the restart.
5. ClusterRoleBinding `oidc-cluster-admins`: group `<groupsPrefix><adminGroup>` -> cluster-admin.
6. The kubeconfig user for `kubectl oidc-login` is printed in the run's summary (handover).

Docs: https://kubernetes.io/docs/reference/access-authn-authz/authentication/#openid-connect-tokens
(the --oidc-* flags), https://microk8s.io/docs/configuring-services (args files, restarting
kubelite), https://github.com/int128/kubelogin (kubectl oidc-login, redirect ports 8000/18000).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any

from ..engine import InstallError
from ..kube import KubeError
from .base import InstallContext
from .support.ca import cluster_ca
from .support.keycloak import OidcClient, job_succeeded, kcadm_job, oidc_client_for, realm_name
from .support.microk8s import wait_ready
from .support.nodes import ensure_hosts_entry
from .support.objects import MANAGED_BY, ensure, wait

ARGS_FILE = "/var/snap/microk8s/current/args/kube-apiserver"
CA_PATH = "/var/snap/microk8s/current/certs/thinkube-oidc-ca.crt"
RESTART_MARKER = "/var/snap/microk8s/current/args/.thinkube-oidc-restart-pending"
KUBELITE = "microk8s.daemon-kubelite"
CONSUMER = "keycloak-k8s-oidc"
REDIRECT_URIS = [
    "http://localhost:8000",
    "http://localhost:18000",
    "http://localhost:8000/*",
    "http://localhost:18000/*",
]
API_TIMEOUT_S = 300

KCADM_SCRIPT = """\
set -eu
kcadm=/opt/keycloak/bin/kcadm.sh
cfg=/tmp/kcadm.config
# KC_CLI_PASSWORD carries the admin password (kept out of the command line)
$kcadm config credentials --config "$cfg" --server "$KEYCLOAK_URL" --realm master --user "$ADMIN_USER"
id=$($kcadm get clients --config "$cfg" -r "$REALM" -q "clientId=$CLIENT_ID" --fields id --format csv --noquotes)
if [ -z "$id" ]; then echo "client $CLIENT_ID does not exist in realm $REALM" >&2; exit 1; fi
$kcadm update "clients/$id" --config "$cfg" -r "$REALM" -s "redirectUris=$REDIRECT_URIS"
echo "client $CLIENT_ID accepts the kubelogin redirect URIs"
names=$($kcadm get groups --config "$cfg" -r "$REALM" --fields name --format csv --noquotes)
if [[ $'\\n'"$names"$'\\n' == *$'\\n'"$GROUP"$'\\n'* ]]; then
  echo "group $GROUP exists"
else
  $kcadm create groups --config "$cfg" -r "$REALM" -s "name=$GROUP"
  echo "created group $GROUP"
fi
"""


def domain(ctx: InstallContext) -> str:
    return ctx.spec.cluster.domain


def admin_group(ctx: InstallContext) -> str:
    return str(ctx.config["adminGroup"])


def wanted_flags(ctx: InstallContext, client: OidcClient, *, ca_file: bool) -> dict[str, str]:
    c = ctx.config
    flags = {
        "--oidc-issuer-url": client.issuer,
        "--oidc-client-id": client.client_id,
        "--oidc-username-claim": str(c["usernameClaim"]),
        "--oidc-username-prefix": str(c["usernamePrefix"]),
        "--oidc-groups-claim": str(c["groupsClaim"]),
        "--oidc-groups-prefix": str(c["groupsPrefix"]),
    }
    if ca_file:
        flags["--oidc-ca-file"] = CA_PATH
    return flags


def edit_args(text: str, flags: Mapping[str, str]) -> tuple[str, list[str], bool]:
    """(new content, lines to append, whether an existing line had to change) for the args file.

    The file holds one `--flag=value` per line (MicroK8s' format); other lines are kept as they are.
    """
    lines = text.splitlines()
    seen: set[str] = set()
    changed = False
    out: list[str] = []
    for line in lines:
        name = line.strip().split("=", 1)[0].split(" ", 1)[0]
        if name in flags:
            want = f"{name}={flags[name]}"
            if name in seen:  # a duplicate of a flag we own: drop it
                changed = True
                continue
            seen.add(name)
            if line.strip() != want:
                changed = True
                out.append(want)
                continue
        out.append(line)
    append = [f"{name}={value}" for name, value in flags.items() if name not in seen]
    content = "\n".join(out + append) + "\n"
    return content, append, changed


def kubelogin_job(ctx: InstallContext, client: OidcClient) -> dict[str, Any]:
    """kubelogin's redirect URIs on the client, and the admin group, set with kcadm.sh in a Job."""
    return kcadm_job(
        ctx,
        f"{CONSUMER}-kubelogin",
        KCADM_SCRIPT,
        {
            "CLIENT_ID": client.client_id,
            "REDIRECT_URIS": json.dumps(REDIRECT_URIS),
            "GROUP": admin_group(ctx),
        },
    )


def admin_binding(ctx: InstallContext) -> dict[str, Any]:
    group = f"{ctx.config['groupsPrefix']}{admin_group(ctx)}"
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "oidc-cluster-admins", "labels": dict(MANAGED_BY)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}],
    }


async def install(ctx: InstallContext) -> None:
    client = await oidc_client_for(ctx, CONSUMER)
    await ctx.step("Keycloak: kubelogin redirect URIs and the admin group", lambda: _keycloak(ctx, client))
    ca = await ctx.step("the cluster CA for the API server", lambda: _ca_file(ctx))
    await ctx.step(f"resolve auth.{domain(ctx)} on the control node", lambda: _resolve_issuer(ctx))
    flags = wanted_flags(ctx, client, ca_file=bool(ca) or await _has_ca_file(ctx))
    await ctx.step("OIDC flags of the API server", lambda: _flags(ctx, flags))
    await ctx.step("restart the API server when its flags changed", lambda: _restart(ctx))
    await ctx.step(f"bind Keycloak group {admin_group(ctx)} to cluster-admin", lambda: ensure(ctx, admin_binding(ctx)))

    # Verify: the API server answers and its args file holds every flag.
    await _api_answers(ctx, timeout=API_TIMEOUT_S)
    current = await ctx.run(ctx.control, f"cat {ARGS_FILE}", sudo=True, quiet=True, timeout=60)
    _, missing, differs = edit_args(current.stdout, flags)
    if (missing or differs) and current.stdout:
        raise InstallError(
            f"{ARGS_FILE} does not hold the OIDC flags after the edit: check the file by hand", node=ctx.control.name
        )
    ctx.log(
        f"the API server accepts Keycloak tokens from {client.issuer} (client {client.client_id}); "
        f"members of group {admin_group(ctx)} are cluster-admin"
    )
    _handover(ctx, client, with_ca=CA_PATH in flags.values())


async def _keycloak(ctx: InstallContext, client: OidcClient) -> None:
    job = kubelogin_job(ctx, client)
    await ensure(ctx, job)
    meta = job["metadata"]
    await wait(
        ctx,
        "batch/v1",
        "Job",
        meta["name"],
        meta["namespace"],
        job_succeeded,
        timeout=600,
        what=f"Job {meta['namespace']}/{meta['name']} (kubelogin settings of client {client.client_id})",
        hint=f"see `microk8s kubectl -n {meta['namespace']} logs job/{meta['name']}`",
    )


async def _ca_file(ctx: InstallContext) -> bool:
    """Write the cluster CA to CA_PATH on the control node (self-signed certificates only)."""
    if ctx.spec.cluster.certificates != "self-signed":
        ctx.log("certificates from Let's Encrypt: the API server trusts them without --oidc-ca-file")
        return False
    cert = await cluster_ca(ctx)
    if cert is None:
        return False
    node = ctx.control
    current = await ctx.run(node, f"cat {CA_PATH}", sudo=True, check=False, quiet=True, timeout=60)
    if current.ok and current.stdout == cert:
        ctx.log(f"{node.name}: {CA_PATH} already holds the cluster CA")
        return True
    await ctx.run(node, f": > {RESTART_MARKER}", sudo=True, timeout=60)
    await ctx.run(node, f"tee {CA_PATH} > /dev/null", sudo=True, input=cert, timeout=60)
    ctx.log(f"{node.name}: wrote the cluster CA to {CA_PATH}")
    return True


async def _has_ca_file(ctx: InstallContext) -> bool:
    """On a resumed run the CA step is skipped: is the file there?"""
    if ctx.spec.cluster.certificates != "self-signed":
        return False
    result = await ctx.run(ctx.control, f"test -s {CA_PATH}", sudo=True, check=False, quiet=True, timeout=60)
    return result.ok


async def _resolve_issuer(ctx: InstallContext) -> None:
    await ensure_hosts_entry(ctx, ctx.control, f"auth.{domain(ctx)}", ctx.spec.cluster.ingress_ip)


async def _flags(ctx: InstallContext, flags: Mapping[str, str]) -> None:
    node = ctx.control
    current = await ctx.run(node, f"cat {ARGS_FILE}", sudo=True, quiet=True, timeout=60)
    content, append, changed = edit_args(current.stdout, flags)
    if not append and not changed:
        ctx.log(f"{node.name}: {ARGS_FILE} already has the OIDC flags")
        return
    await ctx.run(node, f": > {RESTART_MARKER}", sudo=True, timeout=60)
    if changed:
        await ctx.run(node, f"tee {ARGS_FILE} > /dev/null", sudo=True, input=content, timeout=60)
        ctx.log(f"{node.name}: rewrote {ARGS_FILE} with the wanted OIDC flags")
    else:
        prefix = "" if not current.stdout or current.stdout.endswith("\n") else "\n"
        await ctx.run(
            node, f"tee -a {ARGS_FILE} > /dev/null", sudo=True, input=prefix + "\n".join(append) + "\n", timeout=60
        )
        ctx.log(f"{node.name}: added {', '.join(a.split('=', 1)[0] for a in append)} to {ARGS_FILE}")


async def _restart(ctx: InstallContext) -> None:
    node = ctx.control
    pending = await ctx.run(node, f"test -e {RESTART_MARKER}", sudo=True, check=False, quiet=True, timeout=60)
    if not pending.ok:
        ctx.log("the API server already runs with these flags; no restart")
        return
    await ctx.run(node, f"snap restart {KUBELITE}", sudo=True, timeout=300)
    await wait_ready(ctx, node)
    await _api_answers(ctx, timeout=API_TIMEOUT_S)
    await ctx.run(node, f"rm -f {RESTART_MARKER}", sudo=True, timeout=60)
    ctx.log("the API server restarted with the OIDC flags and answers again")


async def _api_answers(ctx: InstallContext, *, timeout: float) -> None:
    kube = await ctx.kube()
    deadline = time.monotonic() + timeout
    while True:
        try:
            await kube.get("v1", "Namespace", "kube-system")
            return
        except (TimeoutError, KubeError, OSError) as exc:
            if time.monotonic() > deadline:
                raise InstallError(
                    f"the API server did not answer within {timeout:g} s after the restart ({exc}); "
                    f"see `sudo journalctl -u snap.{KUBELITE}` on {ctx.control.name}: a wrong "
                    f"--oidc-* flag in {ARGS_FILE} stops it from starting",
                    node=ctx.control.name,
                ) from None
            await asyncio.sleep(5)


def _handover(ctx: InstallContext, client: OidcClient, *, with_ca: bool) -> None:
    ns = ctx.component.namespace
    secret_cmd = (
        f"microk8s kubectl -n {ns} get secret {client.secret_name} "
        f"-o jsonpath='{{.data.{client.secret_key}}}' | base64 -d"
    )
    args = [
        f"--exec-arg=--oidc-issuer-url={client.issuer}",
        f"--exec-arg=--oidc-client-id={client.client_id}",
        '--exec-arg=--oidc-client-secret="$(cat oidc-client-secret)"',
        "--exec-arg=--oidc-extra-scope=email",
        "--exec-arg=--oidc-extra-scope=profile",
    ]
    if with_ca:
        args.append("--exec-arg=--certificate-authority=thinkube-ca.crt")
    lines = [
        "kubectl oidc-login: log in to the Kubernetes API with your Keycloak account.",
        "1. Install kubelogin: `kubectl krew install oidc-login` (or the release binary, github.com/int128/kubelogin).",
        f"2. On the control node, save the client secret to a file: {secret_cmd} > oidc-client-secret",
    ]
    if with_ca:
        lines.append(f"   and the cluster CA: sudo cat {CA_PATH} > thinkube-ca.crt")
    lines += [
        "3. Add the user to your kubeconfig (from `microk8s config`):",
        "   kubectl config set-credentials oidc --exec-api-version=client.authentication.k8s.io/v1 "
        "--exec-interactive-mode=IfAvailable --exec-command=kubectl --exec-arg=oidc-login --exec-arg=get-token "
        + " ".join(args),
        "   kubectl config set-context thinkube-oidc --cluster=microk8s-cluster --user=oidc",
        f"4. Users in the Keycloak group {admin_group(ctx)} (realm {realm_name(ctx)}) are cluster-admin; "
        "others are authenticated and get only what RBAC grants their "
        f"{ctx.config['usernamePrefix']}<username> or {ctx.config['groupsPrefix']}<group>.",
    ]
    ctx.cluster.handover("Kubernetes API login through Keycloak", lines)
