"""Keycloak Operator: a Keycloak's StatefulSet and Service, then `Ready`; realm imports `Done`."""

from __future__ import annotations

from .base import (
    KEYCLOAK_API,
    ControllerApi,
    cond,
    has_condition,
    workload_ready,
)


def reconcile(ctl: ControllerApi) -> None:
    for kc in ctl.list(KEYCLOAK_API, "Keycloak"):
        meta, spec = kc["metadata"], kc.get("spec") or {}
        ns, name = meta["namespace"], meta["name"]
        if not workload_ready(ctl.get("apps/v1", "Deployment", "keycloak-operator", ns)):
            continue  # the operator watches its own namespace
        old = (kc.get("status") or {}).get("conditions")
        gen = meta.get("generation")
        db = spec.get("db") or {}
        refs = [
            (db.get("usernameSecret") or {}).get("name"),
            (db.get("passwordSecret") or {}).get("name"),
            ((spec.get("bootstrapAdmin") or {}).get("user") or {}).get("secret"),
        ]
        missing = [r for r in refs if r and ctl.get("v1", "Secret", r, ns) is None]
        if missing:
            ctl.set_status(
                kc,
                {
                    "observedGeneration": gen,
                    "conditions": [
                        cond(old, "Ready", "False", "Error", "", gen),
                        cond(
                            old,
                            "HasErrors",
                            "True",
                            "Error",
                            f"Secret(s) {', '.join(missing)} not found in {ns}",
                            gen,
                        ),
                        cond(old, "RollingUpdate", "False", "", "", gen),
                    ],
                },
                "keycloak-operator",
            )
            continue
        labels = {
            "app": "keycloak",
            "app.kubernetes.io/instance": name,
            "app.kubernetes.io/managed-by": "keycloak-operator",
        }
        instances = int(spec.get("instances", 1))
        ctl.ensure(
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
                "spec": {
                    "replicas": instances,
                    "serviceName": f"{name}-discovery",
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "containers": [
                                {"name": "keycloak", "image": spec.get("image", "quay.io/keycloak/keycloak:26.2.0")}
                            ]
                        },
                    },
                },
            },
            "keycloak-operator",
        )
        http = (spec.get("http") or {}).get("httpEnabled", False)
        ports = ([{"name": "http", "port": 8080, "protocol": "TCP"}] if http else []) + [
            {"name": "https", "port": 8443, "protocol": "TCP"},
            {"name": "management", "port": 9000, "protocol": "TCP"},
        ]
        ctl.ensure(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"{name}-service", "namespace": ns, "labels": dict(labels)},
                "spec": {"type": "ClusterIP", "selector": dict(labels), "ports": ports},
            },
            "keycloak-operator",
        )
        ctl.ensure(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"{name}-discovery", "namespace": ns, "labels": dict(labels)},
                "spec": {
                    "clusterIP": "None",
                    "selector": dict(labels),
                    "ports": [{"name": "tcp", "port": 7800, "protocol": "TCP"}],
                },
            },
            "keycloak-operator",
        )
        ready = workload_ready(ctl.get("apps/v1", "StatefulSet", name, ns)) and ctl.after(
            f"kc/{ns}/{name}/{gen}", "keycloak"
        )
        ctl.set_status(
            kc,
            {
                "observedGeneration": gen,
                "instances": instances,
                "selector": ",".join(f"{k}={v}" for k, v in labels.items()),
                "conditions": [
                    cond(
                        old,
                        "Ready",
                        "True" if ready else "False",
                        "",
                        "" if ready else "Waiting for more replicas",
                        gen,
                    ),
                    cond(old, "HasErrors", "False", "", "", gen),
                    cond(old, "RollingUpdate", "False", "", "", gen),
                ],
            },
            "keycloak-operator",
        )
    for ri in ctl.list(KEYCLOAK_API, "KeycloakRealmImport"):
        meta, spec = ri["metadata"], ri.get("spec") or {}
        ns = meta["namespace"]
        kc = ctl.get(KEYCLOAK_API, "Keycloak", spec.get("keycloakCRName", ""), ns)
        if not has_condition(kc, "Ready"):
            continue
        old = (ri.get("status") or {}).get("conditions")
        missing = sorted(
            {
                p["secret"]["name"]
                for p in (spec.get("placeholders") or {}).values()
                if isinstance(p, dict)
                and (p.get("secret") or {}).get("name")
                and ctl.get("v1", "Secret", p["secret"]["name"], ns) is None
            }
        )
        if missing:
            ctl.set_status(
                ri,
                {
                    "conditions": [
                        cond(old, "Done", "False", "", "", meta.get("generation")),
                        cond(old, "Started", "False", "", "", meta.get("generation")),
                        cond(
                            old,
                            "HasErrors",
                            "True",
                            "",
                            f"Secret(s) {', '.join(missing)} referenced by placeholders not found",
                            meta.get("generation"),
                        ),
                    ]
                },
                "keycloak-operator",
            )
            continue
        if not ctl.after(f"kri/{ns}/{meta['name']}/{meta.get('generation')}", "realm-import"):
            if not old:
                ctl.set_status(
                    ri,
                    {
                        "conditions": [
                            cond(old, "Done", "False", "", "", meta.get("generation")),
                            cond(old, "Started", "True", "", "Import Job running", meta.get("generation")),
                            cond(old, "HasErrors", "False", "", "", meta.get("generation")),
                        ]
                    },
                    "keycloak-operator",
                )
            continue
        ctl.set_status(
            ri,
            {
                "conditions": [
                    cond(old, "Done", "True", "", "", meta.get("generation")),
                    cond(old, "Started", "False", "", "", meta.get("generation")),
                    cond(old, "HasErrors", "False", "", "", meta.get("generation")),
                ]
            },
            "keycloak-operator",
        )
