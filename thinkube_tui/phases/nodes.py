"""The node phases: connect, discover, sudo check, hostname resolution, preflight.

Every face runs these same phases before anything is installed; `discover` stops after
preflight, the wizard runs them from its Nodes screen, headless mode and the dry run go on
to the install phases.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..discovery import NodeResult, discover_all, resolve_hostnames
from ..formatting import gpus_labels
from ..preflight import Finding, run_preflight, unreachable
from ..transport import Transport
from .base import MissingSecrets, Session

if TYPE_CHECKING:
    from ..ssh import SshPool
    from ..targets import NodeTarget

TransportFactory = Callable[[], Awaitable[Transport]]
Source = Transport | tuple[str, TransportFactory]  # connected, or connected when discovered


@dataclass
class Connect:
    """Open an SSH connection to every node at once; a node that refuses is reported, not fatal."""

    pool: SshPool
    targets: Sequence[NodeTarget]
    title: str = "connect"

    def explain(self, session: Session) -> str:
        return f"connect over SSH to {', '.join(t.name for t in self.targets)}"

    async def run(self, session: Session) -> None:
        connected = await self.pool.connect_all(self.targets)
        for name, c in connected.items():
            if isinstance(c, Exception):
                session.connect_errors[name] = f"{c}"
            else:
                session.transports[name] = c


@dataclass
class Discover:
    """Discover every node concurrently: OS, CPU, memory, disks, NICs, GPUs, MicroK8s.

    `sources` are connected transports, or (name, factory) pairs that connect on the way
    (the wizard and `discover` connect and discover in one go); None: the session's
    transports. `each` yields results as they arrive, for a face that shows them live."""

    sources: Sequence[Source] | None = None
    timeout: float = 60.0
    limit: int | None = None
    in_given_order: bool = False  # afterwards, keep results in the sources' order, not the answers'
    title: str = "discover"

    def explain(self, session: Session) -> str:
        return "read each node's OS, CPU, memory, disks, network and GPUs (read-only commands)"

    async def each(self, session: Session) -> AsyncIterator[NodeResult]:
        sources = list(session.transports.values()) if self.sources is None else list(self.sources)
        async for result in discover_all(sources, timeout=self.timeout, limit=self.limit):
            session.results.append(result)
            if result.facts is not None:
                session.facts[result.node] = result.facts
                session.discovery_errors.pop(result.node, None)
                if result.transport is not None:
                    session.transports.setdefault(result.node, result.transport)
                session.note(
                    f"discovered {result.node}: {result.facts.os.pretty_name or 'unknown OS'}, "
                    f"{gpus_labels(result.facts)}"
                )
            else:
                session.facts.pop(result.node, None)
                session.discovery_errors[result.node] = result.error or "discovery failed"
                session.note(f"could not discover {result.node}: {result.error}")
            yield result
        if self.in_given_order:
            rank = {_name(src): i for i, src in enumerate(sources)}

            def place(node: str) -> int:
                return rank.get(node, len(rank))

            session.results.sort(key=lambda r: place(r.node))
            session.facts = {n: session.facts[n] for n in sorted(session.facts, key=place)}
            errors = session.discovery_errors
            session.discovery_errors = {n: errors[n] for n in sorted(errors, key=place)}

    async def run(self, session: Session) -> None:
        async for _ in self.each(session):
            pass


@dataclass
class SudoCheck:
    """Can the installers use sudo on each node? (`sudo true`; a password is asked if needed.)

    `discovered_only`: check only the nodes discovery answered (the wizard), not every
    connected one (headless)."""

    discovered_only: bool = False
    title: str = "sudo check"

    def explain(self, session: Session) -> str:
        return "run `sudo true` on each node"

    async def run(self, session: Session) -> None:
        sudo_ok: dict[str, bool | None] = {}
        names = [n for n in session.facts if n in session.transports] if self.discovered_only else session.transports
        for name in names:
            transport = session.transports[name]
            try:
                sudo_ok[name] = (await transport.run("true", sudo=True, timeout=60)).ok
            except Exception as exc:  # SudoRefused and friends: the preflight check reports it
                if _sudo_password_missing(session.missing_secrets, name):
                    session.no_sudo_password.add(name)  # reported once for all nodes, by Preflight
                else:
                    session.note(f"{name}: {exc}")
                sudo_ok[name] = False
        session.sudo_ok = sudo_ok


def _name(source: Source) -> str:
    return source[0] if isinstance(source, tuple) else source.node


def _sudo_password_missing(missing: MissingSecrets, node: str) -> bool:
    return any(node in nodes for (kind, _), nodes in missing.items() if kind == "sudo")


@dataclass
class ResolveHostnames:
    """Resolve the other nodes' hostnames on the control node (what `microk8s join` will need)."""

    title: str = "hostname resolution"

    def explain(self, session: Session) -> str:
        return f"resolve the other nodes' hostnames on {session.control or 'the control node'}"

    async def run(self, session: Session) -> None:
        control = session.control
        others = [f.hostname for n, f in session.facts.items() if n != control and f.hostname]
        session.resolutions = None
        if control in session.transports and others:
            with contextlib.suppress(Exception):  # the check is skipped rather than reporting a false failure
                session.resolutions = await resolve_hostnames(session.transports[control], others)


@dataclass
class Preflight:
    """Every preflight check on what discovery found, plus a finding per unreachable node."""

    title: str = "preflight"

    def explain(self, session: Session) -> str:
        return "check the nodes against what the install needs (changes nothing)"

    async def run(self, session: Session) -> None:
        findings = [unreachable(node, message) for node, message in session.connect_errors.items()]
        findings += [unreachable(node, message) for node, message in session.discovery_errors.items()]
        checked = run_preflight(
            session.facts.values(),
            control=session.control,
            skip=session.skip,
            sudo_ok=session.sudo_ok,
            resolutions=session.resolutions,
            microk8s_channel=session.microk8s_channel,
            metallb_range=session.metallb_range,
        )
        findings += [f for f in checked if not (f.check == "sudo" and f.node in session.no_sudo_password)]
        findings += missing_sudo_passwords(session.missing_secrets, session.no_sudo_password)
        session.findings = findings


def missing_sudo_passwords(missing: MissingSecrets, nodes: set[str]) -> list[Finding]:
    """One finding per missing sudo password reference, naming it and the nodes that need it."""
    out = []
    for (kind, what), needing in sorted(missing.items()):
        names = sorted(set(needing) & nodes)
        if kind != "sudo" or not names:
            continue
        out.append(
            Finding(
                "sudo",
                "error",
                None,
                f"no sudo password for {', '.join(names)}: {what}",
                "Export it (the answers file's sudoPassword, or the login password, names it), "
                "or reference a key of the 0600 secrets file instead; or run with a terminal to be asked.",
            )
        )
    return out


def node_checks(*, discovered_only: bool = False) -> list[Discover | SudoCheck | ResolveHostnames | Preflight]:
    """Discover, sudo check, hostname resolution, preflight: on the session's connected nodes."""
    return [Discover(), SudoCheck(discovered_only), ResolveHostnames(), Preflight()]
