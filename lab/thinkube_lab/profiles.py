"""Hardware profiles of the lab's simulated nodes.

The numbers are plausible for a small homelab, not measurements of one machine. The GPU is
the NVIDIA H100 80GB HBM3 of the nvidia_gpu_exporter capture in `data/` (driver 590.48.01,
compute capability 9.0, PCI 00000000:00:09.0 -- a passthrough VM), whose outputs
`nvidia-smi` replays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GiB = 1024**3


@dataclass(frozen=True)
class DiskSpec:
    name: str
    size: int  # bytes
    model: str
    rota: bool = False
    tran: str = "nvme"


@dataclass(frozen=True)
class GpuSpec:
    model: str = "NVIDIA H100 80GB HBM3"
    capture: str = "nvidia-h100-80gb-hbm3__590.48.01.txt"
    driver: str = "590.48.01"
    compute_cap: str = "9.0"
    pci_address: str = "0000:00:09.0"  # where the capture's GPU sits
    pci_device_id: str = "2330"
    pci_subsystem: str = "16c1"
    lspci_name: str = "GH100 [H100 SXM5 80GB]"


@dataclass(frozen=True)
class Profile:
    name: str
    cores: int
    memory_gib: int
    cpu_model: str
    disks: tuple[DiskSpec, ...]
    gpu: GpuSpec | None = None
    nopasswd: bool = False  # sudo without a password (NOPASSWD in sudoers)
    kernel: str = "6.8.0-60-generic"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def memory_bytes(self) -> int:
        return self.memory_gib * GiB


_NVME = DiskSpec("nvme0n1", 1_000_204_886_016, "Samsung SSD 980 PRO 1TB")

PROFILES: dict[str, Profile] = {
    "control": Profile("control", 8, 32, "AMD EPYC 9124 16-Core Processor", (_NVME,)),
    "worker": Profile("worker", 8, 32, "AMD EPYC 9124 16-Core Processor", (_NVME,)),
    "gpu": Profile(
        "gpu",
        16,
        64,
        "Intel(R) Xeon(R) Platinum 8480+",
        (
            DiskSpec("nvme0n1", 1_920_383_410_176, "SAMSUNG MZQL21T9HCJR-00A07"),
            DiskSpec("nvme1n1", 3_840_755_982_336, "SAMSUNG MZQL23T8HCLS-00A07"),
        ),
        gpu=GpuSpec(),
    ),
}


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown lab node profile {name!r}; known: {', '.join(PROFILES)}") from None
