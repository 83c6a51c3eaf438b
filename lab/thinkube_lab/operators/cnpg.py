"""CloudNativePG: Cluster readiness and managed roles; Database `applied`."""

from __future__ import annotations

from .base import (
    CNPG_API,
    ControllerApi,
    Obj,
    cond,
)


def reconcile(ctl: ControllerApi) -> None:
    if ctl.release_ready("cloudnative-pg") is None:
        return
    ready_clusters: dict[tuple[str, str], list[str]] = {}
    for cl in ctl.list(CNPG_API, "Cluster"):
        meta, spec = cl["metadata"], cl.get("spec") or {}
        ns, name = meta["namespace"], meta["name"]
        instances = int(spec.get("instances", 1))
        for suffix, role in (("rw", "primary"), ("ro", "replica"), ("r", None)):
            sel = {"cnpg.io/cluster": name, **({"cnpg.io/instanceRole": role} if role else {})}
            ctl.ensure(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": f"{name}-{suffix}", "namespace": ns, "labels": {"cnpg.io/cluster": name}},
                    "spec": {
                        "type": "ClusterIP",
                        "selector": sel,
                        "ports": [{"name": "postgres", "port": 5432, "protocol": "TCP"}],
                    },
                },
                "cloudnative-pg",
            )
        old = (cl.get("status") or {}).get("conditions")
        if not ctl.after(f"cnpg/{ns}/{name}", "cnpg-cluster"):
            ctl.set_status(
                cl,
                {
                    "instances": instances,
                    "phase": "Setting up primary",
                    "conditions": [cond(old, "Ready", "False", "ClusterIsNotReady", "Cluster Is Not Ready")],
                },
                "cloudnative-pg",
            )
            continue
        reconciled, cannot, absent = [], {}, []
        for role in (spec.get("managed") or {}).get("roles") or []:
            rname = role.get("name")
            if role.get("ensure", "present") == "absent":
                absent.append(rname)
                continue
            secret = (role.get("passwordSecret") or {}).get("name")
            if secret and ctl.get("v1", "Secret", secret, ns) is None:
                cannot[rname] = [f'passwordSecret "{secret}" not found in namespace {ns}']
            else:
                reconciled.append(rname)
        by_status: Obj = {}
        if reconciled:
            by_status["reconciled"] = sorted(reconciled)
        if cannot:
            by_status["pending-reconciliation"] = sorted(cannot)
        roles_status: Obj = {"byStatus": by_status}
        if cannot:
            roles_status["cannotReconcile"] = cannot
        names = [f"{name}-{i + 1}" for i in range(instances)]
        ctl.set_status(
            cl,
            {
                "instances": instances,
                "readyInstances": instances,
                "phase": "Cluster in healthy state",
                "currentPrimary": names[0],
                "targetPrimary": names[0],
                "instanceNames": names,
                "writeService": f"{name}-rw",
                "readService": f"{name}-r",
                "latestGeneratedNode": instances,
                "managedRolesStatus": roles_status,
                "conditions": [cond(old, "Ready", "True", "ClusterIsReady", "Cluster is Ready")],
            },
            "cloudnative-pg",
        )
        ready_clusters[(ns, name)] = [*reconciled, "postgres", "app"]
    for db in ctl.list(CNPG_API, "Database"):
        meta, spec = db["metadata"], db.get("spec") or {}
        roles = ready_clusters.get((meta["namespace"], (spec.get("cluster") or {}).get("name", "")))
        if roles is None or not ctl.after(
            f"cnpg-db/{meta['namespace']}/{meta['name']}/{meta.get('generation')}", "cnpg-database"
        ):
            continue
        owner = spec.get("owner")
        if owner and owner not in roles:
            ctl.set_status(
                db,
                {
                    "applied": False,
                    "observedGeneration": meta.get("generation"),
                    "message": f'role "{owner}" does not exist',
                },
                "cloudnative-pg",
            )
        else:
            ctl.set_status(
                db, {"applied": True, "observedGeneration": meta.get("generation")}, "cloudnative-pg", replace=True
            )
