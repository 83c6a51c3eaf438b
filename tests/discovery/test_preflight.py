"""Each preflight check on synthetic Facts."""

from __future__ import annotations

import pytest

from thinkube_tui.facts import (
    Address,
    Clock,
    Cpu,
    DefaultRoute,
    Facts,
    Filesystem,
    Gpu,
    Interface,
    MicroK8s,
    OsInfo,
)
from thinkube_tui.preflight import CHECKS, Finding, has_errors, run_preflight, unreachable

GiB = 1024**3


def node(name: str, addr: str = "", **kw) -> Facts:
    n = int(name[-1]) if name[-1].isdigit() else 9
    addr = addr or f"10.0.0.{10 + n}"
    base = dict(
        node=name,
        hostname=name,
        machine_id=f"{n:032x}",
        os=OsInfo("ubuntu", "24.04", "Ubuntu 24.04.2 LTS", "noble"),
        kernel="6.8.0-60-generic",
        machine="x86_64",
        arch="amd64",
        cpu=Cpu("AMD EPYC", 16),
        memory_bytes=64 * GiB,
        root_fs=Filesystem("/", "/dev/sda2", 500 * GiB, 400 * GiB, "/"),
        snap_fs=Filesystem("/var/snap", "/dev/sda2", 500 * GiB, 400 * GiB, "/"),
        interfaces=(Interface("eth0", "aa:bb", "UP", (Address("inet", addr, 24, "global"),)),),
        default_route=DefaultRoute("eth0", "10.0.0.1"),
        primary_address=addr,
        user="tk",
        uid=1000,
        snapd=True,
        microk8s=MicroK8s(installed=False),
        clock=Clock(100.0, 100.1, 100.0, 100.2),
        listening_ports=frozenset({22}),
        nouveau_loaded=False,
    )
    base.update(kw)
    return Facts(**base)  # type: ignore[arg-type]


def only(findings: list[Finding], check: str) -> list[Finding]:
    return [f for f in findings if f.check == check]


def test_healthy_cluster_has_no_findings():
    assert run_preflight([node("n1"), node("n2"), node("n3")]) == []


def test_every_finding_names_the_node_and_has_a_fix():
    bad = node(
        "n1",
        os=OsInfo("debian", "12", "Debian GNU/Linux 12", "bookworm"),
        memory_bytes=2 * GiB,
        snapd=False,
        arch="riscv64",
        machine="riscv64",
    )
    for f in run_preflight([bad]):
        assert "n1" in f.message and f.fix and f.node == "n1"


@pytest.mark.parametrize(
    "os_, sev",
    [
        (OsInfo("ubuntu", "22.04", "Ubuntu 22.04.5 LTS", "jammy"), None),
        (OsInfo("ubuntu", "24.04", None, None), None),
        (OsInfo("ubuntu", "20.04", "Ubuntu 20.04.6 LTS", "focal"), "error"),
        (OsInfo("debian", "12", "Debian GNU/Linux 12 (bookworm)", "bookworm"), "error"),
        (OsInfo(None, None, None, None), "error"),
    ],
)
def test_os(os_, sev):
    got = only(run_preflight([node("n1", os=os_)]), "os")
    assert [f.severity for f in got] == ([sev] if sev else [])


def test_arch():
    assert only(run_preflight([node("n1", arch="arm64", machine="aarch64")]), "arch") == []
    (f,) = only(run_preflight([node("n1", arch="ppc64le", machine="ppc64le")]), "arch")
    assert f.severity == "error" and "ppc64le" in f.message
    (f,) = only(run_preflight([node("n1", arch=None, machine=None)]), "arch")
    assert f.severity == "warning"


@pytest.mark.parametrize(
    "gib, control, sev",
    [
        (4, True, "error"),
        (7.9, True, "warning"),  # MemTotal of an "8 GiB" machine passes the error bar (slack)
        (7.0, True, "error"),
        (12, True, "warning"),
        (15.6, True, None),  # MemTotal of a 16 GiB machine
        (64, True, None),
        (2, False, "error"),
        (6, False, "warning"),
        (8, False, None),
    ],
)
def test_ram(gib, control, sev):
    n1, n2 = node("n1"), node("n2", memory_bytes=int(gib * GiB))
    got = only(run_preflight([n1, n2], control="n2" if control else "n1"), "ram")
    assert [f.severity for f in got] == ([] if sev is None else [sev])
    for f in got:
        assert f.node == "n2" and ("control node" if control else "worker") in f.message


def test_ram_unknown_is_a_warning():
    (f,) = only(run_preflight([node("n1", memory_bytes=None)]), "ram")
    assert f.severity == "warning"


def test_disk():
    small = Filesystem("/var/snap", "/dev/sdb", 60 * GiB, 30 * GiB, "/var/snap")
    (f,) = only(run_preflight([node("n1", snap_fs=small)]), "disk")
    assert f.severity == "error" and "30.0 GiB" in f.message and "/var/snap" in f.fix
    # /var/snap on its own big filesystem: a small / does not matter
    big = Filesystem("/var/snap", "/dev/sdb", 900 * GiB, 800 * GiB, "/var/snap")
    tiny_root = Filesystem("/", "/dev/sda2", 20 * GiB, 5 * GiB, "/")
    assert only(run_preflight([node("n1", snap_fs=big, root_fs=tiny_root)]), "disk") == []
    (f,) = only(run_preflight([node("n1", snap_fs=None, root_fs=None)]), "disk")
    assert f.severity == "warning"


def test_snapd():
    (f,) = only(run_preflight([node("n1", snapd=False)]), "snapd")
    assert f.severity == "error" and "apt-get install -y snapd" in f.fix
    assert only(run_preflight([node("n1", snapd=None)]), "snapd") == []


def test_sudo_comes_from_the_caller():
    facts = [node("n1"), node("n2"), node("n3")]
    assert only(run_preflight(facts), "sudo") == []
    got = only(run_preflight(facts, sudo_ok={"n1": True, "n2": False}), "sudo")
    assert [(f.node, f.severity) for f in got] == [("n2", "error"), ("n3", "warning")]
    assert "usermod -aG sudo tk" in got[0].fix


def test_unique_hostnames_machine_ids_addresses():
    a = node("n1")
    b = node("n2", hostname="N1", machine_id=a.machine_id, primary_address=a.primary_address)
    got = only(run_preflight([a, b]), "unique")
    assert len(got) == 3 and all(f.severity == "error" and f.node == "n2" for f in got)
    assert any("hostname" in f.message for f in got)
    assert any("machine-id" in f.message and "systemd-machine-id-setup" in f.fix for f in got)
    assert any("same address" in f.message for f in got)


def test_hostname_resolution_on_control():
    facts = [node("n1"), node("n2"), node("n3"), node("n4")]
    assert only(run_preflight(facts), "hostname-resolves") == []  # not checked: no data
    res = {"n2": ["10.0.0.12"], "n3": [], "n4": ["10.9.9.9"]}
    got = only(run_preflight(facts, control="n1", resolutions=res), "hostname-resolves")
    assert [(f.node, f.severity) for f in got] == [("n3", "error"), ("n4", "error")]
    assert "does not resolve" in got[0].message and "10.0.0.13 n3" in got[0].fix and "/etc/hosts" in got[0].fix
    assert "10.9.9.9" in got[1].message


def test_clock_skew():
    ok = [node("n1"), node("n2", clock=Clock(101.0, 101.1, 100.0, 100.2))]
    assert only(run_preflight(ok), "clock-skew") == []
    skewed = node("n2", clock=Clock(105.0, 105.1, 100.0, 100.2))
    behind = node("n3", clock=Clock(90.0, 90.1, 100.0, 100.2))
    got = only(run_preflight([node("n1"), skewed, behind]), "clock-skew")
    assert [(f.node, f.severity) for f in got] == [("n2", "error"), ("n3", "error")]
    assert "5.0 s ahead of n1" in got[0].message and "behind" in got[1].message
    assert "timedatectl set-ntp true" in got[0].fix
    # a slow round trip makes the estimate uncertain: no finding unless clearly over
    uncertain = node("n2", clock=Clock(103.0, 103.1, 100.0, 106.0))
    assert only(run_preflight([node("n1"), uncertain]), "clock-skew") == []


def test_ports():
    busy = node("n1", listening_ports=frozenset({22, 16443, 25000}))
    got = only(run_preflight([busy]), "ports")
    assert [f.severity for f in got] == ["error", "error"] and "16443" in got[0].message
    assert "ss -ltnp" in got[0].fix
    with_mk = node(
        "n1", listening_ports=frozenset({16443, 25000}), microk8s=MicroK8s(True, "v1.33.3", "8205", "1.33/stable")
    )
    assert only(run_preflight([with_mk]), "ports") == []
    assert only(run_preflight([node("n1", listening_ports=None)]), "ports") == []
    unknown = node("n1", listening_ports=frozenset({16443, 25000}), microk8s=MicroK8s(installed=None))
    assert only(run_preflight([unknown]), "ports") == []  # not known to be absent: not "another program"


def gpu(**kw) -> Gpu:
    base = dict(
        pci_address="0000:01:00.0",
        pci_device_id="2684",
        model="NVIDIA GeForce RTX 4090",
        memory_mib=24564,
        driver_version="580.65.06",
        compute_capability="8.9",
        index=0,
        kernel_driver="nvidia",
    )
    base.update(kw)
    return Gpu(**base)  # type: ignore[arg-type]


def test_gpu_driver_and_compute_capability():
    assert only(run_preflight([node("n1", gpus=(gpu(),))]), "gpu-driver") == []
    old = gpu(driver_version="535.54.03")
    (f,) = only(run_preflight([node("n1", gpus=(old,))]), "gpu-driver")
    assert f.severity == "warning" and "535.54.03" in f.message and "RTX 4090" in f.message and "580" in f.fix
    pascal = gpu(model="Tesla P100-PCIE-12GB", compute_capability="6.0", driver_version="590.48.01")
    (f,) = only(run_preflight([node("n1", gpus=(pascal,))]), "gpu-driver")
    assert f.severity == "warning" and "6.0" in f.message and "P100" in f.message


def test_gpu_without_driver_is_info():
    bare = gpu(driver_version=None, compute_capability=None, memory_mib=None, kernel_driver=None, index=None)
    (f,) = only(run_preflight([node("n1", gpus=(bare,))]), "gpu-driver")
    assert f.severity == "info" and "GPU operator" in f.fix and "0000:01:00.0" in f.message
    assert not has_errors(run_preflight([node("n1", gpus=(bare,))]))


def test_nouveau_on_gpu_node():
    nv = gpu(driver_version=None, kernel_driver="nouveau", compute_capability=None)
    got = run_preflight([node("n1", gpus=(nv,), nouveau_loaded=True)])
    (f,) = only(got, "nouveau")
    assert f.severity == "warning" and "blacklist nouveau" in f.fix
    assert "bound to nouveau" in only(got, "gpu-driver")[0].message
    assert only(run_preflight([node("n1", nouveau_loaded=True)]), "nouveau") == []  # no GPU: irrelevant


def test_microk8s_other_channel_and_existing_cluster():
    mk = MicroK8s(True, "v1.32.3", "7964", "1.32/stable", in_cluster=True)
    facts = [node("n1"), node("n2", microk8s=mk)]
    got = only(run_preflight(facts, microk8s_channel="1.33/stable"), "microk8s")
    assert [f.severity for f in got] == ["warning", "warning"]
    assert "1.32/stable" in got[0].message and "--channel=1.33/stable" in got[0].fix
    assert "microk8s leave" in got[1].fix
    assert only(run_preflight(facts, microk8s_channel="1.32/stable"), "microk8s")[0].check == "microk8s"


def test_probe_warnings_surface():
    (f,) = only(run_preflight([node("n1", warnings=("lsblk: could not read 'x'",))]), "probe")
    assert f.severity == "warning" and "lsblk" in f.message


def test_skip_by_name_and_all():
    bad = node("n1", snapd=False, os=OsInfo("debian", "12", None, None))
    got = run_preflight([bad], skip={"os"})
    assert {f.check for f in got} == {"snapd"}
    assert run_preflight([bad], skip={"all"}) == []
    with pytest.raises(ValueError, match="unknown preflight check.*bogus.*valid names"):
        run_preflight([bad], skip={"bogus"})


def test_errors_sorted_first():
    got = run_preflight([node("n1", memory_bytes=12 * GiB, snapd=False)])
    assert [f.severity for f in got] == ["error", "warning"]


def test_check_names():
    assert set(CHECKS) == {
        "probe",
        "os",
        "arch",
        "ram",
        "disk",
        "snapd",
        "sudo",
        "unique",
        "hostname-resolves",
        "clock-skew",
        "ports",
        "gpu-driver",
        "nouveau",
        "microk8s",
        "metallb-range",
    }


@pytest.mark.parametrize(
    ("metallb", "words"),
    [
        ("10.0.0.200-10.0.0.220", None),
        ("10.0.0.240/28", None),
        ("192.168.1.200-192.168.1.220", "not inside the nodes' network 10.0.0.0/24"),
        ("10.0.0.1-10.0.0.20", "contains the gateway 10.0.0.1"),
    ],
)
def test_metallb_range_outside_the_nodes_network_or_holding_the_gateway(metallb, words):
    found = only(run_preflight([node("n1"), node("n2")], metallb_range=metallb), "metallb-range")
    if words is None:
        assert found == []
    else:
        (f,) = found
        assert f.severity == "warning" and words in f.message and f.fix
    assert only(run_preflight([node("n1")]), "metallb-range") == []  # no range given: nothing said


def test_unreachable_finding():
    f = unreachable("n9", "could not connect: refused")
    assert f.severity == "error" and f.check == "reachable" and "n9" in f.message and "ssh n9" in f.fix
