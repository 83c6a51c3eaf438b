"""The known-hosts store and the pool's bookkeeping, without a server."""

from __future__ import annotations

import stat
from pathlib import Path

import asyncssh

from thinkube_tui.hostkeys import KnownHosts, default_known_hosts_file, host_pattern, same_fingerprint
from thinkube_tui.ssh import SshPool, SshSettings

ROOT = Path(__file__).resolve().parents[2]


def test_default_file_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_known_hosts_file() == tmp_path / "thinkube-tui" / "known_hosts"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_known_hosts_file() == tmp_path / ".local" / "state" / "thinkube-tui" / "known_hosts"


def test_host_pattern():
    assert host_pattern("node1", 22) == "node1"
    assert host_pattern("10.0.0.5", 2222) == "[10.0.0.5]:2222"


def test_fingerprint_comparison_ignores_padding():
    assert same_fingerprint("SHA256:abc=", " SHA256:abc")
    assert not same_fingerprint("SHA256:abc", "SHA256:abd")


async def test_remember_appends_and_tightens_modes(tmp_path):
    own = tmp_path / "state" / "known_hosts"
    own.parent.mkdir(mode=0o700)
    own.write_text("[other]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n")
    own.chmod(0o644)
    key = asyncssh.generate_private_key("ssh-ed25519").convert_to_public()
    store = KnownHosts(own_file=own, ssh_files=[])
    await store.remember("10.0.0.5", 2222, key)
    lines = own.read_text().splitlines()
    assert len(lines) == 2 and lines[1].startswith("[10.0.0.5]:2222 ssh-ed25519 ")
    assert stat.S_IMODE(own.stat().st_mode) == 0o600
    match = (await store.snapshot())("10.0.0.5", "10.0.0.5", 2222)
    assert match[0] == [key]


async def test_hashed_openssh_entries_match(tmp_path):
    # ssh-keygen -H style entries in ~/.ssh/known_hosts are understood.
    key = asyncssh.generate_private_key("ssh-ed25519").convert_to_public()
    plain = tmp_path / "plain"
    plain.write_text(f"[10.0.0.7]:22022 {key.export_public_key().decode()}")
    import subprocess

    subprocess.run(["ssh-keygen", "-H", "-f", str(plain)], check=True, capture_output=True)
    assert plain.read_text().startswith("|1|")
    store = KnownHosts(own_file=tmp_path / "own", ssh_files=[plain])
    assert (await store.snapshot())("10.0.0.7", "10.0.0.7", 22022)[0] == [key]


def test_pool_reuses_one_connection_per_node(tmp_path):
    from thinkube_tui.ssh import NodeTarget

    pool = SshPool(SshSettings(), host_keys=KnownHosts(own_file=tmp_path / "kh", ssh_files=[]))
    t = NodeTarget("n1", "10.0.0.1", "ubuntu")
    assert pool.connection(t) is pool.connection(t)
    assert pool.connection(t) is not pool.connection(NodeTarget("n2", "10.0.0.2", "ubuntu"))


def test_settings_defaults():
    s = SshSettings()
    assert (s.connect_timeout, s.command_timeout, s.keepalive_interval, s.keepalive_count_max) == (15, 600, 15, 3)
    assert s.max_sessions < 10 and s.max_handshakes < 10 and not s.accept_new_host_keys
