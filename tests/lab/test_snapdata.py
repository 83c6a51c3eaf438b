"""MicroK8s' $SNAP_DATA on the lab's nodes, `snap restart` of kubelite, /etc/hosts lookups, and
KServe's release manifests from curl -- what the installers of keycloak-k8s-oidc, harbor and
model-serving rely on, answered as on a real node."""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path

import aiohttp
import pytest
import yaml

from thinkube_lab.cluster import Lab
from thinkube_lab.shell import BufferOutput, StringInput

SNAP_DATA = "/var/snap/microk8s/current"
ARGS = f"{SNAP_DATA}/args/kube-apiserver"


async def sh(lab: Lab, node: str, command: str, *, user: str = "root", stdin: str = "") -> tuple[int, str, str]:
    """Run `command` on a lab node directly (no SSH), as `user`."""
    out, err = BufferOutput(), BufferOutput()
    code = await lab.nodes[node].run(command, StringInput(stdin), out, err, user=user)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
async def lab(tmp_path: Path):
    async with Lab(tmp_path / "lab", nodes=2, gpus=0, speed=0.01, log=lambda _m: None) as lab:
        yield lab


async def _install(lab: Lab, node: str = "tk-control") -> None:
    code, _out, err = await sh(lab, node, "snap install microk8s --classic --channel=1.33/stable")
    assert code == 0, err


async def _api_up(lab: Lab) -> bool:
    try:
        async with (
            aiohttp.ClientSession() as s,
            s.get(
                f"{lab.kube.url}/version",
                ssl=ssl.create_default_context(cadata=lab.kube.ca.cert_pem.decode()),
                timeout=aiohttp.ClientTimeout(total=1),
            ) as r,
        ):
            return r.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def test_snap_data_exists_only_while_microk8s_is_installed(lab: Lab) -> None:
    code, _out, err = await sh(lab, "tk-control", f"cat {ARGS}")
    assert code == 1 and "No such file or directory" in err
    await _install(lab)
    code, out, _err = await sh(lab, "tk-control", f"cat {ARGS}")
    assert code == 0
    flags = [line for line in out.splitlines() if line.startswith("--")]
    assert "--secure-port=16443" in flags and "--service-cluster-ip-range=10.152.183.0/24" in flags
    assert "--client-ca-file=${SNAP_DATA}/certs/ca.crt" in flags and "--cert-dir=${SNAP_DATA}/certs" in flags
    assert out.startswith("# thinkube-lab: SIMULATED")
    code, out, _err = await sh(lab, "tk-control", f"cat {SNAP_DATA}/certs/ca.crt")
    assert code == 0 and out.startswith("-----BEGIN CERTIFICATE-----")
    for path in ("args/kubelet", "args/containerd-template.toml", "args/certs.d/docker.io/hosts.toml"):
        assert (await sh(lab, "tk-control", f"test -s {SNAP_DATA}/{path}"))[0] == 0, path
    # keys are root's
    code, _out, err = await sh(lab, "tk-control", f"cat {SNAP_DATA}/certs/ca.key", user="thinkube")
    assert code == 1 and "Permission denied" in err

    # what keycloak-k8s-oidc and harbor do: write next to them, append, marker files
    assert (await sh(lab, "tk-control", f"tee {SNAP_DATA}/certs/extra-ca.crt > /dev/null", stdin="PEM\n"))[0] == 0
    assert (await sh(lab, "tk-control", f": > {SNAP_DATA}/args/.marker && test -e {SNAP_DATA}/args/.marker"))[0] == 0
    assert (await sh(lab, "tk-control", f"tee -a {ARGS} > /dev/null", stdin="--oidc-client-id=x\n"))[0] == 0
    out = (await sh(lab, "tk-control", f"cat {ARGS}"))[1]
    assert out.endswith(
        "--kubelet-preferred-address-types=InternalIP,Hostname,InternalDNS,ExternalDNS,ExternalIP\n--oidc-client-id=x\n"
    )
    d = f"{SNAP_DATA}/args/certs.d/registry.example.lan"
    assert (await sh(lab, "tk-control", f"mkdir -p {d} && tee {d}/hosts.toml > /dev/null", stdin="x\n"))[0] == 0

    code, _out, err = await sh(lab, "tk-control", "snap remove microk8s")
    assert code == 0, err
    assert (await sh(lab, "tk-control", f"test -e {ARGS}"))[0] == 1
    assert (await sh(lab, "tk-control", f"test -e {d}/hosts.toml"))[0] == 1


async def test_a_joined_worker_holds_the_control_nodes_ca(lab: Lab) -> None:
    await _install(lab, "tk-control")
    await _install(lab, "tk-worker-1")
    ca = lambda node: sh(lab, node, f"cat {SNAP_DATA}/certs/ca.crt")  # noqa: E731
    assert (await ca("tk-control"))[1] != (await ca("tk-worker-1"))[1]
    token = "0123456789abcdef0123456789abcdef"
    assert (await sh(lab, "tk-control", f"microk8s add-node --token {token}"))[0] == 0
    code, out, _ = await sh(lab, "tk-worker-1", f"microk8s join 10.42.0.11:25000/{token} --worker")
    assert code == 0, out
    assert (await ca("tk-control"))[1] == (await ca("tk-worker-1"))[1]
    assert (await sh(lab, "tk-worker-1", f"test -s {SNAP_DATA}/args/apiserver-proxy"))[0] == 0


@pytest.mark.parametrize("mode", ["hold", "refuse"])
async def test_snap_restart_kubelite_takes_the_api_away_for_a_while(tmp_path: Path, mode: str) -> None:
    async with Lab(tmp_path / "lab", nodes=1, gpus=0, speed=0.05, log=lambda _m: None, apiserver_restart=mode) as lab:
        await _install(lab)
        code, _out, err = await sh(lab, "tk-control", "snap restart microk8s.daemon-kubelite", user="thinkube")
        assert code == 1 and "access denied" in err
        assert await _api_up(lab)
        code, out, err = await sh(lab, "tk-control", "snap restart microk8s.daemon-kubelite")
        assert (code, out) == (0, "Restarted.\n"), err
        assert not lab.nodes["tk-control"].microk8s.running
        code, out, _ = await sh(lab, "tk-control", "microk8s status")
        assert code == 1 and "not running" in out
        if mode == "refuse":
            assert not await _api_up(lab)  # connection refused, as from a restarting API server
        else:
            held = asyncio.ensure_future(_api_up(lab))  # the request waits until the API answers
            await asyncio.sleep(0.05)
            assert not held.done()
        code, out, _ = await sh(lab, "tk-control", "microk8s status --wait-ready --timeout 30")
        assert code == 0 and out.startswith("microk8s is running")
        assert await _api_up(lab)
        code, out, _ = await sh(lab, "tk-control", "snap services microk8s")
        assert ["microk8s.daemon-kubelite", "enabled", "active", "-"] in [line.split() for line in out.splitlines()]
        code, _out, err = await sh(lab, "tk-control", "snap restart microk8s.daemon-nope")
        assert code == 1 and 'has no service "daemon-nope"' in err


async def test_kubelite_stays_down_with_a_wrong_oidc_flag(tmp_path: Path) -> None:
    logs: list[str] = []
    async with Lab(tmp_path / "lab", nodes=1, gpus=0, speed=0.01, log=logs.append) as lab:
        await _install(lab)
        bad = "--oidc-issuer-url=http://auth.example.lan\n--oidc-client-id=k\n"
        assert (await sh(lab, "tk-control", f"tee -a {ARGS} > /dev/null", stdin=bad))[0] == 0
        assert (await sh(lab, "tk-control", "snap restart microk8s.daemon-kubelite"))[0] == 0
        code, out, _ = await sh(lab, "tk-control", "microk8s status --wait-ready --timeout 0.3")
        assert code == 1 and "not running" in out
        assert any("--oidc-issuer-url: must be a https URL" in line for line in logs), logs
        # fixed by hand, restarted: back
        text = (await sh(lab, "tk-control", f"cat {ARGS}"))[1].replace("http://auth", "https://auth")
        assert (await sh(lab, "tk-control", f"tee {ARGS} > /dev/null", stdin=text))[0] == 0
        assert (await sh(lab, "tk-control", "snap restart microk8s.daemon-kubelite"))[0] == 0
        assert (await sh(lab, "tk-control", "microk8s status --wait-ready --timeout 30"))[0] == 0
        assert await _api_up(lab)


async def test_getent_and_curl_resolve_what_etc_hosts_says(lab: Lab) -> None:
    code, _out, _err = await sh(lab, "tk-control", "getent hosts auth.example.lan")
    assert code == 2
    assert (await sh(lab, "tk-control", "printf '%s\\n' '10.42.0.200 auth.example.lan' >> /etc/hosts"))[0] == 0
    code, out, _err = await sh(lab, "tk-control", "getent hosts auth.example.lan")
    assert (code, out.split()) == (0, ["10.42.0.200", "auth.example.lan"])
    code, _out, err = await sh(lab, "tk-control", "curl -sS https://auth.example.lan/")
    assert code == 7, err  # resolved; nothing listens there (no ingress controller in this lab)
    code, _out, err = await sh(lab, "tk-control", "curl -sS https://nowhere.example.lan/")
    assert code == 6 and "Could not resolve host" in err


async def test_curl_serves_the_kserve_release_manifests(lab: Lab) -> None:
    base = "https://github.com/kserve/kserve/releases/download/v0.15.0"
    code, out, err = await sh(lab, "tk-control", f"curl -fsSL --retry 3 {base}/kserve.yaml", user="thinkube")
    assert code == 0, err
    docs = [d for d in yaml.safe_load_all(out) if d]
    crds = {d["metadata"]["name"] for d in docs if d["kind"] == "CustomResourceDefinition"}
    assert {
        f"{p}.serving.kserve.io"
        for p in (
            "inferenceservices",
            "servingruntimes",
            "clusterservingruntimes",
            "trainedmodels",
            "inferencegraphs",
            "clusterstoragecontainers",
        )
    } <= crds
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "inferenceservice-config")
    assert json.loads(config["data"]["deploy"]) == {"defaultDeploymentMode": "Serverless"}
    assert json.loads(config["data"]["ingress"])["ingressClassName"] == "istio"
    code, out, err = await sh(lab, "tk-control", f"curl -fsSL {base}/kserve-cluster-resources.yaml")
    assert code == 0, err
    names = {d["metadata"]["name"] for d in yaml.safe_load_all(out) if d}
    assert {
        "kserve-mlserver",
        "kserve-huggingfaceserver",
        "kserve-tritonserver",
        "kserve-sklearnserver",
        "kserve-xgbserver",
        "default",
    } <= names


async def test_a_proxy_request_waits_out_a_restarting_api_server(tmp_path: Path) -> None:
    """A request through the API server's proxy (how Vault is reached) made while kubelite
    restarts -- another component changed the API server's flags -- waits until the API answers
    again, as every other call does (it failed at once: the full demo lost Harbor's Vault copy)."""
    from thinkube_tui.kube import Kube

    async with Lab(
        tmp_path / "lab", nodes=1, gpus=0, speed=0.05, log=lambda _m: None, apiserver_restart="refuse"
    ) as lab:
        await _install(lab)
        kube = await Kube.from_kubeconfig((await sh(lab, "tk-control", "microk8s config"))[1])
        try:
            assert (await sh(lab, "tk-control", "snap restart microk8s.daemon-kubelite"))[0] == 0
            assert not await _api_up(lab)
            request = asyncio.ensure_future(kube.proxy("GET", "default", "nothing", 80, "/", kind="services"))
            code, _out, _err = await sh(lab, "tk-control", "microk8s status --wait-ready --timeout 30")
            assert code == 0
            response = await asyncio.wait_for(request, 60)
            assert response.status >= 400  # answered (no such service), not a connection error
        finally:
            await kube.close()
