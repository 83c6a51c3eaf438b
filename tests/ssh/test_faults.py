"""Faults injected with in-process SSH servers: drops, hangs, silent nodes, sudo."""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path

import asyncssh
import pytest

from tests.ssh.fake_node import DropFirst, FakeNode, Silent, write_client_key
from thinkube_tui.hostkeys import KnownHosts
from thinkube_tui.ssh import (
    PGID_PREFIX,
    AuthenticationFailed,
    ConnectionLost,
    ConnectionRefused,
    ConnectTimeout,
    HostUnreachable,
    KeyAuth,
    NodeTarget,
    PasswordAuth,
    Prompts,
    SecretRequest,
    SshConnection,
    SshPool,
    SshSettings,
    SudoRefused,
)
from thinkube_tui.transport import CommandTimeout

SUDO_PASSWORD = "correct horse battery staple"
SUDO = "sudo -k -S -p '' "


class Script:
    """Answers commands like a small Ubuntu node; records what sudo read on stdin."""

    def __init__(self) -> None:
        self.sudo_stdin_passwords: list[str] = []
        self.hang_closed = asyncio.Event()  # set when a hanging command's channel goes away

    async def __call__(self, proc: asyncssh.SSHServerProcess) -> None:
        cmd = (proc.command or "").removeprefix(PGID_PREFIX)
        if "sudo -n true" in cmd:  # the sudo probe: a user that needs a password
            proc.stdout.write("1000\nsudo=1\n")
        elif cmd.startswith(SUDO):  # like `sudo -S -p ''`: first stdin line is the password
            password = (await proc.stdin.readline()).rstrip("\n")
            self.sudo_stdin_passwords.append(password)
            if password != SUDO_PASSWORD:
                proc.stderr.write("sudo: 1 incorrect password attempt\n")
                proc.exit(1)
                return
            inner = shlex.split(cmd.removeprefix(SUDO))
            if inner != ["true"]:
                proc.stdout.write(f"as root: {inner[-1]}\n" + await proc.stdin.read())
        elif cmd == "drop":
            proc.stdout.write("working\n")
            proc.channel.get_connection().abort()
        elif cmd == "hang":
            await proc.channel.wait_closed()
            self.hang_closed.set()
        else:
            proc.stdout.write(f"ran: {cmd}\n")
        proc.exit(0)


@pytest.fixture
async def node(tmp_path):
    async with FakeNode(Script()) as fake:
        yield fake


def trust(tmp_path: Path, *lines: str) -> KnownHosts:
    ssh_known = tmp_path / "ssh_known_hosts"
    ssh_known.write_text("".join(lines))
    return KnownHosts(own_file=tmp_path / "own_known_hosts", ssh_files=[ssh_known])


def target(tmp_path: Path, port: int, name: str = "fake", **changes) -> NodeTarget:
    key = tmp_path / "id_ed25519"
    if not key.exists():
        write_client_key(tmp_path)
    fields = {"name": name, "host": "127.0.0.1", "port": port, "user": "ubuntu", "auth": KeyAuth(key)}
    return NodeTarget(**{**fields, **changes})


def connection(tmp_path: Path, node: FakeNode, settings: SshSettings = SshSettings(), **changes) -> SshConnection:
    return SshConnection(
        target(tmp_path, node.port, **changes), settings, host_keys=trust(tmp_path, node.known_hosts_line())
    )


async def test_connection_dropped_mid_command(tmp_path, node):
    conn = connection(tmp_path, node, name="worker-3")
    with pytest.raises(ConnectionLost) as info:
        await conn.run("drop", timeout=10)
    assert info.value.node == "worker-3" and "drop" in str(info.value)
    # The next command reconnects.
    assert (await conn.run("echo back")).stdout == "ran: echo back\n"
    await conn.close()


async def test_hanging_command_times_out_and_channel_is_closed(tmp_path, node):
    conn = connection(tmp_path, node)
    with pytest.raises(CommandTimeout) as info:
        await conn.run("hang", timeout=0.3)
    assert info.value.node == "fake" and info.value.timeout == 0.3
    async with asyncio.timeout(5):
        await node.handler.hang_closed.wait()
    await conn.close()


async def test_silent_node_times_out_while_others_finish(tmp_path, node):
    settings = SshSettings(connect_timeout=1.5)
    async with Silent() as silent:
        trusted = trust(tmp_path, node.known_hosts_line())
        async with SshPool(settings, host_keys=trusted) as pool:
            quiet = asyncio.create_task(pool.connect_all([target(tmp_path, silent.port, "silent")]))
            others = await pool.connect_all([target(tmp_path, node.port, f"n{i}") for i in range(4)])
            assert all(isinstance(c, SshConnection) for c in others.values())
            assert not quiet.done()  # the others did not wait for the silent node
            result = (await quiet)["silent"]
    assert isinstance(result, ConnectTimeout) and result.node == "silent"


async def test_dropped_handshake_is_retried(tmp_path, node):
    async with DropFirst(node.port, drops=2) as proxy:
        conn = SshConnection(
            target(tmp_path, proxy.port),
            SshSettings(retry_delay=0.01),
            host_keys=trust(tmp_path, node.known_hosts_line(proxy.port)),
        )
        assert (await conn.run("hostname")).stdout == "ran: hostname\n"
        assert proxy.accepted == 3
        await conn.close()


async def test_handshake_dropped_every_time_gives_up(tmp_path, node):
    async with DropFirst(node.port, drops=100) as proxy:
        conn = SshConnection(
            target(tmp_path, proxy.port, "flaky"),
            SshSettings(retry_delay=0.01, handshake_attempts=3),
            host_keys=trust(tmp_path, node.known_hosts_line(proxy.port)),
        )
        with pytest.raises(ConnectionLost, match="3 times") as info:
            await conn.connect()
        assert info.value.node == "flaky" and proxy.accepted == 3


async def test_refused_and_unresolvable(tmp_path):
    closed = FakeNode(Script())
    async with closed:
        port = closed.port
    host_keys = KnownHosts(own_file=tmp_path / "kh", ssh_files=[])
    with pytest.raises(ConnectionRefused):
        await SshConnection(target(tmp_path, port), host_keys=host_keys).connect()
    with pytest.raises(HostUnreachable, match="resolve"):
        await SshConnection(target(tmp_path, 22, host="no-such-node.invalid"), host_keys=host_keys).connect()


async def test_idle_connection_closes_and_reopens(tmp_path, node):
    conn = connection(tmp_path, node, SshSettings(idle_timeout=0.01))
    await conn.run("one")
    first = conn._conn
    assert first is not None
    async with asyncio.timeout(5):
        await first.wait_closed()  # closed by the idle timer
    assert (await conn.run("two")).stdout == "ran: two\n"
    await conn.close()


# ---- sudo


async def test_sudo_password_goes_on_stdin_never_on_the_command_line(tmp_path, node):
    asked: list[SecretRequest] = []

    async def secret(request: SecretRequest) -> str:
        asked.append(request)
        return SUDO_PASSWORD

    conn = SshConnection(
        target(tmp_path, node.port),
        prompts=Prompts(secret=secret),
        host_keys=trust(tmp_path, node.known_hosts_line()),
    )
    result = await conn.run("cat > /etc/x", input="payload\n", sudo=True)
    assert result.stdout == "as root: cat > /etc/x\npayload\n"
    again = await conn.run("cat", input="more\n", sudo=True)  # asked once per connection
    assert again.stdout == "as root: cat\nmore\n"
    assert [r.kind for r in asked] == ["sudo"]
    assert node.handler.sudo_stdin_passwords == [SUDO_PASSWORD] * 3  # check + two commands
    assert all(SUDO_PASSWORD not in c for c in node.commands)
    await conn.close()


async def test_wrong_sudo_password_is_refused(tmp_path, node):
    async def secret(request: SecretRequest) -> str:
        return "hunter2"

    conn = SshConnection(
        target(tmp_path, node.port, "cp-1"),
        prompts=Prompts(secret=secret),
        host_keys=trust(tmp_path, node.known_hosts_line()),
    )
    with pytest.raises(SudoRefused) as info:
        await conn.run("rm -rf /important", input="data", sudo=True)
    assert info.value.node == "cp-1" and "hunter2" not in str(info.value)
    assert not any("important" in c for c in node.commands)  # the command never ran
    await conn.close()


async def test_password_login_is_reused_for_sudo(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_NODE_PASSWORD", SUDO_PASSWORD)
    async with FakeNode(Script(), login_password=SUDO_PASSWORD) as fake:
        conn = SshConnection(
            target(tmp_path, fake.port, auth=PasswordAuth(env_var="FAKE_NODE_PASSWORD")),
            host_keys=trust(tmp_path, fake.known_hosts_line()),
        )
        assert (await conn.run("id", sudo=True)).stdout == "as root: id\n"
        assert all(SUDO_PASSWORD not in c for c in fake.commands)
        assert SUDO_PASSWORD not in repr(conn.__dict__)
        await conn.close()


async def test_a_sudo_password_of_its_own_is_used_with_password_login(tmp_path, monkeypatch):
    """`auth.method: password` with a `sudoPassword` that differs: sudo gets the sudo password,
    not the login password (issue 11, item 8)."""
    monkeypatch.setenv("FAKE_NODE_PASSWORD", "the login password")
    asked: list[str] = []

    async def secret(request: SecretRequest) -> str | None:
        asked.append(request.kind)
        return SUDO_PASSWORD if request.kind == "sudo" else None

    async with FakeNode(Script(), login_password="the login password") as fake:
        conn = SshConnection(
            target(tmp_path, fake.port, auth=PasswordAuth(env_var="FAKE_NODE_PASSWORD")),
            prompts=Prompts(secret=secret),
            host_keys=trust(tmp_path, fake.known_hosts_line()),
        )
        assert (await conn.run("id", sudo=True)).stdout == "as root: id\n"
        assert fake.handler.sudo_stdin_passwords == [SUDO_PASSWORD] * 2  # the check, then the command
        assert asked == ["sudo"]
        await conn.close()


async def test_password_prompt_declined(tmp_path, node):
    conn = SshConnection(
        target(tmp_path, node.port, auth=PasswordAuth()), host_keys=trust(tmp_path, node.known_hosts_line())
    )
    with pytest.raises(AuthenticationFailed, match="no password"):
        await conn.connect()


# ---- a node that answered before and is briefly away


async def test_a_node_that_answered_before_is_waited_for_while_it_refuses(tmp_path):
    """Its port closed (a reboot, sshd restarting): reconnected with backoff, not 'nothing listens'."""
    handler = Script()
    async with FakeNode(handler) as node:
        port, host_key = node.port, node.host_key
        conn = connection(tmp_path, node, SshSettings(retry_delay=0.05))
        assert (await conn.run("one")).stdout == "ran: one\n"
    await conn.close()  # the node went away with the connection; the next command reconnects

    async def come_back() -> FakeNode:
        await asyncio.sleep(0.3)  # when it is back is the node's business: nothing asserts on it
        return await FakeNode(handler, port=port, host_key=host_key).__aenter__()

    back = asyncio.create_task(come_back())
    result = await asyncio.wait_for(conn.run("two"), 30)
    assert result.stdout == "ran: two\n"
    await conn.close()
    await (await back).__aexit__()


async def test_a_node_away_longer_than_reconnect_for_is_an_error(tmp_path):
    async with FakeNode(Script()) as node:
        conn = connection(tmp_path, node, SshSettings(retry_delay=0.05, reconnect_for=0.3))
        await conn.run("one")
    await conn.close()
    with pytest.raises(ConnectionRefused, match="nothing listens"):
        await asyncio.wait_for(conn.run("two"), 30)
