"""5.11 Model serving: KServe v0.15.0 from its release manifests (KServe publishes its charts only
as OCI artifacts), RawDeployment mode behind ingress-nginx, the selected ServingRuntimes.

1. `kserve.yaml` (CRDs, the `kserve` namespace, RBAC, webhooks with cert-manager certificates,
   the controller) is fetched on the control node and applied object by object (server-side
   apply, CRDs first). Its ConfigMap `inferenceservice-config` is adjusted before it is applied:
   `deploy.defaultDeploymentMode` (RawDeployment, or Serverless with the knative component) and
   `ingress.ingressClassName: nginx`, `ingressDomain: <domain>`, `urlScheme: https`, so an
   InferenceService `m` in namespace `ns` is published at `https://m-ns.<domain>` under the
   wildcard certificate (domain template `{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}`).
2. Verified: every CRD of the manifest is Established, every Deployment of it rolled out.
3. `kserve-cluster-resources.yaml`: the ClusterServingRuntimes chosen in `runtimes`
   (mlserver -> kserve-mlserver, huggingface -> kserve-huggingfaceserver, triton ->
   kserve-tritonserver, sklearn -> kserve-sklearnserver, xgboost -> kserve-xgbserver) and the
   ClusterStorageContainer. When discovery found NVIDIA GPUs, the GPU runtimes (huggingface,
   triton) request one GPU by default and tolerate the GPU nodes' taints; without GPUs they
   are applied as released (CPU).
4. Models in MinIO: a Secret `kserve-s3` (KServe's S3 annotations, MinIO's endpoint, the
   access key of MLflow's bucket) and a ServiceAccount `kserve-s3` in namespace `kserve`;
   an InferenceService using `serviceAccountName: kserve-s3` reads `s3://<modelBucket>/...`.

Docs: https://kserve.github.io/website/latest/admin/kubernetes_deployment/ (RawDeployment
install, ingressClassName, defaultDeploymentMode), .../modelserving/storage/s3/s3/ (the
serving.kserve.io/s3-* annotations), .../modelserving/servingruntimes/ (ClusterServingRuntime).
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from ..engine import InstallError
from .base import InstallContext
from .support.apps import fetch_manifest
from .support.components import enabled
from .support.minio import s3_endpoint
from .support.objects import MANAGED_BY, ensure, ensure_namespace, rollout, wait, wait_crds
from .support.secret_objects import secret_values
from .support.workspace import gpu_nodes, gpu_resource, gpu_tolerations

VERSION = "v0.15.0"
RELEASE = f"https://github.com/kserve/kserve/releases/download/{VERSION}"
MANIFEST = f"{RELEASE}/kserve.yaml"
CLUSTER_RESOURCES = f"{RELEASE}/kserve-cluster-resources.yaml"
CONFIG = "inferenceservice-config"
RUNTIMES = {
    "mlserver": "kserve-mlserver",
    "huggingface": "kserve-huggingfaceserver",
    "triton": "kserve-tritonserver",
    "sklearn": "kserve-sklearnserver",
    "xgboost": "kserve-xgbserver",
}
GPU_RUNTIMES = ("huggingface", "triton")
S3_SECRET = "kserve-s3"
#: What the release manifest brings and the verification checks (also on a resumed run, whose
#: journal skips the step that fetched the manifest).
CRDS = (
    "inferenceservices.serving.kserve.io",
    "servingruntimes.serving.kserve.io",
    "clusterservingruntimes.serving.kserve.io",
    "trainedmodels.serving.kserve.io",
    "inferencegraphs.serving.kserve.io",
    "clusterstoragecontainers.serving.kserve.io",
)
CONTROLLER = "kserve-controller-manager"


def deployment_mode(ctx: InstallContext) -> str:
    return str(ctx.config["deploymentMode"])


def configure(ctx: InstallContext, obj: dict[str, Any]) -> dict[str, Any]:
    """The manifest's object, with our settings in inferenceservice-config."""
    if obj.get("kind") != "ConfigMap" or obj.get("metadata", {}).get("name") != CONFIG:
        return obj
    obj = copy.deepcopy(obj)
    data = obj.setdefault("data", {})
    deploy = json.loads(data.get("deploy") or "{}")
    deploy["defaultDeploymentMode"] = deployment_mode(ctx)
    data["deploy"] = json.dumps(deploy, indent=2)
    ingress = json.loads(data.get("ingress") or "{}")
    ingress.update(
        {
            "ingressClassName": "nginx",
            "ingressDomain": ctx.spec.cluster.domain,
            "urlScheme": "https",
            "domainTemplate": "{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}",
        }
    )
    data["ingress"] = json.dumps(ingress, indent=2)
    return obj


def runtime(ctx: InstallContext, obj: dict[str, Any], *, gpus: bool) -> dict[str, Any]:
    """A ClusterServingRuntime, with one GPU by default for the GPU runtimes when there are GPUs."""
    name = obj["metadata"]["name"]
    if not gpus or name not in {RUNTIMES[r] for r in GPU_RUNTIMES}:
        return obj
    obj = copy.deepcopy(obj)
    spec = obj.setdefault("spec", {})
    resource = gpu_resource(ctx)
    for container in spec.get("containers") or []:
        res = container.setdefault("resources", {})
        res.setdefault("requests", {})[resource] = "1"
        res.setdefault("limits", {})[resource] = "1"
    spec["tolerations"] = gpu_tolerations(ctx)
    return obj


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    if deployment_mode(ctx) == "Serverless" and not enabled(ctx, "knative"):
        raise InstallError(
            "components.model-serving.deploymentMode is Serverless, which needs Knative: enable the "
            "knative component or use RawDeployment"
        )
    unknown = [r for r in ctx.config["runtimes"] if r not in RUNTIMES]
    if unknown:
        raise InstallError(f"components.model-serving.runtimes: unknown runtime(s) {', '.join(unknown)}")

    manifest = await ctx.step(f"apply the KServe {VERSION} CRDs and controller", lambda: _apply(ctx)) or {}
    crds = sorted({*CRDS, *manifest.get("crds", ())})
    deployments = sorted({(ns, CONTROLLER), *manifest.get("deployments", ())})

    # Verify: CRDs established, the controller(s) rolled out.
    await wait_crds(ctx, crds)
    ctx.log(f"{len(crds)} KServe CRDs are established")
    for where, name in deployments:
        await rollout(ctx, "Deployment", name, where, timeout=600)

    gpus = bool(gpu_nodes(ctx))
    selected = [RUNTIMES[r] for r in ctx.config["runtimes"]]
    await ctx.step("serving runtimes", lambda: _runtimes(ctx, selected, gpus=gpus))
    await ctx.step("S3 access to the model bucket", lambda: _s3(ctx))

    for name in selected:
        await wait(
            ctx,
            "serving.kserve.io/v1alpha1",
            "ClusterServingRuntime",
            name,
            None,
            lambda o: True,
            timeout=60,
            what=f"ClusterServingRuntime {name}",
        )
    ctx.log(
        f"KServe {VERSION} is ready in {deployment_mode(ctx)} mode; runtimes {', '.join(selected) or '-'}"
        + (f" (GPU runtimes request one {gpu_resource(ctx)})" if gpus else "")
        + f"; InferenceServices are published at https://<name>-<namespace>.{ctx.spec.cluster.domain}; "
        f"models from MinIO with serviceAccountName {S3_SECRET} in namespace {ns}"
    )


async def _apply(ctx: InstallContext) -> dict[str, list[Any]]:
    ns = ctx.component.namespace
    objects = await fetch_manifest(ctx, MANIFEST)
    await ensure_namespace(ctx, ns)
    ordered = (
        [o for o in objects if o["kind"] == "CustomResourceDefinition"]
        + [o for o in objects if o["kind"] == "Namespace"]
        + [o for o in objects if o["kind"] not in ("CustomResourceDefinition", "Namespace")]
    )
    for obj in ordered:
        await ensure(ctx, configure(ctx, obj))
    return {
        "crds": [o["metadata"]["name"] for o in objects if o["kind"] == "CustomResourceDefinition"],
        "deployments": [
            (o["metadata"].get("namespace") or ns, o["metadata"]["name"]) for o in objects if o["kind"] == "Deployment"
        ],
    }


async def _runtimes(ctx: InstallContext, selected: list[str], *, gpus: bool) -> list[str]:
    objects = await fetch_manifest(ctx, CLUSTER_RESOURCES)
    applied = []
    for obj in objects:
        if obj["kind"] == "ClusterServingRuntime":
            if obj["metadata"]["name"] not in selected:
                continue
            obj = runtime(ctx, obj, gpus=gpus)
            applied.append(obj["metadata"]["name"])
        await ensure(ctx, obj)
    missing = [r for r in selected if r not in applied]
    if objects and missing:
        raise InstallError(f"{CLUSTER_RESOURCES} has no ClusterServingRuntime {', '.join(missing)}")
    return applied


async def _s3(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    bucket = str(ctx.config["modelBucket"])
    source_ns = ctx.cluster.catalog["mlflow"].namespace
    found = await secret_values(ctx, "mlflow-s3", source_ns, secret_keys=("AWS_SECRET_ACCESS_KEY",))
    if not found or not found.get("AWS_SECRET_ACCESS_KEY"):
        ctx.log(f"no MinIO access key in Secret {source_ns}/mlflow-s3 (MLflow's): no S3 credentials for KServe")
        return
    endpoint = s3_endpoint(ctx).removeprefix("http://")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": S3_SECRET,
            "namespace": ns,
            "labels": dict(MANAGED_BY),
            "annotations": {
                "serving.kserve.io/s3-endpoint": endpoint,
                "serving.kserve.io/s3-usehttps": "0",
                "serving.kserve.io/s3-region": "us-east-1",
                "serving.kserve.io/s3-useanoncredential": "false",
            },
        },
    }
    secret["data"] = {
        k: base64.b64encode(found[k].encode()).decode() for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    }
    await ensure(ctx, secret)
    await ensure(
        ctx,
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "name": S3_SECRET,
                "namespace": ns,
                "labels": dict(MANAGED_BY),
            },
            "secrets": [{"name": S3_SECRET}],
        },
    )
    ctx.log(f"ServiceAccount {ns}/{S3_SECRET} reads s3://{bucket} at {endpoint}")
