"""Discovery: one probe per node, pure parsers, and concurrent discovery of every node.

The probe (`PROBE_SCRIPT`) is a POSIX sh script sent as a single `Transport.run` call: one
round trip per node, no root needed. It prints one section per command, each opened by a
`::thinkube-probe:: NAME` line and closed by `::thinkube-probe:: rc=N`. `parse_probe_output`
splits it and hands each section to a pure parser; every parser accepts anything without
raising, turning what it cannot read into `None` plus a warning.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .facts import (
    Address,
    Clock,
    Cpu,
    DefaultRoute,
    Disk,
    Facts,
    Filesystem,
    Interface,
    MicroK8s,
    OsInfo,
)
from .gpu import (
    NVIDIA_SMI_FIELDS,
    SmiGpu,
    Warnings,
    merge_gpus,
    parse_lspci,
    parse_modules,
    parse_nvidia_smi_csv,
    parse_nvidia_smi_list,
    parse_nvidia_smi_xml,
    parse_nvidia_version,
)
from .gpu import short as _short
from .transport import CommandTimeout, Transport

MARKER = "::thinkube-probe::"


_SMI_QUERY = f"nvidia-smi --query-gpu={','.join(NVIDIA_SMI_FIELDS)} --format=csv,noheader,nounits"

#: The probe, section by section: (name, command, stderr too). Each command is a simple
#: command line (no functions, loops or conditionals): the probe must run on any POSIX sh,
#: and the lab's simulated nodes understand command lists, not scripts. A missing tool shows
#: as exit status 127 in its section, which the parsers read as "not there".
PROBE_SECTIONS: tuple[tuple[str, str, bool], ...] = (
    ("clock_start", "date +%s.%N", False),
    ("hostname", "cat /proc/sys/kernel/hostname", False),
    ("machine_id", "cat /etc/machine-id", False),
    ("os_release", "cat /etc/os-release", False),
    ("kernel", "uname -r", False),
    ("machine", "uname -m", False),
    ("cpu_count", "getconf _NPROCESSORS_ONLN", False),
    ("cpu_model", "grep -m1 -i -E '^(model name|hardware|cpu model)[[:space:]]*:' /proc/cpuinfo", False),
    ("lscpu", "lscpu", False),
    ("meminfo", "grep '^MemTotal:' /proc/meminfo", False),
    ("lsblk", "lsblk -J -b -d -o NAME,SIZE,TYPE,MODEL,ROTA,TRAN", False),
    ("df_root", "df -P -B1 /", False),
    ("df_var_snap", "df -P -B1 /var/snap", False),
    ("df_var", "df -P -B1 /var", False),
    ("ip_addr", "ip -j addr", False),
    ("ip_route", "ip -j route show default", False),
    ("user", "id -un", False),
    ("uid", "id -u", False),
    ("snap", "command -v snap", False),
    ("snap_microk8s", "timeout 15 snap list microk8s", False),
    ("microk8s_status", "timeout 15 microk8s status --format yaml", True),
    ("microk8s_clustered", "test -e /var/snap/microk8s/current/var/lock/clustered.lock", False),
    ("ss", "ss -ltnH", False),
    ("proc_net_tcp", "cat /proc/net/tcp /proc/net/tcp6", False),
    ("lspci", "lspci -Dnnk -d 10de:", False),
    ("modules", "cat /proc/modules", False),
    ("nvidia_version", "cat /proc/driver/nvidia/version", False),
    ("nvidia_smi_csv", f"timeout 15 {_SMI_QUERY}", True),
    # The XML report only when the CSV query fails (old drivers lack some fields).
    ("nvidia_smi_xml", f"{_SMI_QUERY} >/dev/null 2>&1 || timeout 15 nvidia-smi -q -x", True),
    ("nvidia_smi_list", "timeout 15 nvidia-smi -L", True),
    ("clock_end", "date +%s.%N", False),
)


def _probe_script() -> str:
    lines = [
        'export LC_ALL=C PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin:/snap/bin"',
        f"echo '{MARKER} probe v2'",
    ]
    for name, command, with_stderr in PROBE_SECTIONS:
        redirect = "2>&1" if with_stderr else "2>/dev/null"
        lines.append(
            f"printf '\\n%s %s\\n' '{MARKER}' {name}; {command} {redirect}; printf '\\n%s rc=%s\\n' '{MARKER}' \"$?\""
        )
    lines.append("exit 0")
    return "\n".join(lines) + "\n"


PROBE_SCRIPT = _probe_script()


class DiscoveryError(Exception):
    """Discovery of one node failed; the message says why, for people."""

    def __init__(self, node: str, message: str) -> None:
        self.node = node
        self.message = message
        super().__init__(f"{node}: {message}")


# --------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    name: str
    body: str
    rc: int | None  # None: the section never closed (output cut short)


_RC_RE = re.compile(r"^rc=(-?\d+)$")


def split_sections(text: str) -> dict[str, Section]:
    """Split the probe's output into its named sections (the last of a name wins)."""
    sections: dict[str, Section] = {}
    name: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith(MARKER):
            rest = line[len(MARKER) :].strip()
            m = _RC_RE.match(rest)
            if m and name is not None:
                sections[name] = Section(name, _strip_body(lines), int(m.group(1)))
                name, lines = None, []
            elif not m and rest and " " not in rest:
                if name is not None:
                    sections[name] = Section(name, _strip_body(lines), None)
                name, lines = rest, []
            continue
        if name is not None:
            lines.append(line)
    if name is not None:
        sections[name] = Section(name, _strip_body(lines), None)
    return sections


def _strip_body(lines: list[str]) -> str:
    # The probe writes a newline before each marker so that a marker always starts a line.
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Pure parsers. Each takes text (and a list to append warnings to) and never raises.
# --------------------------------------------------------------------------------------


def parse_os_release(text: str, warnings: Warnings | None = None) -> OsInfo:
    """Parse /etc/os-release (shell-style KEY=value lines, values maybe quoted)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            parts = shlex.split(raw)
            value = parts[0] if parts else ""
        except ValueError:
            value = raw.strip().strip("\"'")
        values[key.strip()] = value
    if not values and warnings is not None and text.strip():
        warnings.append(f"/etc/os-release: could not read {_short(text)!r}")
    return OsInfo(
        id=values.get("ID") or None,
        version_id=values.get("VERSION_ID") or None,
        pretty_name=values.get("PRETTY_NAME") or None,
        codename=values.get("VERSION_CODENAME") or values.get("UBUNTU_CODENAME") or None,
    )


def normalise_arch(machine: str | None) -> str | None:
    """`uname -m` → Debian/Kubernetes architecture names (amd64, arm64); others unchanged."""
    if not machine:
        return None
    m = machine.strip().lower()
    return {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "aarch64_be": "arm64"}.get(
        m, m or None
    )


def parse_meminfo(text: str, warnings: Warnings | None = None) -> int | None:
    """MemTotal from /proc/meminfo, in bytes."""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            try:
                value = int(parts[1])
            except (IndexError, ValueError):
                break
            unit = parts[2].lower() if len(parts) > 2 else "kb"
            factor = {"kb": 1024, "mb": 1024**2, "gb": 1024**3, "b": 1}.get(unit)
            if factor is None:
                break
            return value * factor
    if warnings is not None:
        warnings.append(f"/proc/meminfo: no MemTotal in {_short(text)!r}")
    return None


def parse_int(text: str, what: str, warnings: Warnings | None = None) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        if warnings is not None:
            warnings.append(f"{what}: not a number: {_short(text)!r}")
        return None


def parse_cpu_model(cpuinfo: str, lscpu: str = "") -> str | None:
    """The CPU model: /proc/cpuinfo's `model name` (x86), else lscpu's `Model name` (arm64)."""
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in ("model name", "hardware", "cpu model") and value.strip():
            return " ".join(value.split())
    vendor = None
    for line in lscpu.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        if not sep:
            continue
        if key == "model name" and value.strip() and value.strip() != "-":
            name = " ".join(value.split())
            return f"{vendor} {name}" if vendor and vendor not in name else name
        if key == "vendor id" and value.strip():
            vendor = value.strip()
    return None


def _json(text: str, what: str, warnings: Warnings | None, key: str | None = None) -> list[Any] | None:
    """The JSON list `what` printed (under `key` when given); None plus a warning when unreadable."""
    try:
        data = json.loads(text)
        if key is not None:
            data = data[key]
        if not isinstance(data, list):
            raise TypeError("not a list")
    except (ValueError, KeyError, TypeError) as exc:
        if warnings is not None:
            warnings.append(f"{what}: could not read its JSON ({exc.__class__.__name__}): {_short(text)!r}")
        return None
    return data


def parse_lsblk(text: str, warnings: Warnings | None = None) -> tuple[Disk, ...]:
    """`lsblk -J -b -d -o NAME,SIZE,TYPE,MODEL,ROTA,TRAN`: whole disks (no loop/zram-size-0)."""
    devices = _json(text, "lsblk", warnings, key="blockdevices")
    if devices is None:
        return ()
    disks: list[Disk] = []
    for dev in devices:
        if not isinstance(dev, dict):
            continue
        if dev.get("type") != "disk":
            continue
        name = dev.get("name")
        if not isinstance(name, str) or not name:
            continue
        size = _to_int(dev.get("size"))
        if size == 0:
            continue  # empty zram or card readers without media
        model = dev.get("model")
        disks.append(
            Disk(
                name=name,
                size_bytes=size,
                model=model.strip() or None if isinstance(model, str) else None,
                rotational=_to_bool(dev.get("rota")),
                transport=dev.get("tran") if isinstance(dev.get("tran"), str) else None,
            )
        )
    return tuple(disks)


def _to_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        try:
            return int(v.strip())
        except ValueError:
            return None
    return None


def _to_bool(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if v in ("1", 1):
        return True
    if v in ("0", 0):
        return False
    return None


def parse_df(text: str, path: str, warnings: Warnings | None = None) -> Filesystem | None:
    """`df -P -B1 PATH`: the header, then one row for the filesystem holding PATH."""
    for line in text.splitlines():
        if not line.strip() or line.startswith("Filesystem"):
            continue
        parts = line.split(None, 5)
        try:
            source, size, _used, avail, _pct, mount = parts
            return Filesystem(path, source, int(size), int(avail), mount)
        except ValueError:
            if warnings is not None:
                warnings.append(f"df {path}: could not read {_short(line)!r}")
            return None
    return None


def parse_ip_addr(text: str, warnings: Warnings | None = None) -> tuple[Interface, ...]:
    """`ip -j addr`."""
    data = _json(text, "ip -j addr", warnings)
    if data is None:
        return ()
    out: list[Interface] = []
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("ifname"), str):
            continue
        addrs: list[Address] = []
        for a in item.get("addr_info") or []:
            if not isinstance(a, dict) or not isinstance(a.get("local"), str):
                continue
            fam = a.get("family")
            addrs.append(
                Address(
                    family=fam if isinstance(fam, str) else ("inet6" if ":" in a["local"] else "inet"),
                    address=a["local"],
                    prefixlen=_to_int(a.get("prefixlen")),
                    scope=a.get("scope") if isinstance(a.get("scope"), str) else None,
                )
            )
        mac = item.get("address")
        state = item.get("operstate")
        out.append(
            Interface(
                name=item["ifname"],
                mac=mac if isinstance(mac, str) else None,
                state=state if isinstance(state, str) else None,
                addresses=tuple(addrs),
            )
        )
    return tuple(out)


def parse_ip_route(text: str, warnings: Warnings | None = None) -> DefaultRoute | None:
    """`ip -j route show default` → the first default route (None when there is none)."""
    if not text.strip():
        return None
    data = _json(text, "ip -j route", warnings)
    if data is None:
        return None
    for r in data:
        if isinstance(r, dict) and r.get("dst", "default") == "default":
            dev, gw = r.get("dev"), r.get("gateway")
            return DefaultRoute(dev if isinstance(dev, str) else None, gw if isinstance(gw, str) else None)
    return None


def primary_address(interfaces: Sequence[Interface], route: DefaultRoute | None) -> str | None:
    """The first global IPv4 (else IPv6) address on the default route's device."""
    if route is None or route.dev is None:
        return None
    for iface in interfaces:
        if iface.name != route.dev:
            continue
        for fam in ("inet", "inet6"):
            for a in iface.addresses:
                if a.family == fam and a.scope not in ("host", "link"):
                    return a.address
    return None


def parse_snap_list(text: str, warnings: Warnings | None = None) -> MicroK8s:
    """`snap list microk8s` (exit 0 with a table when installed, an error otherwise)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) < 2:
        return MicroK8s(installed=False)
    header = lines[0].split()
    for line in lines[1:]:
        cols = line.split()
        if cols and cols[0] == "microk8s":
            row = dict(zip([h.lower() for h in header], cols, strict=False))
            tracking = row.get("tracking")
            return MicroK8s(
                installed=True,
                version=row.get("version"),
                revision=row.get("rev"),
                channel=tracking if tracking and tracking != "-" else None,
            )
    if warnings is not None:
        warnings.append(f"snap list microk8s: could not read {_short(text)!r}")
    return MicroK8s(installed=None)


def parse_microk8s_status(text: str) -> bool | None:
    """Whether `microk8s status --format yaml` shows the node in a multi-node cluster.

    None when it cannot tell (no permission without root, not running, unknown output).
    """
    low = text.lower()
    if "acting as a node in a cluster" in low:
        return True
    if "insufficient permissions" in low or "not running" in low:
        return None
    count = len(re.findall(r"^\s*-\s*address:", text, re.M))
    m = re.search(r"datastore master nodes:\s*(.+)", text)
    if m and count == 0:
        count = len(m.group(1).split())
    if count > 1:
        return True
    if count == 1:
        return False
    return None


def parse_ss_listening(text: str) -> frozenset[int]:
    """`ss -ltnH`: the local ports of listening TCP sockets."""
    ports: set[int] = set()
    for line in text.splitlines():
        cols = line.split()
        if len(cols) < 4:
            continue
        # ss -H columns: State Recv-Q Send-Q Local:Port Peer:Port [Process]
        local = cols[3] if cols[0].upper() in ("LISTEN", "UNCONN") else cols[2] if len(cols) > 2 else ""
        _, _, port = local.rpartition(":")
        if port.isdigit():
            ports.add(int(port))
    return frozenset(ports)


def parse_proc_net_tcp(text: str) -> frozenset[int]:
    """/proc/net/tcp and tcp6: ports of sockets in state 0A (LISTEN)."""
    ports: set[int] = set()
    for line in text.splitlines():
        cols = line.split()
        if len(cols) < 4 or cols[3] != "0A":
            continue
        _, _, hexport = cols[1].rpartition(":")
        try:
            ports.add(int(hexport, 16))
        except ValueError:
            continue
    return frozenset(ports)


def parse_epoch(text: str) -> float | None:
    try:
        value = float(text.strip().splitlines()[0]) if text.strip() else None
    except ValueError:
        return None
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return None
    return value


# ---- the whole probe --------------------------------------------------------------------


def parse_probe_output(
    node: str, stdout: str, *, local_sent: float | None = None, local_received: float | None = None
) -> Facts:
    """Build `Facts` from the probe's output. Never raises on odd output: see `Facts.warnings`."""
    w: Warnings = []
    sec = split_sections(stdout)

    def body(name: str, *, need_ok: bool = True) -> str | None:
        s = sec.get(name)
        if s is None:
            return None
        if need_ok and s.rc != 0:
            return None
        return s.body

    def first_line(name: str) -> str | None:
        b = body(name)
        if not b or not b.strip():
            return None
        return b.strip().splitlines()[0].strip() or None

    os_info = parse_os_release(body("os_release") or "", w)
    if body("os_release") is None:
        w.append("/etc/os-release: not readable")
    machine = first_line("machine")
    cpu_count = parse_int(body("cpu_count") or "", "getconf _NPROCESSORS_ONLN", w) if body("cpu_count") else None
    cpu = Cpu(parse_cpu_model(body("cpu_model") or "", body("lscpu") or ""), cpu_count)
    memory = parse_meminfo(body("meminfo") or "", w) if body("meminfo") is not None else None

    disks: tuple[Disk, ...] = ()
    if body("lsblk") is not None:
        disks = parse_lsblk(body("lsblk") or "", w)
    root_fs = parse_df(body("df_root") or "", "/", w)
    snap_fs = (
        parse_df(body("df_var_snap") or "", "/var/snap", w) or parse_df(body("df_var") or "", "/var", w) or root_fs
    )

    interfaces: tuple[Interface, ...] = ()
    route: DefaultRoute | None = None
    if body("ip_addr") is not None:
        interfaces = parse_ip_addr(body("ip_addr") or "", w)
    elif "ip_addr" in sec:
        w.append("ip -j addr failed: iproute2 may be too old for JSON output")
    if body("ip_route") is not None:
        route = parse_ip_route(body("ip_route") or "", w)

    user = first_line("user")
    uid = parse_int(body("uid") or "", "id -u", w) if body("uid") else None

    snapd = None
    if "snap" in sec:
        snapd = sec["snap"].rc == 0 and bool(sec["snap"].body.strip())
    mk = MicroK8s(installed=None if snapd is None else False)
    if "snap_microk8s" in sec:
        s = sec["snap_microk8s"]
        if s.rc == 0:
            mk = parse_snap_list(s.body, w)
        elif s.rc in (1, 127):  # "error: no matching snaps installed", or no snap command at all
            mk = MicroK8s(installed=False)
        else:  # timed out (124), cut short or killed: unknown, never read as "not installed"
            w.append(
                f"snap list microk8s did not answer (exit status {s.rc}): whether MicroK8s is installed is unknown"
            )
            mk = MicroK8s(installed=None)
    if mk.installed:
        in_cluster = parse_microk8s_status(body("microk8s_status", need_ok=False) or "")
        if "microk8s_clustered" in sec and sec["microk8s_clustered"].rc == 0:
            in_cluster = True
        mk = replace(mk, in_cluster=in_cluster)

    ports: frozenset[int] | None = None
    if body("ss") is not None:
        ports = parse_ss_listening(body("ss") or "")
    elif body("proc_net_tcp", need_ok=False):
        ports = parse_proc_net_tcp(body("proc_net_tcp", need_ok=False) or "")

    lspci = parse_lspci(body("lspci") or "", w) if body("lspci") is not None else ()
    pci = lspci
    nouveau, _nvidia_mod = parse_modules(body("modules") or "")
    module_version = parse_nvidia_version(body("nvidia_version") or "")

    nvidia_smi = None
    smi: tuple[SmiGpu, ...] = ()
    if "nvidia_smi_csv" in sec and sec["nvidia_smi_csv"].rc not in (126, 127):
        nvidia_smi = True
        csv_sec = sec["nvidia_smi_csv"]
        if csv_sec.rc == 0:
            smi = parse_nvidia_smi_csv(csv_sec.body, w)
        else:
            w.append(f"nvidia-smi --query-gpu failed (exit {csv_sec.rc}): {_short(csv_sec.body, 160)}")
            xml_sec = sec.get("nvidia_smi_xml")
            if xml_sec is not None and xml_sec.rc == 0:
                smi = parse_nvidia_smi_xml(xml_sec.body, w)
            elif xml_sec is not None:
                w.append(f"nvidia-smi -q -x failed (exit {xml_sec.rc}): {_short(xml_sec.body, 160)}")
    elif "clock_end" in sec:
        nvidia_smi = False  # not installed (exit 127 from the shell or from timeout)
    mig_counts = parse_nvidia_smi_list(body("nvidia_smi_list") or "")
    gpus = merge_gpus(pci, smi, mig_counts=mig_counts, module_version=module_version)
    driver_version = module_version or next((g.driver_version for g in gpus if g.driver_version), None)

    clock = None
    start, end = parse_epoch(body("clock_start") or ""), parse_epoch(body("clock_end") or "")
    if start is not None and local_sent is not None and local_received is not None:
        clock = Clock(start, end if end is not None else start, local_sent, local_received)
    elif local_sent is not None:
        w.append("clock: `date +%s.%N` gave no time")

    if "clock_end" not in sec:
        w.append("probe output ended early: some facts are missing")

    return Facts(
        node=node,
        hostname=first_line("hostname"),
        machine_id=first_line("machine_id"),
        os=os_info,
        kernel=first_line("kernel"),
        machine=machine,
        arch=normalise_arch(machine),
        cpu=cpu,
        memory_bytes=memory,
        disks=disks,
        root_fs=root_fs,
        snap_fs=snap_fs,
        interfaces=interfaces,
        default_route=route,
        primary_address=primary_address(interfaces, route),
        user=user,
        uid=uid,
        snapd=snapd,
        microk8s=mk,
        clock=clock,
        listening_ports=ports,
        gpus=gpus,
        nvidia_driver_version=driver_version,
        nvidia_smi=nvidia_smi,
        nouveau_loaded=nouveau,
        warnings=tuple(w),
    )


# --------------------------------------------------------------------------------------
# Running it
# --------------------------------------------------------------------------------------


async def discover(transport: Transport, *, timeout: float | None = 60.0) -> Facts:
    """Probe one node (one command, one round trip) and return its Facts.

    Raises `DiscoveryError` when the probe cannot run or its output is not the probe's.
    """
    node = transport.node
    sent = time.time()
    try:
        result = await transport.run(PROBE_SCRIPT, timeout=timeout)
    except CommandTimeout as exc:
        raise DiscoveryError(node, f"the discovery probe did not finish within {exc.timeout:g} s") from exc
    received = time.time()
    if f"{MARKER} probe v2" not in result.stdout:
        tail = result.tail(5) or "(no output)"
        raise DiscoveryError(
            node,
            f"the discovery probe did not run (exit {result.exit_status}); is the login shell POSIX? Output:\n{tail}",
        )
    return parse_probe_output(node, result.stdout, local_sent=sent, local_received=received)


TransportFactory = Callable[[], Awaitable[Transport]]
Target = Transport | tuple[str, TransportFactory]


@dataclass(frozen=True)
class NodeResult:
    """One node's discovery outcome: `facts`, or an `error` message for people."""

    node: str
    facts: Facts | None
    error: str | None
    elapsed_s: float
    transport: Transport | None = None  # the connected transport, when there is one

    @property
    def ok(self) -> bool:
        return self.facts is not None


async def discover_all(
    targets: Iterable[Target], *, timeout: float = 60.0, limit: int | None = None
) -> AsyncIterator[NodeResult]:
    """Discover every target concurrently; yield each node's result as soon as it arrives.

    A target is a connected `Transport`, or `(name, factory)` where `await factory()` connects
    one (connection errors are then reported for that node). `timeout` bounds each node as a
    whole (connect + probe); `limit` bounds how many nodes are worked on at once. A slow or
    dead node never delays the others. Transports are not closed here: their owner closes them.
    """
    sem = asyncio.Semaphore(limit) if limit else None

    async def one(target: Target) -> NodeResult:
        if isinstance(target, tuple):
            name, factory = target
        else:
            name, factory = target.node, None
        start = time.monotonic()
        transport: Transport | None = None if factory else target  # type: ignore[assignment]

        async def work() -> Facts:
            nonlocal transport
            if factory is not None:
                transport = await factory()
            assert transport is not None
            remaining = timeout - (time.monotonic() - start)
            return await discover(transport, timeout=max(1.0, remaining))

        try:
            if sem is not None:
                async with sem:
                    start = time.monotonic()
                    facts = await asyncio.wait_for(work(), timeout)
            else:
                facts = await asyncio.wait_for(work(), timeout)
        except DiscoveryError as exc:
            return NodeResult(name, None, exc.message, time.monotonic() - start, transport)
        except TimeoutError:
            what = "connecting" if transport is None else "discovery"
            return NodeResult(
                name, None, f"{what} did not finish within {timeout:g} s", time.monotonic() - start, transport
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # connection refused, auth failure, host key mismatch...
            what = "could not connect" if transport is None else "discovery failed"
            msg = str(exc) or exc.__class__.__name__
            return NodeResult(name, None, f"{what}: {msg}", time.monotonic() - start, transport)
        return NodeResult(name, facts, None, time.monotonic() - start, transport)

    tasks = [asyncio.ensure_future(one(t)) for t in targets]
    try:
        for fut in asyncio.as_completed(tasks):
            yield await fut
    finally:
        for t in tasks:
            if not t.done():
                t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


# --------------------------------------------------------------------------------------
# Name resolution on the control node (for the `hostname-resolves` preflight check)
# --------------------------------------------------------------------------------------


def parse_getent(text: str) -> dict[str, tuple[str, ...]]:
    """Output of `resolve_hostnames`' script: `@@ NAME` then `getent ahosts NAME` lines."""
    result: dict[str, list[str]] = {}
    name: str | None = None
    for line in text.splitlines():
        if line.startswith("@@ "):
            name = line[3:].strip()
            result.setdefault(name, [])
            continue
        cols = line.split()
        if name is not None and cols and cols[0] not in result[name]:
            result[name].append(cols[0])
    return {k: tuple(v) for k, v in result.items()}


async def resolve_hostnames(
    control: Transport, names: Iterable[str], *, timeout: float = 20.0
) -> dict[str, tuple[str, ...]]:
    """Resolve each name on the control node with `getent ahosts` (what MicroK8s join sees).

    Returns {name: addresses}; an empty tuple means the name does not resolve there.
    """
    names = sorted({n for n in names if n})
    if not names:
        return {}
    script = "".join(f"echo '@@ '{shlex.quote(n)}; getent ahosts {shlex.quote(n)}\n" for n in names)
    result = await control.run(script, timeout=timeout)
    parsed = parse_getent(result.stdout)
    return {n: parsed.get(n, ()) for n in names}
