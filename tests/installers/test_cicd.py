"""Group 5.6 installers (harbor, argocd, argo-workflows, devpi) against recording fakes.

`FakeNode` remembers Helm releases and their values (so a second run finds them deployed);
`FakeKube` keeps what was applied and plays the controllers the installers wait for: Jobs
succeed, Argo CD syncs Applications, Argo Workflows runs Workflows. The cluster starts with
what earlier groups leave behind: the platform CA (self-signed), the Keycloak realm import
with the SSO clients, MinIO's Tenant, PostgreSQL's Cluster.
"""

from __future__ import annotations

import base64
import copy
import json
import shlex
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml

from thinkube_lab import charts
from thinkube_tui.catalog import load_catalog
from thinkube_tui.dryrun import Transcript, assumed_facts
from thinkube_tui.installers import argo_workflows, argocd, devpi, harbor
from thinkube_tui.installers.base import Cluster
from thinkube_tui.secrets import Secrets
from thinkube_tui.spec import parse_answers

from .fakes import ApiStore, FakeKube, HelmNode, decoded, install_in_order, operator_statuses, select

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ORDER = [("harbor", harbor), ("argocd", argocd), ("argo-workflows", argo_workflows), ("devpi", devpi)]
CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBthinkubeCA\n-----END CERTIFICATE-----\n"
CANARIES = {
    "TK_CANARY_HARBOR": "CanaryHarborAdminPw0rdQ1",
    "TK_CANARY_DOCKER": "dckr_pat_CanaryDockerTokenZ9",
    "TK_CANARY_GIT": "ghp_CanaryGitTokenForArgoCD77",
    "TK_CANARY_DEVPI": "CanaryDevpiRootPassw0rdK4",
}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class World:
    def __init__(self) -> None:
        self.store = ApiStore()
        self.releases: dict[tuple[str, str], Any] = {}
        kube = self.store
        # Left behind by ssl-certificates and keycloak: the CA, the realm with the SSO clients.
        kube.put(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "thinkube-ca", "namespace": "cert-manager"},
                "data": {"ca.crt": b64(CA_PEM), "tls.key": b64("CA-PRIVATE-KEY")},
            }
        )
        kube.put(
            {
                "apiVersion": "k8s.keycloak.org/v2alpha1",
                "kind": "KeycloakRealmImport",
                "metadata": {"name": "thinkube", "namespace": "keycloak"},
                "spec": {"realm": {"clients": [{"clientId": c} for c in ("harbor", "argocd", "argo-workflows")]}},
                "status": {
                    "conditions": [{"type": "Done", "status": "True"}, {"type": "HasErrors", "status": "False"}]
                },
            }
        )


def spec_with(certificates: str | None = None, **overrides: dict[str, Any]) -> Any:
    data = yaml.safe_load((EXAMPLES / "answers-full.yaml").read_text())
    if certificates:
        data["cluster"]["certificates"] = certificates
    data["components"]["harbor"] = {
        "adminPassword": {"env": "TK_CANARY_HARBOR"},
        "dockerHubUsername": "thinkube-bot",
        "dockerHubToken": {"env": "TK_CANARY_DOCKER"},
    }
    data["components"]["argocd"] = {
        "repositories": [
            {"name": "apps", "url": "https://github.com/thinkube/apps.git", "token": {"env": "TK_CANARY_GIT"}}
        ]
    }
    data["components"]["devpi"] = {"rootPassword": {"env": "TK_CANARY_DEVPI"}}
    for cid, settings in overrides.items():
        data["components"].setdefault(cid.replace("_", "-"), {}).update(settings)
    return parse_answers(yaml.safe_dump(data))


async def run_all(world: World, spec: Any = None, order: Any = ORDER) -> dict[str, Any]:
    spec = spec or spec_with()
    transcript = Transcript()
    nodes = {n.name: HelmNode(n.name, transcript, world.releases) for n in spec.nodes}
    secrets = Secrets(environ=dict(CANARIES))
    cluster = Cluster(spec=spec, catalog=load_catalog(), nodes=nodes, facts=assumed_facts(spec), secrets=secrets)
    kube = FakeKube(transcript, world.store, controllers=[operator_statuses])
    cluster._kube = kube  # type: ignore[assignment]
    logs, errors = await install_in_order(cluster, order)
    control = nodes[spec.control.name]
    return {
        "kube": kube,
        "logs": logs,
        "errors": errors,
        "commands": control.commands,
        "secrets": secrets,
        "transcript": transcript,
    }


def applied(run: dict[str, Any], kind: str, name: str | None = None, ns: str | None = None) -> list[dict[str, Any]]:
    return select((o for o, _ in run["kube"].applied), kind, name, ns)


def upgrades(run: dict[str, Any]) -> dict[str, tuple[list[str], dict[str, Any], str]]:
    out = {}
    for command, stdin in run["commands"]:
        if " upgrade " in command:
            argv = shlex.split(command)
            out[argv[4]] = (argv, yaml.safe_load(stdin or "{}"), stdin or "")
    return out


def secret(world: World, name: str, ns: str) -> dict[str, str]:
    return decoded(world.store.find("Secret", name, ns) or {})


@pytest.fixture
async def first():
    world = World()
    return world, await run_all(world)


# ---------------------------------------------------------------- first install


async def test_harbor_values_secrets_and_setup_job(first):
    world, run = first
    assert run["errors"] == []
    argv, values, stdin = upgrades(run)["harbor"]
    assert argv[5] == "harbor" and argv[argv.index("--version") + 1] == "1.18.2" and argv[-2:] == ["-f", "-"]
    assert argv[argv.index("--namespace") + 1] == "registry"
    assert values["externalURL"] == "https://registry.thinkube.lan"
    assert values["expose"]["tls"] == {"enabled": True, "certSource": "none"}
    assert values["expose"]["ingress"]["hosts"]["core"] == "registry.thinkube.lan"
    assert values["expose"]["ingress"]["className"] == "nginx"
    # Secrets by reference only.
    assert values["existingSecretAdminPassword"] == "harbor-admin"
    assert values["existingSecretSecretKey"] == "harbor-internal"
    assert values["core"]["existingSecret"] == "harbor-internal"
    assert values["registry"]["credentials"]["existingSecret"] == "harbor-registry-credentials"
    assert values["core"]["extraEnvVars"] == [
        {
            "name": "CONFIG_OVERWRITE_JSON",
            "valueFrom": {"secretKeyRef": {"name": "harbor-oidc-config", "key": "CONFIG_OVERWRITE_JSON"}},
        }
    ]
    assert "configureUserSettings" not in values["core"]
    # Shared PostgreSQL and MinIO.
    assert values["database"] == {
        "type": "external",
        "external": {
            "host": "postgres-rw.postgres.svc.cluster.local",
            "port": "5432",
            "username": "harbor",
            "coreDatabase": "harbor",
            "existingSecret": "harbor-db",
            "sslmode": "disable",
        },
    }
    storage = values["persistence"]["imageChartStorage"]
    assert storage["type"] == "s3" and storage["disableredirect"] is True
    assert storage["s3"]["bucket"] == "harbor" and storage["s3"]["existingSecret"] == "harbor-registry-s3"
    assert storage["s3"]["regionendpoint"] == "http://minio.minio.svc.cluster.local"
    s3 = secret(world, "harbor-registry-s3", "registry")
    assert s3["REGISTRY_STORAGE_S3_ACCESSKEY"] == "harbor"
    assert s3["REGISTRY_STORAGE_S3_SECRETKEY"] == secret(world, "harbor-s3", "registry")["AWS_SECRET_ACCESS_KEY"]
    assert values["caBundleSecretName"] == "thinkube-ca" and values["trivy"] == {"enabled": True}
    ca = secret(world, "thinkube-ca", "registry")
    assert ca == {"ca.crt": CA_PEM}  # the certificate only, never the CA's key

    # Credentials: the operator's admin password; internal keys with the lengths Harbor needs.
    admin = secret(world, "harbor-admin", "registry")
    assert admin["HARBOR_ADMIN_PASSWORD"] == CANARIES["TK_CANARY_HARBOR"]
    internal = secret(world, "harbor-internal", "registry")
    assert {k: len(v) for k, v in internal.items()} == harbor.INTERNAL_KEYS
    reg = secret(world, "harbor-registry-credentials", "registry")
    user, _, hashed = reg["REGISTRY_HTPASSWD"].partition(":")
    assert user == "harbor_registry_user" and bcrypt.checkpw(reg["REGISTRY_PASSWD"].encode(), hashed.encode())

    # SSO: Harbor's settings in a Secret, with the client secret of the shared OIDC client.
    settings = json.loads(secret(world, "harbor-oidc-config", "registry")["CONFIG_OVERWRITE_JSON"])
    client_secret = secret(world, "harbor-oidc", "registry")["client-secret"]
    assert settings["auth_mode"] == "oidc_auth" and settings["oidc_client_id"] == "harbor"
    assert settings["oidc_endpoint"] == "https://auth.thinkube.lan/realms/thinkube"
    assert settings["oidc_client_secret"] == client_secret and settings["oidc_verify_cert"] is True
    assert settings["oidc_groups_claim"] == "groups" and settings["oidc_admin_group"] == "admins"
    assert client_secret not in stdin

    # Projects and the proxy cache: a Job with the admin password and Docker Hub token by reference.
    (job,) = applied(run, "Job", ns="registry")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "curlimages/curl:8.11.1" and job["metadata"]["name"].startswith("harbor-setup-")
    env = {e["name"]: e for e in container["env"]}
    assert env["HARBOR_HOST"]["value"] == "harbor-core.registry.svc"
    assert env["PROJECTS"]["value"] == "thinkube library" and env["PROXY_CACHE"]["value"] == "true"
    assert env["HARBOR_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "harbor-admin",
        "key": "HARBOR_ADMIN_PASSWORD",
    }
    assert env["DOCKERHUB_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "harbor-dockerhub", "key": "token"}
    assert env["DOCKERHUB_USERNAME"]["value"] == "thinkube-bot"
    assert secret(world, "harbor-dockerhub", "registry") == {"token": CANARIES["TK_CANARY_DOCKER"]}
    assert "--netrc-file" in container["command"][2] and "-u " not in container["command"][2]
    assert any("Harbor is ready at https://registry.thinkube.lan" in line for line in run["logs"])


async def test_argocd_sso_admin_and_repositories(first):
    world, run = first
    argv, values, stdin = upgrades(run)["argocd"]
    assert argv[5] == "argo-cd" and argv[argv.index("--version") + 1] == "9.0.6"
    cm = values["configs"]["cm"]
    assert cm["url"] == "https://argocd.thinkube.lan" and cm["admin.enabled"] is False
    oidc = yaml.safe_load(cm["oidc.config"])
    assert oidc == {
        "name": "Keycloak",
        "issuer": "https://auth.thinkube.lan/realms/thinkube",
        "clientID": "argocd",
        "clientSecret": "$argocd-oidc:client-secret",
        "requestedScopes": ["openid", "profile", "email"],
        "rootCA": CA_PEM,
    }
    assert values["configs"]["rbac"]["policy.csv"] == "g, admins, role:admin\n"
    assert values["configs"]["rbac"]["policy.default"] == "role:readonly"
    assert values["configs"]["secret"] == {"createSecret": False} and values["dex"] == {"enabled": False}
    assert values["configs"]["params"]["server.insecure"] is True
    ingress = values["server"]["ingress"]
    assert ingress["hostname"] == "argocd.thinkube.lan" and ingress["extraTls"] == [{"hosts": ["argocd.thinkube.lan"]}]
    assert "redis-ha" not in values
    # The client secret's Secret gets Argo CD's label from a field manager of its own.
    label = [
        (o, m)
        for o, m in run["kube"].applied
        if o["kind"] == "Secret" and o["metadata"]["name"] == "argocd-oidc" and "data" not in o
    ]
    assert label == [
        (
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": "argocd-oidc",
                    "namespace": "argocd",
                    "labels": {"app.kubernetes.io/part-of": "argocd"},
                },
            },
            argocd.LABEL_MANAGER,
        )
    ]
    assert (world.store.find("Secret", "argocd-oidc", "argocd") or {})["data"]  # data kept
    # The admin password: generated, its bcrypt hash in argocd-secret (ours), nothing in values.
    admin = secret(world, "argocd-admin", "argocd")
    server_secret = secret(world, "argocd-secret", "argocd")
    assert bcrypt.checkpw(admin["password"].encode(), server_secret["admin.password"].encode())
    assert admin["password"] not in stdin and server_secret["admin.password"] not in stdin
    # Repositories as labelled Secrets.
    (repo,) = [
        o
        for o in applied(run, "Secret", ns="argocd")
        if o["metadata"]["labels"].get("argocd.argoproj.io/secret-type") == "repository"
    ]
    assert decoded(repo) == {
        "type": "git",
        "url": "https://github.com/thinkube/apps.git",
        "name": "apps",
        "username": "git",
        "password": CANARIES["TK_CANARY_GIT"],
    }


async def test_argo_workflows_sso_artifacts_and_rbac(first):
    _, run = first
    argv, values, _ = upgrades(run)["argo-workflows"]
    assert argv[5] == "argo-workflows" and argv[argv.index("--version") + 1] == "0.45.15"
    server = values["server"]
    assert server["authModes"] == ["sso"]
    sso = server["sso"]
    assert sso["issuer"] == "https://auth.thinkube.lan/realms/thinkube"
    assert sso["clientId"] == {"name": "argo-workflows-oidc", "key": "client-id"}
    assert sso["clientSecret"] == {"name": "argo-workflows-oidc", "key": "client-secret"}
    assert sso["redirectUrl"] == "https://argo.thinkube.lan/oauth2/callback" and sso["rbac"] == {"enabled": True}
    assert sso["insecureSkipVerify"] is False
    assert server["ingress"]["hosts"] == ["argo.thinkube.lan"]
    assert server["ingress"]["tls"] == [{"hosts": ["argo.thinkube.lan"]}]
    assert server["volumes"] == [{"name": "thinkube-ca", "secret": {"secretName": "thinkube-ca"}}]
    s3 = values["artifactRepository"]["s3"]
    assert s3 == {
        "bucket": "argo",
        "endpoint": "minio.minio.svc.cluster.local:80",
        "insecure": True,
        "accessKeySecret": {"name": "argo-workflows-s3", "key": "AWS_ACCESS_KEY_ID"},
        "secretKeySecret": {"name": "argo-workflows-s3", "key": "AWS_SECRET_ACCESS_KEY"},
    }
    assert values["controller"]["workflowNamespaces"] == ["argo"] and values["controller"]["parallelism"] == 10
    assert values["workflow"]["serviceAccount"] == {"create": True, "name": "argo-workflow"}
    (sa,) = applied(run, "ServiceAccount", "argo-admin", "argo")
    assert sa["metadata"]["annotations"]["workflows.argoproj.io/rbac-rule"] == "'admins' in groups"
    (token,) = applied(run, "Secret", "argo-admin.service-account-token", "argo")
    assert token["type"] == "kubernetes.io/service-account-token"
    (crb,) = applied(run, "ClusterRoleBinding")
    assert crb["roleRef"]["name"] == "argo-workflows-admin"


async def test_devpi_application_and_workflow(first):
    world, run = first
    assert "devpi" not in upgrades(run)  # no Helm release: Argo CD deploys it
    (app,) = applied(run, "Application", "devpi", "argocd")
    source = app["spec"]["source"]
    assert (source["repoURL"], source["chart"], source["targetRevision"]) == (
        "https://bedag.github.io/helm-charts/",
        "raw",
        "2.0.1",
    )
    assert app["spec"]["destination"] == {"server": "https://kubernetes.default.svc", "namespace": "devpi"}
    assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    objects = {o["kind"]: o for o in source["helm"]["valuesObject"]["resources"]}
    assert set(objects) == {"PersistentVolumeClaim", "Deployment", "Service", "Ingress"}
    container = objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "jonasal/devpi-server:6.15.0"
    assert container["args"] == ["--outside-url", "https://pypi.thinkube.lan"]
    assert container["env"] == [
        {"name": "DEVPI_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "devpi-credentials", "key": "root-password"}}}
    ]
    assert objects["PersistentVolumeClaim"]["spec"]["resources"]["requests"]["storage"] == "20Gi"
    ingress = objects["Ingress"]["spec"]
    assert ingress["ingressClassName"] == "nginx" and ingress["tls"] == [{"hosts": ["pypi.thinkube.lan"]}]
    assert ingress["rules"][0]["host"] == "pypi.thinkube.lan"
    # Credentials in the devpi namespace and, for the workflow, in argo.
    creds = secret(world, "devpi-credentials", "devpi")
    assert creds["root-password"] == CANARIES["TK_CANARY_DEVPI"] and creds["index"] == "thinkube/stable"
    assert secret(world, "devpi-credentials", "argo") == creds
    assert CANARIES["TK_CANARY_DEVPI"] not in json.dumps(app)
    # The setup workflow from the template, with the settings as parameters.
    (template,) = applied(run, "WorkflowTemplate", "devpi-setup", "argo")
    step = template["spec"]["templates"][0]["container"]
    assert step["image"] == "jonasal/devpi-client:7.2.1"
    env = {e["name"]: e for e in step["env"]}
    assert env["ROOT_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "devpi-credentials", "key": "root-password"}
    (wf,) = applied(run, "Workflow", ns="argo")
    assert wf["spec"]["workflowTemplateRef"] == {"name": "devpi-setup"}
    assert wf["spec"]["arguments"]["parameters"] == [
        {"name": "mirror", "value": "true"},
        {"name": "mirror-url", "value": "https://pypi.org/simple/"},
    ]
    assert any("Application argocd/devpi is Synced and Healthy" in line for line in run["logs"])
    assert any("devpi is ready at https://pypi.thinkube.lan" in line for line in run["logs"])


# ---------------------------------------------------------------- re-runs and secrets


async def test_second_run_changes_nothing(first):
    world, _ = first
    before = copy.deepcopy(world.store)
    run2 = await run_all(world)
    assert run2["errors"] == []
    assert run2["kube"].applied == []  # every object found as wanted
    assert not [c for c, _ in run2["commands"] if " upgrade " in c]  # every release as wanted
    assert world.store == before  # nothing rotated
    assert not any("generated a new one" in line for line in run2["logs"])


async def test_secrets_stay_out_of_logs_argv_values_and_errors(first):
    world, run = first
    generated = []
    for (_, kind, _, _), obj in world.store.items():
        if kind == "Secret":
            generated += [
                v
                for k, v in decoded(obj).items()
                if k
                in (
                    "password",
                    "client-secret",
                    "root-password",
                    "user-password",
                    "REGISTRY_PASSWD",
                    "AWS_SECRET_ACCESS_KEY",
                    "HARBOR_ADMIN_PASSWORD",
                    *harbor.INTERNAL_KEYS,
                )
            ]
    secrets = [*CANARIES.values(), *generated]
    assert len(generated) > 10
    logs = "\n".join(run["logs"])
    argv = "\n".join(c for c, _ in run["commands"])
    values = "\n".join(stdin for _, _, stdin in upgrades(run).values())
    errors = "\n".join(f"{e} {getattr(e, 'output_tail', '')}" for e in run["errors"])
    objects = json.dumps([o for o, _ in run["kube"].applied if o["kind"] != "Secret"])
    for value in secrets:
        assert value not in logs and value not in argv and value not in values and value not in errors
        assert value not in objects  # Jobs, Applications, Workflows name Secrets, never hold them
    assert "CA-PRIVATE-KEY" not in json.dumps([o for o, _ in run["kube"].applied])


# ---------------------------------------------------------------- other settings


async def test_pvc_storage_ha_and_staging_certificates():
    world = World()
    spec = spec_with(
        certificates="letsencrypt-staging",
        harbor={"storageBackend": "pvc", "registryStorageSize": "50Gi", "trivy": False, "dockerHubProxyCache": False},
        argocd={"highAvailability": True, "localAdmin": True, "adminGroup": "platform"},
    )
    run = await run_all(world, spec, order=ORDER[:2])
    assert run["errors"] == []
    _, hv, _ = upgrades(run)["harbor"]
    assert hv["persistence"]["imageChartStorage"]["type"] == "filesystem"
    assert hv["persistence"]["persistentVolumeClaim"]["registry"]["size"] == "50Gi"
    assert "caBundleSecretName" not in hv and hv["trivy"] == {"enabled": False}
    settings = json.loads(secret(world, "harbor-oidc-config", "registry")["CONFIG_OVERWRITE_JSON"])
    assert settings["oidc_verify_cert"] is False
    env = {
        e["name"]: e.get("value")
        for e in applied(run, "Job", ns="registry")[0]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["PROXY_CACHE"] == "false" and "DOCKERHUB_TOKEN" not in env
    _, av, _ = upgrades(run)["argocd"]
    assert av["redis-ha"] == {"enabled": True} and av["server"]["replicas"] == 2
    assert av["configs"]["cm"]["admin.enabled"] is True and av["configs"]["cm"]["oidc.tls.insecure.skip.verify"]
    assert "rootCA" not in yaml.safe_load(av["configs"]["cm"]["oidc.config"])
    assert av["configs"]["rbac"]["policy.csv"] == "g, platform, role:admin\n"
    assert world.store.find("Secret", "thinkube-ca", "registry") is None


async def test_failed_setup_job_says_where_to_look():
    from thinkube_tui.engine import InstallError
    from thinkube_tui.installers.support.cicd import job_succeeded

    with pytest.raises(InstallError, match="logs job/harbor-setup-x"):
        job_succeeded(
            {
                "metadata": {"name": "harbor-setup-x", "namespace": "registry"},
                "status": {"conditions": [{"type": "Failed", "status": "True"}]},
            }
        )


@pytest.mark.parametrize("settings", [{}, {"harbor": {"trivy": False}, "argocd": {"highAvailability": True}}])
async def test_lab_chart_files_create_what_the_installers_wait_for(settings):
    """lab/charts/{harbor,argo-cd,argo-workflows}.yaml render, with the values sent, every workload
    whose rollout the installers wait for."""
    world = World()
    run = await run_all(world, spec_with(**settings), order=ORDER[:3])
    assert run["errors"] == []
    created = set()
    for release, (argv, values, _) in upgrades(run).items():
        chart, ns = argv[5], argv[argv.index("--namespace") + 1]
        doc = charts.load(chart)
        assert doc is not None, f"lab/charts/{chart}.yaml is missing"
        rendered = charts.render(
            doc,
            release=release,
            namespace=ns,
            chart=chart,
            version=argv[argv.index("--version") + 1],
            values=values,
            source=chart,
        )
        assert rendered.notes == []  # no value fell back to a guess
        created |= {f"{o['kind']} {ns}/{o['metadata']['name']}" for o in rendered.objects}
    awaited = {
        line.split("wait for the rollout of ", 1)[1].split(" (at most")[0]
        for line in run["transcript"].lines["kubernetes API"]
        if "wait for the rollout of" in line
    }
    assert awaited and awaited <= created
