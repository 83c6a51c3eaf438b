"""What discovery found on one node: plain, frozen data.

Every field that could not be read is `None` (never a guess); why it could not be read is
in `Facts.warnings`. `discovery.py` builds these from one probe per node; `preflight.py`
judges them; `commands/discover_view.py` renders them and turns them into JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class OsInfo:
    """From /etc/os-release."""

    id: str | None
    version_id: str | None
    pretty_name: str | None
    codename: str | None


@dataclass(frozen=True)
class Cpu:
    model: str | None
    count: int | None


@dataclass(frozen=True)
class Disk:
    """A whole block device from `lsblk` (type `disk`; loop devices left out)."""

    name: str
    size_bytes: int | None
    model: str | None
    rotational: bool | None
    transport: str | None


@dataclass(frozen=True)
class Filesystem:
    """One `df -P -B1` row, for the path that was asked about."""

    path: str
    source: str
    size_bytes: int
    avail_bytes: int
    mountpoint: str


@dataclass(frozen=True)
class Address:
    family: str  # "inet" | "inet6"
    address: str
    prefixlen: int | None
    scope: str | None


@dataclass(frozen=True)
class Interface:
    name: str
    mac: str | None
    state: str | None
    addresses: tuple[Address, ...] = ()


@dataclass(frozen=True)
class DefaultRoute:
    dev: str | None
    gateway: str | None


@dataclass(frozen=True)
class MicroK8s:
    """MicroK8s on the node, as far as an unprivileged user can tell."""

    installed: bool | None
    version: str | None = None
    revision: str | None = None
    channel: str | None = None  # the snap's tracking channel, e.g. "1.33/stable"
    in_cluster: bool | None = None  # None: could not tell without root


@dataclass(frozen=True)
class Clock:
    """Four timestamps, NTP-style, to estimate the node's clock offset from ours.

    `remote_start`/`remote_end`: `date +%s.%N` at the start and end of the probe on the node.
    `local_sent`/`local_received`: this machine's `time.time()` when the probe was sent and
    its output received.
    """

    remote_start: float
    remote_end: float
    local_sent: float
    local_received: float

    @property
    def offset_s(self) -> float:
        """How far the node's clock is ahead of ours (negative: behind)."""
        return ((self.remote_start - self.local_sent) + (self.remote_end - self.local_received)) / 2

    @property
    def uncertainty_s(self) -> float:
        """Half the round trip not spent running the probe: the offset is ± this."""
        return max(0.0, ((self.local_received - self.local_sent) - (self.remote_end - self.remote_start)) / 2)


@dataclass(frozen=True)
class Gpu:
    """One NVIDIA GPU, joined from lspci/sysfs (always) and nvidia-smi (when a driver works)."""

    pci_address: str | None  # normalised "0000:3b:00.0"
    pci_device_id: str | None  # "20b2" (lower-case hex, vendor 10de implied)
    model: str | None
    memory_mib: int | None = None
    driver_version: str | None = None
    compute_capability: str | None = None  # "9.0"
    mig_mode: str | None = None  # "Enabled" | "Disabled"; None when not supported/unknown
    mig_devices: int | None = None
    uuid: str | None = None
    index: int | None = None  # nvidia-smi index
    kernel_driver: str | None = None  # the driver bound in sysfs: nvidia, nouveau, vfio-pci...

    @property
    def compute_capability_tuple(self) -> tuple[int, int] | None:
        return _version_tuple(self.compute_capability, 2)  # type: ignore[return-value]

    @property
    def driver_major(self) -> int | None:
        t = _version_tuple(self.driver_version, 1)
        return t[0] if t else None

    @property
    def label(self) -> str:
        """A short name for messages: 'GPU 0 (NVIDIA H100 80GB HBM3, 0000:00:09.0)'."""
        idx = f"GPU {self.index}" if self.index is not None else "GPU"
        bits = [b for b in (self.model, self.pci_address) if b]
        return f"{idx} ({', '.join(bits)})" if bits else idx


@dataclass(frozen=True)
class Facts:
    node: str
    hostname: str | None = None
    machine_id: str | None = None
    os: OsInfo = field(default_factory=lambda: OsInfo(None, None, None, None))
    kernel: str | None = None
    machine: str | None = None  # raw `uname -m`
    arch: str | None = None  # amd64 | arm64 | the raw value when neither
    cpu: Cpu = field(default_factory=lambda: Cpu(None, None))
    memory_bytes: int | None = None
    disks: tuple[Disk, ...] = ()
    root_fs: Filesystem | None = None
    snap_fs: Filesystem | None = None  # the filesystem holding /var/snap (or /var when absent)
    interfaces: tuple[Interface, ...] = ()
    default_route: DefaultRoute | None = None
    primary_address: str | None = None  # the first IPv4 (else IPv6) of the default route's device
    user: str | None = None
    uid: int | None = None
    snapd: bool | None = None
    microk8s: MicroK8s = field(default_factory=lambda: MicroK8s(installed=None))
    clock: Clock | None = None
    listening_ports: frozenset[int] | None = None  # TCP ports in LISTEN; None: unknown
    gpus: tuple[Gpu, ...] = ()
    nvidia_driver_version: str | None = None  # loaded kernel module's version
    nvidia_smi: bool | None = None  # nvidia-smi is on PATH
    nouveau_loaded: bool | None = None
    warnings: tuple[str, ...] = ()

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every non-loopback, non-link-local address of the node."""
        out: list[str] = []
        for iface in self.interfaces:
            for a in iface.addresses:
                if a.scope in ("host", "link") or a.address.startswith(("127.", "fe80:")) or a.address == "::1":
                    continue
                out.append(a.address)
        return tuple(out)

    @property
    def disk_free_bytes(self) -> int | None:
        """Free space where MicroK8s keeps its data (the /var/snap filesystem, else /)."""
        fs = self.snap_fs or self.root_fs
        return fs.avail_bytes if fs else None


def _version_tuple(text: str | None, parts: int) -> tuple[int, ...] | None:
    if not text:
        return None
    pieces = text.strip().split(".")
    try:
        nums = tuple(int(p) for p in pieces[:parts])
    except ValueError:
        return None
    if len(nums) < parts:
        nums = nums + (0,) * (parts - len(nums))
    return nums
