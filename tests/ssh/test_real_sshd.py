"""SshConnection against a real OpenSSH sshd on loopback (the `sshd` fixture)."""

from __future__ import annotations

import asyncio
import random
import stat
import time
from pathlib import Path

import pytest

from tests.ssh.fake_node import write_client_key
from thinkube_tui.hostkeys import KnownHosts
from thinkube_tui.ssh import (
    AuthenticationFailed,
    HostKeyChanged,
    HostKeyUnknown,
    KeyAuth,
    PasswordAuth,
    Prompts,
    SecretRequest,
    SshPool,
    SshSettings,
)
from thinkube_tui.transport import CommandTimeout, Transport


@pytest.fixture
async def pool(sshd, tmp_path):
    async with SshPool(SshSettings(connect_timeout=10), host_keys=sshd.host_keys(tmp_path)) as p:
        yield p


async def test_run_command(sshd, pool):
    conn = pool.connection(sshd.target())
    transport: Transport = conn  # SshConnection satisfies the protocol (checked by type checkers)
    del transport
    result = await conn.run("echo hello; echo oops >&2; exit 3")
    assert (result.stdout, result.stderr, result.exit_status) == ("hello\n", "oops\n", 3)
    assert not result.ok


async def test_lines_stream_as_they_arrive(sshd, pool, tmp_path):
    # The command cannot print line 2 until the callback has seen line 1 and created the flag.
    flag = tmp_path / "seen-line-1"
    seen: list[str] = []

    def on_line(line: str) -> None:
        seen.append(line)
        if line == "line 1":
            flag.touch()

    cmd = f"echo 'line 1'; while [ ! -e {flag} ]; do sleep 0.02; done; echo 'line 2'; echo 'line 3'"
    result = await pool.connection(sshd.target()).run(cmd, timeout=10, on_line=on_line)
    assert seen == ["line 1", "line 2", "line 3"]
    assert result.stdout == "line 1\nline 2\nline 3\n"


async def test_stdin_input(sshd, pool):
    result = await pool.connection(sshd.target()).run("wc -l; cat", input="a\nb\n")
    assert result.stdout.split() == ["2"]


async def test_upload_with_mode(sshd, pool, tmp_path):
    conn = pool.connection(sshd.target())
    dest = tmp_path / "uploaded.conf"
    await conn.upload(b"secret=1\n", str(dest), mode=0o600)
    assert dest.read_bytes() == b"secret=1\n"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    await conn.upload("replaced\n", str(dest), mode=0o640)  # overwrites, mode follows
    assert dest.read_text() == "replaced\n"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640
    assert not (tmp_path / "uploaded.conf.thinkube-tmp").exists()


async def test_upload_file_keeps_local_mode(sshd, pool, tmp_path):
    local = tmp_path / "script.sh"
    local.write_text("#!/bin/sh\necho hi\n")
    local.chmod(0o750)
    dest = tmp_path / "remote-script.sh"
    conn = pool.connection(sshd.target())
    await conn.upload_file(local, str(dest))
    assert stat.S_IMODE(dest.stat().st_mode) == 0o750
    assert (await conn.run(str(dest))).stdout == "hi\n"


async def test_upload_with_sudo(sshd, pool, tmp_path):
    # The test user is root here, so sudo is "root" mode: staged in /tmp, moved with install.
    dest = tmp_path / "root-owned.txt"
    await pool.connection(sshd.target()).upload(b"x\n", str(dest), mode=0o644, sudo=True)
    assert dest.read_text() == "x\n" and stat.S_IMODE(dest.stat().st_mode) == 0o644


async def test_sudo_run(sshd, pool):
    result = await pool.connection(sshd.target()).run("id -u; cat", input="piped\n", sudo=True)
    assert result.stdout == "0\npiped\n"


async def test_twenty_concurrent_commands_on_one_connection(sshd, pool):
    # More than sshd's MaxSessions (10): the session bound queues the rest instead of failing.
    conn = pool.connection(sshd.target())
    results = await asyncio.gather(*(conn.run(f"sleep 0.2; echo {i}") for i in range(20)))
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(20)]


async def test_many_nodes_on_one_sshd(sshd, pool):
    targets = [sshd.target(f"node{i}") for i in range(12)]
    connected = await pool.connect_all(targets)
    results = await asyncio.gather(*(c.run("echo up") for c in connected.values()))
    assert all(r.stdout == "up\n" for r in results)


def _unique_sleep() -> str:
    """A `sleep` no other run on this machine has (a second clone runs this suite alongside)."""
    return f"30.{random.randrange(10**8):08d}"


async def _gone(conn: Transport, seconds: str) -> bool:
    """Whether the remote `sleep seconds` has ended, waiting for it up to 10 s (a killed process
    takes a moment to be reaped on a busy machine)."""
    pattern = seconds.replace(".", "[.]")
    for _ in range(50):
        if (await conn.run(f"pgrep -f 'sleep {pattern}' || echo none")).stdout == "none\n":
            return True
        await asyncio.sleep(0.2)
    return False


async def test_timeout_kills_the_command(sshd, pool):
    conn = pool.connection(sshd.target())
    seconds = _unique_sleep()
    started = time.monotonic()
    with pytest.raises(CommandTimeout) as info:
        await conn.run(f"echo before; sleep {seconds}; echo after", timeout=0.5)
    assert time.monotonic() - started < 5
    assert info.value.node == "sshd" and "before" in info.value.output_tail
    # The remote command was killed, not just abandoned; the connection stays usable.
    assert await _gone(conn, seconds)


async def test_timeout_kills_a_sudo_command(sshd, pool):
    conn = pool.connection(sshd.target())
    seconds = _unique_sleep()
    with pytest.raises(CommandTimeout):
        await conn.run(f"sleep {seconds}", timeout=0.5, sudo=True)
    assert await _gone(conn, seconds)


async def test_stderr_is_not_polluted(sshd, pool):
    result = await pool.connection(sshd.target()).run("echo err >&2")
    assert result.stderr == "err\n"


# ---- host keys


def _own(tmp_path: Path) -> KnownHosts:
    """Nothing trusted yet: no OpenSSH file, an empty file of our own."""
    return KnownHosts(own_file=tmp_path / "state" / "thinkube-tui" / "known_hosts", ssh_files=[])


async def test_unknown_host_key_refused_headless(sshd, tmp_path):
    async with SshPool(host_keys=_own(tmp_path)) as pool:
        with pytest.raises(HostKeyUnknown) as info:
            await pool.connection(sshd.target()).connect()
    assert sshd.host_key_fingerprint in str(info.value)
    assert not (tmp_path / "state" / "thinkube-tui" / "known_hosts").exists()


async def test_pinned_fingerprint_accepted_and_remembered(sshd, tmp_path):
    host_keys = _own(tmp_path)
    async with SshPool(host_keys=host_keys) as pool:
        conn = pool.connection(sshd.target(host_key_fingerprint=sshd.host_key_fingerprint))
        assert (await conn.run("echo ok")).stdout == "ok\n"
    own = host_keys.own_file
    assert f"[127.0.0.1]:{sshd.port} ssh-ed25519 " in own.read_text()
    assert stat.S_IMODE(own.stat().st_mode) == 0o600
    assert stat.S_IMODE(own.parent.stat().st_mode) == 0o700
    # Remembered: a later run without the pin trusts it.
    async with SshPool(host_keys=host_keys) as pool:
        await pool.connection(sshd.target()).connect()


async def test_wrong_pin_refused(sshd, tmp_path):
    async with SshPool(host_keys=_own(tmp_path)) as pool:
        with pytest.raises(HostKeyUnknown, match="pinned fingerprint"):
            await pool.connection(sshd.target(host_key_fingerprint="SHA256:" + "A" * 43)).connect()


async def test_prompt_decides_about_unknown_key(sshd, tmp_path):
    asked: list[tuple] = []

    async def ask(host: str, port: int, key_type: str, fp: str) -> bool:
        asked.append((host, port, key_type, fp))
        return True

    host_keys = _own(tmp_path)
    async with SshPool(prompts=Prompts(host_key=ask), host_keys=host_keys) as pool:
        await pool.connection(sshd.target()).connect()
    assert asked == [("127.0.0.1", sshd.port, "ssh-ed25519", sshd.host_key_fingerprint)]
    assert host_keys.own_file.exists()


async def test_changed_host_key_refused(sshd, tmp_path):
    host_keys = _own(tmp_path)
    old = write_client_key(tmp_path)  # any other ed25519 key stands in for the old host key
    import asyncssh

    old_key = asyncssh.read_private_key(old)
    await host_keys.remember("127.0.0.1", sshd.port, old_key)
    old_fp = old_key.get_fingerprint("sha256")
    async with SshPool(SshSettings(accept_new_host_keys=True), host_keys=host_keys) as pool:
        with pytest.raises(HostKeyChanged) as info:
            await pool.connection(sshd.target(host_key_fingerprint=sshd.host_key_fingerprint)).connect()
    text = str(info.value)
    assert old_fp in text and sshd.host_key_fingerprint in text
    assert f"ssh-keygen -R '[127.0.0.1]:{sshd.port}' -f {host_keys.own_file}" in text


# ---- authentication


async def test_auth_failure_names_methods_tried(sshd, tmp_path):
    stranger = write_client_key(tmp_path)
    async with SshPool(host_keys=sshd.host_keys(tmp_path)) as pool:
        with pytest.raises(AuthenticationFailed) as info:
            await pool.connection(sshd.target(auth=KeyAuth(stranger))).connect()
    assert str(stranger) in str(info.value) and "authorized_keys" in info.value.hint


async def test_password_auth_failure_names_password(sshd, tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_NODE_PASSWORD", "not-this-one")
    async with SshPool(host_keys=sshd.host_keys(tmp_path)) as pool:
        with pytest.raises(AuthenticationFailed) as info:
            await pool.connection(sshd.target(auth=PasswordAuth("TEST_NODE_PASSWORD"))).connect()
    assert info.value.methods_tried == ("password",)
    assert "not-this-one" not in str(info.value)


@pytest.mark.filterwarnings("ignore:.*bcrypt.kdf")  # few KDF rounds keep the test fast
async def test_encrypted_key_asks_passphrase(sshd, tmp_path):
    import asyncssh

    key = asyncssh.read_private_key(sshd.client_key)
    encrypted = tmp_path / "encrypted_key"
    key.write_private_key(encrypted, passphrase="open sesame", rounds=4)  # fast KDF for the test
    asked: list[SecretRequest] = []

    async def secret(request: SecretRequest) -> str | None:
        asked.append(request)
        return "wrong" if len(asked) == 1 else "open sesame"

    async with SshPool(prompts=Prompts(secret=secret), host_keys=sshd.host_keys(tmp_path)) as pool:
        result = await pool.connection(sshd.target(auth=KeyAuth(encrypted))).run("echo in")
    assert result.stdout == "in\n"
    assert [r.kind for r in asked] == ["passphrase", "passphrase"]


async def test_large_output_arrives_whole_with_or_without_a_line_callback(sshd, pool):
    """Output is read in chunks: lines cut across chunks come out whole, a last line without a
    newline too, on stdout and (after our marker is taken out) on stderr."""
    cmd = "seq 1 40000; printf 'no newline'; seq 1 3000 >&2; printf 'end' >&2"
    expected_out = "".join(f"{i}\n" for i in range(1, 40001)) + "no newline"
    expected_err = "".join(f"{i}\n" for i in range(1, 3001)) + "end"
    plain = await pool.connection(sshd.target()).run(cmd, timeout=30)
    assert (plain.stdout, plain.stderr) == (expected_out, expected_err)
    seen: list[str] = []
    streamed = await pool.connection(sshd.target()).run(cmd, timeout=30, on_line=seen.append)
    assert (streamed.stdout, streamed.stderr) == (expected_out, expected_err)
    assert seen == expected_out.split("\n")
