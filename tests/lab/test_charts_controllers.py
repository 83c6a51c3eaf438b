"""The lab's Helm chart data files and simulated controllers, through the real paths.

Commands go over SSH to the lab's nodes (as tests/lab/test_nodes.py does); objects are read
and written through the Kube API emulator's HTTP API with `thinkube_tui.kube.Kube`.
Waits poll with a deadline; no bare sleeps.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncssh
import pytest
import yaml

from thinkube_lab import charts
from thinkube_lab.cluster import Lab
from thinkube_tui.kube import Kube

SPEED = 0.01
RANGE = "10.42.0.200-10.42.0.220"


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[Lab]:
    async with Lab(tmp_path / "lab", nodes=3, gpus=1, speed=SPEED, log=lambda m: None) as lab:
        lab.write_known_hosts(tmp_path / "known_hosts")
        yield lab


async def sh(lab: Lab, name: str, command: str, input: str = "", sudo: bool = False) -> asyncssh.SSHCompletedProcess:
    if sudo:
        command, input = f"sudo -k -S -p '' {command}", lab.sudo_password + "\n" + input
    port = lab.addresses()[name]["port"]
    async with asyncssh.connect(
        "127.0.0.1",
        port,
        username="thinkube",
        client_keys=[str(lab.client_key)],
        known_hosts=str(lab.state_dir.parent / "known_hosts"),
        agent_path=None,
    ) as conn:
        return await conn.run(command, input=input)


async def ok(lab: Lab, name: str, command: str, input: str = "", sudo: bool = True) -> str:
    r = await sh(lab, name, command, input, sudo=sudo)
    assert r.exit_status == 0, f"{command}: {r.exit_status}\n{r.stdout}\n{r.stderr}"
    return str(r.stdout)


async def until(what: str, check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def control(lab: Lab) -> Kube:
    """MicroK8s on the control node (dns, helm3), and a client from `microk8s config`."""
    await ok(lab, "tk-control", "snap install microk8s --classic --channel=1.33/stable")
    await ok(lab, "tk-control", "microk8s status --wait-ready --timeout 60")
    config = await ok(lab, "tk-control", "microk8s config")
    return await Kube.from_kubeconfig(config)


def offered_version(chart: str) -> str:
    """A version the chart's repository publishes, where its lab data lists them."""
    from thinkube_lab import charts

    return str(((charts.load(chart) or {}).get("versions") or ["1.0.0"])[0])


async def helm(lab: Lab, release: str, chart: str, namespace: str, values: dict[str, Any], wait: bool = True) -> str:
    cmd = (
        f"microk8s helm3 upgrade --install {release} {chart} --repo https://charts.example "
        f"--version {offered_version(chart)} "
        f"--namespace {namespace} --create-namespace {'--wait --timeout 1m ' if wait else ''}-f -"
    )
    return await ok(lab, "tk-control", cmd, yaml.safe_dump(values))


def ready(obj: dict[str, Any] | None) -> bool:
    st = (obj or {}).get("status") or {}
    if not obj or st.get("observedGeneration") != obj["metadata"].get("generation"):
        return False
    if obj["kind"] == "DaemonSet":
        return st.get("numberReady", 0) >= st.get("desiredNumberScheduled", 0)
    return st.get("readyReplicas", 0) >= obj["spec"].get("replicas", 1)


def condition(obj: dict[str, Any] | None, type_: str, status: str = "True") -> bool:
    return any(
        c.get("type") == type_ and c.get("status") == status
        for c in ((obj or {}).get("status") or {}).get("conditions") or []
    )


async def metallb(lab: Lab) -> None:
    await ok(lab, "tk-control", f"microk8s enable metallb:{RANGE}")
    await until(
        "MetalLB controller", lambda: ready(lab.kube.get("apps/v1", "Deployment", "controller", "metallb-system"))
    )


# ---------------------------------------------------------------------------- chart files

SAMPLE_VALUES: dict[str, tuple[str, str, dict[str, Any]]] = {  # chart -> (release, namespace, values)
    "cert-manager": ("cert-manager", "cert-manager", {"crds": {"enabled": True}}),
    "cloudnative-pg": ("cloudnative-pg", "postgres", {"fullnameOverride": "cnpg-controller-manager"}),
    "coredns": (
        "coredns",
        "kube-system",
        {
            "fullnameOverride": "coredns-thinkube",
            "replicaCount": 2,
            "k8sAppLabelOverride": "kube-dns",
            "servers": [
                {
                    "zones": [{"zone": "."}],
                    "port": 53,
                    "plugins": [
                        {"name": "errors"},
                        {"name": "health", "configBlock": "lameduck 5s"},
                        {"name": "forward", "parameters": ". 10.42.0.1"},
                    ],
                },
                {
                    "zones": [{"zone": "thinkube-lab.lan."}],
                    "port": 53,
                    "plugins": [
                        {
                            "name": "template",
                            "parameters": "IN A thinkube-lab.lan.",
                            "configBlock": 'answer "{{ .Name }} 60 IN A 10.42.0.200"',
                        }
                    ],
                },
            ],
        },
    ),
    "gpu-operator": ("gpu-operator", "gpu-operator", {}),
    "ingress-nginx": (
        "ingress",
        "ingress",
        {
            "fullnameOverride": "ingress-nginx",
            "controller": {
                "ingressClassResource": {
                    "name": "nginx",
                    "enabled": True,
                    "default": True,
                    "controllerValue": "k8s.io/ingress-nginx",
                },
                "service": {
                    "type": "LoadBalancer",
                    "annotations": {"metallb.universe.tf/loadBalancerIPs": "10.42.0.200"},
                },
            },
        },
    ),
    "operator": ("minio-operator", "minio", {"operator": {"replicaCount": 1}}),
    "qdrant": ("qdrant", "qdrant", {"replicaCount": 2}),
    "valkey": ("valkey", "valkey", {}),
    "vault": ("vault", "vault", {"server": {"ha": {"enabled": True, "replicas": 3}}}),
}


async def test_every_chart_file_creates_what_it_declares(lab: Lab) -> None:
    kube = await control(lab)
    try:
        await metallb(lab)  # ingress-nginx's LoadBalancer needs an address for --wait
        files = sorted(p.stem for p in charts.CHARTS_DIR.glob("*.yaml"))
        assert files, "no chart data files"
        for chart in files:
            release, ns, values = SAMPLE_VALUES.get(chart, (chart, chart, {}))
            out = await helm(lab, release, chart, ns, values)
            assert "STATUS: deployed" in out
            doc = charts.load(chart)
            assert doc is not None
            expected = charts.render(
                doc, release=release, namespace=ns, chart=chart, version="1.0.0", values=values, source=chart
            ).objects
            assert expected, chart
            for obj in expected:
                meta = obj["metadata"]
                live = await kube.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
                assert live is not None, f"{chart}: {obj['kind']} {meta['name']} missing"
                if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
                    assert ready(live), f"{chart}: {obj['kind']} {meta['name']} not rolled out after --wait"
        # spot checks of what the installers rely on
        vault = await kube.get("apps/v1", "StatefulSet", "vault", "vault")
        assert vault is not None and vault["spec"]["replicas"] == 3
        assert (await kube.get("apps/v1", "StatefulSet", "qdrant", "qdrant"))["spec"]["replicas"] == 2
        crd = await kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "clusterissuers.cert-manager.io")
        assert crd is not None and condition(crd, "Established") and crd["spec"]["scope"] == "Cluster"
        assert await kube.list("cert-manager.io/v1", "ClusterIssuer") == []  # the kind is served now
        ic = await kube.get("networking.k8s.io/v1", "IngressClass", "nginx")
        assert ic["spec"]["controller"] == "k8s.io/ingress-nginx"
        assert ic["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"] == "true"
        svc = await kube.get("v1", "Service", "ingress-nginx-controller", "ingress")
        assert svc["status"]["loadBalancer"]["ingress"][0]["ip"] == "10.42.0.200"
        cm = await kube.get("v1", "ConfigMap", "coredns-thinkube", "kube-system")
        assert cm["data"]["Corefile"] == (
            ".:53 {\n    errors\n    health {\n        lameduck 5s\n    }\n    forward . 10.42.0.1\n}\n"
            "thinkube-lab.lan.:53 {\n    template IN A thinkube-lab.lan. {\n"
            '        answer "{{ .Name }} 60 IN A 10.42.0.200"\n    }\n}\n'
        )
        dep = await kube.get("apps/v1", "Deployment", "coredns-thinkube", "kube-system")
        assert dep["spec"]["template"]["metadata"]["labels"]["k8s-app"] == "kube-dns"
        # helm list / get values, as thinkube_tui.helm.deployed() asks them
        listing = json.loads(
            await ok(lab, "tk-control", "microk8s helm3 list --namespace vault --filter '^vault$' --deployed -o json")
        )
        assert [r["chart"] for r in listing] == ["vault-1.0.0"]
        got = json.loads(await ok(lab, "tk-control", "microk8s helm3 get values vault --namespace vault -o json"))
        assert got == SAMPLE_VALUES["vault"][2]
        # an unset value falls back and says so
        out = await helm(lab, "plain", "ingress-nginx", "plain", {}, wait=False)
        assert "thinkube-lab: chart ingress-nginx" in out and "plain-ingress-nginx-controller" in out
        assert await kube.get("apps/v1", "Deployment", "plain-ingress-nginx-controller", "plain") is not None
        # command -v dig fails on the nodes (coredns' live lookup is skipped)
        r = await sh(lab, "tk-control", "command -v dig")
        assert r.exit_status == 1
    finally:
        await kube.close()


async def test_malformed_chart_file_fails_the_helm_command(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "charts"
    bad.mkdir()
    (bad / "broken.yaml").write_text("workloads:\n  - {kind: Pod, name: x}\n")
    monkeypatch.setattr(charts, "CHARTS_DIR", bad)
    kube = await control(lab)
    await kube.close()
    r = await sh(
        lab,
        "tk-control",
        "sudo -k -S -p '' microk8s helm3 upgrade --install b broken --namespace default -f -",
        lab.sudo_password + "\n{}\n",
    )
    assert r.exit_status == 1
    assert "broken.yaml" in r.stderr and "workloads[0].kind" in r.stderr


# ---------------------------------------------------------------------------- addons and MetalLB


async def test_addons_and_loadbalancer_addresses(lab: Lab) -> None:
    kube = await control(lab)
    try:
        dns = await kube.get("v1", "Service", "kube-dns", "kube-system")
        assert dns["spec"]["clusterIP"] == "10.152.183.10" and dns["spec"]["selector"] == {"k8s-app": "kube-dns"}
        dep = await kube.get("apps/v1", "Deployment", "coredns", "kube-system")
        assert dep["spec"]["selector"]["matchLabels"] == {"k8s-app": "kube-dns"}
        await metallb(lab)
        status = yaml.safe_load(await ok(lab, "tk-control", "microk8s status --format yaml"))
        assert {"name": "metallb", "status": "enabled"}.items() <= next(
            a for a in status["addons"] if a["name"] == "metallb"
        ).items()
        pool = await kube.get("metallb.io/v1beta1", "IPAddressPool", "default-addresspool", "metallb-system")
        assert pool["spec"]["addresses"] == [RANGE]
        assert await kube.get("apps/v1", "DaemonSet", "speaker", "metallb-system") is not None

        def lb(name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
            return {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": "default", "annotations": annotations or {}},
                "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80}]},
            }

        await kube.apply(lb("pinned", {"metallb.universe.tf/loadBalancerIPs": "10.42.0.205"}))
        await kube.apply(lb("any"))
        await kube.apply(lb("outside", {"metallb.universe.tf/loadBalancerIPs": "192.168.9.9"}))

        async def ip(name: str) -> str | None:
            svc = await kube.get("v1", "Service", name, "default")
            ing = ((svc or {}).get("status") or {}).get("loadBalancer", {}).get("ingress") or []
            return ing[0]["ip"] if ing else None

        assert await until("pinned address", lambda: ip("pinned")) == "10.42.0.205"
        assert await until("next free address", lambda: ip("any")) == "10.42.0.200"
        assert await ip("outside") is None  # not in a pool: MetalLB leaves it pending
    finally:
        await kube.close()


# ---------------------------------------------------------------------------- cert-manager

CM = "cert-manager.io/v1"


async def test_cert_manager_issues_certificates(lab: Lab) -> None:
    kube = await control(lab)
    try:
        await helm(lab, "cert-manager", "cert-manager", "cert-manager", {"crds": {"enabled": True}})
        await kube.apply(
            {"apiVersion": CM, "kind": "ClusterIssuer", "metadata": {"name": "selfsigned"}, "spec": {"selfSigned": {}}}
        )
        await kube.apply(
            {
                "apiVersion": CM,
                "kind": "Certificate",
                "metadata": {"name": "ca", "namespace": "cert-manager"},
                "spec": {
                    "isCA": True,
                    "commonName": "lab CA",
                    "secretName": "ca",
                    "issuerRef": {"name": "selfsigned", "kind": "ClusterIssuer"},
                },
            }
        )
        await kube.apply(
            {
                "apiVersion": CM,
                "kind": "ClusterIssuer",
                "metadata": {"name": "ca"},
                "spec": {"ca": {"secretName": "ca"}},
            }
        )
        await kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}})
        await kube.apply(
            {
                "apiVersion": CM,
                "kind": "Certificate",
                "metadata": {"name": "wild", "namespace": "web"},
                "spec": {
                    "secretName": "wild-tls",
                    "dnsNames": ["*.lab.lan", "lab.lan"],
                    "issuerRef": {"name": "ca", "kind": "ClusterIssuer"},
                },
            }
        )
        await kube.apply(
            {
                "apiVersion": CM,
                "kind": "ClusterIssuer",
                "metadata": {"name": "le"},
                "spec": {
                    "acme": {
                        "server": "https://acme-v02.api.letsencrypt.org/directory",
                        "privateKeySecretRef": {"name": "le"},
                        "solvers": [{"http01": {"ingress": {"ingressClassName": "nginx"}}}],
                    }
                },
            }
        )
        for name in ("selfsigned", "ca"):
            await kube.wait_for(CM, "ClusterIssuer", name, None, lambda o: condition(o, "Ready"), timeout=10, what=name)
        cert = await kube.wait_for(
            CM, "Certificate", "wild", "web", lambda o: condition(o, "Ready"), timeout=10, what="wild"
        )
        assert cert["status"]["notAfter"] > cert["status"]["notBefore"]
        secret = await kube.get("v1", "Secret", "wild-tls", "web")
        assert secret["type"] == "kubernetes.io/tls" and {"tls.crt", "tls.key", "ca.crt"} <= set(secret["data"])
        assert "THINKUBE-LAB SIMULATED" in base64.b64decode(
            base64.b64decode(secret["data"]["tls.crt"]).decode().splitlines()[1] + "=="
        ).decode(errors="replace")
        ca = await kube.get("v1", "Secret", "ca", "cert-manager")
        assert secret["data"]["ca.crt"] == ca["data"]["tls.crt"]
        le = await kube.wait_for(
            CM, "ClusterIssuer", "le", None, lambda o: condition(o, "Ready", "False"), timeout=10, what="le"
        )
        assert "no internet" in le["status"]["conditions"][0]["message"]
    finally:
        await kube.close()


# ---------------------------------------------------------------------------- operators


async def test_cloudnative_pg_minio_and_keycloak(lab: Lab) -> None:
    kube = await control(lab)
    try:
        # CloudNativePG
        await helm(lab, "cloudnative-pg", "cloudnative-pg", "postgres", {"fullnameOverride": "cnpg-controller-manager"})
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/basic-auth",
            "metadata": {"name": "app-db", "namespace": "postgres"},
            "stringData": {"username": "app_user", "password": "x"},
        }
        await kube.apply(secret)
        await kube.apply(
            {
                "apiVersion": "postgresql.cnpg.io/v1",
                "kind": "Cluster",
                "metadata": {"name": "postgres", "namespace": "postgres"},
                "spec": {
                    "instances": 2,
                    "storage": {"size": "1Gi"},
                    "managed": {
                        "roles": [
                            {
                                "name": "app_user",
                                "ensure": "present",
                                "login": True,
                                "passwordSecret": {"name": "app-db"},
                            }
                        ]
                    },
                },
            }
        )
        await kube.apply(
            {
                "apiVersion": "postgresql.cnpg.io/v1",
                "kind": "Database",
                "metadata": {"name": "postgres-app", "namespace": "postgres"},
                "spec": {"name": "app", "owner": "app_user", "cluster": {"name": "postgres"}},
            }
        )
        pg = await kube.wait_for(
            "postgresql.cnpg.io/v1",
            "Cluster",
            "postgres",
            "postgres",
            lambda o: condition(o, "Ready"),
            timeout=10,
            what="pg",
        )
        assert pg["status"]["readyInstances"] == 2
        assert pg["status"]["managedRolesStatus"]["byStatus"]["reconciled"] == ["app_user"]
        await kube.wait_for(
            "postgresql.cnpg.io/v1",
            "Database",
            "postgres-app",
            "postgres",
            lambda o: (o.get("status") or {}).get("applied") is True,
            timeout=10,
            what="db",
        )
        assert await kube.get("v1", "Service", "postgres-rw", "postgres") is not None

        # MinIO
        await helm(lab, "minio-operator", "operator", "minio", {"operator": {"replicaCount": 1}})
        await kube.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "env", "namespace": "minio"},
                "stringData": {"config.env": "export MINIO_ROOT_USER=x"},
            }
        )
        await kube.apply(
            {
                "apiVersion": "minio.min.io/v2",
                "kind": "Tenant",
                "metadata": {"name": "thinkube", "namespace": "minio"},
                "spec": {
                    "configuration": {"name": "env"},
                    "requestAutoCert": False,
                    "pools": [{"name": "pool-0", "servers": 2, "volumesPerServer": 1}],
                },
            }
        )
        await kube.wait_for(
            "minio.min.io/v2",
            "Tenant",
            "thinkube",
            "minio",
            lambda o: (o.get("status") or {}).get("currentState") == "Initialized",
            timeout=10,
            what="tenant",
        )
        sts = await kube.get("apps/v1", "StatefulSet", "thinkube-pool-0", "minio")
        assert sts["spec"]["replicas"] == 2 and ready(sts)
        assert (await kube.get("v1", "Service", "minio", "minio"))["spec"]["ports"][0]["port"] == 80

        # Keycloak: the operator's manifests through curl, applied as the installer does
        base = "https://raw.githubusercontent.com/keycloak/keycloak-k8s-resources/26.2.0/kubernetes"
        await kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "keycloak"}})
        for name in (
            "keycloaks.k8s.keycloak.org-v1.yml",
            "keycloakrealmimports.k8s.keycloak.org-v1.yml",
            "kubernetes.yml",
        ):
            text = await ok(lab, "tk-control", f"curl -fsSL --retry 3 {base}/{name}", sudo=False)
            for doc in yaml.safe_load_all(text):
                if doc["kind"] not in ("CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"):
                    doc["metadata"]["namespace"] = "keycloak"
                await kube.apply(doc)
        crd = await kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "keycloaks.k8s.keycloak.org")
        assert condition(crd, "Established")
        await kube.wait_rollout("Deployment", "keycloak-operator", "keycloak", timeout=10)
        await kube.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "admin", "namespace": "keycloak"},
                "stringData": {"username": "admin", "password": "x"},
            }
        )
        await kube.apply(
            {
                "apiVersion": "k8s.keycloak.org/v2alpha1",
                "kind": "Keycloak",
                "metadata": {"name": "keycloak", "namespace": "keycloak"},
                "spec": {
                    "instances": 1,
                    "http": {"httpEnabled": True},
                    "bootstrapAdmin": {"user": {"secret": "admin"}},
                },
            }
        )
        await kube.wait_for(
            "k8s.keycloak.org/v2alpha1",
            "Keycloak",
            "keycloak",
            "keycloak",
            lambda o: condition(o, "Ready"),
            timeout=10,
            what="keycloak",
        )
        assert ready(await kube.get("apps/v1", "StatefulSet", "keycloak", "keycloak"))
        svc = await kube.get("v1", "Service", "keycloak-service", "keycloak")
        assert {"name": "http", "port": 8080, "protocol": "TCP"} in svc["spec"]["ports"]
        await kube.apply(
            {
                "apiVersion": "k8s.keycloak.org/v2alpha1",
                "kind": "KeycloakRealmImport",
                "metadata": {"name": "thinkube", "namespace": "keycloak"},
                "spec": {"keycloakCRName": "keycloak", "realm": {"realm": "thinkube"}},
            }
        )
        ri = await kube.wait_for(
            "k8s.keycloak.org/v2alpha1",
            "KeycloakRealmImport",
            "thinkube",
            "keycloak",
            lambda o: condition(o, "Done"),
            timeout=10,
            what="realm",
        )
        assert condition(ri, "HasErrors", "False") and condition(ri, "Started", "False")
        # a one-shot Job (kcadm) completes through the emulator's Job simulation
        await kube.apply(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "kcadm", "namespace": "keycloak"},
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "containers": [{"name": "kcadm", "image": "quay.io/keycloak/keycloak:26.2.0"}],
                        }
                    }
                },
            }
        )
        await kube.wait_for(
            "batch/v1",
            "Job",
            "kcadm",
            "keycloak",
            lambda o: (o.get("status") or {}).get("succeeded", 0) >= 1,
            timeout=10,
            what="job",
        )
    finally:
        await kube.close()


async def test_gpu_operator_advertises_gpus_only_after_the_release(lab: Lab) -> None:
    kube = await control(lab)
    try:
        await ok(lab, "tk-gpu-1", "snap install microk8s --classic --channel=1.33/stable")
        token = "a" * 32
        await ok(lab, "tk-control", f"microk8s add-node --token {token}")
        await ok(lab, "tk-gpu-1", f"microk8s join 10.42.0.11:25000/{token} --worker")
        node = await kube.wait_node_ready("tk-gpu-1", timeout=10)
        assert not any(k.startswith("nvidia.com/") for k in node["status"]["allocatable"])
        await kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gpu-operator"}})
        sharing = {
            "version": "v1",
            "sharing": {"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}},
        }
        await kube.apply(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "time-slicing-config", "namespace": "gpu-operator"},
                "data": {"any": yaml.safe_dump(sharing)},
            }
        )
        await helm(
            lab,
            "gpu-operator",
            "gpu-operator",
            "gpu-operator",
            {"devicePlugin": {"config": {"name": "time-slicing-config", "default": "any"}}},
        )
        node = await kube.wait_for(
            "v1",
            "Node",
            "tk-gpu-1",
            None,
            lambda o: "nvidia.com/gpu" in o["status"]["allocatable"],
            timeout=10,
            what="gpus",
        )
        assert node["status"]["allocatable"]["nvidia.com/gpu"] == "4"
        assert node["metadata"]["labels"]["nvidia.com/gpu.present"] == "true"
        control_node = await kube.get("v1", "Node", "tk-control")
        assert "nvidia.com/gpu" not in control_node["status"]["allocatable"]
    finally:
        await kube.close()


# ---------------------------------------------------------------------------- Vault through the proxy


async def test_vault_init_unseal_health_audit_through_the_api_server_proxy(lab: Lab, tmp_path: Path) -> None:
    kube = await control(lab)
    try:
        await helm(lab, "vault", "vault", "vault", {"server": {"ha": {"enabled": True, "replicas": 2}}})
        status = await kube.proxy("GET", "vault", "vault-0", 8200, "/v1/sys/seal-status", kind="pods")
        assert status.status == 200 and status.body["initialized"] is False
        health = await kube.proxy("GET", "vault", "vault-0", 8200, "/v1/sys/health", kind="pods")
        assert health.status == 501
        health = await kube.proxy(
            "GET", "vault", "vault-0", 8200, "/v1/sys/health", kind="pods", query=[("uninitcode", "204")]
        )
        assert health.status == 204
        bad = await kube.proxy(
            "PUT",
            "vault",
            "vault-0",
            8200,
            "/v1/sys/init",
            kind="pods",
            body={"secret_shares": 2, "secret_threshold": 3},
        )
        assert bad.status == 400
        init = await kube.proxy(
            "PUT",
            "vault",
            "vault-0",
            8200,
            "/v1/sys/init",
            kind="pods",
            body={"secret_shares": 5, "secret_threshold": 3},
        )
        assert init.status == 200 and len(init.body["keys_base64"]) == 5 and init.body["root_token"]
        again = await kube.proxy(
            "PUT",
            "vault",
            "vault-0",
            8200,
            "/v1/sys/init",
            kind="pods",
            body={"secret_shares": 5, "secret_threshold": 3},
        )
        assert again.status == 400 and "already initialized" in again.body["errors"][0]
        keys, root = init.body["keys_base64"], init.body["root_token"]
        sealed = await kube.proxy("GET", "vault", "vault-0", 8200, "/v1/sys/health", kind="pods")
        assert sealed.status == 503
        for pod in ("vault-0", "vault-1"):
            for i, key in enumerate(keys[:3]):
                answer = await kube.proxy("PUT", "vault", pod, 8200, "/v1/sys/unseal", kind="pods", body={"key": key})
                assert answer.status == 200 and answer.body["sealed"] is (i < 2)
        active = await kube.proxy("GET", "vault", "vault-0", 8200, "/v1/sys/health", kind="pods")
        assert active.status == 200 and active.body["standby"] is False
        standby = await kube.proxy("GET", "vault", "vault-1", 8200, "/v1/sys/health", kind="pods")
        assert standby.status == 429
        standby = await kube.proxy(
            "GET", "vault", "vault-1", 8200, "/v1/sys/health", kind="pods", query=[("standbyok", "true")]
        )
        assert standby.status == 200
        denied = await kube.proxy("GET", "vault", "vault-0", 8200, "/v1/sys/audit", kind="pods")
        assert denied.status == 403
        enable = await kube.proxy(
            "PUT",
            "vault",
            "vault-0",
            8200,
            "/v1/sys/audit/file",
            kind="pods",
            headers={"X-Vault-Token": root},
            body={"type": "file", "options": {"file_path": "/vault/audit/vault_audit.log"}},
        )
        assert enable.status == 204
        listed = await kube.proxy(
            "GET", "vault", "vault-0", 8200, "/v1/sys/audit", kind="pods", headers={"X-Vault-Token": root}
        )
        assert listed.status == 200 and "file/" in listed.body["data"]
        # through the Services: vault-active reaches the active pod
        svc = await kube.proxy("GET", "vault", "vault-active", 8200, "/v1/sys/health")
        assert svc.status == 200 and svc.body["standby"] is False
        # no backend and no such pod: loud answers
        missing = await kube.proxy("GET", "vault", "vault-7", 8200, "/v1/sys/health", kind="pods")
        assert missing.status == 404
        nothing = await kube.proxy("GET", "kube-system", "kube-dns", 53, "/")
        assert nothing.status == 502 and "thinkube-lab" in nothing.body["message"]
    finally:
        await kube.close()
    # the state survives a lab restart
    await lab.stop()
    async with Lab(lab.state_dir, nodes=3, gpus=1, speed=SPEED, log=lambda m: None) as again:
        config = await ok(again, "tk-control", "microk8s config")
        kube = await Kube.from_kubeconfig(config)
        try:
            status = await kube.proxy("GET", "vault", "vault-1", 8200, "/v1/sys/seal-status", kind="pods")
            assert status.body["initialized"] is True and status.body["sealed"] is False
        finally:
            await kube.close()
    await lab.start()  # the fixture stops it


# ---------------------------------------------------------------------------- curl


async def test_curl_manifests_and_hosts_through_the_ingress(lab: Lab) -> None:
    kube = await control(lab)
    try:
        r = await sh(lab, "tk-control", "curl -fsSL --retry 3 https://github.com/x/y/releases/download/v1/z.yaml")
        assert r.exit_status == 6 and "Could not resolve host: github.com" in r.stderr
        text = await ok(
            lab,
            "tk-control",
            "curl -fsSL https://raw.githubusercontent.com/keycloak/"
            "keycloak-k8s-resources/26.2.0/kubernetes/kubernetes.yml",
            sudo=False,
        )
        assert "thinkube-lab stand-in" in text and "kind: Deployment" in text
        await metallb(lab)
        await helm(lab, "ingress", "ingress-nginx", "ingress", SAMPLE_VALUES["ingress-nginx"][2])
        await kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}})
        labels = {"app": "web"}
        await kube.apply(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "web"},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
                    },
                },
            }
        )
        await kube.apply(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": "web"},
                "spec": {"selector": labels, "ports": [{"port": 80}]},
            }
        )
        await kube.apply(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "web", "namespace": "web"},
                "spec": {
                    "rules": [
                        {
                            "host": "web.lab.lan",
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "pathType": "Prefix",
                                        "backend": {"service": {"name": "web", "port": {"number": 80}}},
                                    }
                                ]
                            },
                        }
                    ]
                },
            }
        )
        await kube.wait_rollout("Deployment", "web", "web", timeout=10)
        code = "curl -sk -o /dev/null -w '%{{http_code}}' --max-time 5 --resolve {h}:443:{ip} https://{h}/"
        assert await ok(lab, "tk-control", code.format(h="web.lab.lan", ip="10.42.0.200"), sudo=False) == "200"
        assert await ok(lab, "tk-control", code.format(h="nope.lab.lan", ip="10.42.0.200"), sudo=False) == "404"
        r = await sh(lab, "tk-control", code.format(h="web.lab.lan", ip="10.42.0.219"))
        assert r.exit_status == 7 and r.stdout == "000"
        r = await sh(lab, "tk-control", "curl -sS -H 'Host: web.lab.lan' https://10.42.0.200/")
        assert r.exit_status == 60  # nginx's fake certificate: not trusted without -k
        r = await sh(lab, "tk-control", "curl -fsS -k https://nope.lab.lan/ --resolve nope.lab.lan:443:10.42.0.200")
        assert r.exit_status == 22 and "returned error: 404" in r.stderr
    finally:
        await kube.close()


# ---------------------------------------------------------------------------- the real installers, end to end

CORE_WITH_INSTALLERS = [
    "microk8s-control",
    "microk8s-workers",
    "coredns",
    "metallb",
    "ingress",
    "ingress-kn",
    "cert-manager",
    "ssl-certificates",
    "postgresql",
    "minio",
    "vault",
    "keycloak",
    "qdrant",
    "valkey",
    "gpu-operator",
]


async def test_headless_install_against_the_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from thinkube_tui.headless import HeadlessOptions, run

    async with Lab(tmp_path / "lab", nodes=3, gpus=1, speed=SPEED, log=lambda m: None) as lab:
        answers = lab.answers({c: {"enabled": True} for c in CORE_WITH_INSTALLERS})
        answers_path = tmp_path / "answers.yaml"
        answers_path.write_text(yaml.safe_dump(answers, sort_keys=False))
        known_hosts = lab.write_known_hosts(tmp_path / "known_hosts")
        monkeypatch.setenv("TK_LAB_SUDO_PASSWORD", (lab.state_dir / "sudo-password").read_text().strip())
        out = tmp_path / "out.txt"
        with open(out, "w") as f:
            code = await run(
                HeadlessOptions(
                    answers=answers_path,
                    yes=True,
                    state_dir=tmp_path / "state",
                    known_hosts=known_hosts,
                    interactive_output=False,
                ),
                out=f,
                err=f,
            )
        text = out.read_text()
        logs = sorted((tmp_path / "state").glob("*/logs/*.log"))
        detail = logs[-1].read_text()[-6000:] if logs else ""
        assert code == 0, text[-6000:] + "\n--- log ---\n" + detail
        for component in CORE_WITH_INSTALLERS:
            assert f"\n- {component}: done\n" in text, component
        # a second run changes nothing
        with open(out, "w") as f:
            code = await run(
                HeadlessOptions(
                    answers=answers_path,
                    yes=True,
                    state_dir=tmp_path / "state",
                    known_hosts=known_hosts,
                    interactive_output=False,
                ),
                out=f,
                err=f,
            )
        assert code == 0, out.read_text()[-3000:]
        assert os.environ["TK_LAB_SUDO_PASSWORD"] not in out.read_text()
