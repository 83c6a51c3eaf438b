"""In-process SSH servers for fault injection: asyncssh servers whose commands are Python
handlers, a listener that never speaks SSH, and a proxy that drops the first connections."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncssh

Handler = Callable[[asyncssh.SSHServerProcess], Awaitable[None]]


class _AnyKeyServer(asyncssh.SSHServer):
    """Accepts any public key, and the password `login_password` when one is set."""

    def __init__(self, login_password: str | None) -> None:
        self._login_password = login_password

    def begin_auth(self, username: str) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return self._login_password is None

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return self._login_password is not None

    def validate_password(self, username: str, password: str) -> bool:
        return password == self._login_password


class FakeNode:
    """An asyncssh server on 127.0.0.1; `handler` answers every command."""

    def __init__(
        self,
        handler: Handler,
        *,
        login_password: str | None = None,
        port: int = 0,
        host_key: asyncssh.SSHKey | None = None,
    ) -> None:
        self.handler = handler
        self.login_password = login_password
        # A given port and host key: the same node coming back (after a reboot, say).
        self.host_key = host_key or asyncssh.generate_private_key("ssh-ed25519")
        self.commands: list[str] = []  # every command line received, in order
        self.port = port
        self._server: asyncssh.SSHAcceptor | None = None

    async def __aenter__(self) -> FakeNode:
        async def process(proc: asyncssh.SSHServerProcess) -> None:
            self.commands.append(proc.command or "")
            try:
                await self.handler(proc)
            finally:
                if not proc.is_closing():
                    proc.exit(0)

        self._server = await asyncssh.create_server(
            lambda: _AnyKeyServer(self.login_password),
            "127.0.0.1",
            self.port,
            server_host_keys=[self.host_key],
            reuse_address=True,
            process_factory=process,
            encoding="utf-8",
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def known_hosts_line(self, port: int | None = None) -> str:
        key = self.host_key.export_public_key("openssh").decode().split()[:2]
        return f"[127.0.0.1]:{port or self.port} {' '.join(key)}\n"


class Silent:
    """Accepts TCP connections and never sends an SSH banner."""

    def __init__(self) -> None:
        self.port = 0
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> Silent:
        async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._writers.append(writer)

        self._server = await asyncio.start_server(hold, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for w in self._writers:
            w.close()
        self._server.close()


class DropFirst:
    """A TCP proxy to `target_port` that closes the first `drops` connections at once,
    as OpenSSH does beyond MaxStartups."""

    def __init__(self, target_port: int, drops: int) -> None:
        self.target_port = target_port
        self.drops = drops
        self.accepted = 0
        self.port = 0
        self._tasks: set[asyncio.Task] = set()

    async def __aenter__(self) -> DropFirst:
        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                w.close()

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.accepted += 1
            if self.accepted <= self.drops:
                writer.close()
                return
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
            for coro in (pipe(reader, up_w), pipe(up_r, writer)):
                task = asyncio.create_task(coro)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

        self._server = await asyncio.start_server(accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        for t in list(self._tasks):
            t.cancel()


def write_client_key(directory: Path) -> Path:
    """A throwaway unencrypted client key (the fake nodes accept any key)."""
    path = directory / "id_ed25519"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(path)
    return path
