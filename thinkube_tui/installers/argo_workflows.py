"""5.6 Argo Workflows: the argo-workflows chart, artifacts in MinIO, the UI behind Keycloak SSO.

1. A bucket and an access key from `support.minio.bucket_for` (Secret `argo-workflows-s3`); the chart's
   default artifact repository points at it (`artifactRepository.s3` with `accessKeySecret` /
   `secretKeySecret` references, `useStaticCredentials`). Workflows read those Secrets in
   their own namespace, so every namespace in `workflowNamespaces` gets a copy.
2. An OIDC client from `support.keycloak.oidc_client_for`; the server runs with `authModes: [sso]` and
   reads client id and secret from the Secret `argo-workflows-oidc` (`server.sso.clientId` /
   `clientSecret` are Secret references). SSO RBAC is on: members of the realm group `admins`
   map to the ServiceAccount `argo-admin` (annotation `workflows.argoproj.io/rbac-rule`),
   bound to the chart's `argo-workflows-admin` ClusterRole; anyone else is refused.
3. With a self-signed platform CA, the server trusts it (a `thinkube-ca` Secret mounted and
   added to `SSL_CERT_DIR`) so it can talk to Keycloak over HTTPS.

Docs: chart values https://github.com/argoproj/argo-helm/blob/main/charts/argo-workflows/README.md
(server.authModes, server.sso.*, server.ingress.*, server.extraEnv/volumes/volumeMounts,
controller.workflowNamespaces, controller.parallelism, controller.workflowDefaults,
workflow.serviceAccount.*, artifactRepository.*, useStaticCredentials); SSO and its RBAC:
https://argo-workflows.readthedocs.io/en/stable/argo-server-sso/ ; artifact repository:
https://argo-workflows.readthedocs.io/en/stable/configure-artifact-repository/#configuring-minio
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from .base import InstallContext
from .support.cicd import ADMIN_GROUP, ca_secret_name, ensure_ca_secret, ingress_tls, verify_tls
from .support.components import hostname
from .support.keycloak import oidc_client_for
from .support.minio import bucket_for, provision_buckets
from .support.objects import MANAGED_BY, ensure, ensure_namespace, rollout, wait, wait_crds
from .support.secret_objects import ensure_secret, secret_values

FULLNAME = "argo-workflows"  # release "argo-workflows" of chart "argo-workflows"
SERVER = f"{FULLNAME}-server"
CONTROLLER = f"{FULLNAME}-workflow-controller"
WORKFLOW_SA = "argo-workflow"
ADMIN_SA = "argo-admin"
CRDS = ("workflows.argoproj.io", "workflowtemplates.argoproj.io", "cronworkflows.argoproj.io")


def workflow_namespaces(ctx: InstallContext) -> list[str]:
    return [str(n) for n in ctx.config["workflowNamespaces"]] or [ctx.component.namespace]


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    host = hostname(ctx)
    namespaces = workflow_namespaces(ctx)
    await ctx.step("namespaces", lambda: _namespaces(ctx, [ns, *namespaces]))
    creds = await bucket_for(ctx, ctx.component.id)
    bucket = str(ctx.config["artifactBucket"])
    if bucket != creds.bucket:
        # The access key of argo-workflows may use every bucket of the Tenant (see support.minio.bucket_for).
        await ctx.step(
            f"MinIO bucket {bucket} for artifacts",
            lambda: provision_buckets(ctx, [ctx.component.id], extra=[{"name": bucket}]),
        )
    await ctx.step(
        "artifact credentials in the workflow namespaces",
        lambda: _copy_s3_secret(ctx, creds.secret_name, [n for n in namespaces if n != ns]),
    )
    client = await oidc_client_for(ctx, ctx.component.id)
    await ctx.step("trust the platform CA", lambda: ensure_ca_secret(ctx, ns))
    values = workflows_values(
        ctx,
        endpoint=creds.endpoint,
        bucket=bucket,
        s3_secret=creds.secret_name,
        issuer=client.issuer,
        oidc_secret=client.secret_name,
        ca_secret=ca_secret_name(ctx),
    )
    await ctx.step(f"install Argo Workflows at https://{host}", lambda: ctx.helm(values, timeout_s=900))
    await ctx.step(f"SSO access for the {ADMIN_GROUP} group", lambda: _sso_rbac(ctx))

    # Verify: the CRDs are served, the controller and the server run.
    await wait_crds(ctx, CRDS)
    await rollout(ctx, "Deployment", CONTROLLER, ns, timeout=600)
    await rollout(ctx, "Deployment", SERVER, ns, timeout=600)
    await wait(
        ctx,
        "v1",
        "Service",
        SERVER,
        ns,
        lambda s: bool((s.get("spec") or {}).get("ports")),
        timeout=60,
        what=f"Service {ns}/{SERVER}",
    )
    ctx.log(
        f"Argo Workflows is ready at https://{host} (Keycloak SSO; members of {ADMIN_GROUP} act as "
        f"ServiceAccount {ns}/{ADMIN_SA}); workflows run in {', '.join(namespaces)} as ServiceAccount "
        f"{WORKFLOW_SA}; artifacts and logs go to MinIO bucket {bucket}"
    )


async def _namespaces(ctx: InstallContext, names: list[str]) -> None:
    for name in dict.fromkeys(names):
        await ensure_namespace(ctx, name)


async def _copy_s3_secret(ctx: InstallContext, secret: str, namespaces: list[str]) -> None:
    if not namespaces:
        ctx.log("all workflows run in the release namespace: no copies needed")
        return
    values = await secret_values(ctx, secret, ctx.component.namespace, secret_keys=("AWS_SECRET_ACCESS_KEY",)) or {}
    for namespace in namespaces:
        await ensure_secret(ctx, secret, namespace, values)


def workflows_values(
    ctx: InstallContext,
    *,
    endpoint: str,
    bucket: str,
    s3_secret: str,
    issuer: str,
    oidc_secret: str,
    ca_secret: str | None,
) -> dict[str, Any]:
    host = hostname(ctx)
    parsed = urlparse(endpoint)
    s3_endpoint = f"{parsed.hostname}:{parsed.port or (443 if parsed.scheme == 'https' else 80)}"
    server: dict[str, Any] = {
        "authModes": ["sso"],
        "sso": {
            "enabled": True,
            "issuer": issuer,
            "clientId": {"name": oidc_secret, "key": "client-id"},
            "clientSecret": {"name": oidc_secret, "key": "client-secret"},
            "redirectUrl": f"https://{host}/oauth2/callback",
            "scopes": ["profile", "email"],  # openid is always requested; groups come from the client's mapper
            "rbac": {"enabled": True},
            "insecureSkipVerify": not verify_tls(ctx),
        },
        "ingress": {
            "enabled": True,
            "ingressClassName": "nginx",
            "hosts": [host],
            "paths": ["/"],
            "pathType": "Prefix",
            "tls": ingress_tls(host),
        },
    }
    if ca_secret:
        server["volumes"] = [{"name": "thinkube-ca", "secret": {"secretName": ca_secret}}]
        server["volumeMounts"] = [{"name": "thinkube-ca", "mountPath": "/etc/thinkube-ca", "readOnly": True}]
        # Go reads every certificate file in SSL_CERT_DIR; keep the system directory in the list.
        server["extraEnv"] = [{"name": "SSL_CERT_DIR", "value": "/etc/ssl/certs:/etc/thinkube-ca"}]
    return {
        "crds": {"install": True, "keep": True},
        "singleNamespace": False,
        "controller": {
            "workflowNamespaces": workflow_namespaces(ctx),
            "parallelism": int(ctx.config["parallelism"]),
            "workflowDefaults": {
                "spec": {
                    "serviceAccountName": WORKFLOW_SA,
                    "ttlStrategy": {"secondsAfterCompletion": int(ctx.config["ttlSecondsAfterFinished"])},
                }
            },
        },
        "workflow": {"serviceAccount": {"create": True, "name": WORKFLOW_SA}, "rbac": {"create": True}},
        "server": server,
        "useStaticCredentials": True,
        "artifactRepository": {
            "archiveLogs": True,
            "s3": {
                "bucket": bucket,
                "endpoint": s3_endpoint,
                "insecure": parsed.scheme != "https",
                "accessKeySecret": {"name": s3_secret, "key": "AWS_ACCESS_KEY_ID"},
                "secretKeySecret": {"name": s3_secret, "key": "AWS_SECRET_ACCESS_KEY"},
            },
        },
    }


async def _sso_rbac(ctx: InstallContext) -> None:
    """The ServiceAccount SSO users of the admin group act as (Argo's SSO RBAC)."""
    ns = ctx.component.namespace
    await ensure(
        ctx,
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "name": ADMIN_SA,
                "namespace": ns,
                "labels": dict(MANAGED_BY),
                "annotations": {
                    "workflows.argoproj.io/rbac-rule": f"'{ADMIN_GROUP}' in groups",
                    "workflows.argoproj.io/rbac-rule-precedence": "1",
                },
            },
        },
    )
    # Since Kubernetes 1.24 a ServiceAccount has no token Secret of its own; Argo's SSO RBAC
    # reads `<sa>.service-account-token` (docs: argo-server-sso, "SSO RBAC").
    await ensure(
        ctx,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/service-account-token",
            "metadata": {
                "name": f"{ADMIN_SA}.service-account-token",
                "namespace": ns,
                "labels": dict(MANAGED_BY),
                "annotations": {"kubernetes.io/service-account.name": ADMIN_SA},
            },
        },
    )
    await ensure(
        ctx,
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{FULLNAME}-{ADMIN_SA}", "labels": dict(MANAGED_BY)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"{FULLNAME}-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": ADMIN_SA, "namespace": ns}],
        },
    )
