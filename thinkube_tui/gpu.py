"""NVIDIA GPUs from what a node prints: `lspci -nn`, `nvidia-smi` (CSV, XML, `-L`), the driver
version file and the loaded modules. Pure functions, tested on real captured outputs; output they
cannot read becomes `None` plus a warning, never an exception, never a guess.
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .facts import Gpu

#: The `--query-gpu` fields the probe asks nvidia-smi for, in order.
NVIDIA_SMI_FIELDS: tuple[str, ...] = (
    "index",
    "name",
    "uuid",
    "memory.total",
    "driver_version",
    "compute_cap",
    "mig.mode.current",
    "pci.bus_id",
    "pci.device_id",
)

#: PCI class codes of display controllers: VGA, 3D controller, other display controller.
DISPLAY_CLASSES = frozenset({"0300", "0302", "0380"})
NVIDIA_VENDOR = "10de"

Warnings = list[str]


def short(text: str, n: int = 80) -> str:
    """`text` on one line, cut to `n` characters, for warnings."""
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


# ---- PCI ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PciDevice:
    address: str  # normalised, with domain: "0000:3b:00.0"
    class_code: str  # "0302"
    vendor_id: str  # "10de"
    device_id: str  # "20b2"
    description: str | None = None  # lspci's text, e.g. "NVIDIA Corporation GA100 [A100 SXM4 80GB]"
    kernel_driver: str | None = None

    @property
    def is_nvidia_gpu(self) -> bool:
        return self.vendor_id == NVIDIA_VENDOR and self.class_code in DISPLAY_CLASSES

    @property
    def model(self) -> str | None:
        """The marketing name lspci knows: the last `[...]` of the description, if any."""
        if not self.description:
            return None
        desc = re.sub(r"^NVIDIA Corporation\s*", "", self.description).strip()
        m = re.search(r"\[([^\[\]]+)\]\s*$", desc)
        if m:
            return m.group(1).strip()
        if desc in ("", "Device") or re.fullmatch(r"Device [0-9a-fA-F]{4}", desc):
            return None
        return desc


_PCI_ADDR_RE = re.compile(
    r"^(?:(?P<domain>[0-9a-fA-F]{1,8}):)?(?P<bus>[0-9a-fA-F]{1,2}):(?P<dev>[0-9a-fA-F]{1,2})\.(?P<fn>[0-7])$"
)


def normalise_pci_address(text: str | None) -> str | None:
    """`00000000:3B:00.0`, `0000:3b:00.0` and `3b:00.0` all → `0000:3b:00.0`."""
    if not text:
        return None
    m = _PCI_ADDR_RE.match(text.strip())
    if not m:
        return None
    domain = int(m.group("domain") or "0", 16)
    return f"{domain:04x}:{int(m.group('bus'), 16):02x}:{int(m.group('dev'), 16):02x}.{m.group('fn')}"


_LSPCI_RE = re.compile(
    r"^(?P<addr>\S+)\s+(?P<cls_name>.*?)\s*\[(?P<cls>[0-9a-fA-F]{4})\]:\s*(?P<desc>.*)"
    r"\s\[(?P<vendor>[0-9a-fA-F]{4}):(?P<device>[0-9a-fA-F]{4})\]"
    r"(?P<tail>(?:\s*\((?:rev|prog-if)[^)]*\))*)\s*$"
)


def parse_lspci(text: str, warnings: Warnings | None = None) -> tuple[PciDevice, ...]:
    """`lspci -nn` (with or without `-D` and `-k`): every device line that can be read."""
    out: list[PciDevice] = []
    for line in text.splitlines():
        if line.startswith(("\t", " ")):
            # `lspci -k` adds indented lines under each device; the bound driver is the one we need.
            key, _, value = line.strip().partition(":")
            if key == "Kernel driver in use" and out:
                out[-1] = replace(out[-1], kernel_driver=value.strip() or None)
            continue
        if not line.strip():
            continue
        m = _LSPCI_RE.match(line.rstrip())
        addr = normalise_pci_address(m.group("addr")) if m else None
        if not m or addr is None:
            if warnings is not None:
                warnings.append(f"lspci: could not read {short(line)!r}")
            continue
        out.append(
            PciDevice(
                address=addr,
                class_code=m.group("cls").lower(),
                vendor_id=m.group("vendor").lower(),
                device_id=m.group("device").lower(),
                description=m.group("desc").strip() or None,
            )
        )
    return tuple(out)


# ---- nvidia-smi ------------------------------------------------------------------------


@dataclass(frozen=True)
class SmiGpu:
    """One GPU as nvidia-smi reports it (CSV query or XML)."""

    index: int | None
    name: str | None
    uuid: str | None
    memory_mib: int | None
    driver_version: str | None
    compute_capability: str | None
    mig_mode: str | None
    pci_address: str | None  # normalised
    pci_device_id: str | None  # "20b2"
    mig_devices: int | None = None


_NA_RE = re.compile(
    r"^\[?(n/a|not supported|unknown error|insufficient permissions|requested functionality.*)\]?$", re.I
)


def _smi_value(v: str | None) -> str | None:
    if v is None:
        return None
    v = v.strip()
    if not v or _NA_RE.match(v) or v.startswith("["):
        return None
    return v


def _smi_int(v: str | None, what: str, warnings: Warnings | None) -> int | None:
    v = _smi_value(v)
    if v is None:
        return None
    m = re.fullmatch(r"(\d+)(?:\s*MiB)?", v)
    if m:
        return int(m.group(1))
    if warnings is not None:
        warnings.append(f"nvidia-smi {what}: not a number: {short(v)!r}")
    return None


def _smi_device_id(v: str | None) -> str | None:
    """`0x20B210DE` / `20B210DE` (device id in the high 16 bits, vendor low) → `20b2`."""
    v = _smi_value(v)
    if v is None:
        return None
    try:
        n = int(v, 16)
    except ValueError:
        return None
    if n > 0xFFFF:
        return f"{(n >> 16) & 0xFFFF:04x}"
    return f"{n:04x}"


def _smi_compute_cap(v: str | None) -> str | None:
    v = _smi_value(v)
    if v is None or not re.fullmatch(r"\d+\.\d+", v):
        return None
    return v


def _smi_mig(v: str | None) -> str | None:
    v = _smi_value(v)
    if v is None:
        return None
    low = v.lower()
    if low in ("enabled", "disabled"):
        return low.capitalize()
    return None


def _smi_driver(v: str | None) -> str | None:
    v = _smi_value(v)
    if v is None or not re.fullmatch(r"\d+(\.\d+)*", v):
        return None
    return v


def parse_nvidia_smi_csv(
    text: str, warnings: Warnings | None = None, fields: Sequence[str] = NVIDIA_SMI_FIELDS
) -> tuple[SmiGpu, ...]:
    """`nvidia-smi --query-gpu=... --format=csv[,noheader][,nounits]`.

    With a header row (`index, name, memory.total [MiB], ...`) columns are matched by name,
    so any field list works; without one they are taken to be `fields`, in order.
    """
    try:
        lines = text.replace("\0", "").splitlines()
        rows = [r for r in csv.reader(lines, skipinitialspace=True) if any(c.strip() for c in r)]
    except csv.Error as exc:
        if warnings is not None:
            warnings.append(f"nvidia-smi --query-gpu: not CSV ({exc})")
        return ()
    if not rows:
        return ()
    names = [f for f in fields]
    first = [re.sub(r"\s*\[[^\]]*\]$", "", c.strip()) for c in rows[0]]
    if "name" in first or "pci.bus_id" in first or ("index" in first and not first[0].isdigit()):
        names, rows = first, rows[1:]
    out: list[SmiGpu] = []
    for row in rows:
        if len(row) != len(names):
            if warnings is not None:
                warnings.append(
                    f"nvidia-smi --query-gpu: expected {len(names)} columns, got {len(row)}: {short(','.join(row))!r}"
                )
            continue
        d = dict(zip(names, row, strict=False))
        out.append(
            SmiGpu(
                index=_smi_int(d.get("index"), "index", warnings),
                name=_smi_value(d.get("name")),
                uuid=_smi_value(d.get("uuid")),
                memory_mib=_smi_int(d.get("memory.total"), "memory.total", warnings),
                driver_version=_smi_driver(d.get("driver_version")),
                compute_capability=_smi_compute_cap(d.get("compute_cap")),
                mig_mode=_smi_mig(d.get("mig.mode.current")),
                pci_address=normalise_pci_address(_smi_value(d.get("pci.bus_id"))),
                pci_device_id=_smi_device_id(d.get("pci.device_id")),
            )
        )
    return tuple(out)


def parse_nvidia_smi_xml(text: str, warnings: Warnings | None = None) -> tuple[SmiGpu, ...]:
    """`nvidia-smi -q -x`. DTD entity declarations are refused; the external DTD is not read.

    The XML has no compute capability: it stays None. `index` is the position in the file
    (nvidia-smi lists GPUs in index order).
    """
    if re.search(r"<!ENTITY", text, re.I):
        if warnings is not None:
            warnings.append("nvidia-smi -q -x: refused XML that declares entities")
        return ()
    try:
        root = ET.fromstring(text.strip().encode("utf-8", errors="replace"))
    except (ET.ParseError, ValueError) as exc:
        if warnings is not None:
            warnings.append(f"nvidia-smi -q -x: not well-formed XML ({short(str(exc))})")
        return ()
    top_driver = _smi_driver(root.findtext("driver_version"))
    out: list[SmiGpu] = []
    for i, g in enumerate(root.findall("gpu")):
        mig_devices = g.find("mig_devices")
        mig_count = len(mig_devices.findall("mig_device")) if mig_devices is not None else None
        mig_mode = _smi_mig(g.findtext("mig_mode/current_mig"))
        out.append(
            SmiGpu(
                index=i,
                name=_smi_value(g.findtext("product_name")),
                uuid=_smi_value(g.findtext("uuid")),
                memory_mib=_smi_int(g.findtext("fb_memory_usage/total"), "fb_memory_usage", warnings),
                driver_version=top_driver,
                compute_capability=None,
                mig_mode=mig_mode,
                pci_address=normalise_pci_address(_smi_value(g.findtext("pci/pci_bus_id")) or g.get("id")),
                pci_device_id=_smi_device_id(g.findtext("pci/pci_device_id")),
                mig_devices=mig_count if mig_mode == "Enabled" else None,
            )
        )
    return tuple(out)


_SMI_L_GPU = re.compile(r"^GPU (\d+): .*\(UUID: ([^)]+)\)")
_SMI_L_MIG = re.compile(r"^\s+MIG \S+\s+Device\s+\d+:")


def parse_nvidia_smi_list(text: str) -> dict[int, int]:
    """`nvidia-smi -L` → {GPU index: number of MIG devices} for every GPU listed."""
    counts: dict[int, int] = {}
    current: int | None = None
    for line in text.splitlines():
        m = _SMI_L_GPU.match(line)
        if m:
            current = int(m.group(1))
            counts[current] = 0
        elif current is not None and _SMI_L_MIG.match(line):
            counts[current] += 1
    return counts


def parse_nvidia_version(text: str) -> str | None:
    """/proc/driver/nvidia/version: `NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.54.03  ...`."""
    for line in text.splitlines():
        if line.startswith("NVRM version:"):
            m = re.search(r"Kernel Module(?: for [^ ]+)?\s+(\d+(?:\.\d+)+)", line) or re.search(
                r"\s(\d{3,}(?:\.\d+)+)\s", line + " "
            )
            if m:
                return m.group(1)
    return None


def merge_gpus(
    pci: Sequence[PciDevice],
    smi: Sequence[SmiGpu],
    *,
    mig_counts: dict[int, int] | None = None,
    module_version: str | None = None,
) -> tuple[Gpu, ...]:
    """Join PCI devices (lspci/sysfs) with nvidia-smi rows by PCI address.

    Only NVIDIA display-class devices count (NVSwitch bridges do not); SR-IOV virtual
    functions are left out. nvidia-smi rows with no PCI device are kept on their own.
    """
    by_addr = {s.pci_address: s for s in smi if s.pci_address}
    used: set[str] = set()
    gpus: list[Gpu] = []
    for dev in pci:
        if not dev.is_nvidia_gpu:
            continue
        s = by_addr.get(dev.address)
        if s is not None:
            used.add(dev.address)
            gpus.append(_gpu_from_smi(s, dev, mig_counts))
        else:
            driver = module_version if dev.kernel_driver == "nvidia" else None
            gpus.append(
                Gpu(
                    pci_address=dev.address,
                    pci_device_id=dev.device_id,
                    model=dev.model,
                    driver_version=driver,
                    kernel_driver=dev.kernel_driver,
                )
            )
    for s in smi:
        if s.pci_address and s.pci_address in used:
            continue
        gpus.append(_gpu_from_smi(s, None, mig_counts))
    gpus.sort(key=lambda g: (g.index if g.index is not None else 1 << 30, g.pci_address or ""))
    return tuple(gpus)


def _gpu_from_smi(s: SmiGpu, dev: PciDevice | None, mig_counts: dict[int, int] | None) -> Gpu:
    mig_devices = s.mig_devices
    if mig_devices is None and s.mig_mode == "Enabled" and mig_counts and s.index in mig_counts:
        mig_devices = mig_counts[s.index]
    return Gpu(
        pci_address=s.pci_address or (dev.address if dev else None),
        pci_device_id=s.pci_device_id or (dev.device_id if dev else None),
        model=s.name or (dev.model if dev else None),
        memory_mib=s.memory_mib,
        driver_version=s.driver_version,
        compute_capability=s.compute_capability,
        mig_mode=s.mig_mode,
        mig_devices=mig_devices,
        uuid=s.uuid,
        index=s.index,
        kernel_driver=dev.kernel_driver if dev else None,
    )


def parse_modules(text: str) -> tuple[bool | None, bool | None]:
    """`/proc/modules` → (nouveau loaded, nvidia loaded); None when it could not be read."""
    if not text.strip():
        return None, None
    names = {line.split(None, 1)[0] for line in text.splitlines() if line.strip()}
    return "nouveau" in names, "nvidia" in names
