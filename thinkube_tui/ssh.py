"""SSH to the nodes: one reused connection per node, verified host keys, sudo, streaming.

`SshConnection` implements `transport.Transport`. `SshPool` hands out one connection per node
and bounds handshakes per SSH server, because OpenSSH drops unauthenticated connections beyond
its `MaxStartups` (10 by default), and refuses more than `MaxSessions` (10) sessions on one
connection.

Secrets (login and sudo passwords, key passphrases) are held in memory only: they never reach
argv, logs, exception text or files.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import random
import secrets
import shlex
import socket
from collections import deque
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import asyncssh

from .hostkeys import HostKeyMatch, KnownHosts, fingerprint, host_pattern, same_fingerprint
from .targets import (  # noqa: F401 - re-exported: the SSH layer's public names
    AgentAuth,
    Auth,
    HostKeyPrompt,
    KeyAuth,
    NodeTarget,
    PasswordAuth,
    Prompts,
    SecretPrompt,
    SecretRequest,
    SshSettings,
    no_secrets,
    refuse_unknown_host_keys,
)
from .transport import CommandResult, CommandTimeout, LineCallback

# AES-GCM first (AES-NI makes it several times cheaper than ChaCha20-Poly1305 in asyncssh, which
# builds a cipher context per packet), ChaCha20 and AES-CTR kept for servers without it.
# Every one is in OpenSSH's default server list.
CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes256-ctr",
    "aes192-ctr",
    "aes128-ctr",
)


class _Secret:
    """A secret that does not show itself in reprs, tracebacks with locals, or logs."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


# --------------------------------------------------------------------------- errors


class SshError(Exception):
    """Something went wrong reaching a node: `message` says what, `hint` what to do."""

    def __init__(self, node: str, message: str, hint: str = "") -> None:
        self.node = node
        self.message = message
        self.hint = hint
        super().__init__(f"{node}: {message}" + (f"\n  what to do: {hint}" if hint else ""))


class HostUnreachable(SshError):
    """The name does not resolve, or there is no route to the address."""


class ConnectionRefused(SshError):
    """Nothing listens on the SSH port."""


class ConnectTimeout(SshError):
    """No complete SSH handshake within the connect timeout."""


class AuthenticationFailed(SshError):
    def __init__(self, node: str, message: str, hint: str = "", methods_tried: tuple[str, ...] = ()) -> None:
        self.methods_tried = methods_tried
        super().__init__(node, message, hint)


class HostKeyError(SshError):
    """The node's host key cannot be trusted."""


class HostKeyUnknown(HostKeyError):
    def __init__(self, node: str, host: str, port: int, key_type: str, fingerprint: str, hint: str) -> None:
        self.host, self.port, self.key_type, self.fingerprint = host, port, key_type, fingerprint
        super().__init__(
            node, f"the host key of {host_pattern(host, port)} is not known ({key_type} {fingerprint})", hint
        )


class HostKeyChanged(HostKeyError):
    def __init__(self, node: str, host: str, port: int, old: list[str], new: str, files: list[Path]) -> None:
        self.host, self.port, self.old_fingerprints, self.new_fingerprint = host, port, old, new
        pattern = host_pattern(host, port)
        fixes = " ; ".join(f"ssh-keygen -R '{pattern}' -f {f}" for f in files)
        super().__init__(
            node,
            f"the host key of {pattern} has CHANGED: known {', '.join(old)}, now offered {new}. "
            "Someone may be intercepting the connection, or the machine was reinstalled.",
            f"if the machine was reinstalled, check the new fingerprint on its console "
            f"(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then remove the old key: {fixes}",
        )


class SudoRefused(SshError):
    """sudo said no: wrong password, or the user may not use sudo."""


class ConnectionLost(SshError):
    """The connection dropped, during the handshake (after retries) or mid-command."""


# --------------------------------------------------------------------------- asyncssh client


class _Client(asyncssh.SSHClient):
    """Sees the host key asyncssh could not match against the known-hosts files."""

    def __init__(self, pinned: str | None, match: HostKeyMatch) -> None:
        self._pinned = pinned
        self._match = match
        self.offered: asyncssh.SSHKey | None = None  # an unknown key the server presented
        self.accepted_by_pin = False
        self.closed = asyncio.Event()

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        # Called only for keys not in known_hosts. A pin may vouch for a key never seen
        # before, but never overrides a different known key (that is the "changed" case).
        self.offered = key
        self.accepted_by_pin = (
            self._pinned is not None and not self._match.known and same_fingerprint(self._pinned, fingerprint(key))
        )
        return self.accepted_by_pin

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


_DROPPED = (asyncssh.ConnectionLost, ConnectionResetError, BrokenPipeError, asyncio.IncompleteReadError)

# Every command first reports its process group on stderr (sshd makes the shell a session
# leader), so a timed-out command can be killed with all its children. Simulated nodes may
# strip this prefix; the line is removed from stderr before anyone sees it.
_PGID_MARK = "thinkube-pgid:"
_CHUNK = 65536  # characters read from a command's output at once
PGID_PREFIX = f'echo "{_PGID_MARK}$$" >&2; '


class _NoSession(Exception):
    """The connection closed while a session was being opened: the command never started."""


class _TimedOut(Exception):
    def __init__(self, pgid: int | None, tail: str) -> None:
        self.pgid, self.tail = pgid, tail


# Root needs no sudo; NOPASSWD is detected with -n so nothing ever waits for a password.
# A plain command list (no if/fi): nodes' shells differ, and the lab understands lists only.
_SUDO_PROBE = 'id -u; sudo -n true 2>/dev/null; echo "sudo=$?"'


def _sudo_mode(probe_output: str) -> str:
    """root, nopasswd or password, from `_SUDO_PROBE`'s output."""
    lines = probe_output.split()
    if lines[:1] == ["0"]:
        return "root"
    return "nopasswd" if "sudo=0" in lines else "password"


# --------------------------------------------------------------------------- connection


class SshConnection:
    """One node's SSH connection: opened on first use, reused, reopened after it drops or idles."""

    def __init__(
        self,
        target: NodeTarget,
        settings: SshSettings = SshSettings(),
        prompts: Prompts = Prompts(),
        *,
        host_keys: KnownHosts | None = None,
        handshakes: contextlib.AbstractAsyncContextManager[Any] | None = None,
    ) -> None:
        self.target = target
        self._settings = settings
        self._prompts = prompts
        self._host_keys = host_keys or KnownHosts()
        self._handshakes = handshakes or asyncio.Semaphore(settings.max_handshakes)
        self._sessions = asyncio.Semaphore(settings.max_sessions)
        self._connect_lock = asyncio.Lock()
        self._sudo_lock = asyncio.Lock()
        self._conn: asyncssh.SSHClientConnection | None = None
        self._client: _Client | None = None
        self._auth: dict[str, Any] | None = None  # asyncssh auth options (never the password)
        self._methods: tuple[str, ...] = ()
        self._password: _Secret | None = None  # the login password, reused for sudo
        self._sudo_mode: str | None = None
        self._sudo_password: _Secret | None = None
        self._busy = 0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._opened_before = False  # once a connection worked, losing it is a blip to wait out

    @property
    def node(self) -> str:
        return self.target.name

    @property
    def _where(self) -> str:
        return f"{self.target.user}@{host_pattern(self.target.host, self.target.port)}"

    # ---- connecting

    async def connect(self) -> None:
        """Open the connection if it is not open. Raises an `SshError` subclass."""
        async with self._connect_lock:
            if self._conn is not None and self._client is not None and not self._client.closed.is_set():
                return
            self._conn, self._client = await (self._reopen() if self._opened_before else self._open())
            self._opened_before = True

    async def _reopen(self) -> tuple[asyncssh.SSHClientConnection, _Client]:
        """Open again a connection that worked before. A node restarting, or a network blip,
        refuses or drops connections for a while: that is waited out with backoff, for up to
        `reconnect_for` seconds (a step's own timeout bounds it too), before it is an error."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.reconnect_for
        delay = self._settings.retry_delay
        while True:
            try:
                return await self._open()
            except (ConnectionRefused, ConnectTimeout, HostUnreachable, ConnectionLost):
                if loop.time() + delay > deadline:
                    raise
            await asyncio.sleep(delay * (1 + random.random()))  # jitter: nodes coming back are not stormed
            delay = min(delay * 2, 5.0)

    async def close(self) -> None:
        if self._idle_timer:
            self._idle_timer.cancel()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            await conn.wait_closed()

    async def _open(self) -> tuple[asyncssh.SSHClientConnection, _Client]:
        t, s = self.target, self._settings
        if self._auth is None:
            # Passphrases and passwords are asked before the handshake bound is taken.
            self._auth = await self._auth_options()
        dropped = 0
        while True:
            snapshot = await self._host_keys.snapshot()
            client = _Client(t.host_key_fingerprint, snapshot.match)
            try:
                async with self._handshakes:
                    async with asyncio.timeout(s.connect_timeout):
                        conn = await asyncssh.connect(
                            t.host,
                            t.port,
                            username=t.user,
                            client_factory=lambda client=client: client,
                            known_hosts=snapshot,
                            config=[],  # the target says everything; ~/.ssh/config would surprise
                            encryption_algs=CIPHERS,
                            keepalive_interval=s.keepalive_interval,
                            keepalive_count_max=s.keepalive_count_max,
                            **self._auth,
                            **({"password": self._password.value} if self._password else {}),
                        )
            except asyncssh.HostKeyNotVerifiable as exc:
                # The key was refused so that no credentials go to an unverified server.
                # Once the operator accepts it, it is remembered and a new handshake matches.
                await self._trust_offered_key(client, snapshot.match, exc)
                continue
            except TimeoutError:
                raise ConnectTimeout(
                    self.node,
                    f"no SSH handshake with {host_pattern(t.host, t.port)} within {s.connect_timeout:g} s",
                    "check that the machine is up and that this port is its SSH server",
                ) from None
            except _DROPPED:
                # MaxStartups on the node (or a flaky link) closed us before authentication:
                # not a dead node. Back off with jitter so retries do not arrive together.
                dropped += 1
                if dropped >= s.handshake_attempts:
                    raise ConnectionLost(
                        self.node,
                        f"{host_pattern(t.host, t.port)} closed the connection during the SSH handshake "
                        f"{dropped} times",
                        "the SSH server may be overloaded (MaxStartups) or a firewall drops connections; "
                        "check `journalctl -u ssh` on the node",
                    ) from None
                await asyncio.sleep(s.retry_delay * 2 ** (dropped - 1) * (1 + random.random()))
                continue
            except asyncssh.PermissionDenied:
                raise self._auth_failed() from None
            except socket.gaierror:
                raise HostUnreachable(
                    self.node, f"cannot resolve the host name {t.host!r}", "check the spelling, DNS or /etc/hosts"
                ) from None
            except ConnectionRefusedError:
                raise ConnectionRefused(
                    self.node,
                    f"{host_pattern(t.host, t.port)} refused the connection: nothing listens on port {t.port}",
                    "check the port, and that the SSH server runs (`sudo systemctl status ssh`)",
                ) from None
            except OSError as exc:
                if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN):
                    raise HostUnreachable(
                        self.node, f"no route to {t.host} ({exc.strerror})", "check the address and the network"
                    ) from None
                raise SshError(self.node, f"cannot connect to {host_pattern(t.host, t.port)}: {exc}") from None
            except asyncssh.DisconnectError as exc:
                raise SshError(self.node, f"SSH with {host_pattern(t.host, t.port)} failed: {exc.reason}") from None
            if client.accepted_by_pin and client.offered is not None:
                await self._host_keys.remember(t.host, t.port, client.offered)
            return conn, client

    async def _trust_offered_key(self, client: _Client, match: HostKeyMatch, exc: Exception) -> None:
        """Remember a host key asyncssh could not verify if the operator accepts it; else raise."""
        t = self.target
        key = client.offered
        if key is None:  # refused before our check, e.g. a revoked key
            raise HostKeyError(self.node, f"the host key of {host_pattern(t.host, t.port)} was refused: {exc}")
        new = fingerprint(key)
        if match.known:
            raise HostKeyChanged(self.node, t.host, t.port, [fingerprint(k) for k in match.known], new, match.files)
        key_type = key.get_algorithm()
        if t.host_key_fingerprint is not None:  # pinned, and the pin does not match
            raise HostKeyUnknown(
                self.node,
                t.host,
                t.port,
                key_type,
                new,
                f"the node's pinned fingerprint is {t.host_key_fingerprint}; check which is right on the "
                "machine's console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and fix the pin",
            )
        if not (self._settings.accept_new_host_keys or await self._prompts.host_key(t.host, t.port, key_type, new)):
            raise HostKeyUnknown(
                self.node,
                t.host,
                t.port,
                key_type,
                new,
                "compare the fingerprint with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the "
                "machine, then pin it in the node's host_key_fingerprint or accept it when asked",
            )
        await self._host_keys.remember(t.host, t.port, key)

    async def _auth_options(self) -> dict[str, Any]:
        auth = self.target.auth
        if isinstance(auth, KeyAuth):
            self._methods = (f"public key from {auth.key_file}",)
            key = await self._load_key(Path(auth.key_file).expanduser())
            return {"client_keys": [key], "agent_path": None, "preferred_auth": ["publickey"]}
        if isinstance(auth, PasswordAuth):
            self._methods = ("password",)
            self._password = await self._login_password(auth)
            # The password itself is added only in the connect call (see _open).
            return {"client_keys": None, "preferred_auth": ["keyboard-interactive", "password"]}
        agent = os.environ.get("SSH_AUTH_SOCK")
        self._methods = (
            f"SSH agent ({agent})" if agent else "no SSH agent (SSH_AUTH_SOCK is not set)",
            "default keys in ~/.ssh",
        )
        return {"preferred_auth": ["publickey"]}

    async def _load_key(self, path: Path) -> asyncssh.SSHKey:
        passphrase: str | None = None
        for _ in range(3):
            try:
                # Reading and decrypting (bcrypt) is slow: keep it off the event loop.
                return await asyncio.to_thread(asyncssh.read_private_key, path, passphrase)
            except asyncssh.KeyEncryptionError:
                pass  # wrong passphrase: ask again
            except asyncssh.KeyImportError as exc:
                if passphrase is not None or "assphrase" not in str(exc):
                    raise AuthenticationFailed(
                        self.node, f"cannot read the private key {path}: {exc}", "choose an OpenSSH private key file"
                    ) from None
            except OSError as exc:
                raise AuthenticationFailed(
                    self.node, f"cannot read the private key {path}: {exc.strerror}", "check the path and permissions"
                ) from None
            passphrase = await self._prompts.secret(SecretRequest(self.node, "passphrase", f"Passphrase for {path}"))
            if passphrase is None:
                raise AuthenticationFailed(
                    self.node,
                    f"the private key {path} is encrypted and no passphrase was given",
                    "enter its passphrase, or load it into ssh-agent and use agent authentication",
                )
        raise AuthenticationFailed(self.node, f"wrong passphrase for {path} (3 attempts)", "check the passphrase")

    async def _login_password(self, auth: PasswordAuth) -> _Secret:
        if auth.env_var and os.environ.get(auth.env_var):
            return _Secret(os.environ[auth.env_var])
        value = await self._prompts.secret(SecretRequest(self.node, "password", f"Password for {self._where}"))
        if value is None:
            raise AuthenticationFailed(
                self.node,
                f"no password for {self._where}",
                f"set {auth.env_var} or enter it when asked" if auth.env_var else "enter it when asked",
                self._methods,
            )
        return _Secret(value)

    def _auth_failed(self) -> AuthenticationFailed:
        auth = self.target.auth
        if isinstance(auth, KeyAuth):
            hint = f"add {auth.key_file}.pub to ~{self.target.user}/.ssh/authorized_keys on the node (ssh-copy-id)"
        elif isinstance(auth, PasswordAuth):
            hint = "check the user and password, and that the node's sshd allows PasswordAuthentication"
            self._auth = self._password = None  # a retry should ask again
        else:
            hint = "add your key to the agent (ssh-add) and to authorized_keys on the node, or choose a key file"
        return AuthenticationFailed(
            self.node, f"{self._where} refused authentication; tried: {', '.join(self._methods)}", hint, self._methods
        )

    # ---- commands

    async def run(
        self,
        command: str,
        *,
        input: str | None = None,
        timeout: float | None = None,
        on_line: LineCallback | None = None,
        sudo: bool = False,
    ) -> CommandResult:
        """Run `command` through the node's shell (as root with `sudo=True`).

        `timeout` None means `SshSettings.command_timeout`. Streams stdout lines to `on_line`.
        Raises `CommandTimeout`, or an `SshError` subclass when the node cannot be reached.
        """
        timeout = self._settings.command_timeout if timeout is None else timeout
        remote, stdin = command, input
        if sudo:
            remote, password = await self._sudo_wrap(command)
            if password is not None:
                stdin = password.value + "\n" + (input or "")  # sudo -S reads the first line
        try:
            return await self._exec(command, PGID_PREFIX + remote, stdin, timeout, on_line)
        except _TimedOut as stopped:
            # Outside the session bound: the kill needs a session of its own.
            await self._kill_group(stopped.pgid, sudo)
            raise CommandTimeout(self.node, command, timeout, stopped.tail) from None

    async def _exec(
        self, shown: str, remote: str, stdin: str | None, timeout: float, on_line: LineCallback | None
    ) -> CommandResult:
        attempts = self._settings.handshake_attempts
        for attempt in range(1, attempts + 1):
            try:
                async with self._session() as (conn, client):
                    return await self._exec_on(conn, client, shown, remote, stdin, timeout, on_line)
            except _NoSession:
                # The command never started, so opening the session again is safe: the next
                # `_session` reconnects, waiting for a node that is briefly away.
                await asyncio.sleep(self._settings.retry_delay * 2 ** (attempt - 1) * (1 + random.random()))
        raise ConnectionLost(
            self.node,
            f"the connection closed {attempts} times while opening a session for: {shown}",
            "the node may be restarting or its network flapping; run again once it is stable (steps are idempotent)",
        )

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[tuple[asyncssh.SSHClientConnection, _Client]]:
        """A session slot on an open connection; the idle timer runs only while none is in use."""
        self._busy += 1
        if self._idle_timer:
            self._idle_timer.cancel()
        try:
            await self.connect()
            assert self._conn is not None and self._client is not None
            async with self._sessions:
                yield self._conn, self._client
        finally:
            self._busy -= 1
            if self._busy == 0 and self._conn is not None:
                self._idle_timer = asyncio.get_running_loop().call_later(
                    self._settings.idle_timeout, self._close_if_idle
                )

    async def _exec_on(
        self,
        conn: asyncssh.SSHClientConnection,
        client: _Client,
        shown: str,
        remote: str,
        stdin: str | None,
        timeout: float,
        on_line: LineCallback | None,
    ) -> CommandResult:
        lost = ConnectionLost(
            self.node,
            f"the connection dropped while running: {shown}",
            "the node may have rebooted or lost its network; run again once it is back (steps are idempotent)",
        )
        try:
            proc = await conn.create_process(remote, encoding="utf-8", errors="replace")
        except asyncssh.ChannelOpenError as exc:
            if client.closed.is_set() or exc.reason == "SSH connection closed":
                raise _NoSession() from None  # the node went away, it did not refuse
            raise SshError(self.node, f"the node refused a new session: {exc.reason}", "lower max_sessions") from None
        except (*_DROPPED, asyncssh.DisconnectError, OSError):
            raise _NoSession() from None
        out: list[str] = []
        err: list[str] = []
        tail: deque[str] = deque(maxlen=40)
        pgid: list[int] = []

        async def pump(
            reader: asyncssh.SSHReader[str], into: list[str], callback: LineCallback | None, marked: bool = False
        ) -> None:
            # Read chunks, not lines: a probe prints thousands of lines, and readline() costs a
            # regex search and a lock each (most of discovery's client CPU). Lines are cut here
            # only while someone needs them: the line callback, or our marker on stderr.
            partial = ""

            def line_done(line: str) -> None:
                if marked and not pgid and not into and line.startswith(_PGID_MARK):
                    number = line[len(_PGID_MARK) :].strip()  # our own first stderr line
                    pgid.append(int(number) if number.isdigit() else 0)
                    return
                into.append(line)
                tail.append(line)
                if callback is not None:
                    callback(line.rstrip("\n"))

            while chunk := await reader.read(_CHUNK):
                chunk, partial = partial + chunk, ""
                if callback is None and not (marked and not pgid and not into):
                    into.append(chunk)
                    tail.append(chunk)
                    continue
                *lines, partial = chunk.split("\n")
                for line in lines:
                    line_done(line + "\n")
            if partial:
                line_done(partial)  # a last line without a newline

        async def feed() -> None:
            # A command may exit before it reads its input (sudo refusing, a command not found):
            # then writing fails, and the exit status, not the write, says what happened.
            try:
                if stdin:
                    proc.stdin.write(stdin)
                    await proc.stdin.drain()
                proc.stdin.write_eof()  # commands that read stdin must not wait forever
            except (*_DROPPED, asyncssh.DisconnectError, OSError):
                pass

        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(feed(), pump(proc.stdout, out, on_line), pump(proc.stderr, err, None, marked=True))
                await proc.wait_closed()
        except TimeoutError:
            proc.close()
            raise _TimedOut(pgid[0] if pgid else None, "".join(tail).rstrip()[-2000:]) from None
        except (*_DROPPED, asyncssh.DisconnectError):
            raise lost from None
        finally:
            proc.close()
        status = proc.exit_status
        if proc.exit_signal is None and (status is None or status < 0) and client.closed.is_set():
            raise lost  # no exit status because the connection went away
        return CommandResult(shown, status if status is not None else -1, "".join(out), "".join(err))

    async def _quick(self, command: str, stdin: str | None = None) -> CommandResult:
        """Our own short commands (sudo probe and check), bounded by the connect timeout."""
        try:
            return await self._exec(command, command, stdin, self._settings.connect_timeout, None)
        except _TimedOut as stopped:
            raise CommandTimeout(self.node, command, self._settings.connect_timeout, stopped.tail) from None

    async def _kill_group(self, pgid: int | None, sudo: bool) -> None:
        # Without a PTY, closing the channel leaves the remote command running, and sshd's
        # "signal" request is refused for root logins and cannot reach sudo's root processes.
        # sshd starts every session in a new process group: kill that group instead.
        if pgid is None or pgid <= 1:
            return
        kill = f"kill -KILL -{pgid} 2>/dev/null || true"  # dash's kill knows no "--"
        with contextlib.suppress(SshError, CommandTimeout):  # best effort: the timeout is what gets reported
            await self.run(kill, timeout=self._settings.connect_timeout, sudo=sudo)

    def _close_if_idle(self) -> None:
        if self._busy == 0 and self._conn is not None:
            self._conn.close()
            self._conn = None

    # ---- sudo

    async def _sudo_wrap(self, command: str) -> tuple[str, _Secret | None]:
        """The command line that runs `command` as root, and the password sudo will read."""
        async with self._sudo_lock:
            if self._sudo_mode is None:
                probe = await self._quick(_SUDO_PROBE)
                self._sudo_mode = _sudo_mode(probe.stdout)
            if self._sudo_mode == "password" and self._sudo_password is None:
                self._sudo_password = await self._check_sudo_password()
        quoted = shlex.quote(command)
        if self._sudo_mode == "root":
            return f"sh -c {quoted}", None
        if self._sudo_mode == "nopasswd":
            return f"sudo -n sh -c {quoted}", None
        # -k: ignore cached credentials, so sudo always consumes the password line and the
        # command never sees it. -p '': no prompt in the output. No PTY: nothing echoes.
        return f"sudo -k -S -p '' sh -c {quoted}", self._sudo_password

    async def _check_sudo_password(self) -> _Secret:
        # Checked once with `true`, so a wrong password can never make sudo read the
        # command's own input as a second password attempt. The sudo password is asked for
        # first (a node's sudoPassword may differ from its login password); without one, a
        # password login's own password is what sudo gets, as for `ssh` users.
        value = await self._prompts.secret(SecretRequest(self.node, "sudo", f"sudo password for {self._where}"))
        password = _Secret(value) if value is not None else self._password
        if password is None:
            raise SudoRefused(
                self.node,
                f"{self._where} needs a password for sudo and none was given",
                "enter the sudo password, or allow passwordless sudo for this user (NOPASSWD in sudoers)",
            )
        check = "sudo -k -S -p '' true"
        result = await self._quick(check, password.value + "\n")
        if not result.ok:
            reason = result.stderr.strip().splitlines()[-1:] or ["no reason given"]
            raise SudoRefused(
                self.node,
                f"sudo refused {self._where}: {reason[0]}",
                "check the sudo password, and that the user is in the sudo group (`groups`)",
            )
        return password

    # ---- files

    async def upload(self, data: bytes | str, remote_path: str, *, mode: int = 0o644, sudo: bool = False) -> None:
        """Write `data` to `remote_path` with `mode`, atomically (temp file, then rename).

        With `sudo=True` the file is staged in /tmp (mode 0600) and moved into place as root."""
        payload = data.encode() if isinstance(data, str) else data
        if sudo:
            staged = f"/tmp/.thinkube-upload-{secrets.token_hex(8)}"
            await self._sftp_write(payload, staged, 0o600)
            q, dest = shlex.quote(staged), shlex.quote(remote_path)
            result = await self.run(f"install -m {mode:o} {q} {dest}; rc=$?; rm -f {q}; exit $rc", sudo=True)
            if not result.ok:
                raise SshError(self.node, f"cannot install {remote_path}: {result.tail(5)}", "check the path")
        else:
            await self._sftp_write(payload, remote_path, mode)

    async def upload_file(
        self, local_path: Path, remote_path: str, *, mode: int | None = None, sudo: bool = False
    ) -> None:
        """Upload a local file; `mode` defaults to the local file's permission bits."""
        data, st = await asyncio.to_thread(lambda: (local_path.read_bytes(), local_path.stat()))
        await self.upload(data, remote_path, mode=mode if mode is not None else st.st_mode & 0o777, sudo=sudo)

    async def _sftp_write(self, payload: bytes, path: str, mode: int) -> None:
        tmp = f"{path}.thinkube-tmp"
        async with self._session() as (conn, _):
            try:
                async with conn.start_sftp_client() as sftp:
                    async with sftp.open(tmp, "wb", asyncssh.SFTPAttrs(permissions=0o600)) as f:
                        await f.write(payload)
                    await sftp.chmod(tmp, mode)  # the umask applied at creation
                    await sftp.posix_rename(tmp, path)
            except asyncssh.SFTPError as exc:
                raise SshError(
                    self.node,
                    f"upload to {path} failed: {exc.reason}",
                    "check the path; files outside the user's own directories need upload(..., sudo=True)",
                ) from None
            except (*_DROPPED, asyncssh.DisconnectError, asyncssh.ChannelOpenError):
                raise ConnectionLost(self.node, f"the connection dropped while uploading {path}", "run again") from None


# --------------------------------------------------------------------------- pool


# Handshakes at once from this client, all servers together: each costs the client a key
# exchange, and past this many its own CPU, not the servers, is the limit. (At 64 nodes, one
# bound of 8 over all of them cost 1.6x bare asyncssh's client CPU -- more loop turns for the
# same work -- and left MaxStartups, which OpenSSH counts per server, no safer.)
MAX_HANDSHAKES_IN_ALL = 64


class _HandshakeSlot:
    """One of `max_handshakes` slots of the node's SSH server (OpenSSH's MaxStartups counts per
    server), then one of this client's MAX_HANDSHAKES_IN_ALL."""

    def __init__(self, server: asyncio.Semaphore, client: asyncio.Semaphore) -> None:
        self._server, self._client = server, client

    async def __aenter__(self) -> None:
        await self._server.acquire()  # first: waiting here holds none of the client's slots
        try:
            await self._client.acquire()
        except BaseException:
            self._server.release()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._client.release()
        self._server.release()


class SshPool:
    """One `SshConnection` per node, with handshakes bounded per SSH server and in all."""

    def __init__(
        self,
        settings: SshSettings = SshSettings(),
        prompts: Prompts = Prompts(),
        *,
        host_keys: KnownHosts | None = None,
    ) -> None:
        self.settings = settings
        self.prompts = prompts
        self.host_keys = host_keys or KnownHosts()
        self._all_handshakes = asyncio.Semaphore(MAX_HANDSHAKES_IN_ALL)
        self._server_handshakes: dict[tuple[str, int], asyncio.Semaphore] = {}
        self._connections: dict[NodeTarget, SshConnection] = {}

    def connection(self, target: NodeTarget) -> SshConnection:
        """The node's connection (not yet opened: it opens on first use or `connect()`)."""
        if target not in self._connections:
            server = self._server_handshakes.setdefault(
                (target.host, target.port), asyncio.Semaphore(self.settings.max_handshakes)
            )
            self._connections[target] = SshConnection(
                target,
                self.settings,
                self.prompts,
                host_keys=self.host_keys,
                handshakes=_HandshakeSlot(server, self._all_handshakes),
            )
        return self._connections[target]

    async def connect_all(self, targets: Iterable[NodeTarget]) -> dict[str, SshConnection | SshError]:
        """Connect to every node concurrently; each entry is the connection or why it failed."""
        targets = list(targets)

        async def one(target: NodeTarget) -> SshConnection | SshError:
            connection = self.connection(target)
            try:
                await connection.connect()
            except SshError as exc:
                return exc
            return connection

        results = await asyncio.gather(*(one(t) for t in targets))
        return {t.name: r for t, r in zip(targets, results, strict=False)}

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self._connections.values()), return_exceptions=True)
        self._connections.clear()

    async def __aenter__(self) -> SshPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
