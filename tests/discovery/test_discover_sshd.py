"""Discovery of this very machine through a real OpenSSH sshd (the `sshd` fixture), both through
the library (`discover` over `SshConnection`) and through `thinkube-tui discover` end to end."""

from __future__ import annotations

import getpass
import json
import os
import platform
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from thinkube_tui.discovery import discover, discover_all, normalise_arch
from thinkube_tui.hostkeys import KnownHosts
from thinkube_tui.ssh import KeyAuth, SshConnection, SshPool, SshSettings

REPO = Path(__file__).resolve().parents[2]


# ---- what Python reads locally ------------------------------------------------------------------


def _os_release_id() -> str | None:
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            continue
        for line in text.splitlines():
            if line.startswith("ID="):
                return line[3:].strip().strip("\"'") or None
    return None


def _mem_total_bytes() -> int:
    with open("/proc/meminfo") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("MemTotal:"))


def local_values() -> dict[str, object]:
    return {
        "cpu_count": os.cpu_count(),
        "memory_bytes": _mem_total_bytes(),
        "machine": platform.machine(),
        "arch": normalise_arch(platform.machine()),
        "hostname": socket.gethostname(),
        "machine_id": Path("/etc/machine-id").read_text().strip(),
        "os_id": _os_release_id(),
        "kernel": platform.release(),
        "user": getpass.getuser(),
        "uid": os.getuid(),
    }


def facts_values(facts) -> dict[str, object]:  # Facts -> the same keys as local_values()
    return {
        "cpu_count": facts.cpu.count,
        "memory_bytes": facts.memory_bytes,
        "machine": facts.machine,
        "arch": facts.arch,
        "hostname": facts.hostname,
        "machine_id": facts.machine_id,
        "os_id": facts.os.id,
        "kernel": facts.kernel,
        "user": facts.user,
        "uid": facts.uid,
    }


def json_values(facts: dict) -> dict[str, object]:  # the JSON form of Facts -> the same keys
    return {
        "cpu_count": facts["cpu"]["count"],
        "memory_bytes": facts["memory_bytes"],
        "machine": facts["machine"],
        "arch": facts["arch"],
        "hostname": facts["hostname"],
        "machine_id": facts["machine_id"],
        "os_id": facts["os"]["id"],
        "kernel": facts["kernel"],
        "user": facts["user"],
        "uid": facts["uid"],
    }


# ---- the library over SSH -----------------------------------------------------------------------


@pytest.mark.parametrize("trust", ["known_hosts", "pinned"])
async def test_discover_over_ssh_matches_what_python_reads(sshd, tmp_path, trust):
    if trust == "known_hosts":
        host_keys = sshd.host_keys(tmp_path)  # the key is in an OpenSSH known_hosts file
        target = sshd.target("here")
    else:
        # Nothing known at all (not even ~/.ssh/known_hosts): only the pinned fingerprint vouches.
        host_keys = KnownHosts(own_file=tmp_path / "own" / "known_hosts", ssh_files=[])
        target = sshd.target("here", host_key_fingerprint=sshd.host_key_fingerprint)
    assert isinstance(target.auth, KeyAuth) and target.auth.key_file == sshd.client_key
    connection = SshConnection(target, SshSettings(connect_timeout=20), host_keys=host_keys)
    try:
        facts = await discover(connection, timeout=60)
    finally:
        await connection.close()
    assert facts.node == "here"
    assert facts_values(facts) == local_values()
    assert facts.clock is not None
    assert abs(facts.clock.offset_s) < 1.0
    assert facts.clock.uncertainty_s < 5.0
    assert facts.warnings == ()
    if trust == "pinned":  # a key accepted by its pin is remembered in our own file only
        own = (tmp_path / "own" / "known_hosts").read_text()
        assert own.startswith(f"[127.0.0.1]:{sshd.port} ssh-ed25519 ")


async def test_discover_all_over_a_pool(sshd, tmp_path):
    """Several node names on one sshd through one pool: every one discovered, same facts."""
    targets = [sshd.target(f"node{i}") for i in range(12)]  # more than the handshake bound (8)
    async with SshPool(SshSettings(connect_timeout=20), host_keys=sshd.host_keys(tmp_path)) as pool:
        factories = []
        for t in targets:
            connection = pool.connection(t)

            async def connected(connection=connection):
                await connection.connect()
                return connection

            factories.append((t.name, connected))
        results = [r async for r in discover_all(factories, timeout=60)]
    assert sorted(r.node for r in results) == sorted(t.name for t in targets)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    expected = local_values()
    for r in results:
        assert facts_values(r.facts) == expected


# ---- `thinkube-tui discover` in a subprocess ------------------------------------------------------


def _answers(path: Path, sshd, *, pinned: bool) -> Path:
    import yaml

    node: dict[str, object] = {
        "name": "tk-control",
        "host": sshd.host,
        "port": sshd.port,
        "user": sshd.user,
        "role": "control",
        "auth": {"method": "key", "keyFile": str(sshd.client_key)},
    }
    if pinned:
        node["hostKey"] = sshd.host_key_fingerprint
    doc = {
        "apiVersion": "thinkube.io/v1alpha1",
        "cluster": {
            "domain": "thinkube.lan",
            "adminEmail": "admin@thinkube.lan",
            "metallbRange": "192.168.1.200-192.168.1.220",
            "ingressIP": "192.168.1.200",
            "ingressKnIP": "192.168.1.201",
        },
        "nodes": [node],
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _run_cli(tmp_path: Path, *args: str) -> tuple[int, dict, str]:
    home = tmp_path / "home"
    state = tmp_path / "state"
    home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        # The tool's known_hosts goes under XDG_STATE_HOME; HOME keeps the real ~/.ssh/known_hosts
        # (which KnownHosts reads by default) out of the test.
        "HOME": str(home),
        "XDG_STATE_HOME": str(state),
        "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    env.pop("SSH_AUTH_SOCK", None)
    proc = subprocess.run(
        [sys.executable, "-m", "thinkube_tui", "discover", *args, "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode in (0, 2, 3), proc.stderr
    assert proc.returncode != 2, proc.stderr  # the answers file must be valid
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"not JSON (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.returncode, report, proc.stderr


def _own_known_hosts(tmp_path: Path) -> Path:
    return tmp_path / "state" / "thinkube-tui" / "known_hosts"


def _assert_discovered(report: dict, rc: int) -> None:
    [node] = report["nodes"]
    assert node["node"] == "tk-control"
    assert node["ok"] is True, node["error"]
    assert node["error"] is None
    assert json_values(node["facts"]) == local_values()
    assert abs(node["facts"]["clock"]["offset_s"]) < 1.0
    checks = {f["check"] for f in report["findings"]}
    assert "reachable" not in checks
    local_os = _os_release_id()
    if local_os != "ubuntu":
        # This machine is not Ubuntu: the `os` preflight check reports an error, exit 3.
        os_findings = [f for f in report["findings"] if f["check"] == "os"]
        assert os_findings and os_findings[0]["severity"] == "error"
        assert os_findings[0]["node"] == "tk-control"
        assert rc == 3
    assert (rc == 3) == (report["errors"] > 0)


def test_cli_discovers_a_pinned_node(sshd, tmp_path):
    answers = _answers(tmp_path / "answers.yaml", sshd, pinned=True)
    rc, report, _ = _run_cli(tmp_path, "--answers", str(answers))
    assert rc in (0, 3)
    _assert_discovered(report, rc)
    # The pin vouched for the key, and it is remembered in the tool's own file.
    own = _own_known_hosts(tmp_path)
    assert f"[127.0.0.1]:{sshd.port} ssh-ed25519 " in own.read_text()
    assert stat.S_IMODE(own.stat().st_mode) == 0o600
    assert not (tmp_path / "home" / ".ssh").exists()  # OpenSSH's own files are never written


def test_cli_refuses_an_unknown_host_key_headless(sshd, tmp_path):
    answers = _answers(tmp_path / "answers.yaml", sshd, pinned=False)
    rc, report, _ = _run_cli(tmp_path, "--answers", str(answers))
    assert rc == 3
    [node] = report["nodes"]
    assert node["node"] == "tk-control"
    assert node["ok"] is False and node["facts"] is None
    assert "host key" in node["error"] and "not known" in node["error"]
    assert sshd.host_key_fingerprint.rstrip("=") in node["error"]  # the operator can compare it
    unreachable = [f for f in report["findings"] if f["check"] == "reachable"]
    assert unreachable and unreachable[0]["node"] == "tk-control" and unreachable[0]["severity"] == "error"
    assert not _own_known_hosts(tmp_path).exists()  # nothing was trusted


def test_cli_accept_new_host_keys_remembers_the_key(sshd, tmp_path):
    answers = _answers(tmp_path / "answers.yaml", sshd, pinned=False)
    rc, report, _ = _run_cli(tmp_path, "--answers", str(answers), "--accept-new-host-keys")
    assert rc in (0, 3)
    _assert_discovered(report, rc)
    own = _own_known_hosts(tmp_path)
    lines = own.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"[127.0.0.1]:{sshd.port} ssh-ed25519 ")
    assert stat.S_IMODE(own.stat().st_mode) == 0o600
    assert stat.S_IMODE(own.parent.stat().st_mode) == 0o700

    # Remembered: the next run needs neither a pin nor --accept-new-host-keys.
    rc2, report2, _ = _run_cli(tmp_path, "--answers", str(answers))
    assert rc2 == rc
    _assert_discovered(report2, rc2)
    assert own.read_text().splitlines() == lines  # not appended twice
