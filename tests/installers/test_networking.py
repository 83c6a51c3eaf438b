"""Installers of groups 5.3 and 5.10: coredns, metallb, ingress, ingress-kn, cert-manager,
gpu-operator, ssl-certificates.

Each installer runs for real against two small stand-ins built on the dry run's recorders:
`FakeNode` answers `microk8s status`/`enable` and Helm (it remembers what was deployed, with
which values), `FakeKube` keeps applied objects and plays the controllers the checks wait for
(charts' objects, MetalLB's address, cert-manager's Ready conditions, the device plugin's
allocatable GPUs). A second run against the same state must change nothing: no `helm upgrade`,
no `microk8s enable`, no apply, no delete.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from thinkube_tui.catalog import load_catalog
from thinkube_tui.dryrun import RecordingTransport, Transcript, assumed_facts, dry_run
from thinkube_tui.engine import EngineSettings, InstallError, Steps
from thinkube_tui.events import EventBus, LineBatcher
from thinkube_tui.facts import Facts, Gpu
from thinkube_tui.installers import installer
from thinkube_tui.installers.base import Cluster, InstallContext
from thinkube_tui.installers.coredns import render_corefile
from thinkube_tui.installers.support.net import metallb_range
from thinkube_tui.installers.support.objects import contains
from thinkube_tui.journal import Journal
from thinkube_tui.secrets import Secrets
from thinkube_tui.spec import ComponentSpec, Spec, load_answers
from thinkube_tui.transport import CommandResult

from .fakes import ApiStore, FakeKube, HelmNode

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MINE = ("coredns", "metallb", "ingress", "ingress-kn", "cert-manager", "gpu-operator", "ssl-certificates")


# ---------------------------------------------------------------- stand-ins


def cert_manager(store: ApiStore, live: dict[str, Any]) -> None:
    """Issuers and Certificates become Ready; a Certificate's Secret appears."""
    if live["kind"] in ("ClusterIssuer", "Certificate"):
        live["status"] = {"conditions": [{"type": "Ready", "status": "True", "reason": "Issued"}]}
    if live["kind"] == "Certificate":
        store.put(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": live["spec"]["secretName"], "namespace": live["metadata"]["namespace"]},
                "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"},
            }
        )


CHARTS = {
    "coredns": "coredns",
    "ingress": "ingress-nginx",
    "ingress-kn": "ingress-nginx",
    "cert-manager": "cert-manager",
    "gpu-operator": "gpu-operator",
}


class FakeNode(HelmNode):
    """A control node: MicroK8s addons and Helm releases, remembered across runs."""

    def __init__(self, node: str, transcript: Transcript, kube: FakeKube, gpu_nodes: dict[str, int]) -> None:
        super().__init__(node, transcript, {})
        self.kube = kube
        self.gpu_nodes = gpu_nodes
        self.addons: set[str] = {"dns", "helm3", "hostpath-storage"}

    def other(self, argv: list[str], command: str, input: str | None) -> CommandResult | None:
        if argv[:3] == ["microk8s", "status", "--format"]:
            out = yaml.safe_dump({"addons": [{"name": a, "status": "enabled"} for a in sorted(self.addons)]})
            return CommandResult(command, 0, out, "")
        if argv[:2] == ["microk8s", "enable"]:
            name, _, arg = argv[2].partition(":")
            self.addons.add(name)
            if name == "metallb":
                self.kube.put(
                    {
                        "apiVersion": "metallb.io/v1beta1",
                        "kind": "IPAddressPool",
                        "metadata": {"name": "default-addresspool", "namespace": "metallb-system"},
                        "spec": {"addresses": [arg]},
                    }
                )
        elif argv[:2] == ["command", "-v"]:
            return CommandResult(command, 1, "", "")
        return None

    def deployed(self, release: str, chart: str, ns: str, values: dict[str, Any]) -> None:
        """What the chart's controllers would make that the installers check."""
        put = self.kube.put
        if chart == "coredns":
            put(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "coredns-thinkube", "namespace": ns},
                    "data": {"Corefile": render_corefile(values["servers"])},
                }
            )
        elif chart == "ingress-nginx":
            controller = values["controller"]
            address = controller["service"]["annotations"]["metallb.universe.tf/loadBalancerIPs"]
            put(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": f"{values['fullnameOverride']}-controller", "namespace": ns},
                    "spec": {"type": "LoadBalancer"},
                    "status": {"loadBalancer": {"ingress": [{"ip": address}]}},
                }
            )
            cls = controller["ingressClassResource"]
            annotations = {"ingressclass.kubernetes.io/is-default-class": "true"} if cls["default"] else {}
            put(
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "IngressClass",
                    "metadata": {"name": cls["name"], "annotations": annotations},
                    "spec": {"controller": cls["controllerValue"]},
                }
            )
        elif chart == "cert-manager":
            for crd in ("certificates", "clusterissuers", "issuers"):
                put(
                    {
                        "apiVersion": "apiextensions.k8s.io/v1",
                        "kind": "CustomResourceDefinition",
                        "metadata": {"name": f"{crd}.cert-manager.io"},
                        "status": {"conditions": [{"type": "Established", "status": "True"}]},
                    }
                )
        elif chart == "gpu-operator":
            ts = self.kube.find("ConfigMap", "time-slicing-config", ns)
            sharing = yaml.safe_load(ts["data"]["any"])["sharing"] if ts else None
            replicas = sharing["timeSlicing"]["resources"][0]["replicas"] if sharing else 1
            for node, gpus in self.gpu_nodes.items():
                put(
                    {
                        "apiVersion": "v1",
                        "kind": "Node",
                        "metadata": {"name": node},
                        "status": {"allocatable": {"cpu": "8", "nvidia.com/gpu": str(gpus * replicas)}},
                    }
                )


@dataclasses.dataclass
class Rig:
    spec: Spec
    kube: FakeKube
    control: FakeNode
    cluster: Cluster
    logs: list[str]

    async def run(self, component: str) -> None:
        journal = Journal(None)  # fresh: a second run must not skip steps through the journal
        config = self.spec.components[component].config
        journal.started(component, config)
        logs = self.logs

        class LoggingSteps(Steps):
            def log(self, line: str) -> None:
                logs.append(line)

        bus = EventBus()
        steps = LoggingSteps(component, config, journal, bus, LineBatcher(bus), EngineSettings(step_timeout_s=60))
        install = installer(component)
        assert install is not None, f"no installer for {component}"
        await install(InstallContext(steps, self.cluster))

    def helm_values(self, release: str) -> dict[str, Any]:
        for (_ns, rel), (_c, _v, values) in self.control.releases.items():
            if rel == release:
                return values
        raise AssertionError(f"{release} was not deployed")

    def mark(self) -> tuple[int, int, int, int]:
        return len(self.control.commands), len(self.kube.applied), len(self.kube.deleted), len(self.kube.patched)

    def changes_since(self, mark: tuple[int, int, int, int]) -> list[str]:
        commands = [c for c, _ in self.control.commands[mark[0] :] if " upgrade " in c or " enable " in c]
        applied = [f"apply {o['kind']} {o['metadata']['name']}" for o in self.kube.applied_objects()[mark[1] :]]
        deleted = [f"delete {k} {n}" for k, n in self.kube.deleted[mark[2] :]]
        patched = [f"patch {k} {n}" for k, n, _ in self.kube.patched[mark[3] :]]
        return commands + applied + deleted + patched


def make_rig(
    *,
    gpu_nodes: dict[str, int] | None = None,
    driver: str | None = "570.172.08",
    components: dict[str, dict[str, Any]] | None = None,
    cluster: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Rig:
    spec = load_answers(EXAMPLES / "answers-full.yaml")
    if components:
        changed = dict(spec.components)
        for cid, config in components.items():
            enabled = config.pop("enabled", changed[cid].enabled)
            changed[cid] = ComponentSpec(cid, enabled, {**changed[cid].config, **config})
        spec = dataclasses.replace(spec, components=changed)
    if cluster:
        spec = dataclasses.replace(spec, cluster=dataclasses.replace(spec.cluster, **cluster))
    gpu_nodes = {"tk-gpu": 1} if gpu_nodes is None else gpu_nodes
    facts = assumed_facts(spec)
    for name, count in gpu_nodes.items():
        gpus = tuple(
            Gpu(f"0000:0{i}:00.0", "2684", "NVIDIA GeForce RTX 4090", driver_version=driver, index=i)
            for i in range(count)
        )
        facts[name] = dataclasses.replace(facts[name], gpus=gpus, nvidia_driver_version=driver)
    transcript = Transcript()
    kube = FakeKube(transcript, controllers=[cert_manager], missing_is_error=True)
    # What MicroK8s' dns addon left: its Deployment and the kube-dns Service the kubelets use.
    kube.put(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
            "spec": {"selector": {"matchLabels": {"k8s-app": "kube-dns"}}},
        }
    )
    kube.put(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": "kube-system"},
            "spec": {"clusterIP": "10.152.183.10", "selector": {"k8s-app": "kube-dns"}},
        }
    )
    nodes: dict[str, Any] = {n.name: RecordingTransport(n.name, transcript) for n in spec.nodes}
    control = FakeNode(spec.control.name, transcript, kube, gpu_nodes)
    nodes[spec.control.name] = control
    secrets = Secrets(environ={} if environ is None else environ)
    the_cluster = Cluster(spec=spec, catalog=load_catalog(), nodes=nodes, facts=facts, secrets=secrets)
    the_cluster._kube = kube  # type: ignore[assignment]
    return Rig(spec, kube, control, the_cluster, [])


def upgrade(rig: Rig, release: str) -> tuple[str, str]:
    found = [(c, i) for c, i in rig.control.commands if c.startswith(f"microk8s helm3 upgrade --install {release} ")]
    assert len(found) == 1, found
    command, stdin = found[0]
    assert command.endswith(" -f -") and stdin
    return command, stdin


# ---------------------------------------------------------------- the dry run


async def test_dry_run_installs_every_networking_component():
    spec = load_answers(EXAMPLES / "answers-full.yaml")
    transcript = await dry_run(spec, load_catalog())
    control = transcript.lines["tk-control"]
    charts = (
        ("coredns", "coredns", "1.46.2"),
        ("ingress", "ingress-nginx", "4.14.1"),
        ("ingress-kn", "ingress-nginx", "4.14.1"),
        ("cert-manager", "cert-manager", "v1.19.4"),
        ("gpu-operator", "gpu-operator", "v25.10.1"),
    )
    for release, chart, version in charts:
        assert any(
            f"helm3 upgrade --install {release} {chart} " in line
            and f"--version {version} " in line
            and line.endswith("-f - (input on stdin)")
            for line in control
        ), release
    assert "[metallb] sudo microk8s enable metallb:192.168.1.200-192.168.1.220" in control
    api = transcript.lines["kubernetes API"]
    assert "[ssl-certificates] apply Certificate ingress/thinkube-wildcard (cert-manager.io/v1)" in api
    not_installed = transcript.lines.get("not installed", [])
    assert not [line for line in not_installed if line.split(":")[0] in MINE]


# ---------------------------------------------------------------- per component


async def test_coredns_values_corefile_and_takeover():
    rig = make_rig()
    await rig.run("coredns")
    command, stdin = upgrade(rig, "coredns")
    assert "coredns --repo https://coredns.github.io/helm --version 1.46.2 --namespace kube-system" in command
    values = yaml.safe_load(stdin)
    assert values["fullnameOverride"] == "coredns-thinkube" and values["k8sAppLabelOverride"] == "kube-dns"
    assert values["replicaCount"] == 2
    corefile = render_corefile(values["servers"])
    assert "forward . 1.1.1.1 9.9.9.9" in corefile
    assert "kubernetes cluster.local in-addr.arpa ip6.arpa" in corefile
    assert "thinkube.lan.:53 {" in corefile
    assert 'answer "{{ .Name }} 60 IN A 192.168.1.200"' in corefile  # *.thinkube.lan -> ingress
    assert 'answer "{{ .Name }} 60 IN A 192.168.1.201"' in corefile  # *.kn.thinkube.lan -> ingress-kn
    assert corefile.index("192.168.1.201") < corefile.index("192.168.1.200")  # the narrower template first
    # The addon's Deployment is retired once ours runs; its kube-dns Service is left as it was.
    assert rig.kube.deleted == [("Deployment", "coredns")]
    assert rig.kube.find("Service", "kube-dns", "kube-system")["spec"]["clusterIP"] == "10.152.183.10"
    assert not [o for o in rig.kube.applied_objects() if o["kind"] == "Service"]


async def test_coredns_upstreams_and_extra_hosts():
    rig = make_rig(
        components={
            "coredns": {
                "upstreamServers": ("192.168.1.1",),
                "extraHosts": (
                    {"hostname": "nas.thinkube.lan", "ip": "192.168.1.5"},
                    {"hostname": "printer.home", "ip": "192.168.1.6"},
                ),
            }
        }
    )
    await rig.run("coredns")
    corefile = render_corefile(rig.helm_values("coredns")["servers"])
    assert "forward . 192.168.1.1\n" in corefile
    assert "192.168.1.6 printer.home" in corefile  # outside the domain: the hosts plugin
    # inside the domain: a template tried before the wildcard
    assert corefile.index("192.168.1.5") < corefile.index("IN A 192.168.1.200")


async def test_coredns_fails_when_the_corefile_is_not_deployed():
    rig = make_rig()
    rig.control.deployed = lambda *a: None  # type: ignore[method-assign]  # a chart that renders nothing
    with pytest.raises(InstallError, match="Corefile"):
        await rig.run("coredns")


async def test_metallb_enables_the_addon_and_announces_the_pool():
    rig = make_rig()
    await rig.run("metallb")
    assert ("microk8s enable metallb:192.168.1.200-192.168.1.220", None) in rig.control.commands
    l2 = rig.kube.find("L2Advertisement", "thinkube-l2", "metallb-system")
    assert l2 is not None and l2["spec"] == {"ipAddressPools": ["default-addresspool"]}


async def test_metallb_converges_a_changed_range():
    rig = make_rig(cluster={"metallb_range": "192.168.1.192/27"})
    rig.control.addons.add("metallb")
    rig.kube.put(
        {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "IPAddressPool",
            "metadata": {"name": "default-addresspool", "namespace": "metallb-system"},
            "spec": {"addresses": ["10.0.0.1-10.0.0.9"]},
        }
    )
    await rig.run("metallb")
    assert not [c for c, _ in rig.control.commands if "enable" in c]
    assert rig.kube.patched == [
        ("IPAddressPool", "default-addresspool", {"spec": {"addresses": ["192.168.1.192-192.168.1.223"]}})
    ]


def test_metallb_range_forms():
    assert metallb_range("192.168.1.200-192.168.1.220") == "192.168.1.200-192.168.1.220"
    assert metallb_range("192.168.1.240/28") == "192.168.1.240-192.168.1.255"
    with pytest.raises(InstallError, match="metallbRange"):
        metallb_range("nonsense")


@pytest.mark.parametrize(
    "component, fullname, cls, controller, address, default",
    [
        ("ingress", "ingress-nginx", "nginx", "k8s.io/ingress-nginx", "192.168.1.200", True),
        ("ingress-kn", "ingress-nginx-kn", "nginx-kn", "k8s.io/ingress-nginx-kn", "192.168.1.201", False),
    ],
)
async def test_ingress_controllers(component, fullname, cls, controller, address, default):
    rig = make_rig()
    await rig.run(component)
    command, stdin = upgrade(rig, component)
    repo = "https://kubernetes.github.io/ingress-nginx"
    assert f"ingress-nginx --repo {repo} --version 4.14.1 --namespace {component} " in command
    values = yaml.safe_load(stdin)
    assert values["fullnameOverride"] == fullname
    c = values["controller"]
    assert c["ingressClassResource"] == {
        "name": cls,
        "enabled": True,
        "default": default,
        "controllerValue": controller,
    }
    assert c["ingressClass"] == cls and c["electionID"] == f"{fullname}-leader"
    assert c["service"] == {"type": "LoadBalancer", "annotations": {"metallb.universe.tf/loadBalancerIPs": address}}
    assert c["extraArgs"] == {"default-ssl-certificate": "ingress/thinkube-wildcard-tls"}
    assert c["config"] == {"hsts": "true", "proxy-body-size": "1024m"}
    assert f"Service {component}/{fullname}-controller answers on {address}" in rig.logs


async def test_ingress_fails_when_metallb_gives_another_address():
    rig = make_rig()
    original = rig.control.deployed

    def wrong_address(release: str, chart: str, ns: str, values: dict[str, Any]) -> None:
        original(release, chart, ns, values)
        service = rig.kube.find("Service", "ingress-nginx-controller", ns)
        service["status"]["loadBalancer"]["ingress"][0]["ip"] = "192.168.1.210"

    rig.control.deployed = wrong_address  # type: ignore[method-assign]
    with pytest.raises(InstallError, match=re.escape("MetalLB did not assign 192.168.1.200")):
        await rig.run("ingress")


async def test_cert_manager_with_crds():
    rig = make_rig(components={"cert-manager": {"dns01RecursiveNameservers": ("1.1.1.1:53", "9.9.9.9:53")}})
    await rig.run("cert-manager")
    command, stdin = upgrade(rig, "cert-manager")
    assert "cert-manager --repo https://charts.jetstack.io --version v1.19.4 --namespace cert-manager" in command
    values = yaml.safe_load(stdin)
    assert values["crds"] == {"enabled": True, "keep": True} and "installCRDs" not in values
    assert values["dns01RecursiveNameservers"] == "1.1.1.1:53,9.9.9.9:53" and values["dns01RecursiveNameserversOnly"]
    assert rig.logs[-1].startswith("cert-manager is running")


async def test_gpu_operator_for_microk8s_with_time_slicing():
    rig = make_rig(gpu_nodes={"tk-gpu": 2})
    await rig.run("gpu-operator")
    command, stdin = upgrade(rig, "gpu-operator")
    assert "--version v25.10.1 --namespace gpu-operator" in command and "--timeout 15m" in command
    values = yaml.safe_load(stdin)
    assert values["driver"] == {"enabled": False}  # discovery found the host's driver
    assert {e["name"]: e["value"] for e in values["toolkit"]["env"]} == {
        "CONTAINERD_CONFIG": "/var/snap/microk8s/current/args/containerd-template.toml",
        "CONTAINERD_SOCKET": "/var/snap/microk8s/common/run/containerd.sock",
        "CONTAINERD_RUNTIME_CLASS": "nvidia",
        "CONTAINERD_SET_AS_DEFAULT": "1",
    }
    assert values["devicePlugin"] == {"config": {"name": "time-slicing-config", "default": "any"}}
    sharing = yaml.safe_load(rig.kube.find("ConfigMap", "time-slicing-config", "gpu-operator")["data"]["any"])
    assert sharing["sharing"]["timeSlicing"]["resources"] == [{"name": "nvidia.com/gpu", "replicas": 4}]
    assert "tk-gpu: allocatable nvidia.com/gpu=8" in rig.logs


async def test_gpu_operator_refuses_what_cannot_work():
    rig = make_rig(gpu_nodes={}, components={"gpu-operator": {"enabled": True}})
    with pytest.raises(InstallError, match="found no NVIDIA GPU"):
        await rig.run("gpu-operator")
    rig = make_rig(driver=None)
    with pytest.raises(InstallError, match="no working NVIDIA driver on tk-gpu"):
        await rig.run("gpu-operator")
    rig = make_rig(driver=None, components={"gpu-operator": {"driver": "operator", "driverVersion": "570.172.08"}})
    await rig.run("gpu-operator")
    assert rig.helm_values("gpu-operator")["driver"] == {"enabled": True, "version": "570.172.08"}


async def test_gpu_operator_waits_for_allocatable_gpus():
    rig = make_rig()
    rig.control.gpu_nodes = {}  # the device plugin never reports the GPU
    with pytest.raises(InstallError, match=re.escape("node tk-gpu advertising nvidia.com/gpu")):
        await rig.run("gpu-operator")


async def test_ssl_certificates_self_signed_ca_and_wildcard():
    rig = make_rig()
    await rig.run("ssl-certificates")
    kinds = [(o["kind"], o["metadata"]["name"]) for o in rig.kube.applied_objects()]
    assert kinds == [
        ("ClusterIssuer", "thinkube-selfsigned"),
        ("Certificate", "thinkube-ca"),
        ("ClusterIssuer", "thinkube-ca"),
        ("Namespace", "ingress"),
        ("Certificate", "thinkube-wildcard"),
    ]
    ca = rig.kube.find("Certificate", "thinkube-ca", "cert-manager")
    assert ca["spec"]["isCA"] is True and ca["spec"]["issuerRef"]["name"] == "thinkube-selfsigned"
    assert rig.kube.find("ClusterIssuer", "thinkube-ca")["spec"] == {"ca": {"secretName": "thinkube-ca"}}
    wildcard = rig.kube.find("Certificate", "thinkube-wildcard", "ingress")["spec"]
    assert wildcard["dnsNames"] == ["*.thinkube.lan", "thinkube.lan"]
    assert wildcard["secretName"] == "thinkube-wildcard-tls" and wildcard["issuerRef"]["name"] == "thinkube-ca"
    assert wildcard["renewBefore"] == "720h"


async def test_ssl_certificates_letsencrypt_dns01_keeps_the_token_secret():
    token = "cf-token-0123456789"
    rig = make_rig(
        cluster={"certificates": "letsencrypt"},
        environ={"CF_TOKEN": token},
        components={"ssl-certificates": {"dns01": {"provider": "cloudflare", "apiToken": _ref("CF_TOKEN")}}},
    )
    await rig.run("ssl-certificates")
    secret = rig.kube.find("Secret", "thinkube-dns01-credentials", "cert-manager")
    assert base64.b64decode(secret["data"]["api-token"]).decode() == token
    issuer = rig.kube.find("ClusterIssuer", "letsencrypt")["spec"]["acme"]
    assert issuer["server"] == "https://acme-v02.api.letsencrypt.org/directory"
    assert issuer["email"] == "admin@thinkube.lan"
    assert issuer["solvers"] == [
        {
            "dns01": {"cloudflare": {"apiTokenSecretRef": {"name": "thinkube-dns01-credentials", "key": "api-token"}}},
            "selector": {"dnsZones": ["thinkube.lan"]},
        }
    ]
    assert rig.kube.find("Certificate", "thinkube-wildcard", "ingress")["spec"]["issuerRef"]["name"] == "letsencrypt"
    everything = "\n".join(rig.logs + [c for c, _ in rig.control.commands])
    assert token not in everything and base64.b64encode(token.encode()).decode() not in everything


async def test_ssl_certificates_staging_http01():
    rig = make_rig(
        cluster={"certificates": "letsencrypt-staging"},
        components={"ssl-certificates": {"challenge": "http01", "wildcard": False}},
    )
    await rig.run("ssl-certificates")
    issuer = rig.kube.find("ClusterIssuer", "letsencrypt-staging")["spec"]["acme"]
    assert issuer["server"] == "https://acme-staging-v02.api.letsencrypt.org/directory"
    assert issuer["solvers"] == [{"http01": {"ingress": {"ingressClassName": "nginx"}}}]
    assert rig.kube.find("Certificate", "thinkube-wildcard", "ingress") is None


async def test_ssl_certificates_refuses_a_wildcard_over_http01_and_missing_secrets():
    rig = make_rig(cluster={"certificates": "letsencrypt"}, components={"ssl-certificates": {"challenge": "http01"}})
    with pytest.raises(InstallError, match="DNS-01"):
        await rig.run("ssl-certificates")
    assert rig.kube.applied == []
    rig = make_rig(
        cluster={"certificates": "letsencrypt"},
        components={"ssl-certificates": {"dns01": {"provider": "cloudflare", "apiToken": _ref("CF_TOKEN")}}},
    )
    with pytest.raises(InstallError, match="CF_TOKEN is not set"):
        await rig.run("ssl-certificates")


def _ref(env: str) -> Any:
    from thinkube_tui.spec import SecretRef

    return SecretRef(env=env)


# ---------------------------------------------------------------- a second run changes nothing


async def test_second_run_changes_nothing():
    rig = make_rig(
        cluster={"certificates": "letsencrypt"},
        environ={"CF_TOKEN": "cf-token-0123456789"},
        components={"ssl-certificates": {"dns01": {"provider": "cloudflare", "apiToken": _ref("CF_TOKEN")}}},
    )
    for component in MINE:
        await rig.run(component)
    first = rig.mark()
    assert first[0] > 0 and first[1] > 0
    for component in MINE:
        await rig.run(component)
    assert rig.changes_since(first) == []
    assert any("is already deployed as wanted" in line for line in rig.logs)
    assert "the dns addon's Deployment is already gone" in rig.logs


def test_contains_reads_like_the_api_server():
    live = {"metadata": {"name": "x", "uid": "1", "labels": {"a": "1"}}, "spec": {"list": [{"a": 1, "b": 2}]}}
    assert contains(live, {"metadata": {"name": "x"}, "spec": {"list": [{"a": 1}]}})
    assert not contains(live, {"spec": {"list": [{"a": 1}, {"a": 2}]}})
    assert not contains(live, {"metadata": {"labels": {"a": "2"}}})
    assert not contains(None, {"a": 1})
    assert isinstance(Facts(node="n"), Facts)
