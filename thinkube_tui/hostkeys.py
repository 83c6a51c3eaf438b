"""Which SSH host keys thinkube-tui trusts, and remembering new ones.

Trust comes from the operator's OpenSSH files (`~/.ssh/known_hosts`) plus a file of our own,
where keys the operator accepted in thinkube-tui are appended. We never edit OpenSSH's files.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from .files import open_append


def default_known_hosts_file() -> Path:
    """`$XDG_STATE_HOME/thinkube-tui/known_hosts`, else `~/.local/state/thinkube-tui/known_hosts`."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "thinkube-tui" / "known_hosts"


def host_pattern(host: str, port: int) -> str:
    """The known_hosts spelling of a host: `host` on port 22, `[host]:port` otherwise."""
    return host if port == 22 else f"[{host}]:{port}"


def fingerprint(key: asyncssh.SSHKey) -> str:
    """`SHA256:...`, the way `ssh-keygen -l` prints it."""
    return key.get_fingerprint("sha256")


def same_fingerprint(a: str, b: str) -> bool:
    # Pasted fingerprints sometimes carry base64 padding or stray spaces.
    return a.strip().rstrip("=") == b.strip().rstrip("=")


@dataclass
class HostKeyMatch:
    """What the known-hosts files said about one host during one connection attempt."""

    known: list[asyncssh.SSHKey] = field(default_factory=list)
    revoked: list[asyncssh.SSHKey] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)  # the files the known keys came from


class _Snapshot:
    """The files as read just before a connection attempt; matched by asyncssh once it knows
    the peer address. Records the matched keys so a mismatch can name the old fingerprint."""

    def __init__(self, tables: list[tuple[Path, asyncssh.SSHKnownHosts]]) -> None:
        self._tables = tables
        self.match = HostKeyMatch()

    def __call__(
        self, host: str, addr: str, port: int | None
    ) -> tuple[list[asyncssh.SSHKey], list[asyncssh.SSHKey], list[asyncssh.SSHKey]]:
        cas: list[asyncssh.SSHKey] = []
        for path, table in self._tables:
            trusted, ca_keys, revoked, *_ = table.match(host, addr, port)
            if trusted and path not in self.match.files:
                self.match.files.append(path)
            self.match.known.extend(k for k in trusted if k not in self.match.known)
            self.match.revoked.extend(revoked)
            cas.extend(ca_keys)
        return self.match.known, cas, self.match.revoked


class KnownHosts:
    """OpenSSH's known_hosts files (read only) plus thinkube-tui's own file (appended to)."""

    def __init__(self, own_file: Path | None = None, ssh_files: Sequence[Path] | None = None) -> None:
        self.own_file = own_file or default_known_hosts_file()
        self.ssh_files = tuple(ssh_files) if ssh_files is not None else (Path.home() / ".ssh" / "known_hosts",)
        self._write_lock = asyncio.Lock()

    async def snapshot(self) -> _Snapshot:
        """Read all files (in a thread: no blocking I/O on the event loop)."""
        return _Snapshot(await asyncio.to_thread(self._read_all))

    def _read_all(self) -> list[tuple[Path, asyncssh.SSHKnownHosts]]:
        tables = []
        for path in (*self.ssh_files, self.own_file):
            path = Path(path).expanduser()
            try:
                text = path.read_text()
            except (FileNotFoundError, NotADirectoryError):
                continue
            tables.append((path, asyncssh.import_known_hosts(text)))
        return tables

    async def remember(self, host: str, port: int, key: asyncssh.SSHKey) -> None:
        """Append an accepted key to our own file (dir 0700, file 0600)."""
        algorithm, data = key.export_public_key("openssh").decode().split()[:2]
        line = f"{host_pattern(host, port)} {algorithm} {data}\n"
        async with self._write_lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        path = self.own_file.expanduser()
        fd = open_append(path, 0o600)  # also tightens a looser mode; refuses a symlink
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
