"""PostgreSQL, MinIO, Vault, Keycloak, Qdrant and Valkey installers against recording fakes.

The fakes extend the dry run's recorders: the transport remembers Helm releases (so a second run
finds them deployed), the Kubernetes stand-in keeps what was applied (so a second run finds it),
and answers Vault's HTTP API through `proxy` the way a real Vault would.
"""

from __future__ import annotations

import copy
import json
import shlex
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from thinkube_tui.catalog import load_catalog
from thinkube_tui.dryrun import Transcript, assumed_facts
from thinkube_tui.engine import EngineSettings, Steps
from thinkube_tui.events import EventBus, LineBatcher
from thinkube_tui.installers import keycloak, minio, postgresql, qdrant, valkey, vault
from thinkube_tui.installers.base import Cluster, InstallContext
from thinkube_tui.installers.support.minio import BUCKETS_MANAGER
from thinkube_tui.installers.support.objects import contains
from thinkube_tui.installers.support.postgres import ROLES_MANAGER
from thinkube_tui.journal import Journal
from thinkube_tui.kube import ProxyResponse
from thinkube_tui.secrets import Secrets
from thinkube_tui.spec import parse_answers
from thinkube_tui.transport import CommandResult

from . import fakes
from .fakes import ApiStore, HelmNode, decoded, install_in_order, select

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CANARY_ADMIN = "CanaryAdminPassw0rdXYZ"
CANARY_PG = "CanaryPgSuperuser0rdQQ"
ORDER = [
    ("postgresql", postgresql),
    ("minio", minio),
    ("vault", vault),
    ("keycloak", keycloak),
    ("qdrant", qdrant),
    ("valkey", valkey),
]

MANIFEST_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: {plural}.k8s.keycloak.org}}
spec:
  group: k8s.keycloak.org
  names: {{kind: {kind}, plural: {plural}}}
  scope: Namespaced
  versions: [{{name: v2alpha1, served: true, storage: true, schema: {{openAPIV3Schema: {{type: object,
    x-kubernetes-preserve-unknown-fields: true}}}}}}]
"""
MANIFEST_OPERATOR = """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: keycloak-operator}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: keycloak-operator-clusterrole-binding}
roleRef: {kind: ClusterRole, apiGroup: rbac.authorization.k8s.io, name: keycloak-operator-clusterrole}
subjects: [{kind: ServiceAccount, name: keycloak-operator, namespace: keycloak}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: keycloak-operator-role-binding}
roleRef: {kind: Role, apiGroup: rbac.authorization.k8s.io, name: keycloak-operator-role}
subjects: [{kind: ServiceAccount, name: keycloak-operator}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: keycloak-operator}
spec:
  replicas: 1
  selector: {matchLabels: {app.kubernetes.io/name: keycloak-operator}}
  template:
    metadata: {labels: {app.kubernetes.io/name: keycloak-operator}}
    spec: {serviceAccountName: keycloak-operator, containers: [{name: keycloak-operator,
      image: "quay.io/keycloak/keycloak-operator:26.2.0"}]}
"""


class FakeNode(HelmNode):
    """A control node whose helm remembers releases and whose curl serves the Keycloak manifests."""

    def other(self, argv: list[str], command: str, input: str | None) -> CommandResult | None:
        if argv[0] == "curl":
            url = argv[-1]
            if url.endswith("keycloaks.k8s.keycloak.org-v1.yml"):
                return CommandResult(command, 0, MANIFEST_CRD.format(kind="Keycloak", plural="keycloaks"), "")
            if url.endswith("keycloakrealmimports.k8s.keycloak.org-v1.yml"):
                return CommandResult(
                    command, 0, MANIFEST_CRD.format(kind="KeycloakRealmImport", plural="keycloakrealmimports"), ""
                )
            return CommandResult(command, 0, MANIFEST_OPERATOR, "")
        return None


class FakeVault:
    def __init__(self) -> None:
        self.initialized = False
        self.sealed: dict[str, bool] = {}
        self.keys: list[str] = []
        self.token = ""
        self.audit: dict[str, Any] = {}
        self.mounts: dict[str, Any] = {}
        self.kv: dict[str, dict[str, str]] = {}
        self.calls: list[tuple[str, str, str]] = []

    def answer(self, method: str, pod: str, path: str, body: Any, headers: dict[str, str]) -> ProxyResponse:
        self.calls.append((method, pod, path))
        sealed = self.sealed.setdefault(pod, True)
        if path == "/v1/sys/seal-status":
            return ProxyResponse(200, {"initialized": self.initialized, "sealed": sealed})
        if path == "/v1/sys/init" and method == "PUT":
            self.initialized = True
            self.keys = [f"unseal-key-{i}-{'k' * 20}" for i in range(body["secret_shares"])]
            self.token = "hvs.root-token-abcdefghijkl"
            return ProxyResponse(200, {"keys": self.keys, "keys_base64": self.keys, "root_token": self.token})
        if path == "/v1/sys/unseal":
            assert body["key"] in self.keys
            self.sealed[pod] = False
            return ProxyResponse(200, {"sealed": False})
        if path.startswith("/v1/sys/audit"):
            assert headers.get("X-Vault-Token") == self.token
            if method == "PUT":
                self.audit["file/"] = body
                return ProxyResponse(204, None)
            return ProxyResponse(200, {"data": dict(self.audit)})
        if path == "/v1/sys/health":
            return ProxyResponse(503 if sealed else 200, {})
        assert headers.get("X-Vault-Token") == self.token
        if path == "/v1/sys/mounts":
            return ProxyResponse(200, {"data": dict(self.mounts)})
        if path.startswith("/v1/sys/mounts/") and method in ("POST", "PUT"):
            self.mounts[path.removeprefix("/v1/sys/mounts/") + "/"] = body
            return ProxyResponse(204, None)
        if path.startswith("/v1/secret/data/"):
            key = path.removeprefix("/v1/secret/data/")
            if method in ("POST", "PUT"):
                self.kv[key] = dict(body["data"])
                return ProxyResponse(200, {"data": {"version": 1}})
            return ProxyResponse(200, {"data": {"data": self.kv[key]}}) if key in self.kv else ProxyResponse(404, {})
        return ProxyResponse(404, {"errors": []})


class FakeKube(fakes.FakeKube):
    """The shared fake API server, answering Vault through the API server proxy."""

    def __init__(self, transcript: Transcript, store: ApiStore, vault_sim: FakeVault) -> None:
        super().__init__(transcript, store, lenient=True)
        self.vault = vault_sim

    async def proxy(
        self,
        method: str,
        namespace: str,
        target: str,
        port: int,
        path: str,
        *,
        kind: str = "services",
        query: Any = None,
        body: Any = None,
        headers: Any = None,
        timeout: float = 30,
    ) -> ProxyResponse:
        assert (namespace, kind, port) == ("vault", "pods", 8200)
        return self.vault.answer(method, target, path, body, dict(headers or {}))


class World:
    """What survives between two runs: the cluster's objects, Helm releases, Vault's state."""

    def __init__(self) -> None:
        self.store = ApiStore()
        self.releases: dict[tuple[str, str], Any] = {}
        self.vault = FakeVault()


def full_spec() -> Any:
    data = yaml.safe_load((EXAMPLES / "answers-full.yaml").read_text())
    data["components"]["keycloak"] = {
        "adminPassword": {"env": "TK_CANARY_ADMIN"},
        "users": [{"username": "alice", "email": "alice@thinkube.lan", "groups": ["admins"]}],
    }
    data["components"]["postgresql"] = {"superuserPassword": {"env": "TK_CANARY_PG"}}
    return parse_answers(yaml.safe_dump(data))


async def run_all(world: World, tmp_path: Path) -> dict[str, Any]:
    spec = full_spec()
    catalog = load_catalog()
    transcript = Transcript()
    nodes = {n.name: FakeNode(n.name, transcript, world.releases) for n in spec.nodes}
    secrets = Secrets(environ={"TK_CANARY_ADMIN": CANARY_ADMIN, "TK_CANARY_PG": CANARY_PG})
    cluster = Cluster(spec=spec, catalog=catalog, nodes=nodes, facts=assumed_facts(spec), secrets=secrets)
    kube = FakeKube(transcript, world.store, world.vault)
    cluster._kube = kube  # type: ignore[assignment]
    cluster.state_dir = tmp_path  # type: ignore[attr-defined]  # what vault asks base.py for
    logs, errors = await install_in_order(cluster, ORDER)
    control = nodes[spec.control.name]
    return {"kube": kube, "logs": logs, "errors": errors, "commands": control.commands, "secrets": secrets}


def applied(run: dict[str, Any], kind: str, name: str | None = None, ns: str | None = None) -> list[dict[str, Any]]:
    return select((o for o, _ in run["kube"].applied), kind, name, ns)


@pytest.fixture
async def first(tmp_path):
    world = World()
    return world, await run_all(world, tmp_path), tmp_path


async def test_first_install_sends_the_expected_objects(first):
    world, run, tmp_path = first
    assert run["errors"] == []
    upgrades = {shlex.split(c)[4]: (shlex.split(c), stdin) for c, stdin in run["commands"] if " upgrade " in c}
    assert set(upgrades) == {"postgresql", "minio-operator", "vault", "qdrant", "valkey"}
    argv, _ = upgrades["postgresql"]
    assert argv[5] == "cloudnative-pg" and argv[argv.index("--version") + 1] == "0.26.1" and argv[-2:] == ["-f", "-"]

    # PostgreSQL: superuser from the operator's SecretRef, the Cluster with the schema defaults.
    (su,) = applied(run, "Secret", "postgres-superuser", "postgres")
    assert su["type"] == "kubernetes.io/basic-auth" and decoded(su) == {"username": "postgres", "password": CANARY_PG}
    (pg,) = [o for o in applied(run, "Cluster") if "instances" in o["spec"]]
    assert pg["spec"]["instances"] == 1 and pg["spec"]["imageName"].endswith(":17")
    assert pg["spec"]["postgresql"]["parameters"] == {"max_connections": "200", "shared_buffers": "256MB"}
    assert "walStorage" not in pg["spec"]

    # Keycloak's database: a managed role (own field manager) and a Database object.
    roles = [(o, m) for o, m in run["kube"].applied if o["kind"] == "Cluster" and "managed" in o["spec"]]
    assert roles and all(m == ROLES_MANAGER and set(o["spec"]) == {"managed"} for o, m in roles)
    assert roles[-1][0]["spec"]["managed"]["roles"][-1] == {
        "name": "keycloak",
        "ensure": "present",
        "login": True,
        "passwordSecret": {"name": "keycloak-db"},
    }
    (db,) = applied(run, "Database")
    assert db["spec"] == {"name": "keycloak", "owner": "keycloak", "cluster": {"name": "postgres"}, "ensure": "present"}
    kc_db = decoded(applied(run, "Secret", "keycloak-db", "keycloak")[0])
    assert kc_db["host"] == "postgres-rw.postgres.svc.cluster.local" and kc_db["dbname"] == "keycloak"

    # MinIO: the Tenant, and buckets + users for every consumer selected in the full example.
    (tenant,) = [o for o in applied(run, "Tenant") if "pools" in o["spec"]]
    assert tenant["spec"]["pools"][0]["servers"] == 1 and tenant["spec"]["requestAutoCert"] is False
    lists = [(o, m) for o, m in run["kube"].applied if o["kind"] == "Tenant" and "buckets" in o["spec"]]
    assert len(lists) == 1 and lists[0][1] == BUCKETS_MANAGER
    assert [b["name"] for b in lists[0][0]["spec"]["buckets"]] == ["harbor", "mlflow", "argo", "jupyterhub", "loki"]
    s3 = decoded(applied(run, "Secret", "harbor-s3", "registry")[0])
    assert s3["AWS_ACCESS_KEY_ID"] == "harbor" and s3["bucket"] == "harbor" and len(s3["AWS_SECRET_ACCESS_KEY"]) == 32

    # Vault: initialised once with the schema's shares, unsealed, audited; keys only in the 0600 file.
    assert [c for c in world.vault.calls if c[2] == "/v1/sys/init"] == [("PUT", "vault-0", "/v1/sys/init")]
    assert "file/" in world.vault.audit and world.vault.sealed == {"vault-0": False}
    keys_file = tmp_path / "vault-init.json"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert json.loads(keys_file.read_text())["root_token"] == world.vault.token
    (_, values) = upgrades["vault"]
    vault_values = yaml.safe_load(values)
    assert vault_values["server"]["ha"]["raft"]["enabled"] is True
    assert "sealedcode=204" in vault_values["server"]["readinessProbe"]["path"]
    assert vault_values["server"]["ingress"]["hosts"][0]["host"] == "vault.thinkube.lan"

    # Keycloak: operator manifests in its namespace, the CR, the realm with one client per SSO component.
    assert sum(1 for c, _ in run["commands"] if c.startswith("curl -fsSL")) == 3
    (binding,) = applied(run, "RoleBinding", "keycloak-operator-role-binding")
    assert binding["metadata"]["namespace"] == "keycloak" and binding["subjects"][0]["namespace"] == "keycloak"
    (kc,) = applied(run, "Keycloak")
    assert kc["spec"]["bootstrapAdmin"] == {"user": {"secret": "keycloak-admin"}}
    assert kc["spec"]["db"]["passwordSecret"] == {"name": "keycloak-db", "key": "password"}
    assert decoded(applied(run, "Secret", "keycloak-admin", "keycloak")[0])["password"] == CANARY_ADMIN
    (realm,) = applied(run, "KeycloakRealmImport")
    clients = [c["clientId"] for c in realm["spec"]["realm"]["clients"]]
    assert (
        {"harbor", "argocd", "jupyterhub", "grafana", "penpot"} <= set(clients)
        and "mlflow" in clients
        and "keycloak-k8s-oidc" not in clients
    )
    assert realm["spec"]["placeholders"]["CLIENT_SECRET_HARBOR"] == {
        "secret": {"name": "oidc-harbor", "key": "client-secret"}
    }
    harbor_client = next(c for c in realm["spec"]["realm"]["clients"] if c["clientId"] == "harbor")
    assert harbor_client["secret"] == "${CLIENT_SECRET_HARBOR}"
    assert harbor_client["redirectUris"] == ["https://registry.thinkube.lan/*"]
    oidc = decoded(applied(run, "Secret", "harbor-oidc", "registry")[0])
    assert oidc["issuer"] == "https://auth.thinkube.lan/realms/thinkube"
    assert oidc["client-secret"] not in json.dumps(realm)  # secrets reach the import by reference only

    # Qdrant and Valkey: their secrets in Secrets; Valkey's never in the Helm values.
    api_key = decoded(applied(run, "Secret", "qdrant-api-key", "qdrant")[0])["api-key"]
    assert yaml.safe_load(upgrades["qdrant"][1])["apiKey"] == api_key and api_key not in " ".join(upgrades["qdrant"][0])
    valkey_values = yaml.safe_load(upgrades["valkey"][1])
    assert valkey_values["auth"]["usersExistingSecret"] == "valkey-users"
    assert decoded(applied(run, "Secret", "valkey-users", "valkey")[0])["default"] not in upgrades["valkey"][1]


async def test_second_run_changes_nothing_and_reuses_passwords(first):
    world, _, tmp_path = first
    before = copy.deepcopy(world.store)
    run2 = await run_all(world, tmp_path)
    assert run2["errors"] == []
    assert run2["kube"].applied == []  # every object was found as wanted
    assert not [c for c, _ in run2["commands"] if " upgrade " in c]  # every release already deployed
    assert [c for c in world.vault.calls if c[2] == "/v1/sys/init"] == [("PUT", "vault-0", "/v1/sys/init")]
    assert world.store == before  # no password was rotated
    assert not any("generated a new one" in line for line in run2["logs"])
    assert any("reusing the value kept in Secret keycloak/keycloak-db" in line for line in run2["logs"])


async def test_secrets_stay_out_of_logs_argv_and_errors(first):
    world, run, _ = first
    generated = [
        decoded(o)[k]
        for o in applied(run, "Secret")
        for k in decoded(o)
        if k in ("password", "client-secret", "api-key", "default", "AWS_SECRET_ACCESS_KEY")
    ]
    secrets = [CANARY_ADMIN, CANARY_PG, world.vault.token, *world.vault.keys, *generated]
    text = "\n".join(run["logs"])
    argv = "\n".join(c for c, _ in run["commands"])
    errors = "\n".join(f"{e} {getattr(e, 'output_tail', '')}" for e in run["errors"])
    for value in secrets:
        assert value not in text and value not in argv and value not in errors
    assert any("written to" in line and "vault-init.json" in line for line in run["logs"])
    assert run["secrets"].mask(f"x {CANARY_ADMIN} {world.vault.token}") == "x ****** ******"


async def test_late_sso_consumer_gets_a_client_through_a_job(first):
    """A client for a service added after the realm was imported: a kcadm Job, secret by reference."""
    from thinkube_tui.installers.support.keycloak import oidc_client_for

    world, _, _ = first
    spec = full_spec()
    kube = FakeKube(Transcript(), world.store, world.vault)
    cluster = Cluster(spec=spec, catalog=load_catalog(), nodes={}, facts={}, secrets=Secrets(environ={}))
    cluster._kube = kube  # type: ignore[assignment]
    bus = EventBus()
    journal = Journal(None)
    journal.started("keycloak-k8s-oidc", {})
    steps = Steps("keycloak-k8s-oidc", {}, journal, bus, LineBatcher(bus, 0.0), EngineSettings(step_timeout_s=60))
    client = await oidc_client_for(InstallContext(steps, cluster), "keycloak-k8s-oidc")
    assert (
        client.issuer == "https://auth.thinkube.lan/realms/thinkube" and client.secret_name == "keycloak-k8s-oidc-oidc"
    )
    (job,) = [o for o, _ in kube.applied if o["kind"] == "Job"]
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CLIENT_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "oidc-keycloak-k8s-oidc",
        "key": "client-secret",
    }
    (secret_obj,) = [
        o for o, _ in kube.applied if o["kind"] == "Secret" and o["metadata"]["name"] == "keycloak-k8s-oidc-oidc"
    ]
    secret = decoded(secret_obj)
    assert secret["client-secret"] not in json.dumps(job)


def test_contains_is_a_subset_check():
    assert contains({"a": 1, "b": [{"x": 1, "y": 2}]}, {"b": [{"x": 1}]})
    assert not contains({"b": [{"x": 1}, {"x": 2}]}, {"b": [{"x": 1}]})
    assert not contains({"a": True}, {"a": 1})
