"""GPU parsers on real captured outputs (tests/discovery/fixtures, see SOURCES.md there)."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.discovery.helpers import CAPTURES, FIXTURES, capture_section, fixture_text
from thinkube_tui.gpu import (
    NVIDIA_SMI_FIELDS,
    PciDevice,
    merge_gpus,
    normalise_pci_address,
    parse_lspci,
    parse_nvidia_smi_csv,
    parse_nvidia_smi_list,
    parse_nvidia_smi_xml,
    parse_nvidia_version,
)

# ---- nvidia-smi --query-gpu CSV ---------------------------------------------------------

# file stem → (name, MiB, driver, compute cap, MIG mode, PCI address, device id)
CSV_EXPECTED = {
    "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01": (
        "NVIDIA H100 80GB HBM3",
        81559,
        "590.48.01",
        "9.0",
        "Disabled",
        "0000:00:09.0",
        "2330",
    ),
    "linux-x86_64__nvidia-h100-mig__590.48.01": (
        "NVIDIA H100 80GB HBM3",
        81559,
        "590.48.01",
        "9.0",
        "Enabled",
        "0000:00:09.0",
        "2330",
    ),
    "linux-x86_64__nvidia-h200__590.48.01": (
        "NVIDIA H200",
        143771,
        "590.48.01",
        "9.0",
        "Disabled",
        "0000:83:00.0",
        "2335",
    ),
    "linux-x86_64__nvidia-h200-mig__590.48.01": (
        "NVIDIA H200",
        143771,
        "590.48.01",
        "9.0",
        "Enabled",
        "0000:83:00.0",
        "2335",
    ),
    "linux-x86_64__nvidia-l40s__595.80": ("NVIDIA L40S", 46068, "595.80", "8.9", None, "0000:01:00.0", "26b9"),
    "linux-x86_64__nvidia-geforce-rtx-4080-super__595.71.05": (
        "NVIDIA GeForce RTX 4080 SUPER",
        16376,
        "595.71.05",
        "8.9",
        None,
        "0000:01:00.0",
        "2702",
    ),
    "linux-x86_64__nvidia-geforce-rtx-2080-super__595.71.05": (
        "NVIDIA GeForce RTX 2080 SUPER",
        8192,
        "595.71.05",
        "7.5",
        None,
        "0000:0c:00.0",
        "1e81",
    ),
    "linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04": (
        "NVIDIA GeForce RTX 2080 SUPER",
        8192,
        "610.57.04",
        "7.5",
        None,
        "0000:0c:00.0",
        "1e81",
    ),
}


def test_every_capture_has_an_expectation():
    assert {p.stem for p in CAPTURES} == set(CSV_EXPECTED)


def test_capture_section_helper_returns_command_and_body():
    command, body = capture_section(CAPTURES[0], "idle :: query-gpu")
    assert command.startswith("nvidia-smi --query-gpu=timestamp,driver_version")
    assert command.endswith("--format=csv")
    assert len(body.splitlines()) == 2  # header + one GPU
    with pytest.raises(KeyError):
        capture_section(CAPTURES[0], "no such section")


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
@pytest.mark.parametrize("phase", ["idle", "load"])
def test_query_gpu_csv_with_header(path, phase):
    """The captures use `--format=csv` (header row, units): columns are matched by name."""
    _, body = capture_section(path, f"{phase} :: query-gpu")
    warnings: list[str] = []
    (gpu,) = parse_nvidia_smi_csv(body, warnings)
    name, mib, driver, cc, mig, addr, dev = CSV_EXPECTED[path.stem]
    assert gpu.index == 0
    assert gpu.name == name
    assert gpu.memory_mib == mib
    assert gpu.driver_version == driver
    assert gpu.compute_capability == cc
    assert gpu.mig_mode == mig
    assert gpu.pci_address == addr
    assert gpu.pci_device_id == dev
    assert gpu.uuid == "GPU-00000000-0000-0000-0000-000000000000"
    assert warnings == []


def _as_probe_csv(body: str) -> str:
    """Re-emit a capture's CSV the way the probe asks for it: our fields, noheader, nounits."""
    rows = list(csv.reader(io.StringIO(body), skipinitialspace=True))
    header = [re.sub(r"\s*\[[^\]]*\]$", "", h.strip()) for h in rows[0]]
    out = []
    for row in rows[1:]:
        d = dict(zip(header, row, strict=False))
        vals = [re.sub(r"\s+MiB$", "", d[f].strip()) for f in NVIDIA_SMI_FIELDS]
        out.append(", ".join(vals))
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_query_gpu_csv_noheader_nounits(path):
    _, body = capture_section(path, "idle :: query-gpu")
    text = _as_probe_csv(body)
    assert not text.startswith("index")
    (gpu,) = parse_nvidia_smi_csv(text)
    name, mib, driver, cc, mig, addr, dev = CSV_EXPECTED[path.stem]
    assert (
        gpu.name,
        gpu.memory_mib,
        gpu.driver_version,
        gpu.compute_capability,
        gpu.mig_mode,
        gpu.pci_address,
        gpu.pci_device_id,
    ) == (name, mib, driver, cc, mig, addr, dev)


def test_csv_several_gpus_and_na_values():
    text = (
        "0, NVIDIA RTX A5000, GPU-aaa, 24564, 590.44.01, 8.6, [N/A], 00000000:81:00.0, 0x223110DE\n"
        "1, NVIDIA RTX A5000, GPU-bbb, 24564, 590.44.01, 8.6, [N/A], 00000000:C1:00.0, 0x223110DE\n"
    )
    gpus = parse_nvidia_smi_csv(text)
    assert [g.pci_address for g in gpus] == ["0000:81:00.0", "0000:c1:00.0"]
    assert all(g.mig_mode is None and g.pci_device_id == "2231" for g in gpus)


def test_csv_wrong_column_count_is_a_warning_not_a_crash():
    warnings: list[str] = []
    assert parse_nvidia_smi_csv("0, only, three\n", warnings) == ()
    assert warnings and "expected 9 columns" in warnings[0]


def test_csv_garbled_number_becomes_none_with_warning():
    warnings: list[str] = []
    (g,) = parse_nvidia_smi_csv("0, X, GPU-1, lots, 580.65.06, 12.0, Enabled, 0000:01:00.0, 0x2B8510DE\n", warnings)
    assert g.memory_mib is None and g.compute_capability == "12.0" and g.pci_device_id == "2b85"
    assert any("memory.total" in w for w in warnings)


# ---- nvidia-smi -L (MIG devices) ------------------------------------------------------------


@pytest.mark.parametrize(
    "stem, expected",
    [
        ("linux-x86_64__nvidia-h100-mig__590.48.01", {0: 4}),
        ("linux-x86_64__nvidia-h200-mig__590.48.01", {0: 5}),
        ("linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01", {0: 0}),
    ],
)
def test_nvidia_smi_list_counts_mig_devices(stem, expected):
    _, body = capture_section(FIXTURES / "nvidia_gpu_exporter" / f"{stem}.txt", "capabilities :: list (-L)")
    assert parse_nvidia_smi_list(body) == expected


# ---- nvidia-smi -q -x ------------------------------------------------------------------------

# file → list of (name, MiB, driver, MIG mode, MIG devices, PCI address, device id, uuid prefix)
XML_EXPECTED = {
    "telegraf/a100-sxm4-v12.xml": [
        ("NVIDIA A100-SXM4-80GB", 81920, "535.54.03", "Enabled", 4, "0000:01:00.0", "20b2", "GPU-513536b6")
    ],
    "telegraf/tesla-t4.xml": [("Tesla T4", 15360, "515.105.01", None, None, "0000:00:1e.0", "1eb8", "GPU-d37e67a5")],
    "telegraf/rtx-3090-v12.xml": [
        ("NVIDIA GeForce RTX 3090", 24576, "525.147.05", None, None, "0000:00:10.0", None, "GPU-12345678")
    ],
    "telegraf/rtx-4000-sff-ada-v13.xml": [
        ("NVIDIA RTX 4000 SFF Ada Generation", 20475, "595.84", None, None, "0000:06:00.0", "27b0", "GPU-37037c3f")
    ],
    "telegraf/gtx-1070-ti.xml": [("GeForce GTX 1070 Ti", 4096, None, None, None, "0000:01:00.0", None, "GPU-f9ba66fc")],
    "telegraf/dual_a5000-v13.xml": [
        (
            "NVIDIA RTX A5000",
            24564,
            "590.44.01",
            None,
            None,
            "0000:81:00.0",
            "2231",
            "GPU-12345678-aaaa-bbbb-cccc-0123456789ab",
        ),
        (
            "NVIDIA RTX A5000",
            24564,
            "590.44.01",
            None,
            None,
            "0000:c1:00.0",
            "2231",
            "GPU-12345678-aaaa-bbbb-cccc-0123456789cd",
        ),
    ],
    "hadoop/nvidia-smi-sample-output.xml": [
        ("Tesla P100-PCIE-12GB", 11567, "375.66", None, None, "0000:04:00.0", "15f7", "GPU-28604e81"),
        ("Tesla P100-PCIE-12GB_2", 12290, "375.66", None, None, "0000:82:00.0", "15f7", "GPU-46915a82"),
    ],
}


@pytest.mark.parametrize("rel", sorted(XML_EXPECTED))
def test_nvidia_smi_xml(rel):
    warnings: list[str] = []
    gpus = parse_nvidia_smi_xml(fixture_text(rel), warnings)
    assert warnings == []
    got = [
        (g.name, g.memory_mib, g.driver_version, g.mig_mode, g.mig_devices, g.pci_address, g.pci_device_id)
        for g in gpus
    ]
    assert got == [e[:7] for e in XML_EXPECTED[rel]]
    assert [g.index for g in gpus] == list(range(len(gpus)))
    for g, e in zip(gpus, XML_EXPECTED[rel], strict=False):
        assert g.uuid is not None and g.uuid.startswith(e[7])
        assert g.compute_capability is None  # the XML does not say; no guessing


def test_xml_with_entities_is_refused():
    evil = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><nvidia_smi_log><gpu><product_name>&a;</product_name></gpu></nvidia_smi_log>'
    warnings: list[str] = []
    assert parse_nvidia_smi_xml(evil, warnings) == ()
    assert "entities" in warnings[0]


def test_xml_malformed_is_a_warning():
    warnings: list[str] = []
    assert parse_nvidia_smi_xml("<nvidia_smi_log><gpu>", warnings) == ()
    assert "not well-formed" in warnings[0]


def test_nvidia_module_version():
    text = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.54.03  Tue Jun  6 22:20:39 UTC 2023\nGCC version:  gcc version 12.2.0\n"
    assert parse_nvidia_version(text) == "535.54.03"
    open_text = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.65.06  Release Build  (dvs-builder@U16-I3-B03-4-3)  Sun Jul 27 07:09:36 UTC 2025\n"
    assert parse_nvidia_version(open_text) == "580.65.06"
    assert parse_nvidia_version("garbage") is None


# ---- lspci -nn ----------------------------------------------------------------------------------


def _gpus(devices):
    return [d for d in devices if d.is_nvidia_gpu]


def test_lspci_a100_eight_gpus_and_nvswitch_bridges_are_not_gpus():
    warnings: list[str] = []
    devices = parse_lspci(fixture_text("gpud/lspci.nn.a100"), warnings)
    assert warnings == []
    assert len(devices) == 31
    gpus = _gpus(devices)
    assert len(gpus) == 8
    assert {g.device_id for g in gpus} == {"20b2"}
    assert {g.model for g in gpus} == {"A100 SXM4 80GB"}
    assert gpus[0].address == "0001:00:00.0" and gpus[-1].address == "000e:00:00.0"
    bridges = [d for d in devices if d.vendor_id == "10de" and d.class_code == "0680"]
    assert len(bridges) == 6 and all(b.model is None for b in bridges)
    # and once merged into Facts' GPU list, only the 8 remain
    assert len(merge_gpus(devices, ())) == 8


def test_lspci_a10_in_a_vm_without_domain():
    devices = parse_lspci(fixture_text("gpud/lspci.nn.a10"))
    (gpu,) = _gpus(devices)
    assert gpu.address == "0000:06:00.0"
    assert gpu.device_id == "2236" and gpu.class_code == "0302" and gpu.model == "A10"
    # the Virtio VGA device is a display controller, but not NVIDIA
    assert any(d.class_code == "0300" and d.vendor_id == "1af4" for d in devices)


def test_lspci_cyborg_lines_with_domain_and_virtual_function():
    devices = parse_lspci(fixture_text("cyborg/lspci-nn-lines.txt"))
    assert [(d.address, d.device_id, d.model) for d in devices] == [
        ("0000:00:06.0", "15f7", "Tesla P100 PCIe 12GB"),
        ("0000:af:00.0", "1eb8", "Tesla T4"),
        ("0000:3b:00.0", "20f1", "A100 PCIe 40GB"),
        ("0000:3b:00.4", "20f1", "A100 PCIe 40GB"),
    ]
    gpus = merge_gpus(devices, ())
    assert [g.model for g in gpus] == ["Tesla P100 PCIe 12GB", "A100 PCIe 40GB", "A100 PCIe 40GB", "Tesla T4"]


def test_lspci_unreadable_line_is_a_warning():
    warnings: list[str] = []
    assert parse_lspci("this is not lspci\n", warnings) == ()
    assert warnings


@pytest.mark.parametrize(
    "raw, norm",
    [
        ("00000000:3B:00.0", "0000:3b:00.0"),
        ("0000:3b:00.0", "0000:3b:00.0"),
        ("3b:00.0", "0000:3b:00.0"),
        ("0001:00:00.0", "0001:00:00.0"),
        ("10000:01:00.0", "10000:01:00.0"),
        ("zz:00.0", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_pci_address(raw, norm):
    assert normalise_pci_address(raw) == norm


# ---- joining lspci and nvidia-smi -------------------------------------------------------------


def test_merge_joins_on_normalised_address_and_keeps_driverless_gpus():
    lspci = parse_lspci(
        "0000:3b:00.0 3D controller [0302]: NVIDIA Corporation GH100 [H100 SXM5 80GB] [10de:2330] (rev a1)\n"
        "0000:86:00.0 3D controller [0302]: NVIDIA Corporation GH100 [H100 SXM5 80GB] [10de:2330] (rev a1)\n"
    )
    _, body = capture_section(
        FIXTURES / "nvidia_gpu_exporter" / "linux-x86_64__nvidia-h100-mig__590.48.01.txt", "idle :: query-gpu"
    )
    (smi,) = parse_nvidia_smi_csv(body)
    from dataclasses import replace

    smi = replace(smi, pci_address=normalise_pci_address("00000000:3B:00.0"))
    gpus = merge_gpus(lspci, [smi], mig_counts={0: 4})
    assert len(gpus) == 2
    first, second = gpus
    assert first.index == 0 and first.model == "NVIDIA H100 80GB HBM3" and first.mig_mode == "Enabled"
    assert first.mig_devices == 4 and first.compute_capability == "9.0" and first.driver_version == "590.48.01"
    assert second.pci_address == "0000:86:00.0" and second.driver_version is None and second.memory_mib is None
    assert second.model == "H100 SXM5 80GB"


def test_merge_smi_only_when_no_pci_listing():
    (smi,) = parse_nvidia_smi_xml(fixture_text("telegraf/tesla-t4.xml"))
    (gpu,) = merge_gpus((), [smi])
    assert gpu.model == "Tesla T4" and gpu.pci_address == "0000:00:1e.0"


def test_merge_uses_module_version_for_nvidia_bound_gpu_without_smi():
    dev = PciDevice("0000:01:00.0", "0300", "10de", "2684", "NVIDIA Corporation AD102 [GeForce RTX 4090]", "nvidia")
    (gpu,) = merge_gpus([dev], (), module_version="580.65.06")
    assert gpu.driver_version == "580.65.06" and gpu.kernel_driver == "nvidia" and gpu.model == "GeForce RTX 4090"
    assert gpu.compute_capability is None
