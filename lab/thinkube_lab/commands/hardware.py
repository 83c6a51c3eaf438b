"""Hardware tools of a simulated node: lsblk, lscpu, ip, ss, lspci, nvidia-smi.

Formats are those of Ubuntu 24.04's util-linux 2.39, iproute2 6.1 and pciutils 3.10.
`nvidia-smi` and `lspci` replay real captures (see `data/NOTICE`): `--query-gpu` answers
any field the H100 capture holds, in the requested order, under the requested CSV options.
"""

from __future__ import annotations

import csv
import functools
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

from ..shell import Ctx
from .table import program


def _data(name: str) -> str:
    return resources.files("thinkube_lab").joinpath("data", name).read_text(encoding="utf-8")


def _bad(ctx: Ctx, tool: str, opt: str) -> int:
    ctx.err(f"{tool}: invalid option -- '{opt.lstrip('-')[:1]}'")
    return 1


def _short_flags(args: list[str]) -> set[str]:
    return {c for a in args if a.startswith("-") and not a.startswith("--") for c in a[1:]}


# ---------------------------------------------------------------------------- lsblk


LSBLK_COLUMNS = (
    "NAME",
    "SIZE",
    "TYPE",
    "MODEL",
    "ROTA",
    "TRAN",
    "MOUNTPOINT",
    "MOUNTPOINTS",
    "FSTYPE",
    "SERIAL",
    "VENDOR",
    "RM",
    "RO",
    "MAJ:MIN",
    "PATH",
    "KNAME",
)


def _block_devices(ctx: Ctx) -> list[dict]:
    node = ctx.node
    devs: list[dict] = []
    for i, snap in enumerate(sorted(node.snaps.values(), key=lambda s: s.get("loop", "0"))):
        devs.append(
            {
                "name": f"loop{i}",
                "size": int(snap.get("size", "0")),
                "type": "loop",
                "model": None,
                "rota": False,
                "tran": None,
                "mountpoint": f"/snap/{snap['name']}/{snap['rev']}",
                "fstype": "squashfs",
                "serial": None,
                "vendor": None,
                "rm": False,
                "ro": True,
                "maj:min": f"7:{i}",
            }
        )
    for n, d in enumerate(node.profile.disks):
        children = []
        if n == 0:
            p1, p2 = f"{d.name}p1", f"{d.name}p2"
            children = [
                {
                    "name": p1,
                    "size": 1_127_219_200,
                    "type": "part",
                    "model": None,
                    "rota": d.rota,
                    "tran": None,
                    "mountpoint": "/boot/efi",
                    "fstype": "vfat",
                    "serial": None,
                    "vendor": None,
                    "rm": False,
                    "ro": False,
                    "maj:min": f"259:{n * 4 + 1}",
                },
                {
                    "name": p2,
                    "size": d.size - 1_127_219_200 - 2 * 1024**2,
                    "type": "part",
                    "model": None,
                    "rota": d.rota,
                    "tran": None,
                    "mountpoint": "/",
                    "fstype": "ext4",
                    "serial": None,
                    "vendor": None,
                    "rm": False,
                    "ro": False,
                    "maj:min": f"259:{n * 4 + 2}",
                },
            ]
        devs.append(
            {
                "name": d.name,
                "size": d.size,
                "type": "disk",
                "model": d.model,
                "rota": d.rota,
                "tran": d.tran,
                "mountpoint": None,
                "fstype": None,
                "serial": f"S6LAB{node.machine_id[:8].upper()}{n}",
                "vendor": None,
                "rm": False,
                "ro": False,
                "maj:min": f"259:{n * 4}",
                "children": children,
            }
        )
    return devs


def _human_size(n: int) -> str:
    v = float(n)
    for unit in ("B", "K", "M", "G", "T", "P"):
        if v < 1024 or unit == "P":
            if unit == "B":
                return f"{int(v)}B"
            return f"{v:.1f}{unit}".replace(".0", "") if v < 10 else f"{v:.0f}{unit}" if v >= 100 else f"{v:.1f}{unit}"
        v /= 1024
    return str(n)


@program("/usr/bin/lsblk")
async def lsblk(ctx: Ctx, argv: list[str]) -> int:
    args = argv[1:]
    columns = ["NAME", "MAJ:MIN", "RM", "SIZE", "RO", "TYPE", "MOUNTPOINTS"]
    json_out = nodeps = raw_bytes = noheadings = False
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-o", "--output"):
            i += 1
            columns = args[i].upper().split(",") if i < len(args) else columns
        elif a.startswith("--output="):
            columns = a.split("=", 1)[1].upper().split(",")
        elif a.startswith("-") and not a.startswith("--"):
            for c in a[1:]:
                if c == "J":
                    json_out = True
                elif c == "d":
                    nodeps = True
                elif c == "b":
                    raw_bytes = True
                elif c == "n":
                    noheadings = True
                elif c == "o":
                    i += 1
                    columns = args[i].upper().split(",")
                    break
                else:
                    return _bad(ctx, "lsblk", "-" + c)
        elif a == "--json":
            json_out = True
        elif a == "--nodeps":
            nodeps = True
        elif a == "--bytes":
            raw_bytes = True
        else:
            ctx.err(f"lsblk: {a}: not a block device")
            return 32
        i += 1
    for c in columns:
        if c not in LSBLK_COLUMNS:
            ctx.err(f"lsblk: unknown column: {c}")
            return 1

    def value(dev: dict, col: str):
        key = col.lower()
        if key == "path":
            return f"/dev/{dev['name']}"
        if key == "kname":
            return dev["name"]
        if key == "mountpoints":
            return [dev.get("mountpoint")]
        if key == "size":
            return dev["size"] if raw_bytes else _human_size(dev["size"])
        return dev.get(key)

    def to_json(dev: dict) -> dict:
        out = {c.lower(): value(dev, c) for c in columns}
        if not nodeps and dev.get("children"):
            out["children"] = [to_json(c) for c in dev["children"]]
        return out

    devs = _block_devices(ctx)
    if json_out:
        text = json.dumps({"blockdevices": [to_json(d) for d in devs]}, indent=3, ensure_ascii=False)
        ctx.out(text + "\n")
        return 0

    def cell(v) -> str:
        if isinstance(v, list):
            v = v[0]
        if v is None:
            return ""
        if isinstance(v, bool):
            return "1" if v else "0"
        return str(v)

    rows: list[list[str]] = []
    for d in devs:
        rows.append([cell(value(d, c)) for c in columns])
        if not nodeps:
            for k, ch in enumerate(d.get("children") or []):
                r = [cell(value(ch, c)) for c in columns]
                if columns and columns[0] == "NAME":
                    r[0] = ("└─" if k == len(d["children"]) - 1 else "├─") + r[0]
                rows.append(r)
    table = ([] if noheadings else [list(columns)]) + rows
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    for r in table:
        cells = []
        for i, (c, w) in enumerate(zip(r, widths, strict=False)):
            numeric = columns[i] in ("SIZE", "RM", "RO", "ROTA", "MAJ:MIN")
            cells.append(c.rjust(w) if numeric and i else c.ljust(w))
        ctx.out(" ".join(cells).rstrip() + "\n")
    return 0


@program("/usr/bin/lscpu")
async def lscpu(ctx: Ctx, argv: list[str]) -> int:
    p = ctx.node.profile
    intel = "Intel" in p.cpu_model
    rows = [
        ("Architecture", "x86_64"),
        ("CPU op-mode(s)", "32-bit, 64-bit"),
        ("Address sizes", "52 bits physical, 57 bits virtual"),
        ("Byte Order", "Little Endian"),
        ("CPU(s)", str(p.cores)),
        ("On-line CPU(s) list", f"0-{p.cores - 1}"),
        ("Vendor ID", "GenuineIntel" if intel else "AuthenticAMD"),
        ("Model name", p.cpu_model),
        ("Thread(s) per core", "1"),
        ("Core(s) per socket", str(p.cores)),
        ("Socket(s)", "1"),
        ("Hypervisor vendor", "KVM"),
        ("Virtualization type", "full"),
    ]
    for k, v in rows:
        ctx.out(f"{k + ':':<33} {v}\n")
    return 0


# ---------------------------------------------------------------------------- ip


def _interfaces(ctx: Ctx) -> list[dict]:
    node = ctx.node
    mac = node.mac
    parts = mac.split(":")
    eui = f"fe80::{int(parts[0], 16) ^ 2:x}{parts[1]}:{parts[2]}ff:fe{parts[3]}:{parts[4]}{parts[5]}"
    eui = re.sub(r":0+([0-9a-f])", r":\1", eui)
    octets = node.address.split(".")
    bits = node.prefixlen
    host_mask = (1 << (32 - bits)) - 1
    addr_int = int.from_bytes(bytes(int(o) for o in octets), "big")
    brd = ".".join(str(b) for b in (addr_int | host_mask).to_bytes(4, "big"))
    forever = 4294967295
    return [
        {
            "ifindex": 1,
            "ifname": "lo",
            "flags": ["LOOPBACK", "UP", "LOWER_UP"],
            "mtu": 65536,
            "qdisc": "noqueue",
            "operstate": "UNKNOWN",
            "group": "default",
            "txqlen": 1000,
            "link_type": "loopback",
            "address": "00:00:00:00:00:00",
            "broadcast": "00:00:00:00:00:00",
            "addr_info": [
                {
                    "family": "inet",
                    "local": "127.0.0.1",
                    "prefixlen": 8,
                    "scope": "host",
                    "label": "lo",
                    "valid_life_time": forever,
                    "preferred_life_time": forever,
                },
                {
                    "family": "inet6",
                    "local": "::1",
                    "prefixlen": 128,
                    "scope": "host",
                    "noprefixroute": True,
                    "valid_life_time": forever,
                    "preferred_life_time": forever,
                },
            ],
        },
        {
            "ifindex": 2,
            "ifname": "enp1s0",
            "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
            "mtu": 1500,
            "qdisc": "fq_codel",
            "operstate": "UP",
            "group": "default",
            "txqlen": 1000,
            "link_type": "ether",
            "address": mac,
            "broadcast": "ff:ff:ff:ff:ff:ff",
            "addr_info": [
                {
                    "family": "inet",
                    "local": node.address,
                    "prefixlen": bits,
                    "broadcast": brd,
                    "scope": "global",
                    "label": "enp1s0",
                    "valid_life_time": forever,
                    "preferred_life_time": forever,
                },
                {
                    "family": "inet6",
                    "local": eui,
                    "prefixlen": 64,
                    "scope": "link",
                    "valid_life_time": forever,
                    "preferred_life_time": forever,
                },
            ],
        },
    ]


def _routes(ctx: Ctx) -> list[dict]:
    node = ctx.node
    net = int.from_bytes(bytes(int(o) for o in node.address.split(".")), "big") & ~((1 << (32 - node.prefixlen)) - 1)
    net_s = ".".join(str(b) for b in net.to_bytes(4, "big"))
    return [
        {"dst": "default", "gateway": node.gateway, "dev": "enp1s0", "protocol": "static", "flags": []},
        {
            "dst": f"{net_s}/{node.prefixlen}",
            "dev": "enp1s0",
            "protocol": "kernel",
            "scope": "link",
            "prefsrc": node.address,
            "flags": [],
        },
    ]


@program("/usr/bin/ip", "/usr/sbin/ip")
async def ip(ctx: Ctx, argv: list[str]) -> int:
    args = argv[1:]
    json_out = brief = False
    family = None
    while args and args[0].startswith("-"):
        a = args.pop(0)
        if a in ("-j", "-json", "--json"):
            json_out = True
        elif a in ("-br", "-brief"):
            brief = True
        elif a in ("-o", "-oneline"):
            pass
        elif a == "-4":
            family = "inet"
        elif a == "-6":
            family = "inet6"
        elif a in ("-p", "-pretty", "-d", "-details", "-c", "-color=never"):
            continue
        else:
            ctx.err(f'Option "{a}" is unknown, try "ip -help".')
            return 255
    if not args:
        ctx.err("Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }")
        return 255
    obj, rest = args[0], args[1:]
    if "addr".startswith(obj) or obj in ("address", "a"):
        dev = rest[rest.index("dev") + 1] if "dev" in rest else None
        if dev is None and len(rest) > 1 and rest[0] == "show":
            dev = rest[1]
        ifaces = [i for i in _interfaces(ctx) if dev is None or i["ifname"] == dev]
        if dev is not None and not ifaces:
            ctx.err(f'Device "{dev}" does not exist.')
            return 1
        if family:
            ifaces = [{**i, "addr_info": [a for a in i["addr_info"] if a["family"] == family]} for i in ifaces]
        if json_out:
            ctx.out(json.dumps(ifaces, separators=(",", ":")) + "\n")
            return 0
        for i in ifaces:
            if brief:
                addrs = " ".join(f"{a['local']}/{a['prefixlen']}" for a in i["addr_info"])
                ctx.out(f"{i['ifname']:<16} {i['operstate']:<14} {addrs} \n")
                continue
            ctx.out(
                f"{i['ifindex']}: {i['ifname']}: <{','.join(i['flags'])}> mtu {i['mtu']} qdisc {i['qdisc']} "
                f"state {i['operstate']} group {i['group']} qlen {i['txqlen']}\n"
            )
            ctx.out(f"    link/{i['link_type']} {i['address']} brd {i['broadcast']}\n")
            for a in i["addr_info"]:
                brd = f" brd {a['broadcast']}" if "broadcast" in a else ""
                label = f" {a['label']}" if a["family"] == "inet" else ""
                extra = " noprefixroute" if a.get("noprefixroute") else ""
                ctx.out(
                    f"    {a['family']} {a['local']}/{a['prefixlen']}{brd} scope {a['scope']}{label}{extra} \n"
                    if a["family"] == "inet6"
                    else f"    {a['family']} {a['local']}/{a['prefixlen']}{brd} scope {a['scope']}{label}\n"
                )
                ctx.out("       valid_lft forever preferred_lft forever\n")
        return 0
    if "route".startswith(obj) or obj == "r":
        routes = _routes(ctx)
        if rest and rest[0] == "get":
            dst = rest[1] if len(rest) > 1 else ""
            r = {
                "dst": dst,
                "gateway": ctx.node.gateway,
                "dev": "enp1s0",
                "prefsrc": ctx.node.address,
                "flags": [],
                "uid": ctx.node.uid(ctx.user),
                "cache": [],
            }
            if json_out:
                ctx.out(json.dumps([r], separators=(",", ":")) + "\n")
            else:
                ctx.out(f"{dst} via {r['gateway']} dev enp1s0 src {r['prefsrc']} uid {r['uid']} \n    cache \n")
            return 0
        if rest and rest[0] in ("show", "list"):
            rest = rest[1:]
        if rest and rest[0] == "default":
            routes = [r for r in routes if r["dst"] == "default"]
        if family == "inet6":
            routes = []
        if json_out:
            ctx.out(json.dumps(routes, separators=(",", ":")) + "\n")
            return 0
        for r in routes:
            if r["dst"] == "default":
                ctx.out(f"default via {r['gateway']} dev {r['dev']} proto {r['protocol']} \n")
            else:
                ctx.out(f"{r['dst']} dev {r['dev']} proto kernel scope link src {r['prefsrc']} \n")
        return 0
    if "link".startswith(obj):
        ifaces = _interfaces(ctx)
        for i in ifaces:
            i.pop("addr_info")
        if json_out:
            ctx.out(json.dumps(ifaces, separators=(",", ":")) + "\n")
        else:
            for i in ifaces:
                ctx.out(
                    f"{i['ifindex']}: {i['ifname']}: <{','.join(i['flags'])}> mtu {i['mtu']} qdisc {i['qdisc']} "
                    f"state {i['operstate']} mode DEFAULT group {i['group']} qlen {i['txqlen']}\n"
                )
                ctx.out(f"    link/{i['link_type']} {i['address']} brd {i['broadcast']}\n")
        return 0
    ctx.err(f'Object "{obj}" is unknown, try "ip help".')
    return 1


# ---------------------------------------------------------------------------- ss


def _listening(ctx: Ctx) -> list[tuple[str, str]]:
    node = ctx.node
    socks = [
        ("127.0.0.53%lo:53", "0.0.0.0:*"),
        ("127.0.0.54:53", "0.0.0.0:*"),
        ("0.0.0.0:22", "0.0.0.0:*"),
        ("[::]:22", "[::]:*"),
    ]
    m = node.microk8s
    if m.installed and m.running:
        socks += [
            ("127.0.0.1:10248", "0.0.0.0:*"),
            ("127.0.0.1:10249", "0.0.0.0:*"),
            ("127.0.0.1:1338", "0.0.0.0:*"),
            ("*:10250", "*:*"),
            ("*:10255", "*:*"),
            ("*:10256", "*:*"),
            ("0.0.0.0:25000", "0.0.0.0:*"),
        ]
        if m.role == "worker":
            socks += [("127.0.0.1:16443", "0.0.0.0:*")]
        else:
            socks += [
                (f"{node.address}:19001", "0.0.0.0:*"),
                ("*:16443", "*:*"),
                ("*:10257", "*:*"),
                ("*:10259", "*:*"),
            ]
    return socks


@program("/usr/bin/ss")
async def ss(ctx: Ctx, argv: list[str]) -> int:
    flags = _short_flags(argv[1:])
    if bad := flags - set("ltnHpuaxe4"):
        ctx.err(f"ss: invalid option -- '{sorted(bad)[0]}'")
        return 1
    socks = [] if "t" not in flags and "u" in flags else _listening(ctx) if "l" in flags or "a" in flags else []
    if "H" not in flags:
        ctx.out("State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess\n")
    for local, peer in socks:
        backlog = 4096 if ":22" not in local else 128
        ctx.out(f"LISTEN 0      {backlog:<6} {local:>20} {peer:<19}\n")
    return 0


# ---------------------------------------------------------------------------- lspci


@dataclass(frozen=True)
class PciDev:
    slot: str  # "00:09.0"
    class_name: str
    class_code: str
    desc: str
    vendor: str
    device: str
    rev: str | None
    driver: str | None = None
    modules: str | None = None
    subsystem: str | None = None


_LSPCI = re.compile(r"^(\S+) (.+?) \[([0-9a-f]{4})\]: (.*) \[([0-9a-f]{4}):([0-9a-f]{4})\](?: \(rev ([0-9a-f]+)\))?$")
_DRIVERS = {
    ("1af4", None): ("virtio-pci", None),
    ("1b36", "000c"): ("pcieport", None),
    ("1b36", "000d"): ("xhci_hcd", "xhci_pci"),
    ("8086", "2918"): ("lpc_ich", "lpc_ich"),
    ("8086", "2922"): ("ahci", "ahci"),
    ("8086", "2930"): ("i801_smbus", "i2c_i801"),
    ("15b3", "101e"): ("mlx5_core", "mlx5_core"),
}


@functools.lru_cache(maxsize=1)
def _host_devices() -> tuple[PciDev, ...]:
    out = []
    for line in _data("lspci.nn.a10").splitlines():
        m = _LSPCI.match(line.strip())
        if not m or m.group(5) == "10de":
            continue  # the capture's A10 is replaced per node
        slot, cname, ccode, desc, ven, dev, rev = m.groups()
        drv = _DRIVERS.get((ven, dev)) or _DRIVERS.get((ven, None)) or (None, None)
        out.append(PciDev(slot, cname, ccode, desc, ven, dev, rev, drv[0], drv[1]))
    return tuple(out)


def _pci_devices(ctx: Ctx) -> list[PciDev]:
    devs = list(_host_devices())
    g = ctx.node.profile.gpu
    if g is not None:
        slot = g.pci_address.split(":", 1)[1]
        devs.append(
            PciDev(
                slot,
                "3D controller",
                "0302",
                f"NVIDIA Corporation {g.lspci_name}",
                "10de",
                g.pci_device_id,
                "a1",
                "nvidia",
                "nvidiafb, nouveau, nvidia_drm, nvidia",
                f"NVIDIA Corporation Device [10de:{g.pci_subsystem}]",
            )
        )
    return sorted(devs, key=lambda d: d.slot)


@program("/usr/bin/lspci", "/usr/sbin/lspci")
async def lspci(ctx: Ctx, argv: list[str]) -> int:
    args = argv[1:]
    numeric = 0
    domains = kernel = False
    vendor_filter: tuple[str, str | None] | None = None
    slot_filter: str | None = None
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("-") and not a.startswith("--"):
            j = 1
            while j < len(a):
                c = a[j]
                if c == "n":
                    numeric += 1
                elif c == "D":
                    domains = True
                elif c == "k":
                    kernel = True
                elif c in ("d", "s"):
                    value = a[j + 1 :] or (args[i + 1] if i + 1 < len(args) else "")
                    if not a[j + 1 :]:
                        i += 1
                    if c == "d":
                        v, _, d = value.partition(":")
                        vendor_filter = (v.lower(), d.lower() or None)
                    else:
                        slot_filter = value.lower()
                    break
                elif c in ("q", "v"):
                    pass
                else:
                    ctx.err(f"lspci: invalid option -- '{c}'")
                    return 2
                j += 1
        else:
            ctx.err(f"lspci: unexpected argument {a}")
            return 2
        i += 1
    for d in _pci_devices(ctx):
        if vendor_filter and (d.vendor != vendor_filter[0] or (vendor_filter[1] and d.device != vendor_filter[1])):
            continue
        if slot_filter and not (d.slot.endswith(slot_filter) or f"0000:{d.slot}" == slot_filter):
            continue
        slot = f"0000:{d.slot}" if domains else d.slot
        rev = f" (rev {d.rev})" if d.rev else ""
        if numeric >= 2:
            line = f"{slot} {d.class_name} [{d.class_code}]: {d.desc} [{d.vendor}:{d.device}]{rev}"
        elif numeric == 1:
            line = f"{slot} {d.class_code}: {d.vendor}:{d.device}{rev}"
        else:
            line = f"{slot} {d.class_name}: {d.desc}{rev}"
        ctx.out(line + "\n")
        if kernel:
            if d.subsystem:
                ctx.out(f"\tSubsystem: {d.subsystem}\n")
            if d.driver:
                ctx.out(f"\tKernel driver in use: {d.driver}\n")
            if d.modules:
                ctx.out(f"\tKernel modules: {d.modules}\n")
    return 0


# ---------------------------------------------------------------------------- nvidia-smi


@functools.lru_cache(maxsize=4)
def capture_sections(name: str) -> dict[str, str]:
    """The capture's sections, keyed by the command that produced them (first = idle wins)."""
    sections: dict[str, str] = {}
    lines = _data(name).splitlines(keepends=True)
    i = 0
    banner = "#" * 80
    while i < len(lines):
        if (
            lines[i].rstrip("\n") == banner
            and i + 3 < len(lines)
            and lines[i + 2].startswith("# $ ")
            and lines[i + 3].rstrip("\n") == banner
        ):
            cmd = lines[i + 2][4:].strip()
            j = i + 4
            while j < len(lines) and lines[j].rstrip("\n") != banner:
                j += 1
            body = "".join(lines[i + 4 : j])
            body = body[:-2] if body.endswith("\n\n\n") else body  # two blank lines separate sections
            sections.setdefault(cmd, body.rstrip("\n") + "\n" if body.strip() else "")
            i = j
        else:
            i += 1
    return sections


@functools.lru_cache(maxsize=4)
def query_gpu_table(name: str) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """field -> (CSV header, value) from the capture's idle `--query-gpu` section; aliases -> field."""
    sections = capture_sections(name)
    key = next(k for k in sections if k.startswith("nvidia-smi --query-gpu="))
    fields = key.split("=", 1)[1].split(" ")[0].split(",")
    rows = [r for r in csv.reader(sections[key].splitlines(), skipinitialspace=True) if r]
    header, values = rows[0], rows[1]
    if not (len(fields) == len(header) == len(values)):
        raise RuntimeError(f"{name}: the --query-gpu capture does not line up")
    table = {f: (h, v) for f, h, v in zip(fields, header, values, strict=False)}
    aliases: dict[str, str] = {}
    for line in sections.get("nvidia-smi --help-query-gpu", "").splitlines():
        names = re.findall(r'"([^"]+)"', line) if line.startswith('"') else []
        for n in names:
            if names[0] in table:
                aliases[n] = names[0]
    return table, aliases


def _strip_unit(header: str, value: str) -> tuple[str, str]:
    m = re.match(r"^(.*?) \[(.+)\]$", header)
    if not m:
        return header, value
    unit = m.group(2)
    if value.endswith(" " + unit):
        value = value[: -len(unit) - 1]
    return m.group(1), value


def _has_smi(node) -> bool:
    return node.profile.gpu is not None


@program("/usr/bin/nvidia-smi", available=_has_smi)
async def nvidia_smi(ctx: Ctx, argv: list[str]) -> int:
    gpu = ctx.node.profile.gpu
    assert gpu is not None
    cap = gpu.capture
    sections = capture_sections(cap)
    args = argv[1:]
    query: str | None = None
    fmt: str | None = None
    rest: list[str] = []
    it = iter(args)
    for a in it:
        if a.startswith("--query-gpu="):
            query = a.split("=", 1)[1]
        elif a == "--query-gpu":
            query = next(it, "")
        elif a.startswith("--format="):
            fmt = a.split("=", 1)[1]
        elif a in ("-i", "--id"):
            idx = next(it, "")
            if idx not in ("0", gpu.pci_address, "00000000:" + gpu.pci_address.split(":", 1)[1]):
                ctx.out("No devices were found\n")
                return 6
        elif a.startswith("--id="):
            if a[5:] != "0":
                ctx.out("No devices were found\n")
                return 6
        else:
            rest.append(a)
    if query is not None:
        if fmt is None:
            ctx.out('"--format=" switch is missing. Please try again.\n')
            return 2
        opts = fmt.split(",")
        if opts[0] != "csv" or set(opts[1:]) - {"noheader", "nounits"}:
            ctx.out(f'"{fmt}" is not a valid format. Try "--format=csv[,noheader][,nounits]".\n')
            return 2
        table, aliases = query_gpu_table(cap)
        fields = [f.strip() for f in query.split(",") if f.strip()]
        cells: list[tuple[str, str]] = []
        for f in fields:
            key = aliases.get(f, f)
            if key not in table:
                ctx.out(f'Field "{f}" is not a valid field to query.\n\n')
                return 2
            header, value = table[key]
            if key == "timestamp":
                value = datetime.now(UTC).strftime("%Y/%m/%d %H:%M:%S.") + f"{int(time.time() * 1000) % 1000:03d}"
            if "nounits" in opts:
                header, value = _strip_unit(header, value)
            cells.append((header, value))
        if "noheader" not in opts:
            ctx.out(", ".join(h for h, _ in cells) + "\n")
        ctx.out(", ".join(v for _, v in cells) + "\n")
        return 0
    if rest == ["-L"] or rest == ["--list-gpus"]:
        ctx.out(sections["nvidia-smi -L"])
        return 0
    if rest in (["--version"], ["-v"]) and "nvidia-smi --version" in sections:
        ctx.out(sections["nvidia-smi --version"])
        return 0
    if rest in (["-q"], ["--query"]):
        ctx.out(sections["nvidia-smi -q"])
        return 0
    if not rest:
        ctx.out(sections["nvidia-smi"])
        return 0
    ctx.err(
        f"thinkube-lab: 'nvidia-smi {' '.join(args)}' is not simulated (the lab replays the "
        f"{gpu.model} capture: --query-gpu=... --format=csv[,noheader][,nounits], -L, -q, --version)"
    )
    return 1
