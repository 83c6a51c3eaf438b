"""`microk8s` on a simulated node: status, enable/disable, add-node, join, config, version,
and small subsets of `kubectl` and `helm3`.

Behaviour follows the MicroK8s documentation -- https://microk8s.io/docs/command-reference
and https://microk8s.io/docs/clustering -- and its sources (scripts/wrappers/add_token.py for
the add-node YAML): joining needs a token registered with `add-node` on the control node; the
control node's cluster agent (`agent.py`: single-use and TTL tokens, what it serialises) answers
the join request, then the worker does its own part side by side with others; a worker joined with
`--worker` says "acting as a node in a cluster" to `status` and refuses `enable` and
`add-node`. The control node's Kubernetes API is the lab's emulator (`kubeapi.py`): install
makes the control node a Node there; a join adds the worker as a NotReady Node that turns
Ready after a simulated delay; `helm3 upgrade --install` creates the release's workloads there
so readiness waits are real.

Only root (sudo) or members of the `microk8s` group (as of their login) may run it.
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import json
import re
import time
from datetime import UTC, datetime
from typing import Any

import yaml

from .. import charts
from ..agent import token_key
from ..charts import crd_object
from ..nodestate import DURATIONS, MicroK8sState
from ..shell import Ctx
from ..snapdata import apiserver_problem
from .microk8s_inspect import inspect
from .microk8s_leave import leave, remove_node
from .microk8s_reset import reset
from .table import program

CLUSTER_AGENT_PORT = 25000


def _installed(node) -> bool:
    return node.microk8s.installed


# ---------------------------------------------------------------------------- addons

#: name -> (description, version shown by status)
ADDONS: dict[str, str] = {
    "cert-manager": "Cloud native certificate management",
    "cis-hardening": "Apply CIS K8s hardening",
    "community": "The community addons repository",
    "dashboard": "The Kubernetes dashboard",
    "dns": "CoreDNS",
    "gpu": "Alias to nvidia add-on",
    "ha-cluster": "Configure high availability on the current node",
    "helm": "Helm - the package manager for Kubernetes",
    "helm3": "Helm 3 - the package manager for Kubernetes",
    "host-access": "Allow Pods connecting to Host services smoothly",
    "hostpath-storage": "Storage class; allocates storage from host directory",
    "ingress": "Ingress controller for external access",
    "kube-ovn": "An advanced network fabric for Kubernetes",
    "mayastor": "OpenEBS MayaStor",
    "metallb": "Loadbalancer for your Kubernetes cluster",
    "metrics-server": "K8s Metrics Server for API access to service metrics",
    "minio": "MinIO object storage",
    "nvidia": "NVIDIA hardware (GPU and network) support",
    "observability": "A lightweight observability stack for logs, traces and metrics",
    "prometheus": "Prometheus operator for monitoring and logging",
    "rbac": "Role-Based Access Control for authorisation",
    "registry": "Private image registry exposed on localhost:32000",
    "rook-ceph": "Distributed Ceph storage using Rook",
    "storage": "Alias to hostpath-storage add-on, deprecated",
}
DEFAULT_ADDONS = ["dns", "ha-cluster", "helm", "helm3"]
ALIASES = {"storage": "hostpath-storage", "gpu": "nvidia"}


def _deployment(
    name: str, ns: str, image: str, labels: dict[str, str] | None = None, replicas: int = 1, kind: str = "Deployment"
) -> dict[str, Any]:
    sel = {"app.kubernetes.io/name": name}
    spec: dict[str, Any] = {
        "selector": {"matchLabels": sel},
        "template": {"metadata": {"labels": sel}, "spec": {"containers": [{"name": name, "image": image}]}},
    }
    if kind == "Deployment":
        spec["replicas"] = replicas
    if kind == "StatefulSet":
        spec.update(replicas=replicas, serviceName=name)
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": ns, "labels": {**sel, **(labels or {})}},
        "spec": spec,
    }


def _namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def _coredns_addon() -> list[dict[str, Any]]:
    """The dns addon (canonical/microk8s-core-addons addons/dns/coredns.yaml): Deployment `coredns`
    whose pods carry k8s-app=kube-dns, and the Service kube-dns on 10.152.183.10 (--cluster-dns)."""
    sel = {"k8s-app": "kube-dns"}
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "coredns",
            "namespace": "kube-system",
            "labels": {"k8s-app": "kube-dns", "addonmanager.kubernetes.io/mode": "Reconcile"},
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": sel},
            "template": {
                "metadata": {"labels": sel},
                "spec": {"containers": [{"name": "coredns", "image": "coredns/coredns:1.12.0"}]},
            },
        },
    }
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kube-dns",
            "namespace": "kube-system",
            "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"},
        },
        "spec": {
            "selector": dict(sel),
            "clusterIP": "10.152.183.10",
            "clusterIPs": ["10.152.183.10"],
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP"},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                {"name": "metrics", "port": 9153, "protocol": "TCP"},
            ],
        },
    }
    return [dep, svc]


def _metallb_addon(ranges: str | None) -> list[dict[str, Any]]:
    """The metallb addon (addons/metallb/enable): MetalLB's CRDs, controller and speaker, and the
    IPAddressPool default-addresspool holding the ranges given to `enable metallb:RANGES`."""

    objs: list[dict[str, Any]] = [
        crd_object(
            {"group": "metallb.io", "version": v, "kind": k, "plural": p, "scope": "Namespaced"},
            source="microk8s metallb addon",
        )
        for k, p, v in (
            ("IPAddressPool", "ipaddresspools", "v1beta1"),
            ("L2Advertisement", "l2advertisements", "v1beta1"),
            ("BGPAdvertisement", "bgpadvertisements", "v1beta1"),
            ("BGPPeer", "bgppeers", "v1beta2"),
            ("BFDProfile", "bfdprofiles", "v1beta1"),
            ("Community", "communities", "v1beta1"),
        )
    ]
    objs += [
        _namespace("metallb-system"),
        _deployment("controller", "metallb-system", "quay.io/metallb/controller:v0.14.9"),
        _deployment("speaker", "metallb-system", "quay.io/metallb/speaker:v0.14.9", kind="DaemonSet"),
    ]
    if ranges:
        objs.append(
            {
                "apiVersion": "metallb.io/v1beta1",
                "kind": "IPAddressPool",
                "metadata": {"name": "default-addresspool", "namespace": "metallb-system"},
                "spec": {"addresses": [r.strip() for r in ranges.split(",") if r.strip()]},
            }
        )
    return objs


#: The Kubernetes objects enabling an addon creates in the emulator (a small, honest subset).
ADDON_OBJECTS: dict[str, list[dict[str, Any]]] = {
    "dns": _coredns_addon(),
    "hostpath-storage": [
        _deployment("hostpath-provisioner", "kube-system", "cdkbot/hostpath-provisioner:1.5.0"),
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": "microk8s-hostpath",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": "microk8s.io/hostpath",
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer",
        },
    ],
    "ingress": [
        _namespace("ingress"),
        _deployment(
            "nginx-ingress-microk8s-controller",
            "ingress",
            "registry.k8s.io/ingress-nginx/controller:v1.12.1",
            kind="DaemonSet",
        ),
    ],
    "cert-manager": [
        _namespace("cert-manager"),
        _deployment("cert-manager", "cert-manager", "quay.io/jetstack/cert-manager-controller:v1.17.1"),
        _deployment("cert-manager-webhook", "cert-manager", "quay.io/jetstack/cert-manager-webhook:v1.17.1"),
        _deployment("cert-manager-cainjector", "cert-manager", "quay.io/jetstack/cert-manager-cainjector:v1.17.1"),
    ],
    "metrics-server": [
        _deployment("metrics-server", "kube-system", "registry.k8s.io/metrics-server/metrics-server:v0.7.2")
    ],
    "registry": [_namespace("container-registry"), _deployment("registry", "container-registry", "registry:2.8.1")],
    "dashboard": [_deployment("kubernetes-dashboard", "kube-system", "kubernetesui/dashboard:v2.7.0")],
}


def addon_objects(node, addon: str) -> list[dict[str, Any]]:
    if addon == "metallb":
        return _metallb_addon(node.microk8s.metallb_range)
    return ADDON_OBJECTS.get(addon, [])


# ---------------------------------------------------------------------------- lifecycle hooks (snap.py)


async def installed(ctx: Ctx, channel: str, version: str, rev: str) -> None:
    """`snap install microk8s` finished: the node runs a one-node cluster of its own."""
    node = ctx.node
    m = node.microk8s
    m.channel, m.version, m.revision = channel, version, rev
    m.addons = list(DEFAULT_ADDONS)
    m.running = True
    node.group_members.setdefault("microk8s", [])
    lab = node.lab
    if lab is not None and lab.control_name == node.name:
        m.role = "control"
        register_node(node, ready=False)
        lab.later(node.speed * _d("node-ready"), lambda: register_node(node, ready=True))
        for addon in DEFAULT_ADDONS:
            _apply_addon(node, addon)
    node.refresh()
    node.changed()


def refreshed(ctx: Ctx, channel: str, version: str, rev: str) -> None:
    """`snap refresh microk8s` finished: the node runs the new version, its Node says so."""
    node, m = ctx.node, ctx.node.microk8s
    m.channel, m.version, m.revision = channel, version, rev
    node.counters["snap-refresh:microk8s"] += 1
    lab = node.lab
    if lab is not None:
        current = lab.kube.get("v1", "Node", node.name)
        cordoned = bool(current and (current.get("spec") or {}).get("unschedulable"))
        lab.refreshed.append((node.name, channel, cordoned))
        if current is not None:
            updated = copy.deepcopy(current)
            updated["status"]["nodeInfo"].update(kubeletVersion=version, kubeProxyVersion=version)
            lab.kube.put(updated, manager="kubelet", schema=False)
        lab.changed()
    node.refresh()
    node.changed()


def removed(ctx: Ctx) -> None:
    node = ctx.node
    node.microk8s = MicroK8sState()
    node.group_members.pop("microk8s", None)
    node.kubelite_epoch += 1
    # `snap remove` deletes the snap's data ($SNAP_DATA, $SNAP_COMMON) with it.
    import shutil

    shutil.rmtree(node.root_dir / "var/snap/microk8s", ignore_errors=True)
    node.deleted.difference_update({p for p in node.deleted if p.startswith("/var/snap/microk8s/")})
    if node.lab is not None:
        node.lab.kube.delete_node(node.name)
    node.refresh()
    node.changed()


# ---------------------------------------------------------------------------- services (snap restart)

#: The snap's services (`snap services microk8s` on a 1.33 node).
SERVICES = (
    "daemon-apiserver-kicker",
    "daemon-apiserver-proxy",
    "daemon-cluster-agent",
    "daemon-containerd",
    "daemon-etcd",
    "daemon-flanneld",
    "daemon-k8s-dqlite",
    "daemon-kubelite",
)


def service_active(node, service: str) -> bool:
    """Whether a service runs: a worker runs the API server proxy, a control node dqlite."""
    m = node.microk8s
    if service in ("daemon-etcd", "daemon-flanneld"):
        return False
    if service == "daemon-apiserver-proxy":
        return m.role == "worker"
    if service in ("daemon-k8s-dqlite", "daemon-apiserver-kicker"):
        return m.role != "worker"
    if service == "daemon-kubelite":
        return m.running
    return True


async def kubelite_stop(ctx: Ctx) -> None:
    """kubelite stops: on the control node the API server goes away (connections refused)."""
    node = ctx.node
    node.kubelite_epoch += 1
    node.microk8s.running = False
    node.counters["kubelite-stop"] += 1
    node.changed()
    lab = node.lab
    if lab is not None and node.microk8s.role == "control":
        await lab.kube.pause(refuse=lab.apiserver_restart == "refuse")


async def kubelite_start(ctx: Ctx) -> None:
    """kubelite starts: systemd returns at once; the API server answers after a simulated
    delay (DURATIONS["kubelite-start"]) -- unless its args file is wrong, then it stays down
    (as kubelite crash-loops on a real node; the lab logs why)."""
    node = ctx.node
    epoch = node.kubelite_epoch = node.kubelite_epoch + 1
    node.counters["kubelite-start"] += 1

    async def come_up() -> None:
        await node.sleep("kubelite-start")
        if node.kubelite_epoch != epoch or not node.microk8s.installed:
            return
        lab = node.lab
        problem = await apiserver_problem(node) if node.microk8s.role == "control" else None
        if problem is not None:
            msg = f"thinkube-lab: {node.name}: kube-apiserver does not start (kubelite exits): {problem}"
            node.kubelite_failure = msg
            if lab is not None:
                lab.log(msg)
            return
        node.kubelite_failure = None
        if lab is not None and node.microk8s.role == "control":
            await lab.kube.resume()
        node.microk8s.running = True
        node.changed()

    if node.lab is not None:
        node.lab.spawn(come_up())
    else:
        await come_up()


def _d(what: str) -> float:
    return DURATIONS.get(what, 0.0)


def register_node(node, *, ready: bool) -> None:
    lab = node.lab
    if lab is None or not node.microk8s.installed:
        return
    p = node.profile
    labels = {
        "microk8s.io/cluster": "true",
        "node.kubernetes.io/microk8s-" + ("controlplane" if node.microk8s.role == "control" else "worker"): "microk8s-"
        + ("controlplane" if node.microk8s.role == "control" else "worker"),
    }
    lab.kube.set_node(
        node.name,
        ready=ready,
        labels=labels,
        address=node.address,
        cpu=str(p.cores),
        memory=f"{int(p.memory_bytes / 1024 * 0.985)}Ki",
        gpus=0,
        os_image="Ubuntu 24.04.2 LTS",
    )


def _apply_addon(node, addon: str) -> None:
    lab = node.lab
    if lab is None:
        return
    for obj in addon_objects(node, addon):
        try:
            if obj["kind"] != "Namespace" and "namespace" in obj["metadata"]:
                ns = obj["metadata"]["namespace"]
                if lab.kube.get("v1", "Namespace", ns) is None:
                    lab.kube.put(_namespace(ns), manager="microk8s")
            if (
                lab.kube.get(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace"))
                is None
            ):
                lab.kube.put(obj, manager="microk8s")
        except Exception as exc:
            lab.log(
                f"thinkube-lab: addon {addon}: the Kube API emulator refused {obj['kind']} "
                f"{obj['metadata']['name']}: {exc}"
            )


# ---------------------------------------------------------------------------- entry point


def _no_permission(ctx: Ctx) -> int:
    ctx.err("Insufficient permissions to access MicroK8s.")
    ctx.err(f"You can either try again with sudo or add the user {ctx.user} to the 'microk8s' group:")
    ctx.err("")
    ctx.err(f"    sudo usermod -a -G microk8s {ctx.user}")
    ctx.err(f"    sudo chown -R {ctx.user} ~/.kube")
    ctx.err("")
    ctx.err("After this, reload the user groups either via a reboot or by running 'newgrp microk8s'.")
    return 1


def _cluster_node_message(ctx: Ctx, what: str = "") -> None:
    ctx.out(
        "This MicroK8s deployment is acting as a node in a cluster. Please use the master node.\n"
        if not what
        else f"This MicroK8s deployment is acting as a node in a cluster. {what}\n"
    )


async def microk8s(ctx: Ctx, argv: list[str]) -> int:
    name = argv[0].rsplit("/", 1)[-1]
    args = argv[1:]
    if name.startswith("microk8s.") and name != "microk8s":
        args = [name.split(".", 1)[1], *args]
    if not args:
        ctx.out(
            "Usage: microk8s [OPTIONS] COMMAND [ARGS]...\n\nAvailable subcommands are:\n"
            "\tadd-node\n\tconfig\n\tdisable\n\tenable\n\thelm3\n\tinspect\n\tjoin\n\tkubectl\n\tstatus\n\tversion\n"
        )
        return 0
    sub, rest = args[0], args[1:]
    if sub == "version":
        m = ctx.node.microk8s
        ctx.out(f"MicroK8s {m.version} revision {m.revision}\n")
        return 0
    if not (ctx.is_root or "microk8s" in ctx.groups):
        return _no_permission(ctx)
    handler = SUBCOMMANDS.get(sub)
    if handler is None:
        ctx.err(f"'{sub}' is not a valid MicroK8s subcommand (or not simulated by the thinkube lab).")
        ctx.err("Available subcommands are: " + ", ".join(sorted(SUBCOMMANDS)))
        return 1
    return await handler(ctx, rest)


for _path in (
    "/snap/bin/microk8s",
    "/snap/bin/microk8s.kubectl",
    "/snap/bin/microk8s.helm3",
    "/snap/bin/microk8s.status",
    "/snap/bin/microk8s.enable",
    "/snap/bin/microk8s.config",
    "/snap/bin/microk8s.add-node",
    "/snap/bin/microk8s.join",
    "/snap/bin/microk8s.inspect",
):
    program(_path, available=_installed)(microk8s)


# ---------------------------------------------------------------------------- status


async def _status(ctx: Ctx, args: list[str]) -> int:
    node, m = ctx.node, ctx.node.microk8s
    wait = False
    timeout: float | None = None
    fmt = "pretty"
    addon: str | None = None
    it = iter(args)
    for a in it:
        if a == "--wait-ready":
            wait = True
        elif a in ("--timeout", "-t"):
            timeout = float(next(it, "0"))
        elif a.startswith("--timeout="):
            timeout = float(a.split("=", 1)[1])
        elif a == "--format":
            fmt = next(it, "pretty")
        elif a.startswith("--format="):
            fmt = a.split("=", 1)[1]
        elif a in ("-a", "--addon"):
            addon = next(it, "")
        elif a == "--yaml":
            fmt = "yaml"
        else:
            ctx.err(f"Usage: microk8s status [OPTIONS]\nError: no such option: {a}")
            return 2
    if m.role == "worker":
        _cluster_node_message(ctx)
        return 0
    if wait:
        start = time.monotonic()
        await ctx.sleep("wait-ready")
        while not m.running:
            if timeout is not None and time.monotonic() - start >= timeout:
                break
            await asyncio.sleep(0.05)
    if not m.running:
        ctx.out("microk8s is not running. Use microk8s inspect for a deeper inspection.\n")
        return 1
    if addon is not None:
        ctx.out(("enabled" if ALIASES.get(addon, addon) in m.addons else "disabled") + "\n")
        return 0
    voters = [f"{node.address}:19001"]
    if fmt == "yaml":
        doc = {
            "microk8s": {"running": True},
            "high-availability": {"enabled": False, "nodes": [{"address": v, "role": "voter"} for v in voters]},
            "addons": [
                {
                    "name": a,
                    "repository": "core",
                    "description": ADDONS[a],
                    "version": m.version,
                    "status": "enabled" if a in m.addons else "disabled",
                }
                for a in sorted(ADDONS)
                if a != "community"
            ],
        }
        ctx.out(yaml.safe_dump(doc, sort_keys=False))
        return 0
    if fmt == "short":
        for a in sorted(ADDONS):
            ctx.out(f"core/{a}: {'enabled' if a in m.addons else 'disabled'}\n")
        return 0
    lines = [
        "microk8s is running",
        "high-availability: no",
        f"  datastore master nodes: {' '.join(voters)}",
        "  datastore standby nodes: none",
        "addons:",
        "  enabled:",
    ]
    lines += [f"    {a:<20} # (core) {ADDONS[a]}" for a in sorted(m.addons)]
    lines.append("  disabled:")
    lines += [f"    {a:<20} # (core) {ADDONS[a]}" for a in sorted(ADDONS) if a not in m.addons and a != "community"]
    ctx.out("\n".join(lines) + "\n")
    return 0


# ---------------------------------------------------------------------------- enable / disable


_RANGE = re.compile(r"^(\d+\.\d+\.\d+\.\d+)-(\d+\.\d+\.\d+\.\d+)$")


def _valid_ranges(text: str) -> bool:
    for part in text.split(","):
        part = part.strip()
        m = _RANGE.match(part)
        try:
            if m:
                if ipaddress.ip_address(m.group(1)) > ipaddress.ip_address(m.group(2)):
                    return False
            else:
                ipaddress.ip_network(part, strict=False)
        except ValueError:
            return False
    return bool(text.strip())


async def _enable(ctx: Ctx, args: list[str]) -> int:
    node, m = ctx.node, ctx.node.microk8s
    if m.role == "worker":
        _cluster_node_message(ctx)
        return 1
    if not args:
        ctx.err("Usage: microk8s enable [OPTIONS] ADDONS...")
        return 2
    for spec in args:
        name, _, arg = spec.partition(":")
        name = ALIASES.get(name, name)
        if name not in ADDONS or name == "community":
            ctx.out(f"Addon {name} was not found in any repository\n")
            return 1
        if name in m.addons:
            ctx.out(f"Addon core/{name} is already enabled\n")
            continue
        ctx.out(f"Infer repository core for addon {name}\n")
        if name == "metallb":
            if not arg:
                ctx.out(
                    "Enter each IP address range delimited by comma (e.g. '10.64.140.43-10.64.140.49,"
                    "192.168.0.105-192.168.0.111'): "
                )
                arg = (await ctx.stdin.readline()).strip()
                if not arg:
                    ctx.out("\nAborted!\n")
                    return 1
            if not _valid_ranges(arg):
                ctx.out(f"Your input value ({arg}) is not a valid IP Range\n")
                return 1
            m.metallb_range = arg
        await ctx.stdout.drain()
        ctx.out(f"Enabling {name}\n")
        await ctx.sleep("enable")
        m.addons.append(name)
        node.counters[f"addon-enable:{name}"] += 1
        _apply_addon(node, name)
        node.changed()
        ctx.out(f"Addon {name} is enabled\n" if name != "dns" else "DNS is enabled\n")
    return 0


async def _disable(ctx: Ctx, args: list[str]) -> int:
    node, m = ctx.node, ctx.node.microk8s
    if m.role == "worker":
        _cluster_node_message(ctx)
        return 1
    for spec in args:
        name = ALIASES.get(spec.split(":")[0], spec.split(":")[0])
        if name not in m.addons:
            ctx.out(f"Addon core/{name} is already disabled\n")
            continue
        await ctx.sleep("disable")
        m.addons.remove(name)
        node.counters[f"addon-disable:{name}"] += 1
        node.changed()
        ctx.out(f"Addon {name} is disabled\n")
    return 0


# ---------------------------------------------------------------------------- clustering


def _check_hash(lab) -> str:
    return lab.cluster_check


async def _add_node(ctx: Ctx, args: list[str]) -> int:
    node, m, lab = ctx.node, ctx.node.microk8s, ctx.node.lab
    if m.role == "worker":
        ctx.out(
            "This MicroK8s deployment is acting as a node in a cluster. "
            "Please use the microk8s add-node on the master.\n"
        )
        return 1
    if not ctx.is_root:
        ctx.err("Elevated permissions are needed for this operation. Please run this command with sudo.")
        return 1
    ttl, token, fmt = -1, None, "pretty"
    it = iter(args)
    for a in it:
        if a in ("--token-ttl", "-l"):
            ttl = int(next(it, "-1"))
        elif a.startswith("--token-ttl="):
            ttl = int(a.split("=", 1)[1])
        elif a in ("--token", "-t"):
            token = next(it, "")
        elif a.startswith("--token="):
            token = a.split("=", 1)[1]
        elif a == "--format":
            fmt = next(it, "pretty")
        elif a.startswith("--format="):
            fmt = a.split("=", 1)[1]
        else:
            ctx.err(
                f"usage: microk8s add-node [-h] [--token-ttl TOKEN_TTL] [--token TOKEN] [--format ...]\n"
                f"microk8s add-node: error: unrecognized arguments: {a}"
            )
            return 2
    if lab is None:
        ctx.err("thinkube-lab: this node is not part of a lab cluster")
        return 1
    import secrets

    token = token if token is not None else secrets.token_hex(16)
    if len(token) < 32:
        ctx.out("Invalid token size.  It must be 32 characters long.\n")
        return 1
    await ctx.sleep("add-node")
    lab.tokens[token_key(token)] = None if ttl == -1 else time.time() + ttl
    node.counters["add-node"] += 1
    lab.changed()
    check = _check_hash(lab)
    url = f"{node.address}:{CLUSTER_AGENT_PORT}/{token}/{check}"
    if fmt == "yaml":
        ctx.out(yaml.dump({"token": f"{token}/{check}", "urls": [url]}, indent=2) + "\n")
    elif fmt == "json":
        ctx.out(json.dumps({"token": f"{token}/{check}", "urls": [url]}, indent=2) + "\n")
    elif fmt == "short":
        ctx.out(f"microk8s join {url}\n")
    elif fmt == "token":
        ctx.out(token + "\n")
    elif fmt == "token-check":
        ctx.out(f"{token}/{check}\n")
    else:
        ctx.out(
            "From the node you wish to join to this cluster, run the following:\n"
            f"microk8s join {url}\n\n"
            "Use the '--worker' flag to join a node as a worker not running the control plane, eg:\n"
            f"microk8s join {url} --worker\n\n"
            "If the node you are adding is not reachable through the default interface you can use one of "
            f"the following:\nmicrok8s join {url}\n"
        )
    return 0


async def _join(ctx: Ctx, args: list[str]) -> int:
    node, m, lab = ctx.node, ctx.node.microk8s, ctx.node.lab
    worker = "--worker" in args
    skip_verify = "--skip-verify" in args
    rest = [a for a in args if a not in ("--worker", "--skip-verify")]
    if not ctx.is_root:
        ctx.err("Elevated permissions are needed for this operation. Please run this command with sudo.")
        return 1
    if len(rest) != 1:
        ctx.err("Usage: microk8s join [OPTIONS] CONNECTION_STRING")
        return 2
    if not worker:
        ctx.err("thinkube-lab: joining as a control-plane (dqlite voter) node is not simulated; use --worker")
        return 1
    # No "already joined" refusal: join.py has none, and a worker joined again gets new
    # certificates and rejoins (what a second join does after a resume raced a cut-off one).
    m_ = re.fullmatch(r"([^:/]+):(\d+)/([0-9A-Za-z]+)(?:/([0-9a-f]+))?", rest[0])
    if not m_:
        ctx.out(f"Invalid connection string {rest[0]}\n")
        return 1
    host, port, token, check = m_.groups()
    verified = check is not None and not skip_verify
    ctx.out(f"Contacting cluster at {host}\n")
    await ctx.stdout.drain()
    control = lab.node_by_address(host) if lab is not None else None
    if control is None or int(port) != CLUSTER_AGENT_PORT or not control.microk8s.running:
        await ctx.sleep("join")
        ctx.out(f"Connection failed. Failed to connect to {host}:{port} (simulated: nothing listens there).\n")
        return 1
    # join.py checks the fingerprint on the TLS connection before it sends the request: a
    # mismatch leaves the token unused.
    if verified and check != _check_hash(lab):
        ctx.out(
            f"Joining cluster failed. Could not verify the identity of {host}. "
            "Use '--skip-verify' to skip server certificate check.\n"
        )
        return 4
    async with lab.agent.join_in_flight(node.name):
        refusal = None
        if not node.lab_resolvable(control):
            refusal = (
                f"Connection failed. The hostname ({node.name}) of the joining node does not resolve to the IP "
                f'"{node.address}". Refusing join (400).'
            )
        answer = await lab.agent.join(node.name, token, refusal)  # see agent.py: what it serialises
        lab.changed()
        if answer is not None:
            ctx.out(answer + "\n")
            return 6  # join.py's exit status for an error answer from the agent
        await ctx.sleep("join")  # on the worker: certificates signed, services restarted
    m.role, m.joined_to = "worker", host
    m.addons = []
    node.counters["join"] += 1
    # MicroK8s' join.py verifies the control node's certificate only when the string carries
    # its fingerprint (and not with --skip-verify), and silently goes on otherwise: the lab says so.
    node.counters["join-verified" if verified else "join-unverified"] += 1
    if not verified:
        ctx.err(
            "thinkube-lab: warning: joined without the certificate fingerprint "
            "(<ip>:25000/<token>/<check>): MicroK8s did not verify the control node\n"
        )
    node.refresh()
    node.changed()
    register_node(node, ready=False)
    lab.later(node.speed * _d("node-ready"), lambda: register_node(node, ready=True))
    ctx.out(
        "The node has joined the cluster and will appear in the nodes list in a few seconds.\n\n"
        "This worker node gets automatically configured with the API server endpoints.\n"
        "If the API servers are behind a loadbalancer please set the '--refresh-interval' to '0s' in:\n"
        "    /var/snap/microk8s/current/args/apiserver-proxy\n"
        "and replace the API server endpoints with the one provided by the loadbalancer in:\n"
        "    /var/snap/microk8s/current/args/traefik/provider.yaml\n\n"
    )
    return 0


async def _config(ctx: Ctx, args: list[str]) -> int:
    node, lab = ctx.node, ctx.node.lab
    if node.microk8s.role == "worker":
        _cluster_node_message(ctx)
        return 1
    if lab is None:
        ctx.err("thinkube-lab: this node is not part of a lab cluster")
        return 1
    # As `microk8s config` on a real node: https, the CA, the admin client certificate; the server
    # is checked against the node's address (tls-server-name) while the lab serves on 127.0.0.1.
    ctx.out(yaml.safe_dump(lab.kube.kubeconfig(server_name=node.address), sort_keys=False))
    return 0


# ---------------------------------------------------------------------------- kubectl (subset)


async def _kubectl(ctx: Ctx, args: list[str]) -> int:
    lab = ctx.node.lab
    if ctx.node.microk8s.role == "worker":
        ctx.err("The connection to the server 127.0.0.1:16443 was refused - did you specify the right host or port?")
        return 1
    out_fmt = None
    rest: list[str] = []
    it = iter(args)
    for a in it:
        if a == "-o":
            out_fmt = next(it, "")
        elif a.startswith("-o"):
            out_fmt = a[2:].lstrip("=")
        elif a.startswith("--output="):
            out_fmt = a.split("=", 1)[1]
        else:
            rest.append(a)
    if lab is not None and out_fmt and out_fmt.startswith("jsonpath="):
        return _get_secret_field(ctx, lab, rest, out_fmt[len("jsonpath=") :])
    if lab is None or rest[:2] not in (["get", "nodes"], ["get", "node"], ["get", "no"]):
        ctx.err(
            f"thinkube-lab: 'microk8s kubectl {' '.join(args)}' is not simulated "
            "(only 'get nodes [-o json|wide]' and 'get secret NAME -o jsonpath={.data.KEY}'); "
            "use the Kubernetes API"
        )
        return 1
    nodes = lab.kube.list("v1", "Node")
    if len(rest) > 2:
        nodes = [n for n in nodes if n["metadata"]["name"] in rest[2:]]
        if not nodes:
            ctx.err(f'Error from server (NotFound): nodes "{rest[2]}" not found')
            return 1
    if out_fmt == "json":
        ctx.out(
            json.dumps(
                {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": nodes}, indent=4
            )
            + "\n"
        )
        return 0
    if out_fmt not in (None, "wide", "name"):
        ctx.err(f"thinkube-lab: kubectl -o {out_fmt} is not simulated")
        return 1
    if out_fmt == "name":
        for n in nodes:
            ctx.out(f"node/{n['metadata']['name']}\n")
        return 0
    rows = [["NAME", "STATUS", "ROLES", "AGE", "VERSION"]]
    for n in nodes:
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))
        rows.append(
            [
                n["metadata"]["name"],
                "Ready" if ready else "NotReady",
                "<none>",
                "1m",
                n["status"].get("nodeInfo", {}).get("kubeletVersion", ""),
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        ctx.out("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() + "\n")
    return 0


_DATA_PATH = re.compile(r"^\{\.data\.((?:[^.\\}]|\\\.)+)\}$")  # {.data.KEY}, dots in KEY escaped: \.


def _get_secret_field(ctx: Ctx, lab: Any, rest: list[str], path: str) -> int:
    """`kubectl [-n NS] get secret NAME -o jsonpath={.data.KEY}`: the key's base64 value, as the
    real kubectl prints it (no newline). The summary's credential commands rely on it."""
    namespace = "default"
    words: list[str] = []
    it = iter(rest)
    for a in it:
        if a in ("-n", "--namespace"):
            namespace = next(it, "")
        elif a.startswith("--namespace="):
            namespace = a.split("=", 1)[1]
        else:
            words.append(a)
    match = _DATA_PATH.match(path)
    if len(words) != 3 or words[:2] not in (["get", "secret"], ["get", "secrets"]) or match is None:
        ctx.err(f"thinkube-lab: kubectl {' '.join(rest)} -o jsonpath={path} is not simulated")
        return 1
    secret = lab.kube.get("v1", "Secret", words[2], namespace)
    if secret is None:
        ctx.err(f'Error from server (NotFound): secrets "{words[2]}" not found')
        return 1
    key = match.group(1).replace("\\.", ".")
    ctx.out(str((secret.get("data") or {}).get(key, "")))
    return 0


# ---------------------------------------------------------------------------- helm3 (subset)

#: A chart without a data file in lab/charts/ gets one Deployment named after the release.
DEFAULT_CHART: dict[str, Any] = {"workloads": [{"kind": "Deployment", "name": "{release}", "replicas": 1}]}
#: Kinds a release never deletes on uninstall/upgrade (Helm keeps CRDs).
KEPT_KINDS = {"CustomResourceDefinition"}


def _go_duration(text: str) -> float:
    total, found = 0.0, False
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text):
        found = True
        total += float(num) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    if not found:
        raise ValueError(text)
    return total


def _chart_name(chart: str) -> str:
    return chart.rstrip("/").rsplit("/", 1)[-1]


def _helm_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f000 +0000 UTC")


def _ready(lab, kind: str, name: str, ns: str) -> bool:
    obj = lab.kube.get("apps/v1", kind, name, ns)
    if obj is None:
        return False
    st, gen = obj.get("status") or {}, obj["metadata"].get("generation")
    if st.get("observedGeneration") != gen:
        return False
    if kind == "DaemonSet":
        return st.get("numberReady", 0) >= st.get("desiredNumberScheduled", 0)
    want = (obj.get("spec") or {}).get("replicas", 1)
    return st.get("readyReplicas", 0) >= want


def _object_ready(lab, ref: list[str]) -> bool:
    """What `helm --wait` waits for: workloads rolled out, LoadBalancer Services with an address."""
    _api_version, kind, name, ns = ref
    if kind in ("Deployment", "StatefulSet", "DaemonSet"):
        return _ready(lab, kind, name, ns)
    if kind == "Service":
        svc = lab.kube.get("v1", "Service", name, ns)
        if svc is None:
            return False
        if (svc.get("spec") or {}).get("type") == "LoadBalancer":
            return bool(((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress"))
    return True


async def _helm(ctx: Ctx, args: list[str]) -> int:
    node, lab = ctx.node, ctx.node.lab
    if lab is None or node.microk8s.role == "worker":
        ctx.err(
            'Error: Kubernetes cluster unreachable: Get "https://127.0.0.1:16443/version": '
            "dial tcp 127.0.0.1:16443: connect: connection refused"
        )
        return 1
    if "helm3" not in node.microk8s.addons:
        ctx.out("Helm 3 is not available. Please enable it with: microk8s enable helm3\n")
        return 1
    if not args:
        ctx.out("The Kubernetes package manager (simulated by the thinkube lab)\n")
        return 0
    sub, rest = args[0], args[1:]
    if sub in ("upgrade", "install"):
        return await _helm_upgrade(ctx, sub, rest)
    if sub in ("list", "ls"):
        return _helm_list(ctx, rest)
    if sub == "status":
        return _helm_status(ctx, rest)
    if sub == "get":
        return _helm_get(ctx, rest)
    if sub in ("uninstall", "delete"):
        return _helm_uninstall(ctx, rest)
    if sub == "version":
        ctx.out(
            'version.BuildInfo{Version:"v3.17.3", GitCommit:"thinkube-lab", GitTreeState:"clean", '
            'GoVersion:"go1.23.7"}\n'
        )
        return 0
    ctx.err(
        f'Error: unknown command "{sub}" for "helm" (the thinkube lab simulates upgrade --install, '
        "install, list, status, get values, uninstall, version)"
    )
    return 1


def _namespace_of(opts: dict[str, Any]) -> str:
    return opts.get("namespace") or "default"


_BOOL_FLAGS = (
    "-i",
    "--install",
    "--create-namespace",
    "--wait",
    "--atomic",
    "-A",
    "--all-namespaces",
    "--reset-values",
    "--reuse-values",
    "--wait-for-jobs",
    "--dependency-update",
    "--deployed",
    "--all",
    "-a",
    "--failed",
    "--pending",
    "--cleanup-on-fail",
    "--force",
    "--skip-crds",
    "--ignore-not-found",
)


def _parse_helm_flags(args: list[str], value_flags: set[str]) -> tuple[list[str], dict[str, Any], str | None]:
    pos: list[str] = []
    opts: dict[str, Any] = {"values": [], "set": []}
    names = {
        "-n": "namespace",
        "--namespace": "namespace",
        "-f": "values",
        "--values": "values",
        "--repo": "repo",
        "--version": "version",
        "--timeout": "timeout",
        "-o": "output",
        "--output": "output",
        "--set": "set",
        "--set-string": "set",
        "--filter": "filter",
        "--revision": "revision",
    }
    it = iter(args)
    for a in it:
        key, eq, val = a.partition("=")
        if key in names and (key in value_flags or names[key] in value_flags):
            v = val if eq else next(it, None)
            if v is None:
                return [], {}, f"Error: flag needs an argument: {key}"
            if names[key] in ("values", "set"):
                opts[names[key]].append(v)
            else:
                opts[names[key]] = v
        elif a in _BOOL_FLAGS:
            opts[a.lstrip("-")] = True
        elif a.startswith("-"):
            return [], {}, f"Error: unknown flag: {a}"
        else:
            pos.append(a)
    return pos, opts, None


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _set_value(values: dict[str, Any], path: str, value: str) -> None:
    parts = path.split(".")
    cur = values
    for p in parts[:-1]:
        cur = cur.setdefault(p, {}) if isinstance(cur.get(p), dict) or p not in cur else cur
        if not isinstance(cur, dict):
            return
    v: Any = value
    if value in ("true", "false"):
        v = value == "true"
    elif re.fullmatch(r"-?\d+", value):
        v = int(value)
    cur[parts[-1]] = v


def _ref(obj: dict[str, Any]) -> list[str]:
    return [obj["apiVersion"], obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace", "")]


async def _helm_upgrade(ctx: Ctx, sub: str, args: list[str]) -> int:
    node, lab = ctx.node, ctx.node.lab
    pos, opts, err = _parse_helm_flags(args, {"namespace", "values", "repo", "version", "timeout", "set"})
    if err:
        ctx.err(err)
        return 1
    install = sub == "install" or opts.get("install") or opts.get("i")
    if len(pos) != 2:
        ctx.err(f'Error: "helm {sub}" requires 2 arguments')
        return 1
    release, chart = pos
    ns = _namespace_of(opts)
    key = f"{ns}/{release}"
    existing = lab.releases.get(key)
    if existing is None and not install:
        ctx.err(f'Error: UPGRADE FAILED: "{release}" has no deployed releases')
        return 1
    if sub == "install" and existing is not None:
        ctx.err("Error: INSTALLATION FAILED: cannot re-use a name that is still in use")
        return 1
    values: dict[str, Any] = {}
    for source in opts["values"]:
        if source == "-":
            text = await ctx.stdin.read()
        else:
            text = await ctx.node.fs.read(source)
            if text is None:
                ctx.err(f"Error: open {source}: no such file or directory")
                return 1
        try:
            doc = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            ctx.err(f"Error: failed to parse {source}: {exc}")
            return 1
        if not isinstance(doc, dict):
            ctx.err(
                f"Error: failed to parse {source}: error unmarshaling JSON: json: cannot unmarshal into Go "
                "value of type map[string]interface {}"
            )
            return 1
        values = _deep_merge(values, doc)
    for item in opts["set"]:
        k, _, v = item.partition("=")
        _set_value(values, k, v)
    try:
        timeout = _go_duration(opts.get("timeout", "5m0s"))
    except ValueError:
        ctx.err(f'Error: invalid argument "{opts.get("timeout")}" for "--timeout" flag: time: invalid duration')
        return 1
    verb = "INSTALLATION" if existing is None else "UPGRADE"
    chart_name = _chart_name(chart)
    version = opts.get("version") or "0.0.0-lab"
    try:
        doc = charts.load(chart_name)
        offered = [str(v) for v in (doc or {}).get("versions") or []]
        if offered and version not in offered:  # the repository's index.yaml has no such entry
            ctx.err(f'Error: chart "{chart_name}" version "{version}" not found in {opts.get("repo", "")} repository')
            return 1
        source = str(charts.chart_file(chart_name) or "lab default: one Deployment named after the release")
        rendered = charts.render(
            doc if doc is not None else DEFAULT_CHART,
            release=release,
            namespace=ns,
            chart=chart_name,
            version=version,
            values=values,
            source=source,
        )
    except charts.ChartFileError as exc:
        ctx.err(f"Error: {verb} FAILED: thinkube-lab: malformed chart data file: {exc}")
        return 1
    if lab.kube.get("v1", "Namespace", ns) is None:
        if not opts.get("create-namespace"):
            ctx.err(f'Error: {verb} FAILED: create: failed to create: namespaces "{ns}" not found')
            return 1
        lab.kube.put(_namespace(ns), manager="helm")
    if existing is None:
        ctx.out(f'Release "{release}" does not exist. Installing it now.\n')
    for note in rendered.notes:
        ctx.out(note + "\n")
    await ctx.stdout.drain()
    await ctx.sleep("helm")
    revision = (existing or {}).get("revision", 0) + 1
    created: list[list[str]] = []
    for obj in sorted(rendered.objects, key=lambda o: o["kind"] != "CustomResourceDefinition"):
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            obj["spec"]["template"]["metadata"]["annotations"] = {"thinkube-lab/revision": str(revision)}
        ref = _ref(obj)
        try:
            if obj["kind"] == "CustomResourceDefinition" and lab.kube.get(*ref[:3]) is not None:
                created.append(ref)  # Helm installs CRDs once and never upgrades them
                continue
            lab.kube.put(obj, manager="helm")
        except Exception as exc:
            ctx.err(
                f"Error: {verb} FAILED: thinkube-lab: the Kube API emulator refused {obj['kind']} "
                f"{obj['metadata']['name']}: {exc}"
            )
            return 1
        created.append(ref)
    for old in (existing or {}).get("objects", []):
        if old not in created and old[1] not in KEPT_KINDS:  # no longer rendered: Helm deletes it
            lab.kube.delete(old[0], old[1], old[2], old[3] or None)
    record = {
        "name": release,
        "namespace": ns,
        "chart": chart,
        "chart_name": chart_name,
        "repo": opts.get("repo"),
        "version": version,
        "values": values,
        "revision": revision,
        "updated": _helm_time(),
        "status": "deployed",
        "objects": created,
        "workloads": [[r[1], r[2]] for r in created if r[1] in ("Deployment", "StatefulSet", "DaemonSet")],
    }
    lab.releases[key] = record
    _store_release(lab, record, existing)
    node.counters[f"helm-{'install' if existing is None else 'upgrade'}:{key}"] += 1
    lab.changed()
    if opts.get("wait") or opts.get("atomic"):
        deadline = time.monotonic() + timeout
        while not all(_object_ready(lab, r) for r in created):
            if time.monotonic() > deadline:
                record["status"] = "failed"
                lab.changed()
                waiting = [f"{r[1]} {r[3]}/{r[2]}" for r in created if not _object_ready(lab, r)]
                ctx.err(
                    f"Error: {verb} FAILED: context deadline exceeded (thinkube-lab: still waiting for "
                    f"{', '.join(waiting)})"
                )
                return 1
            await asyncio.sleep(0.05)
    if existing is not None:
        ctx.out(f'Release "{release}" has been upgraded. Happy Helming!\n')
    _print_status(ctx, record)
    return 0


def _store_release(lab: Any, record: dict[str, Any], previous: dict[str, Any] | None) -> None:
    """Keep the release, values included, in its Secret as Helm does (the lab's state file keeps
    no values); the previous revision's Secret goes (the lab keeps no release history)."""
    lab.kube.put(charts.release_secret(record), manager="helm")
    if previous is not None and previous.get("revision") != record.get("revision"):
        old = charts.release_secret_name(previous["name"], int(previous.get("revision") or 1))
        lab.kube.delete("v1", "Secret", old, previous["namespace"])


def _print_status(ctx: Ctx, r: dict[str, Any]) -> None:
    ctx.out(
        f"NAME: {r['name']}\nLAST DEPLOYED: {datetime.now(UTC).strftime('%a %b %e %H:%M:%S %Y')}\n"
        f"NAMESPACE: {r['namespace']}\nSTATUS: {r['status']}\nREVISION: {r['revision']}\nTEST SUITE: None\n"
    )


def _list_item(r: dict[str, Any]) -> dict[str, str]:
    return {
        "name": r["name"],
        "namespace": r["namespace"],
        "revision": str(r["revision"]),
        "updated": r["updated"],
        "status": r["status"],
        "chart": f"{r['chart_name']}-{r['version']}",
        "app_version": r["version"],
    }


def _helm_list(ctx: Ctx, args: list[str]) -> int:
    _pos, opts, err = _parse_helm_flags(args, {"namespace", "output", "filter"})
    if err:
        ctx.err(err)
        return 1
    lab = ctx.node.lab
    every = opts.get("A") or opts.get("all-namespaces")
    ns = _namespace_of(opts)
    try:
        pattern = re.compile(opts["filter"]) if opts.get("filter") else None
    except re.error as exc:
        ctx.err(f"Error: error parsing regexp: {exc}")
        return 1
    wanted = {s for s in ("deployed", "failed", "pending") if opts.get(s)}
    if opts.get("all") or opts.get("a"):
        wanted = set()
    items = [
        _list_item(r)
        for k, r in sorted(lab.releases.items())
        if (every or r["namespace"] == ns)
        and (pattern is None or pattern.search(r["name"]))
        and (not wanted or r["status"] in wanted)
    ]
    if opts.get("output") == "json":
        ctx.out(json.dumps(items, separators=(",", ":")) + "\n")
    elif opts.get("output") == "yaml":
        ctx.out(yaml.safe_dump(items, sort_keys=False))
    else:
        ctx.out("NAME\tNAMESPACE\tREVISION\tUPDATED\tSTATUS\tCHART\tAPP VERSION\n")
        for i in items:
            ctx.out(
                "\t".join(
                    [i["name"], i["namespace"], i["revision"], i["updated"], i["status"], i["chart"], i["app_version"]]
                )
                + "\n"
            )
    return 0


def _helm_status(ctx: Ctx, args: list[str]) -> int:
    pos, opts, err = _parse_helm_flags(args, {"namespace", "output"})
    if err or len(pos) != 1:
        ctx.err(err or 'Error: "helm status" requires 1 argument')
        return 1
    r = ctx.node.lab.releases.get(f"{_namespace_of(opts)}/{pos[0]}")
    if r is None:
        ctx.err("Error: release: not found")
        return 1
    if opts.get("output") == "json":
        ctx.out(
            json.dumps(
                {
                    "name": r["name"],
                    "namespace": r["namespace"],
                    "version": r["revision"],
                    "info": {"status": r["status"], "last_deployed": r["updated"]},
                    "chart": {"metadata": {"name": r["chart_name"], "version": r["version"]}},
                    "config": r["values"],
                }
            )
            + "\n"
        )
    else:
        _print_status(ctx, r)
    return 0


def _helm_get(ctx: Ctx, args: list[str]) -> int:
    """`helm get values RELEASE [-n NS] [-o json|yaml] [--all]` (user-supplied values)."""
    if not args or args[0] != "values":
        ctx.err(f'Error: thinkube-lab: "helm get {args[0] if args else ""}" is not simulated (only "get values")')
        return 1
    pos, opts, err = _parse_helm_flags(args[1:], {"namespace", "output", "revision"})
    if err or len(pos) != 1:
        ctx.err(err or 'Error: "helm get values" requires 1 argument')
        return 1
    r = ctx.node.lab.releases.get(f"{_namespace_of(opts)}/{pos[0]}")
    if r is None:
        ctx.err("Error: release: not found")
        return 1
    values = r.get("values") or None
    if opts.get("output") == "json":
        ctx.out(json.dumps(values, separators=(",", ":")) + "\n")
    elif opts.get("output") == "yaml":
        ctx.out(yaml.safe_dump(values, sort_keys=False) if values else "null\n")
    else:
        ctx.out("USER-SUPPLIED VALUES:\n" + (yaml.safe_dump(values, sort_keys=False) if values else "null\n"))
    return 0


def _helm_uninstall(ctx: Ctx, args: list[str]) -> int:
    pos, opts, err = _parse_helm_flags(args, {"namespace", "timeout"})
    if err or len(pos) != 1:
        ctx.err(err or 'Error: "helm uninstall" requires at least 1 argument')
        return 1
    lab, ns = ctx.node.lab, _namespace_of(opts)
    r = lab.releases.pop(f"{ns}/{pos[0]}", None)
    if r is None:
        if opts.get("ignore-not-found"):  # helm prints the line for a missing release too
            ctx.out(f'release "{pos[0]}" uninstalled\n')
            return 0
        ctx.err(f"Error: uninstall: Release not loaded: {pos[0]}: release: not found")
        return 1
    lab.kube.delete("v1", "Secret", charts.release_secret_name(r["name"], int(r.get("revision") or 1)), ns)
    refs = r.get("objects") or [["apps/v1", k, n, ns] for k, n in r.get("workloads", [])]
    for api_version, kind, name, obj_ns in refs:
        if kind not in KEPT_KINDS:
            lab.kube.delete(api_version, kind, name, obj_ns or None)
    ctx.node.counters[f"helm-uninstall:{ns}/{pos[0]}"] += 1
    lab.changed()
    ctx.out(f'release "{pos[0]}" uninstalled\n')
    return 0


SUBCOMMANDS = {
    "status": _status,
    "enable": _enable,
    "disable": _disable,
    "add-node": _add_node,
    "join": _join,
    "config": _config,
    "kubectl": _kubectl,
    "helm3": _helm,
    "helm": _helm,
    "inspect": inspect,
    "reset": reset,
    "leave": leave,
    "remove-node": remove_node,
}
