"""5.6 Argo CD: the argo-cd chart with Keycloak SSO, RBAC by realm group, Git repositories.

1. An OIDC client from `support.keycloak.oidc_client_for` (Secret `argocd-oidc`). Argo CD reads the
   client secret from there through the reference `$argocd-oidc:client-secret` in
   `oidc.config`; it only follows references into Secrets labelled
   `app.kubernetes.io/part-of: argocd`, so the installer adds that label (with a field
   manager of its own, so the Secret's data stays owned by the shared helper).
2. The local admin: its password generated once (kept in Secret `argocd-admin`, keys
   `username`, `password`) and its bcrypt hash written into `argocd-secret`, which the
   installer owns (`configs.secret.createSecret: false`): no password or hash in the Helm
   values. The account is enabled only with `localAdmin: true`.
3. RBAC: the realm group `adminGroup` gets `role:admin`, every other SSO user `role:readonly`.
4. TLS ends at ingress-nginx (`server.insecure`); with a self-signed platform CA, `oidc.config`
   carries it as `rootCA` (a public certificate) so Argo CD can verify Keycloak.
5. Repositories from the settings become repository Secrets (label
   `argocd.argoproj.io/secret-type: repository`), their tokens never in values.

Docs: chart values https://github.com/argoproj/argo-helm/blob/main/charts/argo-cd/README.md
(global.domain, configs.cm, configs.rbac, configs.params, configs.secret.createSecret,
server.ingress.*, dex.enabled, redis-ha.enabled, *.replicas); SSO:
https://argo-cd.readthedocs.io/en/stable/operator-manual/user-management/keycloak/ and
.../user-management/#existing-oidc-provider (oidc.config, `$<secret>:<key>` references,
rootCA); RBAC: .../operator-manual/rbac/ ; repositories:
.../operator-manual/declarative-setup/#repositories ; HA: .../operator-manual/high_availability/
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import bcrypt
import yaml

from .base import InstallContext
from .support.ca import cluster_ca
from .support.cicd import digest, ingress_tls, verify_tls
from .support.components import hostname
from .support.keycloak import OidcClient, oidc_client_for
from .support.objects import ensure, rollout, wait_crds
from .support.secret_objects import ensure_secret, keep_or_make, secret_values

FULLNAME = "argocd"  # fullnameOverride: argocd-server, argocd-repo-server, ...
ADMIN_SECRET = "argocd-admin"
ARGOCD_SECRET = "argocd-secret"
LABEL_MANAGER = "thinkube-tui-argocd"  # owns only the part-of label on the OIDC Secret


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    host = hostname(ctx)
    client = await oidc_client_for(ctx, ctx.component.id)
    await ctx.step("let Argo CD read the OIDC client secret", lambda: _label_oidc_secret(ctx, client))
    await ctx.step("admin account", lambda: _admin(ctx))
    await ctx.step("Git repositories", lambda: _repositories(ctx))
    root_ca = await cluster_ca(ctx)  # a read: the values need it on a resumed run too
    values = argocd_values(ctx, client=client, root_ca=root_ca)
    await ctx.step(f"install Argo CD at https://{host}", lambda: ctx.helm(values, timeout_s=900))

    # Verify: the CRDs are served and every component rolled out.
    await wait_crds(ctx, ("applications.argoproj.io", "appprojects.argoproj.io"))
    for kind, name in workloads(ctx):
        await rollout(ctx, kind, name, ns, timeout=600)
    admin = (
        f"; local admin enabled, password in Secret {ns}/{ADMIN_SECRET}"
        if ctx.config["localAdmin"]
        else f"; the local admin is disabled (its password is kept in Secret {ns}/{ADMIN_SECRET})"
    )
    ctx.log(
        f"Argo CD is ready at https://{host}: sign in with Keycloak (group "
        f"{ctx.config['adminGroup']} = role:admin, others read-only){admin}"
    )


def workloads(ctx: InstallContext) -> list[tuple[str, str]]:
    out = [
        ("Deployment", f"{FULLNAME}-server"),
        ("Deployment", f"{FULLNAME}-repo-server"),
        ("Deployment", f"{FULLNAME}-applicationset-controller"),
        ("StatefulSet", f"{FULLNAME}-application-controller"),
    ]
    if ctx.config["highAvailability"]:
        out += [("StatefulSet", f"{FULLNAME}-redis-ha-server"), ("Deployment", f"{FULLNAME}-redis-ha-haproxy")]
    else:
        out.append(("Deployment", f"{FULLNAME}-redis"))
    return out


async def _label_oidc_secret(ctx: InstallContext, client: OidcClient) -> None:
    await ensure(
        ctx,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": client.secret_name,
                "namespace": client.namespace,
                "labels": {"app.kubernetes.io/part-of": "argocd"},
            },
        },
        field_manager=LABEL_MANAGER,
    )


async def _admin(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    stored = await secret_values(ctx, ADMIN_SECRET, ns, secret_keys=("password",)) or {}
    password = await keep_or_make(ctx, [(ADMIN_SECRET, ns, "password")], used_for="the Argo CD admin password")
    hashed = stored.get("bcrypt", "")
    if not _bcrypt_matches(hashed, password):  # salted: keep the stored hash while it matches
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()
    mtime = stored.get("mtime") or ""
    if stored.get("bcrypt") != hashed or not mtime:
        mtime = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    await ensure_secret(
        ctx, ADMIN_SECRET, ns, {"username": "admin", "password": password, "bcrypt": hashed, "mtime": mtime}
    )
    # argocd-secret is ours (configs.secret.createSecret: false); Argo CD adds server.secretkey
    # itself on first start, under its own field manager, which this apply leaves alone.
    await ensure_secret(
        ctx,
        ARGOCD_SECRET,
        ns,
        {"admin.password": hashed, "admin.passwordMtime": mtime},
        labels={"app.kubernetes.io/name": ARGOCD_SECRET, "app.kubernetes.io/part-of": "argocd"},
    )


def _bcrypt_matches(hashed: str, password: str) -> bool:
    if not hashed:
        return False
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:
        return False


async def _repositories(ctx: InstallContext) -> None:
    repos = list(ctx.config["repositories"])
    if not repos:
        ctx.log("no Git repositories to register")
        return
    ns = ctx.component.namespace
    for repo in repos:
        url = str(repo["url"])
        values = {"type": "git", "url": url, "name": str(repo.get("name") or url)}
        if repo.get("token") is not None:
            token = ctx.cluster.secrets.resolve(repo["token"], f"the access token of repository {url}")
            # Token over HTTPS: GitHub, GitLab and Gitea accept any non-empty user name with a token.
            values.update({"username": "git", "password": token})
        await ensure_secret(
            ctx, f"repo-{digest(url)}", ns, values, labels={"argocd.argoproj.io/secret-type": "repository"}
        )
        ctx.log(f"repository {url} registered")


def oidc_config(ctx: InstallContext, client: OidcClient, root_ca: str | None) -> str:
    config: dict[str, Any] = {
        "name": "Keycloak",
        "issuer": client.issuer,
        "clientID": client.client_id,
        # A reference, resolved by Argo CD from the labelled Secret: the value is never in argocd-cm.
        "clientSecret": f"${client.secret_name}:{client.secret_key}",
        "requestedScopes": ["openid", "profile", "email"],  # groups come from the client's mapper
    }
    if root_ca:
        config["rootCA"] = root_ca
    return yaml.safe_dump(config, sort_keys=False)


def argocd_values(ctx: InstallContext, *, client: OidcClient, root_ca: str | None) -> dict[str, Any]:
    host = hostname(ctx)
    ha = bool(ctx.config["highAvailability"])
    cm: dict[str, Any] = {
        "url": f"https://{host}",
        "admin.enabled": bool(ctx.config["localAdmin"]),
        "users.anonymous.enabled": False,
        "oidc.config": oidc_config(ctx, client, root_ca),
    }
    if not verify_tls(ctx):
        cm["oidc.tls.insecure.skip.verify"] = True  # Let's Encrypt staging: untrusted roots
    values: dict[str, Any] = {
        "fullnameOverride": FULLNAME,
        "global": {"domain": host},
        "configs": {
            "cm": cm,
            "rbac": {
                "policy.csv": f"g, {ctx.config['adminGroup']}, role:admin\n",
                "policy.default": "role:readonly",
                "scopes": "[groups]",
            },
            "params": {"server.insecure": True},  # TLS ends at ingress-nginx
            "secret": {"createSecret": False},
        },
        "dex": {"enabled": False},  # Keycloak speaks OIDC itself
        "server": {
            "ingress": {
                "enabled": True,
                "ingressClassName": "nginx",
                "hostname": host,
                "tls": False,  # true would name a Secret argocd-server-tls; the wildcard serves the host
                "extraTls": ingress_tls(host),
                "annotations": {"nginx.ingress.kubernetes.io/force-ssl-redirect": "true"},
            },
        },
    }
    if ha:
        values["redis-ha"] = {"enabled": True}
        values["controller"] = {"replicas": 1}
        values["server"]["replicas"] = 2
        values["repoServer"] = {"replicas": 2}
        values["applicationSet"] = {"replicas": 2}
    return values
