"""How to reach the nodes of a Spec: SSH targets, and the headless way of answering prompts.

The TUI asks the operator; headless mode answers from the answers file's secret references
(environment or 0600 secrets file), falls back to a masked terminal prompt when there is a
terminal, and otherwise says no.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from pathlib import Path

from .secrets import MissingSecret, Secrets
from .spec import NodeSpec, SecretRef, Spec
from .targets import AgentAuth, Auth, KeyAuth, NodeTarget, PasswordAuth, Prompts, SecretRequest


def node_target(node: NodeSpec) -> NodeTarget:
    auth: Auth
    if node.auth.method == "key":
        assert node.auth.key_file is not None
        auth = KeyAuth(Path(node.auth.key_file).expanduser())
    elif node.auth.method == "password":
        auth = PasswordAuth(env_var=node.auth.password.env if node.auth.password else None)
    else:
        auth = AgentAuth()
    return NodeTarget(
        name=node.name, host=node.host, user=node.user, port=node.port, auth=auth, host_key_fingerprint=node.host_key
    )


def parse_host(text: str) -> NodeTarget:
    """`[user@]host[:port]` from the command line; the agent authenticates."""
    user, _, rest = text.rpartition("@")
    host, port = rest, 22
    if rest.count(":") == 1:  # host:port (a bare IPv6 address has several colons)
        host, _, port_text = rest.partition(":")
        port = int(port_text) if port_text.isdigit() else 22
    return NodeTarget(name=host, host=host, user=user or getpass.getuser(), port=port, auth=AgentAuth())


def missing_reference(ref: SecretRef) -> str:
    """What is missing, for people: the variable or the secrets file's key (never a value)."""
    return f"environment variable {ref.env} is not set" if ref.env else f"the secrets file has no key {ref.secret!r}"


def headless_prompts(
    spec: Spec | None, secrets: Secrets, missing: dict[tuple[str, str], list[str]] | None = None
) -> Prompts:
    """Answer SSH's questions from the Spec's secret references, else from the terminal.

    With `missing`, a reference that cannot be resolved is recorded there -- (kind, what is
    missing) -> nodes -- for the caller to report once, instead of printed for every node."""

    def reference(request: SecretRequest) -> SecretRef | None:
        if spec is None or request.node not in {n.name for n in spec.nodes}:
            return None
        node = spec.node(request.node)
        if request.kind == "sudo":
            return node.sudo_password or node.auth.password
        if request.kind == "passphrase":
            return node.auth.passphrase
        return node.auth.password

    async def secret(request: SecretRequest) -> str | None:
        ref = reference(request)
        if ref is not None:
            try:
                return secrets.resolve(ref, f"{request.node}: {request.kind}")
            except MissingSecret as exc:
                if missing is None:
                    print(f"thinkube-tui: {exc}", file=sys.stderr)
                else:
                    missing.setdefault((request.kind, missing_reference(ref)), []).append(request.node)
        if not sys.stdin.isatty():
            return None
        value = await asyncio.to_thread(getpass.getpass, f"{request.prompt}: ")
        if value:
            secrets.register(value)
        return value or None

    return Prompts(secret=secret)
