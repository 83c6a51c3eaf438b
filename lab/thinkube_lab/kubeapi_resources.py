"""The kinds the lab's Kubernetes API emulator serves, and how a CRD adds more.

Only the kinds Thinkube's installers touch are listed; anything else answers 404 like a
server without that API. Names, scopes and short names are those of Kubernetes 1.33.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    status: bool = False  # has a /status subresource: main writes keep .status, /status writes only it
    generation: bool = False  # metadata.generation counts spec changes
    crd: bool = False
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """Storage key: one store per group+plural, shared by all versions of a CRD."""
        return (self.group, self.plural)

    def discovery(self) -> list[dict[str, Any]]:
        """APIResource entries for /api/v1 or /apis/<group>/<version>."""
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(VERBS),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        out = [entry]
        if self.status:
            out.append(
                {
                    "name": f"{self.plural}/status",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        return out


def _t(
    gv: str,
    kind: str,
    plural: str,
    namespaced: bool = True,
    short: str = "",
    status: bool = False,
    generation: bool = False,
) -> ResourceType:
    group, _, version = gv.rpartition("/")
    return ResourceType(
        group, version, kind, plural, namespaced, tuple(s for s in short.split(",") if s), status, generation
    )


BUILTIN: tuple[ResourceType, ...] = (
    _t("v1", "Namespace", "namespaces", False, "ns", status=True),
    _t("v1", "Node", "nodes", False, "no", status=True),
    _t("v1", "ConfigMap", "configmaps", short="cm"),
    _t("v1", "Secret", "secrets"),
    _t("v1", "Service", "services", short="svc", status=True),
    _t("v1", "ServiceAccount", "serviceaccounts", short="sa"),
    _t("v1", "Pod", "pods", short="po", status=True),
    _t("v1", "PersistentVolumeClaim", "persistentvolumeclaims", short="pvc", status=True),
    _t("v1", "PersistentVolume", "persistentvolumes", False, "pv", status=True),
    _t("v1", "Endpoints", "endpoints", short="ep"),
    _t("v1", "Event", "events", short="ev"),
    _t("events.k8s.io/v1", "Event", "events"),
    _t("apps/v1", "Deployment", "deployments", short="deploy", status=True, generation=True),
    _t("apps/v1", "StatefulSet", "statefulsets", short="sts", status=True, generation=True),
    _t("apps/v1", "DaemonSet", "daemonsets", short="ds", status=True, generation=True),
    _t("apps/v1", "ReplicaSet", "replicasets", short="rs", status=True, generation=True),
    _t("batch/v1", "Job", "jobs", status=True, generation=True),
    _t("batch/v1", "CronJob", "cronjobs", short="cj", status=True, generation=True),
    _t("coordination.k8s.io/v1", "Lease", "leases"),
    _t("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", short="pdb", status=True, generation=True),
    _t("networking.k8s.io/v1", "Ingress", "ingresses", short="ing", status=True, generation=True),
    _t("networking.k8s.io/v1", "IngressClass", "ingressclasses", False),
    _t("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", short="netpol", generation=True),
    _t("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False),
    _t("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _t("rbac.authorization.k8s.io/v1", "Role", "roles"),
    _t("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
    _t("storage.k8s.io/v1", "StorageClass", "storageclasses", False, "sc"),
    _t("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", False),
    _t("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", False),
    _t(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        "crd,crds",
        status=True,
        generation=True,
    ),
)


def crd_types(crd: dict[str, Any]) -> list[ResourceType]:
    """The resource types a CustomResourceDefinition serves (one per served version)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for v in spec.get("versions") or []:
        if not v.get("served", True):
            continue
        out.append(
            ResourceType(
                group=spec["group"],
                version=v["name"],
                kind=names["kind"],
                plural=names["plural"],
                namespaced=spec.get("scope") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                status="status" in (v.get("subresources") or {}),
                generation=True,
                crd=True,
                schema=(v.get("schema") or {}).get("openAPIV3Schema"),
            )
        )
    return out
