"""ML tools, platform management and application installers (keycloak-k8s-oidc, mlflow,
model-serving, pgadmin, thinkube-dashboard, opensearch, penpot, awx, mkdocs, knative) against
recording fakes, on the full example with a GPU worker.

The fakes extend the dry run's recorders: the control node keeps a few files (the API server's
args file, /etc/hosts) and remembers Helm releases, `curl` serves small KServe manifests, the
Kubernetes stand-in keeps what was applied and answers waits with the stored object. A second
run over the same world must send nothing.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from thinkube_tui.catalog import load_catalog
from thinkube_tui.dryrun import Transcript, assumed_facts, dry_run
from thinkube_tui.facts import Facts, Gpu
from thinkube_tui.installers import (
    awx,
    keycloak_k8s_oidc,
    knative,
    mkdocs,
    mlflow,
    model_serving,
    opensearch,
    penpot,
    pgadmin,
    thinkube_dashboard,
)
from thinkube_tui.installers.base import Cluster
from thinkube_tui.installers.keycloak_k8s_oidc import ARGS_FILE, CA_PATH, RESTART_MARKER, edit_args
from thinkube_tui.secrets import Secrets
from thinkube_tui.spec import load_answers, parse_answers
from thinkube_tui.transport import CommandResult

from .fakes import ApiStore, FakeKube, HelmNode, decoded, env_of, install_in_order, select

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CANARY_PGADMIN = "CanaryPgAdminPassw0rdQZ"
CANARY_AWX = "CanaryAwxAdminPassw0rdQZ"
CANARY_OPENSEARCH = "CanaryOpenSearch#Passw0rd"
CANARY_VALKEY = "CanaryValkeyPassw0rdXYZW"
CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBthinkubeCA\n-----END CERTIFICATE-----\n"
ARGS = "--advertise-address=192.168.1.10\n--service-cluster-ip-range=10.152.183.0/24\n--oidc-client-id=old\n"
ORDER = [
    ("keycloak-k8s-oidc", keycloak_k8s_oidc),
    ("mlflow", mlflow),
    ("model-serving", model_serving),
    ("pgadmin", pgadmin),
    ("thinkube-dashboard", thinkube_dashboard),
    ("opensearch", opensearch),
    ("penpot", penpot),
    ("awx", awx),
    ("mkdocs", mkdocs),
    ("knative", knative),
]

KSERVE = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: inferenceservices.serving.kserve.io}
spec: {group: serving.kserve.io, names: {kind: InferenceService, plural: inferenceservices}, scope: Namespaced,
  versions: [{name: v1beta1, served: true, storage: true}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: kserve}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: inferenceservice-config, namespace: kserve}
data:
  deploy: '{"defaultDeploymentMode": "Serverless"}'
  ingress: '{"ingressGateway": "knative-serving/knative-ingress-gateway", "ingressDomain": "example.com"}'
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: kserve-controller-manager, namespace: kserve}
spec: {selector: {matchLabels: {app: kserve}}, template: {metadata: {labels: {app: kserve}},
  spec: {containers: [{name: manager, image: "kserve/kserve-controller:v0.15.0"}]}}}
"""
KSERVE_RESOURCES = (
    "\n---\n".join(
        f"apiVersion: serving.kserve.io/v1alpha1\nkind: ClusterServingRuntime\nmetadata: {{name: {name}}}\n"
        f"spec: {{containers: [{{name: kserve-container, image: 'x/{name}:1'}}]}}"
        for name in ("kserve-mlserver", "kserve-huggingfaceserver", "kserve-tritonserver", "kserve-sklearnserver")
    )
    + "\n---\napiVersion: serving.kserve.io/v1alpha1\nkind: ClusterStorageContainer\nmetadata: {name: default}\n"
)


class FakeNode(HelmNode):
    """A control node with a few files and a helm that remembers releases."""

    def __init__(self, node: str, transcript: Transcript, world: World) -> None:
        super().__init__(node, transcript, world.releases)
        self.world = world

    def other(self, argv: list[str], command: str, input: str | None) -> CommandResult | None:
        files = self.world.files

        def ok(out: str = "") -> CommandResult:
            return CommandResult(command, 0, out, "")

        if argv[0] == "curl":
            return ok(KSERVE if argv[-1].endswith("/kserve.yaml") else KSERVE_RESOURCES)
        elif argv[0] == "cat":
            return ok(files[argv[1]]) if argv[1] in files else CommandResult(command, 1, "", "No such file")
        elif argv[0] == "tee":
            append = argv[1] == "-a"
            path = argv[2 if append else 1]
            files[path] = (files.get(path, "") if append else "") + (input or "")
        elif argv[0] == "test":
            present = argv[2] in files and (argv[1] == "-e" or bool(files[argv[2]]))
            return CommandResult(command, 0 if present else 1, "", "")
        elif argv[:2] == [":", ">"]:
            files[argv[2]] = ""
        elif argv[:2] == ["rm", "-f"]:
            files.pop(argv[2], None)
        elif argv[0] == "getent":
            line = next((ln for ln in files.get("/etc/hosts", "").splitlines() if ln.endswith(" " + argv[2])), None)
            return ok(line + "\n") if line else CommandResult(command, 2, "", "")
        elif argv[0] == "printf" and ">>" in argv:
            files[argv[-1]] = files.get(argv[-1], "") + argv[2] + "\n"
        elif argv[:2] == ["snap", "restart"]:
            self.world.restarts += 1
        return None


def _secret(name: str, ns: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


class World:
    """What survives between two runs: objects, releases, the control node's files."""

    def __init__(self) -> None:
        self.store = ApiStore(
            {
                ("v1", "Secret", "cert-manager", "thinkube-ca"): _secret(
                    "thinkube-ca", "cert-manager", {"ca.crt": CA_PEM, "tls.key": "k" * 40}
                ),
                ("v1", "Secret", "valkey", "valkey-users"): _secret(
                    "valkey-users", "valkey", {"default": CANARY_VALKEY}
                ),
            }
        )
        self.releases: dict[tuple[str, str], Any] = {}
        self.files: dict[str, str] = {ARGS_FILE: ARGS, "/etc/hosts": "127.0.0.1 localhost\n"}
        self.restarts = 0


def full_spec() -> Any:
    data = yaml.safe_load((EXAMPLES / "answers-full.yaml").read_text())
    data["components"]["pgadmin"] = {"enabled": True, "adminPassword": {"env": "TK_CANARY_PGADMIN"}}
    data["components"]["awx"] = {"enabled": True, "adminPassword": {"env": "TK_CANARY_AWX"}}
    data["components"]["opensearch"] = {"enabled": True, "adminPassword": {"env": "TK_CANARY_OPENSEARCH"}}
    data["components"]["thinkube-dashboard"] = {
        "enabled": True,
        "extraLinks": [
            {"title": "Home <router>", "url": "https://router.thinkube.lan", "description": "the LAN's router"}
        ],
    }
    return parse_answers(yaml.safe_dump(data))


def facts_with_gpu(spec: Any) -> dict[str, Facts]:
    facts = assumed_facts(spec)
    gpu = Gpu(
        pci_address="0000:01:00.0",
        pci_device_id="2684",
        model="NVIDIA GeForce RTX 4090",
        memory_mib=24564,
        driver_version="580.65.06",
        compute_capability="8.9",
        index=0,
    )
    facts["tk-gpu"] = Facts(node="tk-gpu", hostname="tk-gpu", primary_address="192.168.1.12", gpus=(gpu,))
    return facts


async def run_all(world: World) -> dict[str, Any]:
    spec = full_spec()
    transcript = Transcript()
    nodes = {n.name: FakeNode(n.name, transcript, world) for n in spec.nodes}
    secrets = Secrets(
        environ={
            "TK_CANARY_PGADMIN": CANARY_PGADMIN,
            "TK_CANARY_AWX": CANARY_AWX,
            "TK_CANARY_OPENSEARCH": CANARY_OPENSEARCH,
        }
    )
    cluster = Cluster(spec=spec, catalog=load_catalog(), nodes=nodes, facts=facts_with_gpu(spec), secrets=secrets)
    kube = FakeKube(transcript, world.store, lenient=True)
    cluster._kube = kube  # type: ignore[assignment]
    logs, errors = await install_in_order(cluster, ORDER)
    control = nodes[spec.control.name]
    upgrades = {
        shlex.split(c)[4]: (shlex.split(c), yaml.safe_load(stdin or "{}"), stdin or "")
        for c, stdin in control.commands
        if " upgrade " in c
    }
    return {
        "kube": kube,
        "logs": logs,
        "errors": errors,
        "commands": control.commands,
        "upgrades": upgrades,
        "handovers": cluster.handovers,
    }


def applied(run: dict[str, Any], kind: str, name: str | None = None, ns: str | None = None) -> list[dict[str, Any]]:
    return select(run["kube"].applied_objects(), kind, name, ns)


def one(run: dict[str, Any], kind: str, name: str, ns: str | None = None) -> dict[str, Any]:
    found = applied(run, kind, name, ns)
    assert len(found) == 1, f"{kind} {ns}/{name}: applied {len(found)} times"
    return found[0]


@pytest.fixture
async def first():
    world = World()
    return world, await run_all(world)


async def test_no_errors_and_builtin_objects_are_valid_kubernetes_1_33(first):
    _, run = first
    assert run["errors"] == []
    try:
        from thinkube_lab.kubeapi_objects import SchemaValidator
    except ImportError:  # the lab's validator is another group's work in progress
        pytest.skip("lab SchemaValidator not available")
    validator = SchemaValidator("1.33")
    for obj in run["kube"].applied_objects():
        if obj["apiVersion"] in ("v1", "apps/v1", "batch/v1", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1"):
            assert validator.errors(obj) == [], f"{obj['kind']} {obj['metadata']['name']}"


async def test_api_server_oidc_flags_restart_and_login(first):
    world, run = first
    content = world.files[ARGS_FILE]
    assert "--advertise-address=192.168.1.10" in content and "--oidc-client-id=old" not in content
    for flag in (
        "--oidc-issuer-url=https://auth.thinkube.lan/realms/thinkube",
        "--oidc-client-id=keycloak-k8s-oidc",
        "--oidc-username-claim=preferred_username",
        "--oidc-groups-claim=groups",
        "--oidc-username-prefix=oidc:",
        "--oidc-groups-prefix=oidc:",
        f"--oidc-ca-file={CA_PATH}",
    ):
        assert content.count(flag) == 1, flag
    assert world.files[CA_PATH] == CA_PEM and RESTART_MARKER not in world.files
    assert "192.168.1.200 auth.thinkube.lan" in world.files["/etc/hosts"]
    assert world.restarts == 1
    commands = [c for c, _ in run["commands"]]
    assert f"tee {ARGS_FILE} > /dev/null" in commands  # an existing flag had another value: rewritten
    assert commands.index("snap restart microk8s.daemon-kubelite") > commands.index(f"tee {ARGS_FILE} > /dev/null")
    binding = one(run, "ClusterRoleBinding", "oidc-cluster-admins")
    assert binding["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "oidc:cluster-admins"}
    ]
    job = one(run, "Job", "keycloak-k8s-oidc-kubelogin", "keycloak")
    env = env_of(job["spec"]["template"]["spec"]["containers"][0])
    assert "http://localhost:8000" in json.loads(env["REDIRECT_URIS"]) and env["GROUP"] == "cluster-admins"
    [(_, lines)] = [h for h in run["handovers"] if h[0].startswith("Kubernetes API")]
    text = "\n".join(lines)
    assert "oidc-login" in text and "--oidc-client-id=keycloak-k8s-oidc" in text
    client_secret = decoded(one(run, "Secret", "keycloak-k8s-oidc-oidc", "kube-system"))["client-secret"]
    assert client_secret not in text  # the summary says where the secret is, never the secret


def test_edit_args_appends_missing_and_replaces_changed():
    content, append, changed = edit_args(
        "--a=1\n--oidc-groups-claim=roles\n", {"--oidc-groups-claim": "groups", "--oidc-client-id": "k"}
    )
    assert changed and append == ["--oidc-client-id=k"]
    assert content == "--a=1\n--oidc-groups-claim=groups\n--oidc-client-id=k\n"
    assert edit_args(content, {"--oidc-groups-claim": "groups", "--oidc-client-id": "k"})[1:] == ([], False)


async def test_mlflow_values_use_shared_services_by_reference(first):
    _, run = first
    argv, values, stdin = run["upgrades"]["mlflow"]
    assert argv[argv.index("--version") + 1] == "1.12.0" and argv[-2:] == ["-f", "-"]
    assert values["backendStore"]["existingDatabaseSecret"] == {
        "name": "mlflow-db",
        "usernameKey": "username",
        "passwordKey": "password",
    }
    assert values["backendStore"]["postgres"]["host"] == "postgres-rw.postgres.svc.cluster.local"
    assert values["artifactRoot"]["s3"]["existingSecret"]["name"] == "mlflow-s3"
    assert values["artifactRoot"]["proxiedArtifactStorage"] is True
    assert values["extraEnvVars"]["MLFLOW_S3_ENDPOINT_URL"] == "http://minio.minio.svc.cluster.local"
    assert values["postgresql"] == {"enabled": False} and values["minio"] == {"enabled": False}
    ingress = values["ingress"]
    assert ingress["className"] == "nginx" and ingress["hosts"][0]["host"] == "mlflow.thinkube.lan"
    assert ingress["tls"] == [{"hosts": ["mlflow.thinkube.lan"]}]
    assert ingress["annotations"]["nginx.ingress.kubernetes.io/auth-url"] == (
        "http://mlflow-oauth2-proxy.mlflow.svc.cluster.local:4180/oauth2/auth"
    )
    db_password = decoded(one(run, "Secret", "mlflow-db", "mlflow"))["password"]
    assert db_password not in stdin
    proxy = one(run, "Deployment", "mlflow-oauth2-proxy", "mlflow")
    env = env_of(proxy["spec"]["template"]["spec"]["containers"][0])
    assert env["OAUTH2_PROXY_CLIENT_SECRET"] == {"secretKeyRef": {"name": "mlflow-oidc", "key": "client-secret"}}
    assert env["OAUTH2_PROXY_PROVIDER_CA_FILES"] == "/etc/thinkube-ca/ca.crt"
    assert env["OAUTH2_PROXY_REDIRECT_URL"] == "https://mlflow.thinkube.lan/oauth2/callback"
    assert "rollout Deployment mlflow/mlflow" in run["kube"].waits


async def test_kserve_manifests_config_and_gpu_runtimes(first):
    _, run = first
    config = one(run, "ConfigMap", "inferenceservice-config", "kserve")
    assert json.loads(config["data"]["deploy"]) == {"defaultDeploymentMode": "RawDeployment"}
    ingress = json.loads(config["data"]["ingress"])
    assert ingress["ingressClassName"] == "nginx" and ingress["ingressDomain"] == "thinkube.lan"
    assert ingress["ingressGateway"] == "knative-serving/knative-ingress-gateway"  # the rest kept
    kinds = [
        o["kind"]
        for o in run["kube"].applied_objects()
        if o["metadata"].get("namespace") == "kserve"
        or o["kind"] in ("CustomResourceDefinition", "ClusterServingRuntime")
    ]
    assert kinds.index("CustomResourceDefinition") < kinds.index("Deployment")
    runtimes = {o["metadata"]["name"]: o for o in applied(run, "ClusterServingRuntime")}
    assert set(runtimes) == {"kserve-mlserver", "kserve-huggingfaceserver"}  # the schema's default selection
    hf = runtimes["kserve-huggingfaceserver"]["spec"]
    assert hf["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in hf["tolerations"]
    assert "resources" not in runtimes["kserve-mlserver"]["spec"]["containers"][0]
    assert "CRD inferenceservices.serving.kserve.io" in run["kube"].waits
    assert "rollout Deployment kserve/kserve-controller-manager" in run["kube"].waits
    s3 = one(run, "Secret", "kserve-s3", "kserve")
    assert s3["metadata"]["annotations"]["serving.kserve.io/s3-endpoint"] == "minio.minio.svc.cluster.local"


async def test_pgadmin_oauth2_config_only_in_a_secret(first):
    _, run = first
    _, values, stdin = run["upgrades"]["pgadmin"]
    assert values["existingSecret"] == "pgadmin-admin" and values["envVarsFromSecrets"] == ["pgadmin-oauth2"]
    assert values["env"]["email"] == "admin@thinkube.lan" and "password" not in values["env"]
    assert values["serverDefinitions"]["servers"]["thinkube"]["Host"] == "postgres-rw.postgres.svc.cluster.local"
    assert values["ingress"]["hosts"][0]["host"] == "pgadmin.thinkube.lan"
    assert decoded(one(run, "Secret", "pgadmin-admin", "pgadmin"))["password"] == CANARY_PGADMIN
    oauth = decoded(one(run, "Secret", "pgadmin-oauth2", "pgadmin"))["PGADMIN_CONFIG_OAUTH2_CONFIG"]
    secret = decoded(one(run, "Secret", "pgadmin-oidc", "pgadmin"))["client-secret"]
    assert repr(secret) in oauth and "'OAUTH2_SERVER_METADATA_URL': 'https://auth.thinkube.lan/realms/thinkube" in oauth
    assert secret not in stdin and CANARY_PGADMIN not in stdin
    env = {v["name"]: v["value"] for v in values["env"]["variables"]}
    assert env["PGADMIN_CONFIG_AUTHENTICATION_SOURCES"] == "['oauth2', 'internal']"
    assert env["REQUESTS_CA_BUNDLE"] == "/etc/thinkube-ca/ca.crt"


async def test_dashboard_page_lists_services_and_is_escaped(first):
    _, run = first
    page = one(run, "ConfigMap", "thinkube-dashboard", "thinkube-control")["data"]["index.html"]
    for url in (
        "https://mlflow.thinkube.lan",
        "https://auth.thinkube.lan",
        "https://docs.thinkube.lan",
        "https://router.thinkube.lan",
    ):
        assert f'data-url="{url}"' in page
    assert "Home &lt;router&gt;" in page and "<router>" not in page
    ingress = one(run, "Ingress", "thinkube-dashboard", "thinkube-control")
    assert ingress["spec"]["rules"][0]["host"] == "dashboard.thinkube.lan"
    assert "nginx.ingress.kubernetes.io/auth-signin" in ingress["metadata"]["annotations"]
    deployment = one(run, "Deployment", "thinkube-dashboard", "thinkube-control")
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert re.fullmatch(r"[0-9a-f]{16}", annotations["thinkube.io/page-sha256"])


async def test_opensearch_admin_password_from_secret(first):
    _, run = first
    _, values, _ = run["upgrades"]["opensearch"]
    assert values["singleNode"] is True and values["opensearchJavaOpts"] == "-Xms1g -Xmx1g"
    assert values["extraEnvs"] == [
        {
            "name": "OPENSEARCH_INITIAL_ADMIN_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "opensearch-admin", "key": "password"}},
        }
    ]
    assert decoded(one(run, "Secret", "opensearch-admin", "opensearch"))["password"] == CANARY_OPENSEARCH
    argv, dash, _ = run["upgrades"]["opensearch-dashboards"]
    assert argv[5] == "opensearch-dashboards" and dash["ingress"]["hosts"][0]["host"] == "opensearch.thinkube.lan"
    assert "rollout StatefulSet opensearch/opensearch-cluster-master" in run["kube"].waits


async def test_penpot_uses_shared_postgres_valkey_and_keycloak(first):
    _, run = first
    _, values, stdin = run["upgrades"]["penpot"]
    assert values["global"] == {"postgresqlEnabled": False, "valkeyEnabled": False, "redisEnabled": False}
    cfg = values["config"]
    assert cfg["postgresql"]["existingSecret"] == "penpot-db" and cfg["redis"]["existingSecret"] == "penpot-valkey"
    assert cfg["providers"]["existingSecret"] == "penpot-oidc"
    assert cfg["providers"]["oidc"]["baseURI"] == "https://auth.thinkube.lan/realms/thinkube"
    assert "enable-login-with-oidc" in cfg["flags"] and "disable-login-with-password" in cfg["flags"]
    uri = decoded(one(run, "Secret", "penpot-valkey", "penpot"))["redis-uri"]
    assert uri == f"redis://default:{CANARY_VALKEY}@valkey.valkey.svc.cluster.local:6379/0"
    assert CANARY_VALKEY not in stdin


async def test_awx_operator_cr_and_sso_settings(first):
    _, run = first
    argv, values, _ = run["upgrades"]["awx-operator"]
    assert values == {"AWX": {"enabled": False}} and argv[argv.index("--version") + 1] == "2.19.1"
    cr = one(run, "AWX", "awx", "awx")["spec"]
    assert cr["postgres_configuration_secret"] == "awx-postgres-configuration"
    assert cr["admin_password_secret"] == "awx-admin-password" and cr["bundle_cacert_secret"] == "awx-custom-certs"
    assert cr["extra_settings_files"] == {"secrets": [{"name": "awx-sso-settings", "key": "oidc.py"}]}
    pg = decoded(one(run, "Secret", "awx-postgres-configuration", "awx"))
    assert pg["type"] == "unmanaged" and pg["database"] == "awx" and pg["host"].startswith("postgres-rw.")
    assert pg["password"] == decoded(one(run, "Secret", "awx-db", "awx"))["password"]
    sso = decoded(one(run, "Secret", "awx-sso-settings", "awx"))["oidc.py"]
    assert "SOCIAL_AUTH_OIDC_OIDC_ENDPOINT = 'https://auth.thinkube.lan/realms/thinkube'" in sso
    assert decoded(one(run, "Secret", "awx-admin-password", "awx"))["password"] == CANARY_AWX
    assert "AWX awx/awx (condition Successful)" in run["kube"].waits
    assert one(run, "Ingress", "awx", "awx")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"] == {
        "name": "awx-service",
        "port": {"number": 80},
    }


async def test_mkdocs_starter_site_and_knative(first):
    _, run = first
    source = one(run, "ConfigMap", "mkdocs-source", "mkdocs")["data"]
    assert "name: material" in source["mkdocs.yml"] and "https://mlflow.thinkube.lan" in source["index.md"]
    pod = one(run, "Deployment", "mkdocs", "mkdocs")["spec"]["template"]["spec"]
    assert pod["initContainers"][0]["image"] == "squidfunk/mkdocs-material:9.6.14"
    assert [c["name"] for c in pod["containers"]] == ["nginx"]  # no repository: nothing to rebuild from
    assert one(run, "Ingress", "mkdocs", "mkdocs")["spec"]["rules"][0]["host"] == "docs.thinkube.lan"

    kn_argv = run["upgrades"]["knative-operator"][0]
    assert kn_argv[4] == "knative-operator" and kn_argv[kn_argv.index("--namespace") + 1] == "knative-operator"
    serving = one(run, "KnativeServing", "knative-serving", "knative-serving")["spec"]
    assert serving["ingress"]["kourier"] == {"enabled": True, "service-type": "ClusterIP"}
    assert serving["config"]["network"]["ingress-class"] == "kourier.ingress.networking.knative.dev"
    assert serving["config"]["domain"] == {"kn.thinkube.lan": ""}
    ingress = one(run, "Ingress", "knative-services", "knative-serving")["spec"]
    assert ingress["ingressClassName"] == "nginx-kn" and ingress["rules"][0]["host"] == "*.kn.thinkube.lan"
    assert ingress["tls"] == [{"hosts": ["*.kn.thinkube.lan"], "secretName": "knative-wildcard-tls"}]
    cert = one(run, "Certificate", "knative-wildcard", "knative-serving")["spec"]
    assert cert["dnsNames"] == ["*.kn.thinkube.lan"] and cert["issuerRef"]["name"] == "thinkube-ca"
    assert "KnativeServing knative-serving/knative-serving Ready" in run["kube"].waits


async def test_second_run_changes_nothing(first):
    world, _ = first
    before = copy.deepcopy(world.store)
    files = dict(world.files)
    run2 = await run_all(world)
    assert run2["errors"] == []
    assert run2["kube"].applied == []
    assert not [c for c, _ in run2["commands"] if " upgrade " in c]
    assert world.store == before and world.files == files and world.restarts == 1
    assert not any("generated a new one" in line for line in run2["logs"])
    assert not [c for c, _ in run2["commands"] if c.startswith(("tee", "snap", "printf", ": >"))]


async def test_secrets_stay_out_of_logs_argv_and_errors(first):
    _, run = first
    keys = ("password", "client-secret", "cookie-secret", "AWS_SECRET_ACCESS_KEY", "redis-uri")
    generated = [v for o in applied(run, "Secret") for k, v in decoded(o).items() if k in keys]
    secrets = [CANARY_PGADMIN, CANARY_AWX, CANARY_OPENSEARCH, CANARY_VALKEY, *generated]
    text = "\n".join(run["logs"])
    argv = "\n".join(c for c, _ in run["commands"])
    errors = "\n".join(f"{e} {getattr(e, 'output_tail', '')}" for e in run["errors"])
    for value in secrets:
        assert value not in text and value not in argv and value not in errors
    helm_stdin = "\n".join(stdin for _, _, stdin in run["upgrades"].values())
    for value in [CANARY_PGADMIN, CANARY_AWX, CANARY_OPENSEARCH, CANARY_VALKEY, *generated]:
        assert value not in helm_stdin  # every chart gets its secrets through existing Secrets


async def test_dry_run_shows_every_component_without_failures():
    spec = load_answers(EXAMPLES / "answers-full.yaml")
    transcript = await dry_run(spec, load_catalog())
    failed = transcript.lines.get("not installed", [])
    api = "\n".join(transcript.lines["kubernetes API"])
    control = "\n".join(transcript.lines["tk-control"])
    for cid, _ in ORDER:
        assert not [line for line in failed if line.startswith(f"{cid}: ")], failed
        assert f"[{cid}]" in api or f"[{cid}]" in control, cid
