"""`--dry-run`: every command and API call the installers would make, per node, changing nothing.

The installers run for real against recording stand-ins that answer like a fresh Ubuntu node
and an empty cluster (nothing installed, nothing to find), so the transcript shows the
complete first install. Nothing connects anywhere.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import yaml

from .catalog import Catalog
from .engine import EngineSettings
from .events import ComponentBlocked, ComponentFailed, ComponentStarted, Event, EventBus, StepStarted
from .facts import Facts
from .journal import Journal
from .kube import ProxyResponse
from .phases import Install, Phase, PlanInstall, Session, make_cluster, run_phases
from .secrets import MASK, Secrets
from .spec import Spec
from .transport import CommandResult, LineCallback

if TYPE_CHECKING:
    from .operation import Operation


@dataclass(frozen=True)
class Record:
    """One command or API call, with what it would send: a command's stdin, an API call's object."""

    line: str
    stdin: str | None = None
    body: Mapping[str, Any] | None = None


class Transcript:
    def __init__(self) -> None:
        self.records: dict[str, list[Record]] = {}
        self.component = ""
        self.secrets = Secrets()  # the run's: every value it registered is masked when shown

    @property
    def lines(self) -> dict[str, list[str]]:
        return {where: [r.line for r in records] for where, records in self.records.items()}

    def add(self, where: str, line: str, *, stdin: str | None = None, body: Mapping[str, Any] | None = None) -> None:
        text = f"[{self.component}] {line}" if self.component else line
        self.records.setdefault(where, []).append(Record(text, stdin, body))


NOT_DONE = "not installed"  # what a run would fail or block, under this heading

# What the dry run assumes `microk8s add-node` prints as the control node's certificate fingerprint.
ASSUMED_CHECK = "0" * 32


class RecordingTransport:
    """A node that records what it is asked and answers "exit 0, nothing here"."""

    def __init__(self, node: str, transcript: Transcript, answers: Mapping[str, str] | None = None) -> None:
        self._node = node
        self._transcript = transcript
        self._answers = answers or {}  # command -> what it prints, where the run assumes more than nothing

    @property
    def node(self) -> str:
        return self._node

    async def run(
        self,
        command: str,
        *,
        input: str | None = None,
        timeout: float | None = None,
        on_line: LineCallback | None = None,
        sudo: bool = False,
    ) -> CommandResult:
        stdin = " (input on stdin)" if input else ""
        self._transcript.add(self._node, f"{'sudo ' if sudo else ''}{command}{stdin}", stdin=input or None)
        if command.startswith("microk8s add-node") and input:  # the token and a stand-in fingerprint
            return CommandResult(command, 0, f"token: {input}/{ASSUMED_CHECK}\n", "")
        return CommandResult(command, 0, self._answers.get(command, ""), "")


class RecordingKube:
    """An empty cluster that records every call."""

    def __init__(self, transcript: Transcript) -> None:
        self._transcript = transcript

    def _say(self, text: str, body: Mapping[str, Any] | None = None) -> None:
        # A copy: what was sent then, even if the installer changes its object afterwards.
        self._transcript.add("kubernetes API", text, body=copy.deepcopy(body))

    async def apply(self, obj: Mapping[str, Any], **_: Any) -> Mapping[str, Any]:
        meta = obj["metadata"]
        where = f"{meta['namespace']}/" if meta.get("namespace") else ""
        self._say(f"apply {obj['kind']} {where}{meta['name']} ({obj['apiVersion']})", obj)
        return obj

    async def merge_patch(
        self, api_version: str, kind: str, name: str, namespace: str | None, patch: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        self._say(f"patch {kind} {name}: {sorted(patch.get('spec', patch))}", patch)
        return patch

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        return None

    async def list(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []

    async def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        self._say(f"delete {kind} {namespace + '/' if namespace else ''}{name}")
        return True

    async def replace(self, obj: Mapping[str, Any]) -> Mapping[str, Any]:
        meta = obj["metadata"]
        where = f"{meta['namespace']}/" if meta.get("namespace") else ""
        self._say(f"replace {obj['kind']} {where}{meta['name']} ({obj['apiVersion']})", obj)
        return obj

    async def wait_gone(
        self, api_version: str, kind: str, name: str, namespace: str | None, *, timeout: float, what: str
    ) -> None:
        self._say(f"wait until {what} is gone (at most {timeout:g} s)")

    async def wait_for(
        self, api_version: str, kind: str, name: str, namespace: str | None, ready: Any, *, timeout: float, what: str
    ) -> dict[str, Any]:
        self._say(f"wait until {what} is ready (at most {timeout:g} s)")
        return {}

    async def wait_rollout(self, kind: str, name: str, namespace: str, *, timeout: float = 600) -> dict[str, Any]:
        self._say(f"wait for the rollout of {kind} {namespace}/{name} (at most {timeout:g} s)")
        return {}

    async def wait_node_ready(self, name: str, *, timeout: float = 600) -> dict[str, Any]:
        self._say(f"wait until node {name} is Ready (at most {timeout:g} s)")
        return {}

    async def proxy(
        self, method: str, namespace: str, target: str, port: int, path: str, *, kind: str = "services", **_: Any
    ) -> ProxyResponse:
        self._say(f"{method} {kind}/{target}:{port}{path} in {namespace} (through the API server proxy)")
        # Answer as a service that is already set up, so a dry run never creates keys.
        answers = {"/v1/sys/seal-status": {"initialized": True, "sealed": False}, "/v1/sys/audit": {"file/": {}}}
        return ProxyResponse(200, answers.get(path, {}))

    async def close(self) -> None:
        pass


def installed_answers(spec: Spec) -> dict[str, str]:
    """What a day-two dry run assumes the nodes answer: MicroK8s installed from the answers' channel."""
    channel = spec.cluster.microk8s_channel
    return {
        "snap list microk8s": "Name      Version  Rev   Tracking  Publisher   Notes\n"
        f"microk8s  v{channel.split('/')[0]}  0  {channel}  canonical✓  classic\n"
    }


def assumed_facts(spec: Spec) -> dict[str, Facts]:
    """What a dry run assumes without discovery: each node is called by its name, at its SSH host."""
    return {n.name: Facts(node=n.name, hostname=n.name, primary_address=n.host) for n in spec.nodes}


async def dry_run(spec: Spec, catalog: Catalog, secrets: Secrets | None = None) -> Transcript:
    """The install's own phases (plan, install) on a session whose nodes and cluster record.

    `secrets` resolves the answers' references (and, with every value the run generates,
    masks what is shown); without it, a component that needs one is reported as not installed.
    """
    from .installers import registry

    def phases(bus: EventBus) -> list[Phase]:  # nothing is discovered: automatic components stay undecided
        return [PlanInstall(discovered=False), Install(registry(), bus, ONE_AT_A_TIME, vault_copies=False)]

    return await _recorded(
        spec,
        catalog,
        secrets,
        phases,
    )


async def operation_dry_run(
    spec: Spec, catalog: Catalog, operation: Operation, secrets: Secrets | None = None
) -> Transcript:
    """A day-two operation (operation.py) on recording nodes and an empty cluster: every command
    and API call its units make, in its plan's order."""

    def phases(bus: EventBus) -> list[Phase]:
        return [Install(operation.units, bus, ONE_AT_A_TIME, vault_copies=False)]

    return await _recorded(spec, catalog, secrets, phases, operation)


ONE_AT_A_TIME = EngineSettings(concurrency=1)  # so that the transcript reads in plan order


async def _recorded(
    spec: Spec,
    catalog: Catalog,
    secrets: Secrets | None,
    phases: Callable[[EventBus], list[Phase]],
    operation: Operation | None = None,
) -> Transcript:
    transcript = Transcript()
    session = Session.for_spec(spec, catalog, secrets=secrets)
    transcript.secrets = session.secrets
    answers = installed_answers(spec) if operation is not None else None  # day two: on an installed cluster
    session.transports = {n.name: RecordingTransport(n.name, transcript, answers) for n in spec.nodes}
    session.facts = assumed_facts(spec)
    session.journal = Journal(None)  # remembers nothing: every dry run is a first install
    cluster = make_cluster(session)
    cluster._kube = RecordingKube(transcript)  # type: ignore[assignment]
    if operation is not None:
        session.plan = operation.plan
        cluster.purge, cluster.staying = operation.purge, operation.staying
    bus = EventBus()

    def follow(event: Event) -> None:
        if isinstance(event, (ComponentStarted, StepStarted)):
            transcript.component = event.component
        if isinstance(event, ComponentFailed):
            transcript.component = ""
            transcript.add(NOT_DONE, f"{event.component}: {event.error}")
        if isinstance(event, ComponentBlocked):
            transcript.component = ""
            transcript.add(NOT_DONE, f"{event.component}: waits for {', '.join(event.blocked_by)}")

    bus.subscribe(follow)
    await run_phases(session, phases(bus))
    return transcript


def shown_body(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """An API call's object as shown: a Secret's values are blanked whole (base64 hides them from masking)."""
    if body.get("kind") != "Secret":
        return body
    blanked = {k: dict.fromkeys(body[k], MASK) for k in ("data", "stringData") if isinstance(body.get(k), dict)}
    return {**body, **blanked}


def shown_input(record: Record) -> str | None:
    """What a command reads on stdin (Helm values are YAML already), or an API call's object as YAML."""
    if record.stdin is not None:
        return record.stdin
    if record.body is not None:
        return yaml.safe_dump(dict(shown_body(record.body)), sort_keys=False, default_flow_style=False)
    return None


async def print_dry_run(
    spec: Spec, catalog: Catalog, out: IO[str], *, secrets: Secrets | None = None, show_input: bool = False
) -> None:
    """The transcript per node; with `show_input`, each command's stdin (and each API call's object)
    indented below it, every secret of the run masked as in the logs."""
    transcript = await dry_run(spec, catalog, secrets)
    out.write("Dry run: what a first install would do. Nothing was connected to or changed.\n")
    print_transcript(transcript, spec, out, show_input=show_input)


def print_transcript(transcript: Transcript, spec: Spec, out: IO[str], *, show_input: bool = False) -> None:
    """Per node, then the API, then what would not be done, each line masked."""
    mask = transcript.secrets.mask
    order = [n.name for n in spec.nodes] + ["kubernetes API", NOT_DONE]
    for where in order:
        records = transcript.records.get(where)
        if not records:
            continue
        out.write(f"\n== {where}\n")
        for record in records:
            out.write(f"  {mask(record.line)}\n")
            text = shown_input(record) if show_input else None
            if text:
                out.writelines(f"      | {line}".rstrip() + "\n" for line in mask(text).splitlines())
    out.flush()
