"""What every phase shares: the `Session` it reads and fills, and the `Phase` shape.

A phase is a small object (as in k0sctl's phase package): a `title`, `run(session)` and
`explain(session)`, what it would do (a dry run and `plan` show that instead of running it).
The session is plain data; a face (headless, the wizard, `discover`, `--dry-run`) builds one,
chooses its phases and reads the session afterwards. Phases never print: they say what a
person should read through `session.note`, and the face decides where that goes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..catalog import Catalog
from ..facts import Facts
from ..preflight import Finding
from ..secrets import Secrets
from ..spec import Spec
from ..transport import Transport

if TYPE_CHECKING:
    from ..discovery import NodeResult
    from ..events import RunFinished
    from ..installers.base import Cluster
    from ..journal import Journal
    from ..plan import Plan


def _ignore(_: str) -> None:
    """Notes nobody reads (the wizard shows findings, not progress lines)."""


# The secret references the prompts could not resolve, (kind, what) -> the nodes that needed them.
MissingSecrets = Mapping[tuple[str, str], list[str]]


@dataclass
class Session:
    """One pass through the pipeline: its inputs, and what each phase found or built."""

    catalog: Catalog = field(default_factory=lambda: Catalog((), ()))  # empty: discovery needs none
    spec: Spec | None = None  # None: `discover` by host names, before there are answers
    secrets: Secrets = field(default_factory=Secrets)
    control: str | None = None  # the control node's name
    skip: frozenset[str] = frozenset()  # preflight checks not to run
    microk8s_channel: str | None = None
    metallb_range: str | None = None
    state_dir: Path | None = None
    note: Callable[[str], None] = _ignore  # one line for people (headless prints it)
    missing_secrets: MissingSecrets = field(default_factory=dict)
    # Filled in by the phases, in pipeline order:
    transports: dict[str, Transport] = field(default_factory=dict)
    connect_errors: dict[str, str] = field(default_factory=dict)
    results: list[NodeResult] = field(default_factory=list)
    facts: dict[str, Facts] = field(default_factory=dict)
    discovery_errors: dict[str, str] = field(default_factory=dict)
    sudo_ok: dict[str, bool | None] | None = None  # None: not checked (`discover`)
    no_sudo_password: set[str] = field(default_factory=set)  # nodes whose sudo password is missing
    resolutions: dict[str, tuple[str, ...]] | None = None
    findings: list[Finding] = field(default_factory=list)
    journal: Journal | None = None
    cluster: Cluster | None = None
    plan: Plan | None = None
    result: RunFinished | None = None

    @classmethod
    def for_spec(
        cls,
        spec: Spec,
        catalog: Catalog,
        *,
        secrets: Secrets | None = None,
        skip: frozenset[str] = frozenset(),
        state_dir: Path | None = None,
        note: Callable[[str], None] = _ignore,
        missing_secrets: MissingSecrets | None = None,
    ) -> Session:
        """A session for an answers file's Spec: control node, channel and MetalLB range from it."""
        return cls(
            catalog,
            spec,
            secrets=secrets if secrets is not None else Secrets(),
            control=spec.control.name,
            skip=skip,
            microk8s_channel=spec.cluster.microk8s_channel,
            metallb_range=spec.cluster.metallb_range,
            state_dir=state_dir,
            note=note,
            missing_secrets=missing_secrets if missing_secrets is not None else {},
        )

    @property
    def gpu_present(self) -> bool | None:
        """Whether discovery found a GPU anywhere; None before anything was discovered."""
        if not self.facts:
            return None
        return any(f.gpus for f in self.facts.values())

    def need_spec(self) -> Spec:
        if self.spec is None:
            raise RuntimeError("this phase needs answers (a Spec); the session has none")
        return self.spec

    def need_cluster(self) -> Cluster:
        if self.cluster is None:
            raise RuntimeError("this phase needs the cluster (the Install phases build it)")
        return self.cluster


class Phase(Protocol):
    title: str

    def explain(self, session: Session) -> str:
        """What running it would do, in one line (the dry run's and `plan`'s view)."""
        ...

    async def run(self, session: Session) -> None: ...


async def run_phases(session: Session, phases: Iterable[Phase]) -> Session:
    """Run `phases` in order on `session`; a phase that must stop the pipeline raises."""
    for phase in phases:
        await phase.run(session)
    return session
