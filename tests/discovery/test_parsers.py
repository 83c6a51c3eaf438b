"""The non-GPU parsers and the whole-probe parser."""

from __future__ import annotations

from tests.discovery.helpers import FIXTURES, UBUNTU_2404, capture_section, probe_output, ubuntu_sections
from thinkube_tui.discovery import (
    MARKER,
    normalise_arch,
    parse_cpu_model,
    parse_df,
    parse_getent,
    parse_ip_addr,
    parse_ip_route,
    parse_lsblk,
    parse_meminfo,
    parse_microk8s_status,
    parse_os_release,
    parse_probe_output,
    parse_proc_net_tcp,
    parse_snap_list,
    parse_ss_listening,
    split_sections,
)


def test_os_release_ubuntu():
    os_ = parse_os_release(UBUNTU_2404)
    assert (os_.id, os_.version_id, os_.pretty_name, os_.codename) == ("ubuntu", "24.04", "Ubuntu 24.04.2 LTS", "noble")


def test_os_release_unbalanced_quote_does_not_crash():
    os_ = parse_os_release('ID="ubuntu\nVERSION_ID=22.04\n')
    assert os_.version_id == "22.04"


def test_arch():
    assert [normalise_arch(m) for m in ("x86_64", "aarch64", "arm64", "riscv64", "", None)] == [
        "amd64",
        "arm64",
        "arm64",
        "riscv64",
        None,
        None,
    ]


def test_meminfo():
    assert parse_meminfo("MemTotal:       16318256 kB\nMemFree: 1 kB\n") == 16318256 * 1024
    w: list[str] = []
    assert parse_meminfo("MemTotal: lots", w) is None and w


def test_cpu_model_x86_and_arm():
    assert (
        parse_cpu_model("model name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz")
        == "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"
    )
    lscpu = "Architecture: aarch64\nVendor ID: ARM\nModel name: Neoverse-V2\nModel: 0\n"
    assert parse_cpu_model("", lscpu) == "ARM Neoverse-V2"
    assert parse_cpu_model("", "") is None


def test_lsblk_new_and_old_json_styles():
    new = '{"blockdevices":[{"name":"nvme0n1","size":1000204886016,"type":"disk","model":"WD_BLACK SN850X 1000GB","rota":false,"tran":"nvme"}]}'
    old = '{"blockdevices":[{"name":"sda","size":"480103981056","type":"disk","model":"INTEL SSDSC2KB48","rota":"0","tran":"sata"},{"name":"loop0","size":"65536","type":"loop","model":null,"rota":"0","tran":null}]}'
    (d,) = parse_lsblk(new)
    assert (d.name, d.size_bytes, d.rotational, d.transport) == ("nvme0n1", 1000204886016, False, "nvme")
    (d,) = parse_lsblk(old)
    assert (d.name, d.size_bytes, d.rotational) == ("sda", 480103981056, False)
    w: list[str] = []
    assert parse_lsblk("lsblk: unknown option -- J", w) == () and w


def test_df_rows_and_mountpoint_with_spaces():
    header = "Filesystem     1024-blocks  Used Available Capacity Mounted on\n"
    root = parse_df(header + "/dev/sda2 100000 40000 60000 40% /\n", "/")
    assert root.avail_bytes == 60000 and root.mountpoint == "/" and root.path == "/"
    snap = parse_df(header + "/dev/sdb1 500 100 400 20% /mnt/my data\n", "/var/snap")
    assert snap.mountpoint == "/mnt/my data" and snap.source == "/dev/sdb1"
    w: list[str] = []
    assert parse_df(header + "nonsense here\n", "/", w) is None and w
    assert parse_df("", "/var/snap") is None


def test_ip_addr_and_default_route():
    sections = ubuntu_sections()
    ifaces = parse_ip_addr(sections["ip_addr"])  # type: ignore[arg-type]
    assert [i.name for i in ifaces] == ["lo", "enp5s0"]
    assert ifaces[1].addresses[0].address == "10.0.0.11"
    route = parse_ip_route(sections["ip_route"])  # type: ignore[arg-type]
    assert route is not None and (route.dev, route.gateway) == ("enp5s0", "10.0.0.1")
    assert parse_ip_route("") is None
    assert parse_ip_route("[]") is None


def test_ss_and_proc_net_tcp():
    ss = "LISTEN 0 4096 0.0.0.0:16443 0.0.0.0:*\nLISTEN 0 4096 [::]:25000 [::]:*\nLISTEN 0 128 127.0.0.53%lo:53 0.0.0.0:*\n"
    assert parse_ss_listening(ss) == {16443, 25000, 53}
    proc = (
        "  sl  local_address rem_address   st tx_queue rx_queue\n"
        "   0: 00000000:4033 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n"
        "   1: 0100007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n"
        "   2: 0200000A:0016 0300000A:C350 01 00000000:00000000 00:00000000 00000000     0\n"
    )
    assert parse_proc_net_tcp(proc) == {16435, 53}


def test_snap_list_microk8s():
    text = "Name      Version  Rev   Tracking       Publisher   Notes\nmicrok8s  v1.32.3  7964  1.32/stable    canonical✓  classic\n"
    mk = parse_snap_list(text)
    assert mk.installed and (mk.version, mk.revision, mk.channel) == ("v1.32.3", "7964", "1.32/stable")
    assert parse_snap_list("error: no matching snaps installed").installed is False


def test_microk8s_status():
    single = "microk8s:\n  running: true\nhigh-availability:\n  enabled: false\n  nodes:\n  - address: 10.0.0.1:19001\n    role: voter\naddons:\n- name: dns\n  status: enabled\n"
    three = single.replace(
        "    role: voter\n",
        "    role: voter\n  - address: 10.0.0.2:19001\n    role: voter\n  - address: 10.0.0.3:19001\n    role: voter\n",
    )
    assert parse_microk8s_status(single) is False
    assert parse_microk8s_status(three) is True
    assert parse_microk8s_status("This MicroK8s deployment is acting as a node in a cluster.") is True
    assert (
        parse_microk8s_status("Insufficient permissions to access MicroK8s.\nYou can either try again with sudo")
        is None
    )
    assert parse_microk8s_status("microk8s is not running. Use microk8s inspect for a deeper inspection.") is None
    assert parse_microk8s_status("datastore master nodes: 10.0.0.1:19001 10.0.0.2:19001\n") is True


def test_getent():
    text = "@@ gpu1\n10.0.0.11       STREAM gpu1\n10.0.0.11       DGRAM\n10.0.0.11       RAW\n@@ ghost\n"
    assert parse_getent(text) == {"gpu1": ("10.0.0.11",), "ghost": ()}


def test_split_sections_rc_and_truncated():
    text = f"{MARKER} probe v2\n\n{MARKER} a\nx\ny\n\n{MARKER} rc=0\n\n{MARKER} b\nerr\n\n{MARKER} rc=2\n\n{MARKER} c\npartial"
    s = split_sections(text)
    assert (s["a"].body, s["a"].rc) == ("x\ny", 0)
    assert (s["b"].body, s["b"].rc) == ("err", 2)
    assert (s["c"].body, s["c"].rc) == ("partial", None)
    assert "probe" not in s


def test_probe_output_plain_ubuntu_node():
    f = parse_probe_output(
        "node-a", probe_output(ubuntu_sections()), local_sent=1700000000.0, local_received=1700000001.0
    )
    assert f.warnings == ()
    assert f.node == "node-a" and f.hostname == "gpu1"
    assert f.os.id == "ubuntu" and f.os.version_id == "24.04" and f.arch == "amd64"
    assert f.cpu.count == 32 and f.cpu.model == "AMD Ryzen 9 7950X 16-Core Processor"
    assert f.memory_bytes == 65536000 * 1024
    assert [d.name for d in f.disks] == ["nvme0n1"]
    assert f.snap_fs is not None and f.snap_fs.path == "/var/snap" and f.disk_free_bytes == 1842317549056
    assert f.primary_address == "10.0.0.11" and f.addresses == ("10.0.0.11",)
    assert f.snapd is True and f.microk8s.installed is False
    assert f.listening_ports == {53, 22}
    assert f.gpus == () and f.nouveau_loaded is False and f.nvidia_smi is False
    assert f.user == "thinkube" and f.uid == 1000
    assert f.clock is not None and f.clock.offset_s == -0.125 and f.clock.uncertainty_s == 0.375


def test_probe_output_gpu_node_from_real_captures():
    cap = FIXTURES / "nvidia_gpu_exporter" / "linux-x86_64__nvidia-h200-mig__590.48.01.txt"
    _, listing = capture_section(cap, "capabilities :: list (-L)")
    sections = ubuntu_sections() | {
        "lspci": "0000:83:00.0 3D controller [0302]: NVIDIA Corporation GH100 [H200 SXM 141GB] [10de:2335] (rev a1)\n"
        "\tSubsystem: NVIDIA Corporation Device [10de:18be]\n"
        "\tKernel driver in use: nvidia\n"
        "\tKernel modules: nvidiafb, nouveau, nvidia_drm, nvidia\n"
        "0000:84:00.0 Bridge [0680]: NVIDIA Corporation Device [10de:22a3] (rev a1)",
        "modules": "nvidia_uvm 2076672 0 - Live 0x0\nnvidia 104071168 1 nvidia_uvm, Live 0x0",
        "nvidia_version": "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  590.48.01  Release Build\n",
        "nvidia_smi_csv": "0, NVIDIA H200, GPU-00000000-0000-0000-0000-000000000000, 143771, 590.48.01, 9.0, Enabled, 00000000:83:00.0, 0x233510DE",
        "nvidia_smi_list": listing,
    }
    f = parse_probe_output("gpu1", probe_output(sections))
    assert f.warnings == ()
    (g,) = f.gpus
    assert (g.model, g.memory_mib, g.driver_version, g.compute_capability, g.mig_mode, g.mig_devices) == (
        "NVIDIA H200",
        143771,
        "590.48.01",
        "9.0",
        "Enabled",
        5,
    )
    assert (g.pci_address, g.pci_device_id, g.kernel_driver) == ("0000:83:00.0", "2335", "nvidia")
    assert f.nvidia_driver_version == "590.48.01" and f.nvidia_smi is True and f.nouveau_loaded is False


def test_probe_output_csv_failure_falls_back_to_xml():
    xml = (FIXTURES / "telegraf" / "a100-sxm4-v12.xml").read_text()
    sections = ubuntu_sections() | {
        "nvidia_smi_csv": ('Field "compute_cap" is not a valid field to query.', 2),
        "nvidia_smi_xml": xml,
    }
    f = parse_probe_output("a100", probe_output(sections))
    (g,) = f.gpus
    assert g.model == "NVIDIA A100-SXM4-80GB" and g.mig_devices == 4 and g.compute_capability is None
    assert any("compute_cap" in w for w in f.warnings)


def test_probe_output_driverless_gpu_and_nouveau():
    sections = ubuntu_sections() | {
        "lspci": "0000:01:00.0 VGA compatible controller [0300]: NVIDIA Corporation AD102 [10de:2684] (rev a1)\n"
        "\tKernel driver in use: nouveau\n"
        "0000:01:00.1 Audio device [0403]: NVIDIA Corporation AD102 High Definition Audio Controller [10de:22ba]\n"
        "\tKernel driver in use: snd_hda_intel\n",
        "modules": "nouveau 2404352 0 - Live 0x0\nsnd_hda_intel 61440 2 - Live 0x0",
    }
    f = parse_probe_output("n", probe_output(sections))
    (g,) = f.gpus
    assert g.kernel_driver == "nouveau" and g.driver_version is None and g.model == "AD102"
    assert g.pci_device_id == "2684" and f.nouveau_loaded is True


def test_probe_output_cut_short_warns_and_keeps_what_it_has():
    f = parse_probe_output("n", probe_output({"hostname": "h", "os_release": UBUNTU_2404}, complete=False))
    assert f.hostname == "h" and f.memory_bytes is None and f.cpu.count is None
    assert any("ended early" in w for w in f.warnings)


def test_probe_output_garbage():
    f = parse_probe_output("n", "Welcome to my shell!\n")
    assert f.hostname is None and f.gpus == ()


def test_a_snap_list_that_did_not_answer_leaves_microk8s_unknown():
    """A `timeout 15 snap list` that timed out (a busy node) is not "MicroK8s is not installed":
    read so, the ports MicroK8s itself holds were reported as taken by another program."""
    timed_out = parse_probe_output("n", probe_output(ubuntu_sections() | {"snap_microk8s": ("", 124)}))
    assert timed_out.microk8s.installed is None
    assert any("snap list microk8s did not answer (exit status 124)" in w for w in timed_out.warnings)
    absent = parse_probe_output("n", probe_output(ubuntu_sections()))
    assert absent.microk8s.installed is False
