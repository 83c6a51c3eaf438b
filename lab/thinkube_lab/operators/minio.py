"""MinIO Operator: a Tenant's pool StatefulSets and Services, then `Initialized`."""

from __future__ import annotations

from .base import (
    MINIO_API,
    ControllerApi,
    Obj,
    workload_ready,
)


def reconcile(ctl: ControllerApi) -> None:
    if ctl.release_ready("operator") is None:
        return
    for tenant in ctl.list(MINIO_API, "Tenant"):
        meta, spec = tenant["metadata"], tenant.get("spec") or {}
        ns, name = meta["namespace"], meta["name"]
        config = (spec.get("configuration") or {}).get("name")
        if config and ctl.get("v1", "Secret", config, ns) is None:
            ctl.set_status(tenant, {"currentState": f"Waiting for the configuration Secret {config}"}, "minio-operator")
            continue
        tls = spec.get("requestAutoCert", True) is not False
        sel = {"v1.min.io/tenant": name}
        statefulsets = []
        for pool in spec.get("pools") or []:
            pool_name = pool.get("name") or "pool-0"
            labels = {**sel, "v1.min.io/pool": pool_name}
            sts = ctl.ensure(
                {
                    "apiVersion": "apps/v1",
                    "kind": "StatefulSet",
                    "metadata": {"name": f"{name}-{pool_name}", "namespace": ns, "labels": dict(labels)},
                    "spec": {
                        "replicas": int(pool.get("servers", 1)),
                        "serviceName": f"{name}-hl",
                        "selector": {"matchLabels": labels},
                        "template": {
                            "metadata": {"labels": labels},
                            "spec": {
                                "containers": [{"name": "minio", "image": spec.get("image", "quay.io/minio/minio")}]
                            },
                        },
                    },
                },
                "minio-operator",
            )
            statefulsets.append(sts)
        for svc, port, target in (
            ("minio", 443 if tls else 80, 9000),
            (f"{name}-console", 9443 if tls else 9090, 9443 if tls else 9090),
            (f"{name}-hl", 9000, 9000),
        ):
            body: Obj = {
                "type": "ClusterIP",
                "selector": dict(sel),
                "ports": [
                    {
                        "name": "https-minio" if tls else "http-minio",
                        "port": port,
                        "targetPort": target,
                        "protocol": "TCP",
                    }
                ],
            }
            if svc.endswith("-hl"):
                body["clusterIP"] = "None"
            ctl.ensure(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": svc, "namespace": ns, "labels": dict(sel)},
                    "spec": body,
                },
                "minio-operator",
            )
        ready = statefulsets and all(
            workload_ready(ctl.get("apps/v1", "StatefulSet", s["metadata"]["name"], ns)) for s in statefulsets
        )
        if not ready or not ctl.after(f"minio/{ns}/{name}/{meta.get('uid')}", "minio-tenant"):
            ctl.set_status(tenant, {"currentState": "Waiting for Pods to be ready"}, "minio-operator")
            continue
        users = [u.get("name") for u in spec.get("users") or []]
        ctl.set_status(
            tenant,
            {
                "currentState": "Initialized",
                "healthStatus": "green",
                "availableReplicas": sum(int(p.get("servers", 1)) for p in spec.get("pools") or []),
                "pools": [
                    {"ssName": s["metadata"]["name"], "state": "PoolInitialized", "legacySecurityContext": False}
                    for s in statefulsets
                ],
                "provisionedUsers": bool(users) and all(ctl.get("v1", "Secret", u, ns) is not None for u in users),
                "provisionedBuckets": bool(spec.get("buckets")),
                "revision": 0,
                "syncVersion": "v6.0.0",
            },
            "minio-operator",
        )
