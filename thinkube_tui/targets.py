"""How to reach a node and how to ask the operator: plain data, no SSH library.

Kept apart from ssh.py so that what only describes nodes (the wizard's model, the CLI) starts
without importing asyncssh.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

# --------------------------------------------------------------------------- targets, settings


@dataclass(frozen=True)
class AgentAuth:
    """The SSH agent (`SSH_AUTH_SOCK`) and the default keys in `~/.ssh`, as `ssh` itself does."""


@dataclass(frozen=True)
class KeyAuth:
    """One private key file; if it is encrypted the passphrase is asked through `Prompts.secret`."""

    key_file: Path


@dataclass(frozen=True)
class PasswordAuth:
    """Password login. The value comes from the environment variable `env_var` if set there,
    else from `Prompts.secret`; it is never part of the target itself."""

    env_var: str | None = None


Auth = AgentAuth | KeyAuth | PasswordAuth


@dataclass(frozen=True)
class NodeTarget:
    """How to reach one node."""

    name: str
    host: str
    user: str
    port: int = 22
    auth: Auth = AgentAuth()
    host_key_fingerprint: str | None = None  # "SHA256:..." pinned by the operator


@dataclass(frozen=True)
class SshSettings:
    connect_timeout: float = 15.0  # TCP connect + SSH handshake + authentication
    command_timeout: float = 600.0  # default for `run` when it is given no timeout
    idle_timeout: float = 300.0  # a pooled connection unused this long is closed (reopened on use)
    keepalive_interval: float = 15.0
    keepalive_count_max: int = 3
    max_sessions: int = 8  # per connection; OpenSSH's MaxSessions default is 10
    max_handshakes: int = 8  # per SSH server (host, port); OpenSSH's MaxStartups drops beyond 10
    handshake_attempts: int = 4  # a handshake dropped by the server is retried this often
    retry_delay: float = 0.3  # first backoff; doubled each time, plus up to 100 % jitter
    reconnect_for: float = 180.0  # a node that was reachable may be away this long (a reboot) before it is an error
    accept_new_host_keys: bool = False  # trust unknown host keys without asking (like ssh's accept-new)


# --------------------------------------------------------------------------- prompts


@dataclass(frozen=True)
class SecretRequest:
    node: str
    kind: Literal["passphrase", "password", "sudo"]
    prompt: str  # for people, e.g. "Passphrase for /home/me/.ssh/id_ed25519"


HostKeyPrompt = Callable[[str, int, str, str], Awaitable[bool]]  # host, port, key type, SHA256 fingerprint
SecretPrompt = Callable[[SecretRequest], Awaitable[str | None]]  # None: the operator declined


async def refuse_unknown_host_keys(host: str, port: int, key_type: str, fingerprint: str) -> bool:
    """Headless default: nobody is there to compare a fingerprint, so say no."""
    return False


async def no_secrets(request: SecretRequest) -> str | None:
    return None


@dataclass(frozen=True)
class Prompts:
    """How to ask the operator; the TUI and headless mode supply their own."""

    host_key: HostKeyPrompt = refuse_unknown_host_keys
    secret: SecretPrompt = no_secrets
