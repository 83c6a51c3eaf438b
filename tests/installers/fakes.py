"""Stand-ins shared by the installer tests: a node whose Helm remembers releases, and helpers
to read what was applied. Each test module adds the cluster behaviour its installers need."""

from __future__ import annotations

import base64
import copy
import json
import shlex
from typing import Any

import yaml

from thinkube_tui.dryrun import RecordingTransport, Transcript
from thinkube_tui.engine import EngineSettings, Steps
from thinkube_tui.events import EventBus, LineBatcher, LogLines
from thinkube_tui.installers.base import InstallContext
from thinkube_tui.journal import Journal
from thinkube_tui.transport import CommandResult

Releases = dict[tuple[str, str], tuple[str, str, Any]]  # (namespace, release) -> (chart, version, values)


def merge(base: Any, patch: Any) -> Any:
    """`patch` laid over `base`, as server-side apply merges maps."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = merge(base.get(k), v)
        return out
    return copy.deepcopy(patch)


def select(objects: Any, kind: str, name: str | None = None, ns: str | None = None) -> list[dict[str, Any]]:
    """The objects of `kind` (and `name`, `ns` when given) among `objects`."""
    return [
        o
        for o in objects
        if o["kind"] == kind
        and (name is None or o["metadata"]["name"] == name)
        and (ns is None or o["metadata"].get("namespace") == ns)
    ]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """A container's environment: name -> value, or the valueFrom reference."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


class HelmNode(RecordingTransport):
    """A control node whose `microk8s helm3` remembers releases and their values, so a second
    run sees them deployed. Commands it does not know go to `other` (None: exit 0, no output)."""

    def __init__(self, node: str, transcript: Transcript, releases: Releases) -> None:
        super().__init__(node, transcript)
        self.releases = releases
        self.commands: list[tuple[str, str | None]] = []

    async def run(self, command: str, *, input: str | None = None, **kwargs: Any) -> CommandResult:
        await super().run(command, input=input, **kwargs)
        self.commands.append((command, input))
        argv = shlex.split(command)
        if argv[:3] == ["microk8s", "helm3", "upgrade"]:
            release, chart, ns = argv[4], argv[5], argv[argv.index("--namespace") + 1]
            version = argv[argv.index("--version") + 1]
            self.releases[(ns, release)] = (chart, version, yaml.safe_load(input or "{}") or {})
        elif argv[:3] == ["microk8s", "helm3", "list"]:
            ns, release = argv[argv.index("--namespace") + 1], argv[argv.index("--filter") + 1].strip("^$")
            if (ns, release) in self.releases:
                chart, version, _ = self.releases[(ns, release)]
                return CommandResult(command, 0, json.dumps([{"name": release, "chart": f"{chart}-{version}"}]), "")
            return CommandResult(command, 0, "[]", "")
        elif argv[:4] == ["microk8s", "helm3", "get", "values"]:
            _, _, values = self.releases[(argv[argv.index("--namespace") + 1], argv[4])]
            return CommandResult(command, 0, json.dumps(values), "")
        else:
            answer = self.other(argv, command, input)
            if answer is not None:
                return answer
        return CommandResult(command, 0, "", "")

    def other(self, argv: list[str], command: str, input: str | None) -> CommandResult | None:
        return None


async def install_in_order(cluster: Any, order: Any) -> tuple[list[str], list[BaseException]]:
    """Run each (component id, installer module) of `order` against `cluster`, one after another,
    as the engine would. Returns every log line and every exception (collected, not raised: the
    tests search them for secrets too)."""
    spec = cluster.spec
    bus = EventBus()
    logs: list[str] = []
    bus.subscribe(lambda e: logs.extend(e.lines) if isinstance(e, LogLines) else None)
    batcher = LineBatcher(bus, 0.0)
    journal = Journal(None)
    errors: list[BaseException] = []
    for cid, module in order:
        steps = Steps(cid, spec.components[cid].config, journal, bus, batcher, EngineSettings(step_timeout_s=60))
        journal.started(cid, spec.components[cid].config)
        try:
            await module.install(InstallContext(steps, cluster))
        except Exception as exc:
            errors.append(exc)
        batcher.flush()
    return logs, errors
