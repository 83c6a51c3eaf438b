"""How sizes, GPUs and nodes read for people: the one place every face formats them.

Two densities, on purpose: the wizard's tables are narrow (whole GiB, a GPU in a few words),
`discover`'s report is the full picture (one decimal, driver, compute capability, MIG).
"""

from __future__ import annotations

from collections import Counter

from .facts import Facts, Gpu


def gib(n: int | None, digits: int = 0) -> str:
    """Bytes as GiB with `digits` decimals; '?' when unknown."""
    return "?" if n is None else f"{n / 1024**3:.{digits}f} GiB"


def gpu_short(gpu: Gpu) -> str:
    """A GPU in a table cell: model, whole GiB of memory, driver."""
    memory = f" {gpu.memory_mib // 1024} GiB" if gpu.memory_mib else ""
    driver = f" driver {gpu.driver_version}" if gpu.driver_version else " no driver"
    return f"{gpu.model or 'NVIDIA GPU'}{memory},{driver}"


def gpu_long(gpu: Gpu) -> str:
    """A GPU in full: model (or PCI id), memory, driver (or why none), compute capability, MIG."""
    bits = [gpu.model or (f"NVIDIA [10de:{gpu.pci_device_id}]" if gpu.pci_device_id else "NVIDIA GPU")]
    if gpu.memory_mib is not None:
        bits.append(f"{gpu.memory_mib / 1024:.0f} GiB")
    if gpu.driver_version:
        bits.append(f"driver {gpu.driver_version}")
    elif gpu.kernel_driver and gpu.kernel_driver != "nvidia":
        bits.append(f"no driver ({gpu.kernel_driver})")
    else:
        bits.append("no driver")
    if gpu.compute_capability:
        bits.append(f"cc {gpu.compute_capability}")
    if gpu.mig_mode == "Enabled":
        bits.append("MIG" + (f" ×{gpu.mig_devices}" if gpu.mig_devices is not None else ""))
    return " · ".join(bits)


def gpus_counted(facts: Facts | None) -> str:
    """`1× H100 80GB HBM3`: the GPUs in a few characters, for a narrow column."""
    if facts is None:
        return ""
    if not facts.gpus:
        return "none"
    counts = Counter((g.model or "NVIDIA GPU").removeprefix("NVIDIA ") for g in facts.gpus)
    return ", ".join(f"{n}× {model}" for model, n in counts.items())


def gpus_labels(facts: Facts) -> str:
    """Every GPU's short label, for one line of progress ('no GPU' when none)."""
    return ", ".join(g.label for g in facts.gpus) or "no GPU"


def facts_row(facts: Facts | None, error: str | None = None) -> tuple[str, str, str, str, str]:
    """(OS, CPU, RAM, disk free, GPUs) for the wizard's nodes table."""
    if facts is None:
        return ("unreachable" if error else "-", "", "", "", "")
    cpu = f"{facts.cpu.count or '?'}× {(facts.cpu.model or '').split(' Processor')[0]}".strip()
    gpus = "; ".join(gpu_short(g) for g in facts.gpus) or "none"
    return (facts.os.pretty_name or facts.os.id or "?", cpu, gib(facts.memory_bytes), gib(facts.disk_free_bytes), gpus)


def os_cell(facts: Facts) -> str:
    """OS name and architecture, two lines."""
    os_ = facts.os
    name = os_.pretty_name or " ".join(x for x in (os_.id, os_.version_id) if x) or "?"
    return f"{name}\n{facts.arch or '?'}"


def cpu_cell(facts: Facts) -> str:
    count = "?" if facts.cpu.count is None else str(facts.cpu.count)
    return f"{count} × {facts.cpu.model}" if facts.cpu.model else f"{count} CPUs"


def disk_cell(facts: Facts) -> str:
    """Free space where snaps go (else the root file system), one decimal."""
    fs = facts.snap_fs or facts.root_fs
    if fs is None:
        return "?"
    return f"{gib(fs.avail_bytes, 1)} free\non {fs.mountpoint}"
