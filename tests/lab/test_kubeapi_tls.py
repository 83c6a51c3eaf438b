"""The lab's API server speaks TLS as a MicroK8s node does, and the installers' client checks it."""

from __future__ import annotations

import asyncio
import base64
import copy
import ipaddress
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from cryptography import x509

from thinkube_lab.kubeapi import KubeApiEmulator
from thinkube_lab.kubeapi_tls import LabCA
from thinkube_tui.kube import Kube, KubeError

NODE = "10.42.0.11"


@pytest.fixture
async def emu(tmp_path: Path):
    async with KubeApiEmulator(state_dir=tmp_path, rollout_delay=0.2, addresses=(NODE,)) as api:
        yield api


def _cluster(cfg: dict[str, Any]) -> dict[str, Any]:
    cluster: dict[str, Any] = cfg["clusters"][0]["cluster"]
    return cluster


async def _namespaces(cfg: dict[str, Any]) -> list[str]:
    kube = await Kube.from_kubeconfig(yaml.safe_dump(cfg))
    try:
        return [n["metadata"]["name"] for n in await kube.list("v1", "Namespace")]
    finally:
        await kube.close()


async def test_kubeconfig_has_microk8s_shape_and_works(emu: KubeApiEmulator) -> None:
    cfg = emu.kubeconfig(server_name=NODE)
    cluster, user = _cluster(cfg), cfg["users"][0]["user"]
    assert cluster["server"] == f"https://127.0.0.1:{emu.port}"
    assert cluster["tls-server-name"] == NODE
    ca = x509.load_pem_x509_certificate(base64.b64decode(cluster["certificate-authority-data"]))
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert set(user) == {"client-certificate-data", "client-key-data"}  # MicroK8s >= 1.28: x509 admin
    assert (cfg["clusters"][0]["name"], cfg["contexts"][0]["name"], cfg["users"][0]["name"]) == (
        "microk8s-cluster",
        "microk8s",
        "admin",
    )
    assert "default" in await _namespaces(cfg)


async def test_server_certificate_names_the_node_and_loopback(emu: KubeApiEmulator) -> None:
    tls = ssl.create_default_context(cadata=emu.ca.cert_pem.decode())
    assert emu.port
    # Verified as a client on a real network would: connecting by the node's address.
    _reader, writer = await asyncio.open_connection("127.0.0.1", emu.port, ssl=tls, server_hostname=NODE)
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    await writer.wait_closed()
    sans = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    assert {NODE, "127.0.0.1", "10.152.183.1"} <= ips
    assert "kubernetes.default.svc" in sans.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("10.42.0.12") not in sans.get_values_for_type(x509.IPAddress)


async def test_a_wrong_server_name_or_another_ca_is_refused(emu: KubeApiEmulator) -> None:
    wrong_name = emu.kubeconfig(server_name="10.42.0.99")  # a worker's address: not in the certificate
    other_ca = copy.deepcopy(emu.kubeconfig(server_name=NODE))
    _cluster(other_ca)["certificate-authority-data"] = base64.b64encode(LabCA.create().cert_pem).decode()
    # At once, not retried as an unavailable server (30 s only bounds a regression that retries).
    async with asyncio.timeout(30):
        with pytest.raises(KubeError, match=r"failed TLS verification \(.*IP address mismatch"):
            await _namespaces(wrong_name)
        with pytest.raises(KubeError, match=r"failed TLS verification \(.*certificate verify failed"):
            await _namespaces(other_ca)


async def test_the_client_refuses_plain_http_and_skipped_verification(emu: KubeApiEmulator) -> None:
    plain = emu.kubeconfig(server_name=NODE)
    _cluster(plain)["server"] = f"http://127.0.0.1:{emu.port}"
    with pytest.raises(KubeError, match="not https"):
        await Kube.from_kubeconfig(yaml.safe_dump(plain))
    skip = emu.kubeconfig(server_name=NODE)
    _cluster(skip)["insecure-skip-tls-verify"] = True
    with pytest.raises(KubeError, match="insecure-skip-tls-verify"):
        await Kube.from_kubeconfig(yaml.safe_dump(skip))


async def test_no_credentials_is_unauthorized(emu: KubeApiEmulator) -> None:
    tls = ssl.create_default_context(cadata=emu.ca.cert_pem.decode())
    async with aiohttp.ClientSession() as s, s.get(emu.url + "/api/v1/namespaces", ssl=tls) as r:
        assert r.status == 401


async def test_kubeconfigs_stay_valid_across_restarts(tmp_path: Path) -> None:
    async with KubeApiEmulator(state_dir=tmp_path, addresses=(NODE,)) as first:
        cfg = first.kubeconfig(server_name=NODE)
    key = tmp_path / "certs" / "ca.key"
    assert key.stat().st_mode & 0o777 == 0o600
    async with KubeApiEmulator(state_dir=tmp_path, addresses=(NODE,)) as again:
        assert again.port == first.port and again.kubeconfig(server_name=NODE) == cfg
        assert "default" in await _namespaces(cfg)
