"""JupyterHub, code-server, its repository monitor, Prometheus, Grafana and Loki installers
against recording fakes, on the full example with a GPU worker.

The fakes extend the dry run's recorders: the control node's helm remembers releases (a second
run finds them deployed with the same values), the Kubernetes stand-in keeps what was applied
(a second run finds it) and answers waits with the stored object.
"""

from __future__ import annotations

import base64
import copy
import json
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from thinkube_lab.kubeapi_objects import SchemaValidator
from thinkube_tui.catalog import load_catalog
from thinkube_tui.dryrun import Transcript, assumed_facts, dry_run
from thinkube_tui.engine import EngineSettings, Steps
from thinkube_tui.events import EventBus, LineBatcher
from thinkube_tui.facts import Facts, Gpu
from thinkube_tui.installers import code_server, code_server_monitor, grafana, jupyterhub, loki, prometheus
from thinkube_tui.installers.base import Cluster, InstallContext
from thinkube_tui.installers.support.workspace import HARBOR_DOCKERHUB_PROJECT, harbor_image, split_tag
from thinkube_tui.journal import Journal
from thinkube_tui.secrets import Secrets
from thinkube_tui.spec import load_answers, parse_answers

from .fakes import ApiStore, FakeKube, HelmNode, decoded, env_of, install_in_order, select

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CANARY_GRAFANA = "CanaryGrafanaAdminPw0rdZZ"
CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBthinkubeCA\n-----END CERTIFICATE-----\n"
ORDER = [
    ("prometheus", prometheus),
    ("grafana", grafana),
    ("loki", loki),
    ("jupyterhub", jupyterhub),
    ("code-server", code_server),
    ("code-server-monitor", code_server_monitor),
]
GPU_MODEL = "NVIDIA GeForce RTX 4090"


class World:
    """What survives between two runs: the cluster's objects and Helm releases."""

    def __init__(self) -> None:
        ca = {"ca.crt": base64.b64encode(CA_PEM.encode()).decode(), "tls.key": base64.b64encode(b"k" * 40).decode()}
        self.store = ApiStore(
            {
                ("v1", "Secret", "cert-manager", "thinkube-ca"): {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "thinkube-ca", "namespace": "cert-manager"},
                    "data": ca,
                },
            }
        )
        self.releases: dict[tuple[str, str], Any] = {}


def full_spec() -> Any:
    data = yaml.safe_load((EXAMPLES / "answers-full.yaml").read_text())
    data["components"]["grafana"] = {
        "enabled": True,
        "adminPassword": {"env": "TK_CANARY_GRAFANA"},
        "plugins": ["grafana-piechart-panel"],
    }
    data["components"]["jupyterhub"].update(
        {
            "extraProfiles": [
                {
                    "displayName": "Big CPU",
                    "image": "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
                    "cpu": 1.5,
                    "memory": "16Gi",
                    "gpus": 1,
                }
            ]
        }
    )
    data["components"]["code-server"].update(
        {
            "repositories": ["https://github.com/thinkube/thinkube.git"],
            "gitUserName": "Alice",
            "gitUserEmail": "alice@thinkube.lan",
        }
    )
    return parse_answers(yaml.safe_dump(data))


def facts_with_gpu(spec: Any) -> dict[str, Facts]:
    facts = assumed_facts(spec)
    gpu = Gpu(
        pci_address="0000:01:00.0",
        pci_device_id="2684",
        model=GPU_MODEL,
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
    nodes = {n.name: HelmNode(n.name, transcript, world.releases) for n in spec.nodes}
    secrets = Secrets(environ={"TK_CANARY_GRAFANA": CANARY_GRAFANA})
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
    return {"kube": kube, "logs": logs, "errors": errors, "commands": control.commands, "upgrades": upgrades}


def applied(run: dict[str, Any], kind: str, name: str | None = None, ns: str | None = None) -> list[dict[str, Any]]:
    return select((o for o, _ in run["kube"].applied), kind, name, ns)


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
    validator = SchemaValidator("1.33")
    for obj, _ in run["kube"].applied:
        if obj["apiVersion"] in ("v1", "apps/v1", "batch/v1", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1"):
            assert validator.errors(obj) == [], f"{obj['kind']} {obj['metadata']['name']}"


async def test_charts_and_versions(first):
    _, run = first
    assert set(run["upgrades"]) == {"prometheus", "grafana", "loki", "jupyterhub"}
    expected = {
        "prometheus": ("kube-prometheus-stack", "79.7.1", "monitoring"),
        "grafana": ("grafana", "10.1.5", "monitoring"),
        "loki": ("loki", "6.29.0", "monitoring"),
        "jupyterhub": ("jupyterhub", "4.3.3", "jupyterhub"),
    }
    for release, (chart, version, ns) in expected.items():
        argv = run["upgrades"][release][0]
        assert argv[5] == chart and argv[argv.index("--version") + 1] == version
        assert argv[argv.index("--namespace") + 1] == ns and argv[-2:] == ["-f", "-"]


async def test_jupyterhub_values(first):
    _, run = first
    v = run["upgrades"]["jupyterhub"][1]
    hub = v["hub"]
    assert hub["db"] == {
        "type": "postgres",
        "url": "postgresql+psycopg2://jupyterhub@postgres-rw.postgres.svc.cluster.local:5432/jupyterhub",
    }
    assert hub["extraEnv"]["PGPASSWORD"] == {
        "valueFrom": {"secretKeyRef": {"name": "jupyterhub-db", "key": "password"}}
    }
    assert hub["extraEnv"]["OAUTH_CLIENT_SECRET"] == {
        "valueFrom": {"secretKeyRef": {"name": "jupyterhub-oidc", "key": "client-secret"}}
    }
    assert "os.environ['OAUTH_CLIENT_SECRET']" in hub["extraConfig"]["thinkube-oidc"]
    auth = hub["config"]["GenericOAuthenticator"]
    assert hub["config"]["JupyterHub"]["authenticator_class"] == "generic-oauth"
    assert "client_secret" not in auth
    assert auth["authorize_url"] == "https://auth.thinkube.lan/realms/thinkube/protocol/openid-connect/auth"
    assert auth["oauth_callback_url"] == "https://jupyter.thinkube.lan/hub/oauth_callback"
    assert auth["manage_groups"] is True
    assert auth["admin_groups"] == ["admins"] and auth["http_request_kwargs"] == {"ca_certs": "/etc/thinkube-ca/ca.crt"}
    assert hub["extraVolumes"] == [{"name": "thinkube-ca", "configMap": {"name": "thinkube-ca"}}]
    # the users' bucket, from the Secret only
    su = v["singleuser"]
    assert su["extraEnv"]["AWS_SECRET_ACCESS_KEY"] == {
        "valueFrom": {"secretKeyRef": {"name": "jupyterhub-s3", "key": "AWS_SECRET_ACCESS_KEY"}}
    }
    assert su["image"] == {"name": "quay.io/jupyter/scipy-notebook", "tag": "latest"}  # quay.io: not via Harbor
    profiles = {p["display_name"]: p["kubespawner_override"] for p in su["profileList"]}
    gpu = profiles[f"GPU: {GPU_MODEL}"]
    assert gpu["extra_resource_limits"] == {"nvidia.com/gpu": "1"}
    assert gpu["node_selector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in gpu["tolerations"]
    big = profiles["Big CPU"]
    assert big["image"] == (
        f"registry.thinkube.lan/{HARBOR_DOCKERHUB_PROJECT}/pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime"
    )
    assert big["cpu_limit"] == 1.5 and big["mem_limit"] == "16G"
    assert big["extra_resource_limits"] == {"nvidia.com/gpu": "1"}
    assert v["ingress"] == {
        "enabled": True,
        "ingressClassName": "nginx",
        "hosts": ["jupyter.thinkube.lan"],
        "tls": [{"hosts": ["jupyter.thinkube.lan"]}],
    }
    assert v["cull"] == {"enabled": True, "timeout": 3600}
    assert one(run, "ConfigMap", "thinkube-ca", "jupyterhub")["data"] == {"ca.crt": CA_PEM}
    db = one(run, "Database", "postgres-jupyterhub", "postgres")
    assert db["spec"]["owner"] == "jupyterhub"
    assert "rollout Deployment jupyterhub/hub" in run["kube"].waits


async def test_jupyterhub_without_gpus_or_setting_offers_no_gpu_profile():
    spec = full_spec()
    cluster = Cluster(spec=spec, catalog=load_catalog(), nodes={}, facts=assumed_facts(spec), secrets=Secrets())
    bus = EventBus()
    steps = Steps(
        "jupyterhub",
        {**spec.components["jupyterhub"].config, "gpuProfiles": True, "extraProfiles": ()},
        Journal(None),
        bus,
        LineBatcher(bus, 0.0),
        EngineSettings(step_timeout_s=60),
    )
    names = [p["display_name"] for p in jupyterhub.profiles(InstallContext(steps, cluster), "img:1")]
    assert names == ["Default"]
    cluster = Cluster(spec=spec, catalog=load_catalog(), nodes={}, facts=facts_with_gpu(spec), secrets=Secrets())
    steps = Steps(
        "jupyterhub",
        {**spec.components["jupyterhub"].config, "gpuProfiles": False, "extraProfiles": ()},
        Journal(None),
        bus,
        LineBatcher(bus, 0.0),
        EngineSettings(step_timeout_s=60),
    )
    assert [p["display_name"] for p in jupyterhub.profiles(InstallContext(steps, cluster), "img:1")] == ["Default"]


async def test_code_server_objects(first):
    _, run = first
    dep = one(run, "Deployment", "code-server", "code-server")
    pod = dep["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    assert containers["code-server"]["image"] == "registry.thinkube.lan/dockerhub/codercom/code-server:4.104.2"
    assert "127.0.0.1:8080" in containers["code-server"]["args"]
    proxy = containers["oauth2-proxy"]
    assert proxy["image"].startswith("quay.io/oauth2-proxy/oauth2-proxy:v")
    assert "--provider=keycloak-oidc" in proxy["args"]
    assert "--oidc-issuer-url=https://auth.thinkube.lan/realms/thinkube" in proxy["args"]
    assert "--provider-ca-file=/etc/thinkube-ca/ca.crt" in proxy["args"]
    assert not any("secret" in a for a in proxy["args"])
    env = env_of(proxy)
    assert env["OAUTH2_PROXY_CLIENT_SECRET"] == {"secretKeyRef": {"name": "code-server-oidc", "key": "client-secret"}}
    assert env["OAUTH2_PROXY_COOKIE_SECRET"] == {
        "secretKeyRef": {"name": "code-server-oauth2-proxy", "key": "cookie-secret"}
    }
    assert len(decoded(one(run, "Secret", "code-server-oauth2-proxy", "code-server"))["cookie-secret"]) == 32
    prepare = env_of(pod["initContainers"][0])
    assert prepare["REPOSITORIES"] == "https://github.com/thinkube/thinkube.git" and prepare["GIT_USER_NAME"] == "Alice"
    assert prepare["EXTENSIONS"] == "ms-python.python"
    pvc = one(run, "PersistentVolumeClaim", "code-server-workspace", "code-server")
    assert pvc["spec"]["resources"]["requests"]["storage"] == "20Gi"
    ing = one(run, "Ingress", "code-server", "code-server")
    assert ing["spec"]["ingressClassName"] == "nginx" and ing["spec"]["tls"] == [{"hosts": ["code.thinkube.lan"]}]
    assert ing["spec"]["rules"][0]["host"] == "code.thinkube.lan"


async def test_code_server_monitor(first):
    _, run = first
    dep = one(run, "Deployment", "code-server-monitor", "code-server")
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"] == "registry.thinkube.lan/dockerhub/alpine/git:v2.52.0"
    assert "status --porcelain" in c["command"][-1]
    assert env_of(c)["INTERVAL"] == "30" and env_of(c)["BRANCHES"] == "main"
    assert "REPOSITORIES" not in env_of(c)  # empty: left out (the API server would drop value "")
    assert c["volumeMounts"][0]["readOnly"] is True
    assert pod["volumes"][0]["persistentVolumeClaim"] == {"claimName": "code-server-workspace", "readOnly": True}
    term = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["labelSelector"]["matchLabels"] == {"app.kubernetes.io/name": "code-server"}


async def test_prometheus_values(first):
    _, run = first
    v = run["upgrades"]["prometheus"][1]
    assert v["grafana"] == {"enabled": False, "forceDeployDashboards": True}
    spec = v["prometheus"]["prometheusSpec"]
    assert spec["retention"] == "15d" and spec["scrapeInterval"] == "30s"
    assert spec["storageSpec"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert spec["serviceMonitorSelectorNilUsesHelmValues"] is False
    assert spec["podMonitorSelectorNilUsesHelmValues"] is False
    assert v["prometheus-node-exporter"]["tolerations"] == [{"operator": "Exists"}]
    assert "node-exporter on all 3 nodes" in run["kube"].waits
    assert "Prometheus monitoring/kube-prometheus-prometheus Available" in run["kube"].waits


async def test_grafana_values(first):
    _, run = first
    v = run["upgrades"]["grafana"][1]
    assert v["admin"]["existingSecret"] == "grafana-admin"
    assert decoded(one(run, "Secret", "grafana-admin", "monitoring"))["admin-password"] == CANARY_GRAFANA
    assert v["envValueFrom"] == {
        "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET": {"secretKeyRef": {"name": "grafana-oidc", "key": "client-secret"}}
    }
    oauth = v["grafana.ini"]["auth.generic_oauth"]
    assert oauth["client_secret"] == "$__env{GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET}"
    assert oauth["token_url"] == "https://auth.thinkube.lan/realms/thinkube/protocol/openid-connect/token"
    assert oauth["role_attribute_path"] == "contains(groups[*], 'admins') && 'Admin' || 'Viewer'"
    assert oauth["tls_client_ca"] == "/etc/thinkube-ca/ca.crt"
    sources = {d["name"]: d["url"] for d in v["datasources"]["datasources.yaml"]["datasources"]}
    assert sources == {
        "Prometheus": "http://kube-prometheus-prometheus.monitoring.svc.cluster.local:9090",
        "Loki": "http://loki-gateway.monitoring.svc.cluster.local",
    }
    assert v["ingress"]["hosts"] == ["grafana.thinkube.lan"] and v["ingress"]["ingressClassName"] == "nginx"
    assert v["plugins"] == ["grafana-piechart-panel"] and v["persistence"] == {"enabled": True, "size": "5Gi"}
    assert v["dashboards"]["thinkube"]["nvidia-dcgm"]["gnetId"] == 12239  # the cluster has a GPU node


async def test_loki_values_and_alloy(first):
    _, run = first
    v = run["upgrades"]["loki"][1]
    assert v["deploymentMode"] == "SingleBinary"
    s3 = v["loki"]["storage"]["s3"]
    assert s3["endpoint"] == "minio.minio.svc.cluster.local"
    assert s3["s3ForcePathStyle"] is True and s3["insecure"] is True
    assert s3["accessKeyId"] == "${AWS_ACCESS_KEY_ID}" and s3["secretAccessKey"] == "${AWS_SECRET_ACCESS_KEY}"
    assert v["loki"]["storage"]["bucketNames"]["chunks"] == "loki"
    assert v["singleBinary"]["extraEnvFrom"] == [{"secretRef": {"name": "loki-s3"}}]
    assert "-config.expand-env=true" in v["singleBinary"]["extraArgs"]
    assert v["loki"]["limits_config"]["retention_period"] == "31d" and v["loki"]["compactor"]["retention_enabled"]
    assert v["chunksCache"] == {"enabled": False} and v["read"] == {"replicas": 0}
    s3_secret = decoded(one(run, "Secret", "loki-s3", "monitoring"))
    assert s3_secret["AWS_ACCESS_KEY_ID"] == "loki"
    ds = one(run, "DaemonSet", "loki-alloy", "monitoring")
    assert ds["spec"]["template"]["spec"]["tolerations"] == [{"operator": "Exists"}]
    cfg = one(run, "ConfigMap", "loki-alloy", "monitoring")["data"]["config.alloy"]
    assert 'url = "http://loki-gateway.monitoring.svc.cluster.local/loki/api/v1/push"' in cfg
    assert "rollout StatefulSet monitoring/loki" in run["kube"].waits and "Alloy on all 3 nodes" in run["kube"].waits


async def test_loki_simple_scalable_workloads():
    spec = full_spec()
    cluster = Cluster(spec=spec, catalog=load_catalog(), nodes={}, facts=assumed_facts(spec), secrets=Secrets())
    bus = EventBus()
    steps = Steps(
        "loki",
        {**spec.components["loki"].config, "deploymentMode": "SimpleScalable"},
        Journal(None),
        bus,
        LineBatcher(bus, 0.0),
        EngineSettings(step_timeout_s=60),
    )
    ctx = InstallContext(steps, cluster)
    v = loki.chart_values(ctx, endpoint="http://minio.minio.svc.cluster.local", bucket="loki", s3_secret="loki-s3")
    assert v["singleBinary"] == {"replicas": 0} and v["write"]["extraEnvFrom"] == [{"secretRef": {"name": "loki-s3"}}]
    assert loki.workloads(ctx) == [
        ("Deployment", "loki-read"),
        ("StatefulSet", "loki-write"),
        ("StatefulSet", "loki-backend"),
        ("Deployment", "loki-gateway"),
    ]


async def test_second_run_changes_nothing(first):
    world, _ = first
    before = copy.deepcopy(world.store)
    run2 = await run_all(world)
    assert run2["errors"] == []
    assert run2["kube"].applied == []
    assert not [c for c, _ in run2["commands"] if " upgrade " in c]
    assert world.store == before
    assert not any("generated a new one" in line for line in run2["logs"])


async def test_secrets_stay_out_of_logs_argv_values_and_errors(first):
    world, run = first
    generated = [
        value
        for (api, kind, _, _), obj in world.store.items()
        if kind == "Secret" and "data" in obj
        for key, value in decoded(obj).items()
        if key
        in (
            "password",
            "client-secret",
            "cookie-secret",
            "AWS_SECRET_ACCESS_KEY",
            "admin-password",
            "uri",
            "CONSOLE_SECRET_KEY",
        )
    ]
    assert len(generated) > 8
    text = "\n".join(run["logs"])
    argv = "\n".join(c for c, _ in run["commands"])
    values = "\n".join(stdin for _, _, stdin in run["upgrades"].values())
    errors = "\n".join(str(e) for e in run["errors"])
    objects = json.dumps([o for o, _ in run["kube"].applied if o["kind"] != "Secret"])
    for value in [CANARY_GRAFANA, *generated]:
        assert value not in text and value not in argv and value not in values and value not in errors
        assert value not in objects  # only Secrets hold them; everything else refers to them


def test_harbor_image_rewrites_docker_hub_only():
    spec = full_spec()
    cluster = Cluster(spec=spec, catalog=load_catalog(), nodes={}, facts={}, secrets=Secrets())
    bus = EventBus()
    ctx = InstallContext(
        Steps("jupyterhub", {}, Journal(None), bus, LineBatcher(bus, 0.0), EngineSettings(step_timeout_s=60)), cluster
    )
    assert harbor_image(ctx, "alpine:3.20") == "registry.thinkube.lan/dockerhub/library/alpine:3.20"
    assert harbor_image(ctx, "docker.io/grafana/loki:3.4.2") == "registry.thinkube.lan/dockerhub/grafana/loki:3.4.2"
    assert harbor_image(ctx, "quay.io/jupyter/base-notebook:2025-03-14") == "quay.io/jupyter/base-notebook:2025-03-14"
    assert harbor_image(ctx, "localhost:5000/x:1") == "localhost:5000/x:1"
    assert split_tag("registry.thinkube.lan:443/a/b") == ("registry.thinkube.lan:443/a/b", "latest")
    assert split_tag("a/b:1.2") == ("a/b", "1.2")


def test_proxy_project_matches_harbor():
    from thinkube_tui.installers import harbor

    assert harbor.PROXY_PROJECT == HARBOR_DOCKERHUB_PROJECT


async def test_dry_run_shows_these_components_without_failures():
    transcript = await dry_run(load_answers(EXAMPLES / "answers-full.yaml"), load_catalog())
    missing = transcript.lines.get("not installed", [])
    for cid in ("jupyterhub", "code-server", "code-server-monitor", "prometheus", "grafana", "loki"):
        assert not any(line.startswith(f"{cid}: ") for line in missing), cid
    api = "\n".join(transcript.lines["kubernetes API"])
    assert "[code-server] apply Deployment code-server/code-server (apps/v1)" in api
    assert "[code-server-monitor] apply Deployment code-server/code-server-monitor (apps/v1)" in api
    assert "[loki] apply DaemonSet monitoring/loki-alloy (apps/v1)" in api
