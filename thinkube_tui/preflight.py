"""Preflight: named checks over the Facts of every node, modelled on kubeadm's.

Each check is a small pure function over a `PreflightContext` returning `Finding`s. Any
check can be skipped by name (`skip={"ram", "clock-skew"}` or `{"all"}`), like kubeadm's
`--ignore-preflight-errors`. Every message says what is wrong and on which node; every fix
says what to do about it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from .facts import DefaultRoute, Facts
from .formatting import gib

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}

GiB = 1024**3

SUPPORTED_UBUNTU = ("22.04", "24.04")
SUPPORTED_ARCHES = ("amd64", "arm64")
CONTROL_RAM_ERROR = 8 * GiB
CONTROL_RAM_WARNING = 16 * GiB
WORKER_RAM_ERROR = 4 * GiB
WORKER_RAM_WARNING = 8 * GiB
# /proc/meminfo's MemTotal is the RAM less what firmware and the kernel reserve: a machine
# sold with 16 GiB reports about 15.5. Thresholds allow for that much.
RAM_SLACK = 0.93
DISK_FREE_MIN = 40 * GiB
CLOCK_SKEW_MAX_S = 2.0
MICROK8S_PORTS = (16443, 25000)
MIN_DRIVER_MAJOR = 580
MIN_COMPUTE_CAPABILITY = (7, 0)


@dataclass(frozen=True)
class Finding:
    check: str
    severity: Severity
    node: str | None
    message: str
    fix: str


@dataclass(frozen=True)
class PreflightContext:
    """What the checks look at. Everything but `facts` is optional: a check whose input is
    missing says nothing (sudo, name resolution) rather than guess."""

    facts: tuple[Facts, ...]
    control: str | None = None  # node name of the control plane; None: the first node
    sudo_ok: Mapping[str, bool | None] | None = None  # from the SSH layer's `sudo -v`-style check
    resolutions: Mapping[str, Sequence[str]] | None = None  # hostname → addresses, on the control node
    microk8s_channel: str | None = None  # the channel the install will use, e.g. "1.33/stable"
    metallb_range: str | None = None  # cluster.metallbRange, to compare with the nodes' network

    @property
    def control_node(self) -> str | None:
        if self.control is not None:
            return self.control
        return self.facts[0].node if self.facts else None

    def is_control(self, f: Facts) -> bool:
        return f.node == self.control_node


Check = Callable[[PreflightContext], list[Finding]]


# ---- checks -------------------------------------------------------------------------------


def check_probe(ctx: PreflightContext) -> list[Finding]:
    """Anything discovery could not read (odd tool output): worth a look, not a blocker."""
    return [
        Finding(
            "probe",
            "warning",
            f.node,
            f"discovery could not read everything on {f.node}: {w}",
            "Check the command on the node by hand; the values it would give are shown as unknown.",
        )
        for f in ctx.facts
        for w in f.warnings
    ]


def check_os(ctx: PreflightContext) -> list[Finding]:
    out = []
    for f in ctx.facts:
        os_ = f.os
        if os_.id is None:
            out.append(
                Finding(
                    "os",
                    "error",
                    f.node,
                    f"{f.node}: the operating system could not be identified (/etc/os-release unreadable)",
                    f"Install Ubuntu {' or '.join(SUPPORTED_UBUNTU)} LTS on {f.node}.",
                )
            )
        elif os_.id != "ubuntu" or os_.version_id not in SUPPORTED_UBUNTU:
            name = os_.pretty_name or f"{os_.id} {os_.version_id or ''}".strip()
            out.append(
                Finding(
                    "os",
                    "error",
                    f.node,
                    f"{f.node} runs {name}; Thinkube supports Ubuntu {' and '.join(SUPPORTED_UBUNTU)} LTS only",
                    f"Reinstall {f.node} with Ubuntu Server 24.04 LTS (or 22.04 LTS), or leave it out.",
                )
            )
    return out


def check_arch(ctx: PreflightContext) -> list[Finding]:
    out = []
    for f in ctx.facts:
        if f.arch is None:
            out.append(
                Finding(
                    "arch",
                    "warning",
                    f.node,
                    f"{f.node}: the CPU architecture is unknown (`uname -m` gave nothing)",
                    f"Run `uname -m` on {f.node}; it must print x86_64 or aarch64.",
                )
            )
        elif f.arch not in SUPPORTED_ARCHES:
            out.append(
                Finding(
                    "arch",
                    "error",
                    f.node,
                    f"{f.node} is {f.machine or f.arch}; MicroK8s and Thinkube "
                    "support amd64 (x86_64) and arm64 (aarch64) only",
                    f"Use an amd64 or arm64 machine instead of {f.node}.",
                )
            )
    return out


def check_ram(ctx: PreflightContext) -> list[Finding]:
    out = []
    for f in ctx.facts:
        if f.memory_bytes is None:
            out.append(
                Finding(
                    "ram",
                    "warning",
                    f.node,
                    f"{f.node}: the amount of RAM could not be read",
                    f"Check `grep MemTotal /proc/meminfo` on {f.node}.",
                )
            )
            continue
        ctl = ctx.is_control(f)
        err, warn = (CONTROL_RAM_ERROR, CONTROL_RAM_WARNING) if ctl else (WORKER_RAM_ERROR, WORKER_RAM_WARNING)
        role = "control node" if ctl else "worker"
        have = f.memory_bytes
        if have < err * RAM_SLACK:
            out.append(
                Finding(
                    "ram",
                    "error",
                    f.node,
                    f"{f.node} ({role}) has {gib(have, 1)} of RAM; a {role} needs at least {gib(err, 1)}",
                    f"Add RAM to {f.node} (at least {gib(err, 1)}; {gib(warn, 1)} recommended)"
                    + (" or choose a bigger machine as control node." if ctl else "."),
                )
            )
        elif have < warn * RAM_SLACK:
            out.append(
                Finding(
                    "ram",
                    "warning",
                    f.node,
                    f"{f.node} ({role}) has {gib(have, 1)} of RAM; "
                    f"{gib(warn, 1)} is recommended, and the services may not all fit",
                    f"Add RAM to {f.node}, or install fewer optional components.",
                )
            )
    return out


def check_disk(ctx: PreflightContext) -> list[Finding]:
    out = []
    for f in ctx.facts:
        fs = f.snap_fs or f.root_fs
        if fs is None:
            out.append(
                Finding(
                    "disk",
                    "warning",
                    f.node,
                    f"{f.node}: free disk space could not be read",
                    f"Check `df -h / /var` on {f.node}.",
                )
            )
            continue
        if fs.avail_bytes < DISK_FREE_MIN:
            where = "/var/snap" if fs.path == "/var/snap" else f"{fs.path} (which will hold /var/snap)"
            out.append(
                Finding(
                    "disk",
                    "error",
                    f.node,
                    f"{f.node} has {gib(fs.avail_bytes, 1)} free on {where}, "
                    f"filesystem {fs.mountpoint}; MicroK8s images and volumes need at least {gib(DISK_FREE_MIN, 1)}",
                    f"Free space or grow the filesystem mounted at {fs.mountpoint} on {f.node} "
                    f"(e.g. `sudo lvextend -r -l +100%FREE` on Ubuntu's LVM layout).",
                )
            )
    return out


def check_snapd(ctx: PreflightContext) -> list[Finding]:
    return [
        Finding(
            "snapd",
            "error",
            f.node,
            f"{f.node} has no `snap` command; MicroK8s is installed as a snap",
            f"On {f.node}: `sudo apt-get install -y snapd`, then log in again.",
        )
        for f in ctx.facts
        if f.snapd is False
    ]


def check_sudo(ctx: PreflightContext) -> list[Finding]:
    if ctx.sudo_ok is None:
        return []
    out = []
    for f in ctx.facts:
        ok = ctx.sudo_ok.get(f.node)
        if ok is False:
            out.append(
                Finding(
                    "sudo",
                    "error",
                    f.node,
                    f"{f.node}: user {f.user or '(unknown)'} cannot run commands with sudo",
                    f"On {f.node}: `sudo usermod -aG sudo {f.user or '<user>'}` (as an administrator), "
                    "or give the right sudo password.",
                )
            )
        elif ok is None:
            out.append(
                Finding(
                    "sudo",
                    "warning",
                    f.node,
                    f"{f.node}: whether sudo works was not checked",
                    "Give the sudo password when asked, or set up passwordless sudo for this user.",
                )
            )
    return out


def _duplicates(ctx: PreflightContext, key: Callable[[Facts], Iterable[str]]) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for f in ctx.facts:
        for k in set(key(f)):
            seen.setdefault(k, []).append(f.node)
    return {k: v for k, v in seen.items() if len(v) > 1}


def check_unique(ctx: PreflightContext) -> list[Finding]:
    out = []
    for k, nodes in _duplicates(ctx, lambda f: [f.hostname.lower()] if f.hostname else []).items():
        out.append(
            Finding(
                "unique",
                "error",
                nodes[1],
                f"nodes {', '.join(nodes)} share the hostname {k!r}; Kubernetes names nodes by hostname",
                f"Give each a unique name: `sudo hostnamectl set-hostname <new-name>` on {nodes[1]}.",
            )
        )
    for k, nodes in _duplicates(ctx, lambda f: [f.machine_id] if f.machine_id else []).items():
        out.append(
            Finding(
                "unique",
                "error",
                nodes[1],
                f"nodes {', '.join(nodes)} share the machine-id {k} (cloned machines?)",
                f"On {nodes[1]}: `sudo rm /etc/machine-id && sudo systemd-machine-id-setup`, then reboot.",
            )
        )
    for k, nodes in _duplicates(ctx, lambda f: [f.primary_address] if f.primary_address else []).items():
        out.append(
            Finding(
                "unique",
                "error",
                nodes[1],
                f"nodes {', '.join(nodes)} have the same address {k}",
                "Give each node its own address (check the DHCP reservations or the netplan config), "
                "or remove the duplicate target.",
            )
        )
    return out


def check_hostname_resolves(ctx: PreflightContext) -> list[Finding]:
    """Each node's hostname must resolve, on the control node, to one of that node's addresses."""
    if ctx.resolutions is None:
        return []
    control = ctx.control_node
    out = []
    for f in ctx.facts:
        if f.node == control or not f.hostname:
            continue
        mine = set(f.addresses) | ({f.primary_address} if f.primary_address else set())
        want = f.primary_address or (sorted(mine)[0] if mine else "<address>")
        resolved = tuple(ctx.resolutions.get(f.hostname, ()))
        if not resolved:
            out.append(
                Finding(
                    "hostname-resolves",
                    "error",
                    f.node,
                    f"{f.node}: its hostname {f.hostname!r} does not resolve on the control node {control}; "
                    "MicroK8s join needs it to",
                    f"On {control}: add `{want} {f.hostname}` to /etc/hosts (or register it in DNS).",
                )
            )
        elif mine and not (set(resolved) & mine):
            out.append(
                Finding(
                    "hostname-resolves",
                    "error",
                    f.node,
                    f"{f.node}: its hostname {f.hostname!r} resolves on {control} to {', '.join(resolved)}, "
                    f"none of which is {f.node}'s address ({', '.join(sorted(mine))})",
                    f"On {control}: fix the /etc/hosts or DNS entry for {f.hostname} to `{want}`.",
                )
            )
    return out


def check_clock_skew(ctx: PreflightContext) -> list[Finding]:
    timed = [f for f in ctx.facts if f.clock is not None]
    if len(timed) < 2:
        return []
    ref = next((f for f in timed if ctx.is_control(f)), timed[0])
    assert ref.clock is not None
    out = []
    for f in timed:
        if f is ref:
            continue
        assert f.clock is not None
        skew = f.clock.offset_s - ref.clock.offset_s
        slack = f.clock.uncertainty_s + ref.clock.uncertainty_s
        if abs(skew) - slack > CLOCK_SKEW_MAX_S:
            ahead = "ahead of" if skew > 0 else "behind"
            out.append(
                Finding(
                    "clock-skew",
                    "error",
                    f.node,
                    f"{f.node}'s clock is {abs(skew):.1f} s {ahead} {ref.node}'s (more than "
                    f"{CLOCK_SKEW_MAX_S:g} s); certificates and the cluster datastore need synchronised clocks",
                    f"Turn on time sync on every node: `sudo timedatectl set-ntp true`, "
                    f"then check `timedatectl` on {f.node} and {ref.node}.",
                )
            )
    return out


def check_ports(ctx: PreflightContext) -> list[Finding]:
    out = []
    for f in ctx.facts:
        if f.microk8s.installed is not False or f.listening_ports is None:
            continue  # MicroK8s itself listens there, or whether it is installed is unknown
        for port in MICROK8S_PORTS:
            if port in f.listening_ports:
                what = "the Kubernetes API" if port == 16443 else "the MicroK8s cluster agent"
                out.append(
                    Finding(
                        "ports",
                        "error",
                        f.node,
                        f"{f.node}: TCP port {port}, needed by {what}, is already in use (MicroK8s is not installed)",
                        f"On {f.node}: find the program with `sudo ss -ltnp 'sport = :{port}'` and stop it.",
                    )
                )
    return out


def check_gpu_driver(ctx: PreflightContext) -> list[Finding]:
    """Driver ≥ 580 and compute capability ≥ 7.0 on GPUs that have a driver; driverless GPUs noted."""
    out = []
    for f in ctx.facts:
        for g in f.gpus:
            if g.driver_version is None and g.kernel_driver != "nvidia":
                out.append(
                    Finding(
                        "gpu-driver",
                        "info",
                        f.node,
                        f"{f.node}: {g.label} has no NVIDIA driver loaded"
                        + (f" (bound to {g.kernel_driver})" if g.kernel_driver else ""),
                        "Nothing to do: the NVIDIA GPU operator will install a driver "
                        "(or install nvidia-driver-580-server yourself and reboot).",
                    )
                )
                continue
            major = g.driver_major
            if major is not None and major < MIN_DRIVER_MAJOR:
                out.append(
                    Finding(
                        "gpu-driver",
                        "warning",
                        f.node,
                        f"{f.node}: {g.label} uses NVIDIA driver {g.driver_version}; "
                        f"Thinkube needs {MIN_DRIVER_MAJOR} or newer",
                        f"On {f.node}: `sudo apt-get install nvidia-driver-{MIN_DRIVER_MAJOR}-server` "
                        "(or newer) and reboot.",
                    )
                )
            elif g.driver_version is None:
                out.append(
                    Finding(
                        "gpu-driver",
                        "warning",
                        f.node,
                        f"{f.node}: {g.label} has the nvidia module bound but its driver version is unknown",
                        f"Run `nvidia-smi` on {f.node}; reinstall the driver if it fails.",
                    )
                )
            cc = g.compute_capability_tuple
            if cc is not None and cc < MIN_COMPUTE_CAPABILITY:
                out.append(
                    Finding(
                        "gpu-driver",
                        "warning",
                        f.node,
                        f"{f.node}: {g.label} has compute capability {g.compute_capability}; "
                        "GPUs older than Volta (7.0) are not supported",
                        f"Leave {f.node}'s GPU out of the GPU components, or use a Volta or newer GPU.",
                    )
                )
    return out


def check_nouveau(ctx: PreflightContext) -> list[Finding]:
    return [
        Finding(
            "nouveau",
            "warning",
            f.node,
            f"{f.node} has NVIDIA GPUs and the nouveau driver is loaded; it blocks the NVIDIA driver",
            f"On {f.node}: `printf 'blacklist nouveau\\noptions nouveau modeset=0\\n' | "
            "sudo tee /etc/modprobe.d/blacklist-nouveau.conf && sudo update-initramfs -u`, then reboot.",
        )
        for f in ctx.facts
        if f.gpus and f.nouveau_loaded
    ]


def check_microk8s(ctx: PreflightContext) -> list[Finding]:
    out = []
    for f in ctx.facts:
        mk = f.microk8s
        if not mk.installed:
            continue
        want = ctx.microk8s_channel
        if want and mk.channel and mk.channel != want:
            out.append(
                Finding(
                    "microk8s",
                    "warning",
                    f.node,
                    f"{f.node} already has MicroK8s {mk.version or ''} from channel {mk.channel}; "
                    f"this install uses {want}".replace("  ", " "),
                    f"Choose channel {mk.channel} for the install, or on {f.node}: "
                    f"`sudo snap refresh microk8s --channel={want}`.",
                )
            )
        if mk.in_cluster and not ctx.is_control(f):
            out.append(
                Finding(
                    "microk8s",
                    "warning",
                    f.node,
                    f"{f.node} is already part of a MicroK8s cluster",
                    f"If it is not this cluster, on {f.node}: `sudo microk8s leave`.",
                )
            )
    return out


def check_metallb_range(ctx: PreflightContext) -> list[Finding]:
    """MetalLB (layer 2) answers ARP for its addresses on the nodes' LAN: a range outside that
    network is unreachable, and one holding the gateway takes the LAN's way out."""
    from .spec import metallb_pool  # the same reading of the range as validate's

    control = next((f for f in ctx.facts if ctx.is_control(f)), None)
    if not ctx.metallb_range or control is None:
        return []
    try:
        first, last = metallb_pool(ctx.metallb_range)
    except ValueError:
        return []  # validate says so
    network = _default_network(control)
    out = []
    if network is not None and not (first in network and last in network):
        out.append(
            Finding(
                "metallb-range",
                "warning",
                None,
                f"metallbRange {ctx.metallb_range} is not inside the nodes' network {network} "
                f"({control.node}'s default route): MetalLB can only announce addresses of that network",
                f"Choose free addresses inside {network}, outside your DHCP server's pool.",
            )
        )
    gateway = _ipv4((control.default_route or DefaultRoute(None, None)).gateway)
    if gateway is not None and first <= gateway <= last:
        out.append(
            Finding(
                "metallb-range",
                "warning",
                None,
                f"metallbRange {ctx.metallb_range} contains the gateway {gateway}: MetalLB would hand it out",
                "Choose a range that leaves out the gateway (and every machine's address).",
            )
        )
    return out


def _default_network(f: Facts) -> ipaddress.IPv4Network | None:
    """The IPv4 network of the interface carrying the default route."""
    dev = f.default_route.dev if f.default_route else None
    for iface in f.interfaces:
        if iface.name != dev:
            continue
        for address in iface.addresses:
            if address.family == "inet" and address.prefixlen is not None:
                try:
                    return ipaddress.IPv4Interface(f"{address.address}/{address.prefixlen}").network
                except ValueError:
                    continue
    return None


def _ipv4(text: str | None) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(text) if text else None
    except ValueError:
        return None


CHECKS: dict[str, Check] = {
    "probe": check_probe,
    "os": check_os,
    "arch": check_arch,
    "ram": check_ram,
    "disk": check_disk,
    "snapd": check_snapd,
    "sudo": check_sudo,
    "unique": check_unique,
    "hostname-resolves": check_hostname_resolves,
    "clock-skew": check_clock_skew,
    "ports": check_ports,
    "gpu-driver": check_gpu_driver,
    "nouveau": check_nouveau,
    "microk8s": check_microk8s,
    "metallb-range": check_metallb_range,
}


def run_preflight(
    facts: Iterable[Facts],
    *,
    control: str | None = None,
    skip: Iterable[str] = (),
    sudo_ok: Mapping[str, bool | None] | None = None,
    resolutions: Mapping[str, Sequence[str]] | None = None,
    microk8s_channel: str | None = None,
    metallb_range: str | None = None,
) -> list[Finding]:
    """Run every check not in `skip` (`"all"` skips all); findings sorted errors first.

    Raises ValueError for a name in `skip` that is not a check, listing the valid names.
    """
    skip_set = {s.strip().lower() for s in skip if s.strip()}
    unknown = skip_set - set(CHECKS) - {"all"}
    if unknown:
        raise ValueError(
            f"unknown preflight check(s) to skip: {', '.join(sorted(unknown))}; valid names: {', '.join(CHECKS)}, all"
        )
    ctx = PreflightContext(tuple(facts), control, sudo_ok, resolutions, microk8s_channel, metallb_range)
    findings: list[Finding] = []
    if "all" in skip_set:
        return findings
    for name, check in CHECKS.items():
        if name not in skip_set:
            findings.extend(check(ctx))
    order = {f.node: i for i, f in enumerate(ctx.facts)}
    findings.sort(key=lambda x: (SEVERITY_ORDER[x.severity], order.get(x.node, -1) if x.node else -1))
    return findings


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)


def unreachable(node: str, message: str) -> Finding:
    """The finding for a node that could not be discovered at all (check name `reachable`)."""
    return Finding(
        "reachable",
        "error",
        node,
        f"{node}: {message}",
        f"Check that {node} is up, that SSH answers (`ssh {node} true`), and that its host key and "
        "your credentials are right; then discover again.",
    )
