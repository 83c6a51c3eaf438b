"""5.6 devpi: a PyPI mirror (`root/pypi`) and a private index behind `pypi.<domain>`, deployed
the GitOps way: an Argo CD Application deploys the server, an Argo Workflows workflow prepares it.

devpi has no maintained Helm chart. The installer writes the manifests itself (a PVC, a
Deployment of the upstream image `jonasal/devpi-server` — devpi-server + devpi-web, pinned —
a Service and an Ingress) and hands them to Argo CD as an `Application` whose source is the
`raw` chart (bedag/helm-charts: renders the manifests given in its values), so Argo CD owns,
syncs and self-heals them without a Git repository. Then a `WorkflowTemplate` `devpi-setup`
and a `Workflow` from it (in the first workflow namespace of Argo Workflows) log in as root
with devpi-client and prepare the indexes: `root/pypi` mirroring `mirrorUrl` (or removed
when `mirrorPyPI` is off) and the private index `indexName` (user/index) inheriting from it.

Secrets: the root password (the operator's `rootPassword`, else generated once) and the
private index user's password live in the Secret `devpi-credentials` (namespace devpi, keys
`root-password`, `user`, `user-password`, `index`), with a copy in the workflow namespace for
the setup workflow; the Deployment and the workflow read them as environment variables.
Nothing secret is in the Application, the WorkflowTemplate or the Workflow.

Verified: the Application is Synced and Healthy (its status), the Deployment rolled out, the
setup Workflow Succeeded.

Docs: https://argo-cd.readthedocs.io/en/stable/operator-manual/declarative-setup/#applications
(Application spec, helm.valuesObject, syncPolicy), .../user-guide/helm/ ;
https://github.com/bedag/helm-charts/tree/master/charts/raw (values.resources) ;
https://argo-workflows.readthedocs.io/en/stable/workflow-templates/ (workflowTemplateRef) ;
https://devpi.net/docs/devpi/devpi/stable/+d/quickstart-server.html (devpi-init, devpi
index/user commands, --outside-url behind a proxy) ;
https://github.com/JonasAlfredsson/docker-devpi (the images: DEVPI_PASSWORD, /devpi/server).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..engine import InstallError
from .argo_workflows import WORKFLOW_SA
from .base import InstallContext
from .support.cicd import digest, ingress_tls
from .support.components import hostname, namespace_of
from .support.objects import MANAGED_BY, ensure, ensure_namespace, rollout, wait
from .support.secret_objects import ensure_secret, env_from_secret, keep_or_make, secret_values

SERVER_IMAGE = "jonasal/devpi-server:6.15.0"  # devpi-server 6.15.0 + devpi-web 5.0.1
CLIENT_IMAGE = "jonasal/devpi-client:7.2.1"
PORT = 3141
NAME = "devpi"
CREDENTIALS = "devpi-credentials"
RAW_CHART = {"repoURL": "https://bedag.github.io/helm-charts/", "chart": "raw", "targetRevision": "2.0.1"}
ARGO_API = "argoproj.io/v1alpha1"
TEMPLATE = "devpi-setup"


def workflow_namespace(ctx: InstallContext) -> str:
    namespaces = list(ctx.spec.components["argo-workflows"].config["workflowNamespaces"]) or [
        namespace_of(ctx, "argo-workflows")
    ]
    return str(namespaces[0])


def index_parts(ctx: InstallContext) -> tuple[str, str]:
    user, _, index = str(ctx.config["indexName"]).partition("/")
    if user == "root":
        raise InstallError(
            "devpi.indexName: the private index needs a user of its own, not root (root/pypi is the mirror)"
        )
    return user, index


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    host = hostname(ctx)
    wf_ns = workflow_namespace(ctx)
    argocd_ns = namespace_of(ctx, "argocd")
    await ctx.step("namespace", lambda: ensure_namespace(ctx, ns))
    await ctx.step("root and index credentials", lambda: _credentials(ctx, wf_ns))
    await ctx.step("Argo CD Application devpi", lambda: ensure(ctx, application(ctx)))

    # Verify the deployment: Argo CD synced the manifests and they are healthy, the server runs.
    await wait(
        ctx,
        ARGO_API,
        "Application",
        NAME,
        argocd_ns,
        application_ready,
        timeout=900,
        what=f"Argo CD Application {argocd_ns}/{NAME} Synced and Healthy",
        hint=f"see `microk8s kubectl -n {argocd_ns} get application {NAME} -o yaml` (status.conditions, "
        "status.operationState) or the Argo CD UI",
    )
    ctx.log(f"Application {argocd_ns}/{NAME} is Synced and Healthy")
    await rollout(ctx, "Deployment", NAME, ns, timeout=600)

    await ctx.step("WorkflowTemplate devpi-setup", lambda: ensure(ctx, workflow_template(ctx, wf_ns)))
    run = workflow(ctx, wf_ns)
    await ctx.step("prepare the indexes (Workflow)", lambda: ensure(ctx, run))
    name = run["metadata"]["name"]
    await wait(
        ctx,
        ARGO_API,
        "Workflow",
        name,
        wf_ns,
        workflow_succeeded,
        timeout=900,
        what=f"Workflow {wf_ns}/{name} Succeeded",
        hint=f"see `microk8s kubectl -n {wf_ns} get workflow {name} -o yaml` or the Argo Workflows UI",
    )
    user, index = index_parts(ctx)
    mirror = f"PyPI mirror https://{host}/root/pypi/+simple/, " if ctx.config["mirrorPyPI"] else ""
    ctx.log(
        f"devpi is ready at https://{host}: {mirror}private index https://{host}/{user}/{index}/+simple/ "
        f"(upload as {user}); credentials in Secret {ns}/{CREDENTIALS}"
    )


async def _credentials(ctx: InstallContext, wf_ns: str) -> None:
    ns = ctx.component.namespace
    user, index = index_parts(ctx)
    root = await keep_or_make(
        ctx,
        [(CREDENTIALS, ns, "root-password")],
        ref=ctx.config.get("rootPassword"),
        used_for="the devpi root password",
    )
    stored = await secret_values(ctx, CREDENTIALS, ns, secret_keys=("user-password",)) or {}
    user_password = stored.get("user-password") if stored.get("user") == user else None
    if not user_password:
        user_password = await keep_or_make(ctx, [], used_for=f"the password of devpi user {user}")
    values = {"root-password": root, "user": user, "user-password": user_password, "index": f"{user}/{index}"}
    await ensure_secret(ctx, CREDENTIALS, ns, values)
    await ensure_namespace(ctx, wf_ns)
    await ensure_secret(ctx, CREDENTIALS, wf_ns, values)


# ---------------------------------------------------------------- the manifests Argo CD deploys


def manifests(ctx: InstallContext) -> list[dict[str, Any]]:
    ns = ctx.component.namespace
    host = hostname(ctx)
    labels = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "thinkube"}
    probe = {"httpGet": {"path": "/+api", "port": PORT}, "periodSeconds": 10}
    return [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": f"{NAME}-data", "namespace": ns, "labels": labels},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": str(ctx.config["storageSize"])}},
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": NAME, "namespace": ns, "labels": labels},
            "spec": {
                "replicas": 1,
                "strategy": {"type": "Recreate"},  # one writer of the ReadWriteOnce volume
                "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "devpi-server",
                                "image": SERVER_IMAGE,
                                # the image's entrypoint runs devpi-init once (root password from DEVPI_PASSWORD),
                                # then devpi-server --host 0.0.0.0 --port 3141 --restrict-modify=root "$@"
                                "args": ["--outside-url", f"https://{host}"],
                                "env": [env_from_secret("DEVPI_PASSWORD", CREDENTIALS, "root-password")],
                                "ports": [{"name": "http", "containerPort": PORT}],
                                "readinessProbe": {**probe, "initialDelaySeconds": 5},
                                "livenessProbe": {**probe, "initialDelaySeconds": 60, "failureThreshold": 6},
                                "volumeMounts": [{"name": "data", "mountPath": "/devpi/server"}],
                                "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}},
                            }
                        ],
                        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": f"{NAME}-data"}}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": NAME, "namespace": ns, "labels": labels},
            "spec": {
                "selector": {"app.kubernetes.io/name": NAME},
                "ports": [{"name": "http", "port": PORT, "targetPort": "http"}],
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {
                "name": NAME,
                "namespace": ns,
                "labels": labels,
                "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "0"},
            },
            "spec": {
                "ingressClassName": "nginx",
                "tls": ingress_tls(host),
                "rules": [
                    {
                        "host": host,
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": NAME, "port": {"number": PORT}}},
                                }
                            ]
                        },
                    }
                ],
            },
        },
    ]


def application(ctx: InstallContext) -> dict[str, Any]:
    return {
        "apiVersion": ARGO_API,
        "kind": "Application",
        "metadata": {
            "name": NAME,
            "namespace": namespace_of(ctx, "argocd"),
            "labels": dict(MANAGED_BY),
            # deleting the Application deletes what it deployed
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": {
            "project": "default",
            "source": {**RAW_CHART, "helm": {"releaseName": NAME, "valuesObject": {"resources": manifests(ctx)}}},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": ctx.component.namespace},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "syncOptions": ["CreateNamespace=true"],
                "retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "3m"}},
            },
        },
    }


def application_ready(obj: Mapping[str, Any]) -> bool:
    status = obj.get("status") or {}
    return (status.get("sync") or {}).get("status") == "Synced" and (status.get("health") or {}).get(
        "status"
    ) == "Healthy"


# ---------------------------------------------------------------- the setup workflow

SETUP_SCRIPT = r"""
set -eu
export HOME=/tmp
url="http://$DEVPI_HOST:3141"
until devpi use "$url" >/dev/null 2>&1; do echo "waiting for devpi at $url"; sleep 5; done
devpi login root --password "$ROOT_PASSWORD" >/dev/null
exists() { devpi getjson "$1" >/dev/null 2>&1; }
if [ "$MIRROR" = true ]; then
  devpi index root/pypi "mirror_url=$MIRROR_URL" >/dev/null && echo "root/pypi mirrors $MIRROR_URL"
  bases=root/pypi
else
  if exists /root/pypi; then devpi index --delete -y root/pypi && echo "removed the mirror root/pypi"; fi
  bases=
fi
user="${INDEX%%/*}"
if exists "/$user"; then
  echo "user $user exists"
else
  devpi user -c "$user" "password=$USER_PASSWORD" >/dev/null && echo "created user $user"
fi
if exists "/$INDEX"; then
  devpi index "$INDEX" "bases=$bases" volatile=False >/dev/null && echo "index $INDEX updated (bases: $bases)"
else
  devpi index -c "$INDEX" "bases=$bases" volatile=False >/dev/null && echo "created index $INDEX (bases: $bases)"
fi
devpi logoff >/dev/null
"""


def workflow_template(ctx: InstallContext, wf_ns: str) -> dict[str, Any]:
    ns = ctx.component.namespace
    return {
        "apiVersion": ARGO_API,
        "kind": "WorkflowTemplate",
        "metadata": {"name": TEMPLATE, "namespace": wf_ns, "labels": dict(MANAGED_BY)},
        "spec": {
            "entrypoint": "setup",
            "serviceAccountName": WORKFLOW_SA,
            "arguments": {
                "parameters": [
                    {"name": "mirror", "value": "true"},
                    {"name": "mirror-url", "value": "https://pypi.org/simple/"},
                ]
            },
            "templates": [
                {
                    "name": "setup",
                    "retryStrategy": {
                        "limit": "10",
                        "retryPolicy": "Always",
                        "backoff": {"duration": "10s", "factor": "2", "maxDuration": "10m"},
                    },
                    "container": {
                        "image": CLIENT_IMAGE,
                        "command": ["/bin/sh", "-c", SETUP_SCRIPT],
                        "env": [
                            {"name": "DEVPI_HOST", "value": f"{NAME}.{ns}.svc.cluster.local"},
                            {"name": "MIRROR", "value": "{{workflow.parameters.mirror}}"},
                            {"name": "MIRROR_URL", "value": "{{workflow.parameters.mirror-url}}"},
                            env_from_secret("ROOT_PASSWORD", CREDENTIALS, "root-password"),
                            env_from_secret("INDEX", CREDENTIALS, "index"),
                            env_from_secret("USER_PASSWORD", CREDENTIALS, "user-password"),
                        ],
                    },
                }
            ],
        },
    }


def workflow(ctx: InstallContext, wf_ns: str) -> dict[str, Any]:
    params = [
        {"name": "mirror", "value": "true" if ctx.config["mirrorPyPI"] else "false"},
        {"name": "mirror-url", "value": str(ctx.config["mirrorUrl"])},
    ]
    template = workflow_template(ctx, wf_ns)["spec"]
    # Named after what it does (template and settings, no secret): a second run finds it.
    name = f"{TEMPLATE}-{digest(template, params, ctx.config['indexName'])}"
    return {
        "apiVersion": ARGO_API,
        "kind": "Workflow",
        "metadata": {"name": name, "namespace": wf_ns, "labels": dict(MANAGED_BY)},
        "spec": {"workflowTemplateRef": {"name": TEMPLATE}, "arguments": {"parameters": params}},
    }


def workflow_succeeded(obj: Mapping[str, Any]) -> bool:
    phase = (obj.get("status") or {}).get("phase")
    if phase in ("Failed", "Error"):
        message = (obj.get("status") or {}).get("message", "")
        name = (obj.get("metadata") or {}).get("name")
        raise InstallError(f"Workflow {name} ended {phase}: {message}")
    return phase == "Succeeded"
