"""The install phases: state directory, the cluster, its lock, adopting its state, the plan, the engine.

Headless mode runs them all in a row; the wizard plans on its Review screen and runs the
engine from its Install screen; the dry run plans and runs the engine against recording
stand-ins. The engine is built in one place, `build_engine`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine import Engine, EngineSettings, Installer
from ..events import EventBus
from ..files import check_state_dir
from ..journal import Journal
from ..plan import make_plan, plan_for
from .base import Session

if TYPE_CHECKING:
    from ..cluster_lock import ClusterLock
    from ..installers.base import Cluster


def open_journal(state_dir: Path) -> Journal:
    """The state directory checked as ssh checks ~/.ssh (UnsafePathError), and its journal
    (JournalError when damaged)."""
    check_state_dir(state_dir)
    return Journal.open(state_dir / "journal.json")


@dataclass
class OpenState:
    """Check the state directory and open the journal; `save` takes a write at once, so a full
    disk is found before any node is touched (JournalWriteError)."""

    save: bool = True
    title: str = "state directory"

    def explain(self, session: Session) -> str:
        return f"open the install journal in {session.state_dir}"

    async def run(self, session: Session) -> None:
        if session.state_dir is None:
            raise RuntimeError("the session has no state directory")
        session.journal = open_journal(session.state_dir)
        if self.save:
            session.journal.save()


def make_cluster(session: Session) -> Cluster:
    """What every installer of the run shares: nodes, facts, secrets, where Vault's keys go."""
    from ..installers.base import Cluster

    spec = session.need_spec()
    extra: dict[str, Any] = {} if session.state_dir is None else {"state_dir": session.state_dir}
    session.cluster = Cluster(
        spec=spec,
        catalog=session.catalog,
        nodes=dict(session.transports),
        facts=dict(session.facts),
        secrets=session.secrets,
        **extra,
    )
    return session.cluster


@dataclass
class TakeLock:
    """One install per cluster (cluster_lock.py): held in `held` until it closes, released on
    every way out; refused with ClusterLocked, naming the holder. The journal is read again
    afterwards, as the run that held the lock before left it."""

    held: AsyncExitStack
    say: Callable[[str], None]
    title: str = "lock"
    lock: ClusterLock | None = field(default=None, init=False)

    def explain(self, session: Session) -> str:
        return "take the cluster's install lock (a file on the control node, then a Lease)"

    async def run(self, session: Session) -> None:
        from ..cluster_lock import install_lock

        journal = session.journal
        assert journal is not None
        self.lock = install_lock(session.need_cluster(), lambda: journal.installed, self.say)
        await self.held.enter_async_context(self.lock)
        assert session.state_dir is not None
        session.journal = Journal.open(session.state_dir / "journal.json")


@dataclass
class AdoptClusterState:
    """Re-entry from another machine: what the cluster's copy of the journal says is done.
    Only when MicroK8s runs on the control node; an unreadable copy means less to skip."""

    title: str = "adopt cluster state"

    def explain(self, session: Session) -> str:
        return "read what the cluster records as installed (a ConfigMap)"

    async def run(self, session: Session) -> None:
        from ..cluster_state import adopt, read_state

        control = session.facts.get(session.control or "")
        if control is None or not control.microk8s.installed or session.journal is None:
            return
        try:
            adopted = adopt(session.journal, await read_state(await session.need_cluster().kube()))
        except Exception as exc:  # never a failed run
            session.note(f"note: could not read the cluster's install state ({exc}); using the local journal only")
            return
        if adopted:
            session.note(f"the cluster says these are installed already: {', '.join(sorted(adopted))}")


@dataclass
class PlanInstall:
    """The selected components and what they require, minus what the journal has done.

    `only`: just these (and what they require); `discovered`: False where nothing was
    discovered (the dry run), so automatic components stay undecided; `installed`: what the
    face knows is installed (the wizard's re-entry record), instead of the journal's."""

    only: Collection[str] = ()
    discovered: bool = True
    installed: frozenset[str] | None = None  # None: what the journal has done
    ran_for: Mapping[str, list[str] | None] | None = None  # the nodes each ran for; None: the journal's
    title: str = "plan"

    def explain(self, session: Session) -> str:
        return "order the components along their dependencies"

    async def run(self, session: Session) -> None:
        self.decide(session)

    def decide(self, session: Session) -> None:
        """The plan, at once (nothing to wait for: the wizard's screens call it directly)."""
        spec = session.need_spec()
        installed = self.installed
        if installed is None:
            installed = session.journal.installed if session.journal is not None else frozenset()
        converge = self.new_nodes(session, installed)
        installed = installed - set(converge)  # they run again, for the new nodes
        if self.only:
            wanted = {cid: "asked for with --only" for cid in set(self.only) - installed}
            session.plan = plan_for(session.catalog, wanted, installed=installed)
        else:
            gpu = session.gpu_present if self.discovered else None
            session.plan = make_plan(session.catalog, spec, installed=installed, gpu_present=gpu)
        for cid, nodes in converge.items():
            session.note(
                f"new {'node' if len(nodes) == 1 else 'nodes'} {', '.join(nodes)}: {cid} runs again and converges "
                f"for {'it' if len(nodes) == 1 else 'them'} (what is done on the other nodes is checked, not redone)"
            )
        if session.journal is None:
            return
        for cid, (was, now) in session.journal.out_of_date(pinned_versions(session)).items():
            session.note(
                f"note: {cid} is out of date: installed at {was or 'an unrecorded version'}, this release pins {now}"
            )
        for cid in sorted(installed):
            if cid in spec.components and session.journal.changed_config(cid, spec.components[cid].config):
                session.note(
                    f"note: {cid}'s settings changed since it was installed; they are not re-applied "
                    "automatically (re-entry installs only what is missing)"
                )

    def new_nodes(self, session: Session, installed: frozenset[str]) -> dict[str, list[str]]:
        """Installed components that work per node (catalog `per_node`) and the nodes of the
        answers they have not run for: a node added to the cluster (re-entry, "Add nodes")."""
        ran_for = self.ran_for
        if ran_for is None:
            if session.journal is None:
                return {}
            ran_for = {cid: rec.nodes for cid, rec in session.journal.components.items()}
        found: dict[str, list[str]] = {}
        for cid in sorted(installed):
            recorded = ran_for.get(cid)
            if recorded is None or cid not in session.catalog or not session.catalog[cid].per_node:
                continue  # nodes not recorded (an older journal): nothing counts as new
            if self.only and cid not in self.only:
                continue
            if new := [n.name for n in session.need_spec().nodes if n.name not in recorded]:
                found[cid] = new
        return found


def pinned_versions(session: Session) -> dict[str, str]:
    """What this catalog installs each component at (the journal records it; re-entry and
    `status` compare it with what was installed)."""
    channel = session.need_spec().cluster.microk8s_channel
    return {c.id: c.pinned_version(channel) for c in session.catalog.components}


def engine_configs(session: Session) -> dict[str, Mapping[str, Any]]:
    """Each component's validated settings, by id: what its installer reads."""
    return {cid: comp.config for cid, comp in session.need_spec().components.items()}


def build_engine(
    session: Session,
    installers: Mapping[str, Installer],
    bus: EventBus,
    settings: EngineSettings,
    *,
    vault_copies: bool = False,
) -> Engine:
    """THE engine of a run: the session's plan, journal and cluster, the installers by id.
    `vault_copies` (an install): a component finishing once Vault is installed copies its
    credentials into Vault KV (installers/support/vault_kv.py)."""
    from ..installers.base import InstallContext

    cluster = session.need_cluster()
    assert session.plan is not None and session.journal is not None
    if vault_copies:
        from ..installers.support.vault_kv import has_credentials, with_copy

        journal, spec = session.journal, session.need_spec()
        installers = {
            cid: with_copy(cid, fn, lambda: "vault" in journal.installed)
            if cid != "vault" and cid in session.catalog and has_credentials(spec, session.catalog, cid)
            else fn
            for cid, fn in installers.items()
        }
    return Engine(
        session.plan,
        installers,
        configs=engine_configs(session),
        journal=session.journal,
        bus=bus,
        make_context=lambda steps: InstallContext(steps, cluster),
        settings=settings,
        versions=pinned_versions(session),
        nodes=[n.name for n in session.need_spec().nodes],
    )


@dataclass
class Install:
    """Run the engine over the plan; the result (done + failed + blocked + not run = planned)
    lands in `session.result`. Events go to `bus`, where every face subscribes."""

    installers: Mapping[str, Installer]
    bus: EventBus
    settings: EngineSettings = field(default_factory=EngineSettings)
    vault_copies: bool = True  # False for the dry run: it reads no Vault token
    title: str = "install"

    def explain(self, session: Session) -> str:
        ids = session.plan.ids if session.plan is not None else ()
        return f"install {', '.join(ids) or 'nothing'}"

    async def run(self, session: Session) -> None:
        engine = build_engine(session, self.installers, self.bus, self.settings, vault_copies=self.vault_copies)
        if self.vault_copies:  # a real run (not the dry run): the answers' {vault: ...} references
            from ..installers.support.vault_kv import read_refs

            await read_refs(session.need_cluster())
        session.result = await engine.run()
