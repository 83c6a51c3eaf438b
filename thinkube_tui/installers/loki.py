"""5.9 Loki: the loki chart, chunks and index in a MinIO bucket, logs shipped from every node
by Grafana Alloy.

1. `bucket_for(ctx, "loki")`: bucket `loki` in the MinIO Tenant and its access key in Secret
   `monitoring/loki-s3` (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, endpoint, bucket).
2. The chart (values on stdin, no credentials in them): `loki.storage.type: s3` with MinIO's
   in-cluster endpoint, path-style, plain HTTP, and the keys written as `${AWS_ACCESS_KEY_ID}` /
   `${AWS_SECRET_ACCESS_KEY}`, which Loki expands from its environment
   (`-config.expand-env=true`); the environment comes from the Secret (`extraEnvFrom`).
   Sized for a homelab: `deploymentMode` SingleBinary (one StatefulSet `loki`) or
   SimpleScalable (one read, one write, one backend), replication factor 1, the memcached
   caches, the canary and the Helm test off; TSDB index, schema v13; retention by the
   compactor (`retention`); the gateway (`loki-gateway`, port 80) in front, which Grafana uses.
   Multi-tenancy off (`auth_enabled: false`): one homelab, one tenant.
3. With `collectNodeLogs`: Grafana Alloy as a DaemonSet `loki-alloy` (own manifests; the
   catalog installs only the loki chart) on every node, tolerating every taint. It tails the
   pods' logs from /var/log/pods (labels namespace, pod, container, node) and the node's
   systemd journal (labels unit, node), and pushes them to the gateway.

Verified: the Loki workloads and the gateway roll out (Loki's readiness probe is /ready: the
ring is up and the object store answered), and the Alloy DaemonSet runs on every node.

Docs: https://grafana.com/docs/loki/latest/setup/install/helm/ (install-monolithic,
install-scalable, configure-storage), the chart's values.yaml
(https://github.com/grafana/loki/blob/main/production/helm/loki/values.yaml: deploymentMode,
loki.storage, loki.schemaConfig, loki.limits_config, loki.compactor, singleBinary/read/write/
backend.extraArgs and .extraEnvFrom, chunksCache, resultsCache, lokiCanary, test, gateway),
https://grafana.com/docs/loki/latest/configure/#use-environment-variables-in-the-configuration,
https://grafana.com/docs/loki/latest/operations/storage/retention/; Alloy:
https://grafana.com/docs/alloy/latest/reference/components/ (discovery.kubernetes,
discovery.relabel, local.file_match, loki.source.file, loki.process stage.cri,
loki.source.journal, loki.write).
"""

from __future__ import annotations

from typing import Any

from .base import InstallContext
from .support.minio import bucket_for
from .support.objects import MANAGED_BY, ensure, ensure_namespace, rollout, wait
from .support.uninstall import bucket_user_gone, standard

NAME = "loki"
GATEWAY = "loki-gateway"
ALLOY = "loki-alloy"
ALLOY_IMAGE = "grafana/alloy:v1.9.2"
EXPAND_ENV = "-config.expand-env=true"
SCHEMA_FROM = "2024-04-01"

ALLOY_CONFIG = """\
// Pods on this node: their log files under /var/log/pods.
discovery.kubernetes "pods" {
  role = "pod"
  selectors {
    role  = "pod"
    field = "spec.nodeName=" + sys.env("NODE_NAME")
  }
}

discovery.relabel "pods" {
  targets = discovery.kubernetes.pods.targets
  rule {
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_name"]
    target_label  = "pod"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_container_name"]
    target_label  = "container"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_node_name"]
    target_label  = "node"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_uid", "__meta_kubernetes_pod_container_name"]
    separator     = "/"
    target_label  = "__path__"
    replacement   = "/var/log/pods/*$1/*.log"
  }
}

local.file_match "pods" {
  path_targets = discovery.relabel.pods.output
}

loki.source.file "pods" {
  targets    = local.file_match.pods.targets
  forward_to = [loki.process.pods.receiver]
}

loki.process "pods" {
  stage.cri {}
  forward_to = [loki.write.default.receiver]
}

// The node's systemd journal (snap.microk8s.* units included).
loki.relabel "journal" {
  forward_to = []
  rule {
    source_labels = ["__journal__systemd_unit"]
    target_label  = "unit"
  }
}

loki.source.journal "node" {
  path          = "/var/log/journal"
  relabel_rules = loki.relabel.journal.rules
  labels        = {job = "node/journal", node = sys.env("NODE_NAME")}
  forward_to    = [loki.write.default.receiver]
}

loki.write "default" {
  endpoint {
    url = "LOKI_PUSH_URL"
  }
}
"""


def chart_values(ctx: InstallContext, *, endpoint: str, bucket: str, s3_secret: str) -> dict[str, Any]:
    c = ctx.config
    mode = str(c["deploymentMode"])
    env_from = [{"secretRef": {"name": s3_secret}}]
    target = {"extraArgs": [EXPAND_ENV], "extraEnvFrom": env_from}
    values: dict[str, Any] = {
        "deploymentMode": mode,
        "loki": {
            "auth_enabled": False,
            "commonConfig": {"replication_factor": 1},
            "schemaConfig": {
                "configs": [
                    {
                        "from": SCHEMA_FROM,
                        "store": "tsdb",
                        "object_store": "s3",
                        "schema": "v13",
                        "index": {"prefix": "loki_index_", "period": "24h"},
                    }
                ]
            },
            "storage": {
                "type": "s3",
                "bucketNames": {"chunks": bucket, "ruler": bucket, "admin": bucket},
                "s3": {
                    "endpoint": endpoint.removeprefix("http://").removeprefix("https://"),
                    "region": "us-east-1",  # MinIO's default; required by the S3 client
                    "accessKeyId": "${AWS_ACCESS_KEY_ID}",
                    "secretAccessKey": "${AWS_SECRET_ACCESS_KEY}",
                    "s3ForcePathStyle": True,
                    "insecure": endpoint.startswith("http://"),
                },
            },
            # Loki reads Prometheus-style durations: 31d, 2w, 1y as given
            "limits_config": {"retention_period": str(c["retention"])},
            "compactor": {"retention_enabled": True, "delete_request_store": "s3"},
        },
        "chunksCache": {"enabled": False},
        "resultsCache": {"enabled": False},
        "lokiCanary": {"enabled": False},
        "test": {"enabled": False},
        "minio": {"enabled": False},
        "gateway": {"enabled": True},
    }
    if mode == "SingleBinary":
        values["singleBinary"] = {"replicas": 1, **target}
        for part in ("read", "write", "backend"):
            values[part] = {"replicas": 0}
    else:
        values["singleBinary"] = {"replicas": 0}
        for part in ("read", "write", "backend"):
            values[part] = {"replicas": 1, **target}
    return values


def workloads(ctx: InstallContext) -> list[tuple[str, str]]:
    """(kind, name) of what the chart runs in this mode, gateway included."""
    if str(ctx.config["deploymentMode"]) == "SingleBinary":
        parts = [("StatefulSet", NAME)]
    else:
        parts = [("Deployment", f"{NAME}-read"), ("StatefulSet", f"{NAME}-write"), ("StatefulSet", f"{NAME}-backend")]
    return [*parts, ("Deployment", GATEWAY)]


# ---------------------------------------------------------------- Alloy (node logs)


def alloy_objects(ctx: InstallContext) -> list[dict[str, Any]]:
    ns = ctx.component.namespace
    labels = {
        "app.kubernetes.io/name": ALLOY,
        "app.kubernetes.io/part-of": NAME,
        **MANAGED_BY,
    }
    push = f"http://{GATEWAY}.{ns}.svc.cluster.local/loki/api/v1/push"
    meta = {"name": ALLOY, "namespace": ns, "labels": labels}

    def host_path(name: str, path: str, type_: str) -> dict[str, Any]:
        return {"name": name, "hostPath": {"path": path, "type": type_}}

    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": ALLOY, "labels": labels},
            "rules": [
                {"apiGroups": [""], "resources": ["pods", "nodes", "namespaces"], "verbs": ["get", "list", "watch"]}
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": ALLOY, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ALLOY},
            "subjects": [{"kind": "ServiceAccount", "name": ALLOY, "namespace": ns}],
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta,
            "data": {"config.alloy": ALLOY_CONFIG.replace("LOKI_PUSH_URL", push)},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": meta,
            "spec": {
                "selector": {"matchLabels": {"app.kubernetes.io/name": ALLOY}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": ALLOY,
                        "tolerations": [{"operator": "Exists"}],  # every node, GPU nodes included
                        "containers": [
                            {
                                "name": "alloy",
                                "image": ALLOY_IMAGE,
                                "args": [
                                    "run",
                                    "/etc/alloy/config.alloy",
                                    "--storage.path=/var/lib/alloy",
                                    "--server.http.listen-addr=0.0.0.0:12345",
                                ],
                                "env": [
                                    {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
                                ],
                                "ports": [{"name": "http", "containerPort": 12345}],
                                "readinessProbe": {"httpGet": {"path": "/-/ready", "port": 12345}, "periodSeconds": 10},
                                # reading other pods' log files and the journal needs root (read-only mounts)
                                "securityContext": {"runAsUser": 0, "allowPrivilegeEscalation": False},
                                "resources": {
                                    "requests": {"cpu": "20m", "memory": "64Mi"},
                                    "limits": {"memory": "256Mi"},
                                },
                                "volumeMounts": [
                                    {"name": "config", "mountPath": "/etc/alloy", "readOnly": True},
                                    {"name": "varlog", "mountPath": "/var/log", "readOnly": True},
                                    {"name": "machine-id", "mountPath": "/etc/machine-id", "readOnly": True},
                                    {"name": "positions", "mountPath": "/var/lib/alloy"},
                                ],
                            }
                        ],
                        "volumes": [
                            {"name": "config", "configMap": {"name": ALLOY}},
                            host_path("varlog", "/var/log", "Directory"),
                            host_path("machine-id", "/etc/machine-id", "File"),
                            # read positions survive restarts: no log shipped twice
                            host_path("positions", "/var/lib/thinkube-alloy", "DirectoryOrCreate"),
                        ],
                    },
                },
            },
        },
    ]


def _on_every_node(count: int) -> Any:
    def ready(ds: dict[str, Any]) -> bool:
        st = ds.get("status") or {}
        desired = int(st.get("desiredNumberScheduled") or 0)
        return desired >= count and int(st.get("numberReady") or 0) >= desired

    return ready


async def _alloy(ctx: InstallContext) -> None:
    for obj in alloy_objects(ctx):
        await ensure(ctx, obj)


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    await ctx.step("namespace", lambda: ensure_namespace(ctx, ns))
    bucket = await bucket_for(ctx, NAME)
    wanted_bucket = str(ctx.config["bucket"])
    if wanted_bucket != bucket.bucket:
        ctx.log(
            f"note: the bucket setting is {wanted_bucket}, but the shared MinIO contract provisions "
            f"bucket {bucket.bucket} for loki; using {bucket.bucket}"
        )
    values = chart_values(ctx, endpoint=bucket.endpoint, bucket=bucket.bucket, s3_secret=bucket.secret_name)
    await ctx.step(f"install Loki ({values['deploymentMode']})", lambda: ctx.helm(values, timeout_s=600))
    collect = bool(ctx.config["collectNodeLogs"])
    if collect:
        await ctx.step("ship node and pod logs (Grafana Alloy)", lambda: _alloy(ctx))

    # Verify: Loki ready (/ready: ring joined, object store reachable), gateway up, Alloy everywhere.
    for kind, name in workloads(ctx):
        await rollout(ctx, kind, name, ns, timeout=600)
    if collect:
        nodes = len(ctx.spec.nodes)
        await rollout(ctx, "DaemonSet", ALLOY, ns, timeout=300)
        await wait(
            ctx,
            "apps/v1",
            "DaemonSet",
            ALLOY,
            ns,
            _on_every_node(nodes),
            timeout=300,
            what=f"Alloy on all {nodes} nodes",
        )
        ctx.log(f"Alloy ships pod and journal logs from all {nodes} nodes")
    ctx.log(
        f"Loki is ready at http://{GATEWAY}.{ns}.svc.cluster.local (Grafana's Loki data source); chunks and "
        f"index in MinIO bucket {bucket.bucket} (access key in Secret {ns}/{bucket.secret_name}); retention "
        f"{ctx.config['retention']}"
    )


async def uninstall(ctx: InstallContext) -> None:
    """What install created goes; its data stays unless purge (support/uninstall.py)."""
    await standard(ctx)
    await bucket_user_gone(ctx)
