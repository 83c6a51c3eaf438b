"""The wizard's side of the session: its nodes' connections, and one install run.

`NodeSession` connects with the app's prompts and runs the node phases (discover, sudo check,
hostname resolution, preflight) for the Nodes screen; `InstallRun` is the install phases for
the Install screen: the plan, the journal, the cluster, the log, the engine, the lock around
each run and retry. The phases are the same ones headless mode runs (`thinkube_tui.phases`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .targets import NodeTarget, Prompts
from .transport import Transport

if TYPE_CHECKING:
    from .cluster_state import ClusterMirror
    from .discovery import NodeResult
    from .engine import EngineSettings, Installer
    from .events import Event, EventBus, RunFinished
    from .installers.base import Cluster
    from .journal import Journal
    from .operation import Operation
    from .phases import Session
    from .plan import Plan
    from .preflight import Finding
    from .spec import Spec
    from .ssh import SshPool
    from .support_bundle import BundleResult
    from .wizard import NodeDraft, WizardModel

# The phases, the engine and what they import are imported by the functions that run them:
# the wizard's first screen needs `NodeSession` only, and paints before any of them is loaded.

ConnectFn = Callable[[NodeTarget, Prompts], Awaitable[Transport]]
DEFAULT_CHANNEL = "1.33/stable"  # the answers schema's default, for a model that has none yet


def model_session(model: WizardModel, skip: frozenset[str] = frozenset()) -> Session:
    """A session for what the wizard's model holds: its nodes' facts and cluster settings."""
    from .phases import Session

    session = Session(
        model.catalog,
        control=model.control,
        skip=skip,
        microk8s_channel=model.cluster.get("microk8sChannel", DEFAULT_CHANNEL),
        metallb_range=model.cluster.get("metallbRange"),
    )
    session.facts = dict(model.facts)
    session.discovery_errors = dict(model.discovery_errors)
    return session


class NodeSession:
    """The wizard's connections to the nodes, opened with the app's prompts."""

    def __init__(self, prompts: Prompts, connect: ConnectFn | None = None, *, known_hosts: Path | None = None) -> None:
        self.prompts = prompts
        self._connect = connect
        self.known_hosts = known_hosts
        self._pool: SshPool | None = None
        self.transports: dict[str, Transport] = {}

    async def transport(self, target: NodeTarget) -> Transport:
        if self._connect is not None:
            transport = await self._connect(target, self.prompts)
        else:
            if self._pool is None:
                from .hostkeys import KnownHosts
                from .ssh import SshPool
                from .targets import SshSettings

                hosts = KnownHosts(self.known_hosts) if self.known_hosts else KnownHosts()
                self._pool = SshPool(SshSettings(), self.prompts, host_keys=hosts)
            connection = self._pool.connection(target)
            await connection.connect()
            transport = connection
        self.transports[target.name] = transport
        return transport

    async def discover(self, nodes: Iterable[NodeDraft], timeout: float = 60.0) -> AsyncIterator[NodeResult]:
        """Each node's discovery result as it arrives (all nodes concurrently; the Discover phase)."""

        def factory(target: NodeTarget) -> Callable[[], Awaitable[Transport]]:
            return lambda: self.transport(target)

        from .phases import Discover, Session

        phase = Discover([(n.name, factory(n.target())) for n in nodes], timeout=timeout)
        async for result in phase.each(Session()):
            yield result

    async def preflight(self, model: WizardModel, skip: frozenset[str] = frozenset()) -> list[Finding]:
        """Sudo check, hostname resolution and preflight for what discovery found (the phases
        headless mode runs, on the nodes discovery answered)."""
        from .phases import Preflight, ResolveHostnames, SudoCheck, run_phases

        session = model_session(model, skip=skip)
        session.transports = self.transports
        await run_phases(session, [SudoCheck(discovered_only=True), ResolveHostnames(), Preflight()])
        return session.findings

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        else:
            for transport in self.transports.values():
                close = getattr(transport, "close", None)
                if close is not None:
                    with contextlib.suppress(Exception):
                        await close()
        self.transports.clear()


@dataclass(frozen=True)
class PlannedInstall:
    """What the Install screen shows before anything runs: the Spec and its plan."""

    spec: Spec
    plan: Plan


def plan_of(model: WizardModel, spec: Spec) -> Plan:
    """The Plan phase for the wizard: what it knows is installed, what discovery found."""
    from .phases import PlanInstall

    session = model_session(model)
    session.spec = spec
    PlanInstall(installed=model.installed, ran_for=model.ran_for).decide(session)
    assert session.plan is not None
    return session.plan


def plan_install(model: WizardModel) -> PlannedInstall:
    """The Spec the screens describe (AnswersError) and its plan."""
    spec = model.build_spec()
    return PlannedInstall(spec, plan_of(model, spec))


async def write_support_bundle(session: Session, cluster: Cluster, now: Callable[[], float]) -> BundleResult:
    """A support bundle over `session`'s connections, written beside the cluster's journal;
    nodes discovery did not reach are named in it."""
    from .support_bundle import build, default_output, made_at

    assert session.state_dir is not None
    return await build(
        nodes=session.transports,
        facts=session.facts,
        unreachable={n: why for n, why in session.discovery_errors.items() if n not in session.transports},
        control=cluster.spec.control.name,
        kube=cluster.kube,
        secrets=cluster.secrets,
        state_dir=session.state_dir,
        output=default_output(session.state_dir, now()),
        now=made_at(now()),
    )


async def reentry_support_bundle(
    model: WizardModel, transports: Mapping[str, Transport], state_dir: Path, now: Callable[[], float] = time.time
) -> BundleResult:
    """The Welcome screen's support bundle of a cluster this machine installed: over the node
    session's connections (discovery done), its API read through the control node."""
    from .phases import Session, make_cluster

    spec = model.build_spec()
    session = Session.for_spec(spec, model.catalog, secrets=model.secrets(), state_dir=state_dir)
    session.transports, session.facts = dict(transports), dict(model.facts)
    session.discovery_errors = dict(model.discovery_errors)
    cluster = make_cluster(session)
    try:
        return await write_support_bundle(session, cluster, now)
    finally:
        await cluster.close()


async def reentry_operation(
    model: WizardModel,
    transports: Mapping[str, Transport],
    state_dir: Path,
    build: Callable[[Journal], Operation],
    subscribe: Callable[[Event], None],
    say: Callable[[str], None],
) -> RunFinished:
    """A day-two operation (remove, upgrade) from the Welcome screen, over the node session's
    connections (discovery done): under the cluster's lock, `build` makes it from the journal as
    that lock finds it (ValueError: refused, saying why), and it runs as the command runs it."""
    import io

    from .cluster_lock import install_lock
    from .operation import run as run_operation
    from .phases import Session, make_cluster, open_journal

    spec = model.build_spec()
    session = Session.for_spec(spec, model.catalog, secrets=model.secrets(), state_dir=state_dir)
    session.transports, session.facts = dict(transports), dict(model.facts)
    cluster = make_cluster(session)
    try:
        journal = open_journal(state_dir)
        async with install_lock(cluster, lambda: journal.installed, say):
            operation = build(open_journal(state_dir))
            return await run_operation(operation, session, cluster, out=io.StringIO(), subscribe=subscribe)
    finally:
        await cluster.close()


def log_file_name() -> str:
    return time.strftime("install-%Y%m%d-%H%M%S.log")


class InstallRun:
    """One install from the wizard: the session's install phases over the plan."""

    def __init__(
        self,
        spec: Spec,
        model: WizardModel,
        plan: Plan,
        transports: Mapping[str, Transport],
        installers: Mapping[str, Installer],
        *,
        state_dir: Path,
        bus: EventBus,
        settings: EngineSettings | None = None,
        mirror: bool = True,
        lock: bool | None = None,
    ) -> None:
        from .engine import EngineSettings
        from .phases import Session, build_engine, make_cluster, open_journal
        from .printer import LogFile

        self.spec = spec
        self.plan = plan
        self.secrets = model.secrets()
        self.journal: Journal = open_journal(state_dir)  # ssh's rules for the directory: UnsafePathError
        self.state_dir = state_dir
        session = Session.for_spec(spec, model.catalog, secrets=self.secrets, state_dir=state_dir)
        session.transports, session.facts = dict(transports), dict(model.facts)
        session.journal, session.plan = self.journal, plan
        self.session = session
        self.cluster = make_cluster(session)  # Vault's keys file goes beside this cluster's journal
        self.log = LogFile(state_dir / "logs" / log_file_name(), self.secrets.mask)
        bus.subscribe(self.log)
        self.bus = bus  # a face subscribes before `run`
        self._lock_cluster = mirror if lock is None else lock  # a real cluster: one install at a time
        self._mirror: ClusterMirror | None = None
        if mirror:
            from .cluster_state import ClusterMirror

            self._mirror = ClusterMirror(
                self.journal, self.cluster.kube, lambda text: self.log.write(f"warning: {text}")
            )
            bus.subscribe(self._mirror)
        self.engine = build_engine(session, installers, bus, settings or EngineSettings(), vault_copies=True)
        self.started = time.monotonic()
        self.result: RunFinished | None = None

    @property
    def log_path(self) -> Path:
        return Path(self.log.path)

    async def run(self) -> RunFinished:
        from .installers.support.vault_kv import read_refs

        await read_refs(self.cluster)  # the answers' {vault: ...} references, read once
        self.result = await self._holding_lock(self.engine.run)
        return self.result

    async def support_bundle(self, now: Callable[[], float] = time.time) -> BundleResult:
        """A support bundle of this cluster (support_bundle.py) over the run's own connections,
        written beside its journal; the secrets the run knows are masked in it."""
        return await write_support_bundle(self.session, self.cluster, now)

    async def retry(self, component: str) -> RunFinished:
        self.result = await self._holding_lock(lambda: self.engine.retry(component))
        return self.result

    async def _holding_lock(self, go: Callable[[], Awaitable[RunFinished]]) -> RunFinished:
        """`go` under the cluster's lock (cluster_lock.py). Refused: nothing runs, and the result's
        error names the holder; taken over meanwhile: the engine stops, and the error says so.
        (Headless mode holds the lock once for the whole run; the wizard's retries come later.)"""
        if not self._lock_cluster:
            return await go()
        from .cluster_lock import ClusterLockError, install_lock
        from .events import RunFinished

        lock = install_lock(self.cluster, lambda: self.journal.installed, self.log.write, on_lost=self.engine.cancel)
        try:
            async with lock:
                unsubscribe = self.bus.subscribe(lock)
                try:
                    result = await go()
                finally:
                    unsubscribe()
        except ClusterLockError as exc:
            refused = RunFinished("", done=(), failed=(), blocked=(), not_run=tuple(self.plan.ids), error=str(exc))
            self.bus.publish(refused)
            return refused
        if lock.lost is not None:
            result = replace(result, error=lock.lost)
            self.bus.publish(result)
        return result

    def cancel(self) -> None:
        self.engine.cancel()

    async def close(self) -> None:
        if self._mirror is not None:
            with contextlib.suppress(Exception):
                await self._mirror.close()
        self.log.close()
        with contextlib.suppress(Exception):
            await self.cluster.close()
