"""The lab's SSH servers: one asyncssh server on 127.0.0.1 per simulated node.

Each has its own persistent ed25519 host key, accepts the lab user `thinkube` with the keys
of the lab's authorized_keys file (and a password, when one is set), runs exec requests
through the node's shell with stdout/stderr streamed as they are written, and serves SFTP
as the login user on the node's files (the same files the shell sees; `sftp.py`). Sessions per connection
are bounded like OpenSSH's MaxSessions (10). Faults (`faults.py`) apply here. The banner says
it is a simulator: ``SSH-2.0-thinkube_lab simulated-ubuntu-node``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from pathlib import Path
from typing import Any

import asyncssh

from .faults import Fault, Faults
from .node import LAB_USER, LabNode
from .sftp import NodeSFTPServer
from .shell import BrokenPipe, Input, Output

log = logging.getLogger(__name__)

SERVER_VERSION = "thinkube_lab simulated-ubuntu-node"


def load_or_create_key(path: Path) -> asyncssh.SSHKey:
    """An ed25519 private key kept at `path` (mode 0600), created on first use."""
    if path.exists():
        return asyncssh.read_private_key(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    key = asyncssh.generate_private_key("ssh-ed25519", comment=path.stem)
    key.write_private_key(str(path))
    path.chmod(0o600)
    key.write_public_key(str(path) + ".pub")
    return key


class _Coalescer:
    """What a command writes in one go leaves in one packet, as from a real sshd, which reads
    the command's pipes in blocks: writes wait for the end of the event loop's turn (one
    flush for stdout and stderr, in the order written), so a probe printing 300 lines is a
    few SSH packets, not 300."""

    def __init__(self) -> None:
        self.pending: list[tuple[asyncssh.SSHWriter[str], str]] = []

    def add(self, writer: asyncssh.SSHWriter[str], text: str) -> None:
        if not self.pending:
            asyncio.get_running_loop().call_soon(self.flush)
        if self.pending and self.pending[-1][0] is writer:
            self.pending[-1] = (writer, self.pending[-1][1] + text)
        else:
            self.pending.append((writer, text))

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        for writer, text in pending:
            with contextlib.suppress(BrokenPipeError, ConnectionError, asyncssh.Error):
                if not writer.channel.is_closing():
                    writer.write(text)


class _ChannelOutput(Output):
    """stdout/stderr of an exec request; counts bytes for `drop` faults."""

    def __init__(self, writer: asyncssh.SSHWriter[str], coalescer: _Coalescer, on_bytes: Any = None) -> None:
        self.writer, self.coalescer, self.on_bytes, self.closed = writer, coalescer, on_bytes, False

    def write(self, text: str) -> None:
        if not text:
            return
        if self.closed or self.writer.channel.is_closing():
            raise BrokenPipe()
        if self.on_bytes is not None:
            text = self.on_bytes(text)
            if text is None:
                raise BrokenPipe()
        self.coalescer.add(self.writer, text)

    async def drain(self) -> None:
        self.coalescer.flush()
        with contextlib.suppress(BrokenPipeError, ConnectionError, asyncssh.Error):
            await self.writer.drain()


class _ChannelInput(Input):
    def __init__(self, reader: asyncssh.SSHReader[str]) -> None:
        self.reader = reader

    async def read(self) -> str:
        try:
            return await self.reader.read()
        except (asyncssh.Error, ConnectionError):
            return ""

    async def readline(self) -> str:
        try:
            return await self.reader.readline()
        except (asyncssh.Error, ConnectionError):
            return ""


class _Connection(asyncssh.SSHServer):
    """One accepted SSH connection to a node."""

    def __init__(self, server: NodeServer) -> None:
        self.server = server
        self.conn: asyncssh.SSHServerConnection | None = None
        self.user: str | None = None
        self.groups: frozenset[str] = frozenset()
        self.sessions = 0

    # -- connection

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        srv = self.server
        if srv.down or srv.faults.refuse_connection(srv.node.name):
            conn.abort()  # before the banner goes out: the client sees the connection closed
            return
        srv.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)

    # -- authentication

    def begin_auth(self, username: str) -> bool:
        self.user = username
        if username == LAB_USER and self.conn is not None:
            self.conn.set_authorized_keys(str(self.server.authorized_keys))
        return True

    def password_auth_supported(self) -> bool:
        return self.server.password is not None

    def validate_password(self, username: str, password: str) -> bool:
        return username == LAB_USER and self.server.password is not None and password == self.server.password

    def auth_completed(self) -> None:
        # Groups are fixed at login, as for a real sshd session: `usermod -a -G` takes effect
        # on the next connection.
        self.groups = frozenset(self.server.node.groups_of(LAB_USER))

    # -- sessions

    def session_requested(self) -> Any:
        srv = self.server
        if self.sessions >= srv.max_sessions:
            return False  # "open failed: connect failed" like OpenSSH past MaxSessions
        outage = srv.faults.for_session(srv.node.name)
        if outage is not None:  # the node goes away while the client waits for its session
            self._drop()
            srv.reboot_soon(outage.down_for)
            return False
        # SFTP as the login user, on the node's files (see sftp.py)
        sftp = functools.partial(NodeSFTPServer, node=srv.node, user=self.user or LAB_USER)
        return asyncssh.SSHServerProcess(self._process, sftp, 3, False)

    async def _process(self, process: asyncssh.SSHServerProcess[str]) -> None:
        self.sessions += 1
        try:
            await self._run(process)
        finally:
            self.sessions -= 1

    async def _run(self, process: asyncssh.SSHServerProcess[str]) -> None:
        srv, node = self.server, self.server.node
        command = process.command
        if command is None:
            process.stderr.write("thinkube-lab: interactive shells are not simulated; run a command\n")
            process.exit(1)
            return
        fault = srv.faults.for_command(node.name, command)
        on_bytes = None
        dropping = asyncio.Event()
        if fault is not None and fault.kind == "drop":
            if fault.after_bytes <= 0:
                node.history.append(command)
                self._drop()
                return
            on_bytes = self._byte_budget(fault, dropping)
        if fault is not None and fault.kind == "reboot":
            node.history.append(command)
            srv.reboot_soon(fault.down_for)
            await asyncio.sleep(3600)  # the reboot cancels this session
            return
        if fault is not None and fault.kind == "fail":
            node.history.append(command)
            process.stderr.write(fault.message.rstrip("\n") + "\n")
            process.exit(fault.exit_status)
            return
        coalescer = _Coalescer()
        stdout = _ChannelOutput(process.stdout, coalescer, on_bytes)
        stderr = _ChannelOutput(process.stderr, coalescer)
        stdin = _ChannelInput(process.stdin)
        pid_holder: list[int] = []

        async def drop_when_told() -> None:
            await dropping.wait()
            await stdout.drain()  # what was written before the drop gets through
            self._drop()

        dropper = asyncio.ensure_future(drop_when_told())
        try:
            status = await node.run(
                command,
                stdin,
                stdout,
                stderr,
                user=LAB_USER,
                groups=self.groups,
                hang=(fault.pattern or "") if fault is not None and fault.kind == "hang" else None,
                pid_out=pid_holder,
            )
        except asyncio.CancelledError:
            if pid_holder and pid_holder[0] in node.killed:
                node.killed.discard(pid_holder[0])
                with contextlib.suppress(Exception):
                    process.exit_with_signal("KILL")
                return
            raise
        except BrokenPipe:
            status = 141
        if dropping.is_set():
            await dropper
            return
        dropper.cancel()
        if not process.channel.is_closing():
            await stdout.drain()
            await stderr.drain()
            process.exit(status)

    def _byte_budget(self, fault: Fault, dropping: asyncio.Event) -> Any:
        left = [fault.after_bytes]

        def take(text: str) -> str | None:
            if left[0] <= 0:
                return None
            data = text.encode()
            if len(data) < left[0]:
                left[0] -= len(data)
                return text
            head = data[: left[0]].decode(errors="ignore")
            left[0] = 0
            dropping.set()
            return head

        return take

    def _drop(self) -> None:
        if self.conn is not None:
            self.conn.abort()


class NodeServer:
    """The SSH server of one lab node."""

    def __init__(
        self,
        node: LabNode,
        host_key: Path,
        authorized_keys: Path,
        faults: Faults | None = None,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        password: str | None = None,
        max_sessions: int = 10,
    ) -> None:
        self.node = node
        self.host_key = load_or_create_key(host_key)
        self.authorized_keys = authorized_keys
        self.faults = faults or Faults()
        self.host, self.port = host, port
        self.password = password
        self.max_sessions = max_sessions
        self.down = False
        self.connections: set[_Connection] = set()
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._reboot: asyncio.Task[None] | None = None

    @property
    def fingerprint(self) -> str:
        return self.host_key.get_fingerprint("sha256")

    @property
    def public_key(self) -> str:
        return self.host_key.export_public_key("openssh").decode().strip()

    def known_hosts_line(self) -> str:
        host = self.host if self.port == 22 else f"[{self.host}]:{self.port}"
        return f"{host} {' '.join(self.public_key.split()[:2])}"

    async def start(self) -> None:
        ports = [self.port, 0] if self.port else [0]
        for i, port in enumerate(ports):
            try:
                self._acceptor = await asyncssh.listen(
                    self.host,
                    port,
                    server_factory=lambda: _Connection(self),
                    server_host_keys=[self.host_key],
                    server_version=SERVER_VERSION,
                    encoding="utf-8",
                    errors="replace",
                    keepalive_interval=0,
                    login_timeout=30,
                    reuse_address=True,
                )
                break
            except OSError:
                if i == len(ports) - 1:
                    raise
        assert self._acceptor is not None
        self.port = self._acceptor.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._reboot is not None:
            self._reboot.cancel()
        for c in list(self.connections):
            c._drop()
        self._kill_sessions()
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
            self._acceptor = None

    def _kill_sessions(self) -> None:
        for task, _user in list(self.node.processes.values()):
            task.cancel()

    def reboot_soon(self, down_for: float) -> None:
        self._reboot = asyncio.ensure_future(self.reboot(down_for))

    async def reboot(self, down_for: float = 1.0) -> None:
        """Drop every connection, refuse new ones (port closed) for `down_for` s, come back."""
        if self.down:
            return
        self.down = True
        self._reboot = self._reboot or asyncio.current_task()
        try:
            for c in list(self.connections):
                c._drop()
            self._kill_sessions()
            if self._acceptor is not None:
                self._acceptor.close()
                await self._acceptor.wait_closed()
                self._acceptor = None
            self.node.reboots += 1
            await asyncio.sleep(down_for)
            self.down = False
            await self.start()
        finally:
            self.down = False
            self._reboot = None
