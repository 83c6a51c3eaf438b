"""A support bundle: what someone needs to see why a cluster misbehaves, in one tar.gz.

From every node at once: `microk8s inspect` (its report, unpacked and masked file by file),
`microk8s status` and the node's discovered facts. From the cluster's API: workloads that are
not ready, pods that are not running or succeeding, Warning events, and the last lines of the
failing pods' logs. From this machine: the install journal and logs.

Every text is masked with the run's secrets before it is written: the secrets file, sudo
passwords, the kubeconfig's credentials and the value of every Kubernetes Secret the cluster
holds (generated passwords live there). Files that are secret stores by design stay out, and
a file of the inspect report that is not text is left out rather than shipped unchecked.
A node or an API that cannot be reached is written down in the bundle's README, not fatal:
a bundle is most wanted when something is broken.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import os
import re
import tarfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .doctor import WORKLOADS, ready_counts
from .facts import Facts
from .kube import Kube, KubeError
from .secrets import Secrets
from .transport import CommandTimeout, Transport

INSPECT_TIMEOUT_S = 600.0  # inspect gathers up to 100,000 journal lines per service
COMMAND_TIMEOUT_S = 120.0
LOG_TAIL_LINES = 200
REPORT_PATH = re.compile(r"Report tarball is at (\S+\.tar\.gz)")
#: Files of the state directory that hold secrets on purpose (Vault's unseal keys) or
#: locks: never in a bundle, whatever masking would leave of them.
LEFT_OUT = re.compile(r"^(vault-init\.json.*|.*\.lock|secrets.*\.ya?ml)$")
#: Kubernetes Secret keys whose values are public (certificates) and need no masking.
PUBLIC_SECRET_KEYS = re.compile(r"(^|[._-])(crt|cert|pem|ca)$", re.I)


@dataclass
class Bundle:
    """The files of a bundle, masked as they are added, and what could not be collected."""

    secrets: Secrets
    files: dict[str, bytes] = field(default_factory=dict)
    gaps: list[str] = field(default_factory=list)

    def add(self, path: str, text: str) -> None:
        self.files[path] = self.secrets.mask(text).encode()

    def gap(self, what: str) -> None:
        self.gaps.append(self.secrets.mask(what))

    def write(self, path: Path, readme: str) -> None:
        """The tar.gz at `path`, mode 0600 from the start (it may still hold what masking
        cannot know is secret); an existing file is never replaced."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for name, data in [("README.txt", self.secrets.mask(readme).encode()), *sorted(self.files.items())]:
                info = tarfile.TarInfo(f"support-bundle/{name}")
                info.size, info.mode = len(data), 0o600
                tar.addfile(info, io.BytesIO(data))
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(buffer.getvalue())
            f.flush()
            os.fsync(f.fileno())


# ---------------------------------------------------------------------------- nodes


async def collect_node(bundle: Bundle, name: str, node: Transport, facts: Facts | None) -> None:
    """One node's part: inspect's report, `microk8s status`, its facts."""
    from .commands.discover_view import facts_to_json

    if facts is not None:
        bundle.add(f"nodes/{name}/facts.json", json.dumps(facts_to_json(facts), indent=2))
    status = await _run(bundle, node, "microk8s status --format yaml", COMMAND_TIMEOUT_S)
    if status is not None:
        bundle.add(f"nodes/{name}/microk8s-status.yaml", status)
    inspect = await _run(bundle, node, "microk8s inspect", INSPECT_TIMEOUT_S, keep_failed=True)
    if inspect is None:
        return
    bundle.add(f"nodes/{name}/microk8s-inspect.txt", inspect)
    found = REPORT_PATH.search(inspect)
    if found is None:
        bundle.gap(f"{name}: `microk8s inspect` named no report tarball (its output is in microk8s-inspect.txt)")
        return
    report = found.group(1)
    encoded = await _run(bundle, node, f"base64 -w 0 {report}", COMMAND_TIMEOUT_S)
    if encoded is None:
        return
    try:
        data = base64.b64decode(encoded.strip(), validate=True)
        members = unpack_report(data)
    except (binascii.Error, ValueError, tarfile.TarError, OSError, EOFError) as exc:
        bundle.gap(f"{name}: the inspect report {report} could not be read: {type(exc).__name__}: {exc}")
        return
    for member, content in members:
        if content is None:
            bundle.gap(f"{name}: {member} of the inspect report is not text; left out (it could not be masked)")
        else:
            bundle.add(f"nodes/{name}/inspect/{member}", content)


def unpack_report(data: bytes) -> list[tuple[str, str | None]]:
    """(path, text) of every regular file of an inspect report; text None for binary files."""
    out: list[tuple[str, str | None]] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        for member in tar:
            if not member.isfile():
                continue
            name = "/".join(p for p in member.name.split("/") if p not in ("", ".", ".."))
            raw = tar.extractfile(member)
            content = raw.read() if raw is not None else b""
            try:
                out.append((name, content.decode()))
            except UnicodeDecodeError:
                out.append((name, None))
    return out


async def _run(
    bundle: Bundle, node: Transport, command: str, timeout: float, *, keep_failed: bool = False
) -> str | None:
    """The command's output (as root), or None after noting why there is none."""
    try:
        result = await node.run(command, sudo=True, timeout=timeout)
    except CommandTimeout:
        bundle.gap(f"{node.node}: `{command}` did not finish within {timeout:.0f} s")
        return None
    except (OSError, ConnectionError) as exc:
        bundle.gap(f"{node.node}: `{command}` could not run: {exc}")
        return None
    if not result.ok:
        bundle.gap(f"{node.node}: `{command}` exited {result.exit_status}: {result.tail(5)}")
        if not keep_failed:
            return None
    return result.stdout


# ---------------------------------------------------------------------------- the cluster


async def register_cluster_secrets(kube: Kube, secrets: Secrets) -> int:
    """Treat the value of every key of every Secret as secret (certificates aside); how many."""
    count = 0
    for secret in await kube.list("v1", "Secret"):
        for key, value in (secret.get("data") or {}).items():
            if PUBLIC_SECRET_KEYS.search(key) or not isinstance(value, str):
                continue
            try:
                text = base64.b64decode(value).decode()
            except (binascii.Error, ValueError):
                continue
            secrets.register(text)
            count += 1
        for key, text in (secret.get("stringData") or {}).items():
            if isinstance(text, str) and not PUBLIC_SECRET_KEYS.search(key):
                secrets.register(text)
                count += 1
    return count


def not_ready(obj: Mapping[str, Any]) -> bool:
    """Whether a Deployment/StatefulSet/DaemonSet is short of the pods it asks for."""
    ready, wanted = ready_counts(obj)
    return ready < wanted


def failing_pod(pod: Mapping[str, Any]) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") not in ("Running", "Succeeded"):
        return True
    return any(
        not c.get("ready", False) for c in status.get("containerStatuses") or [] if status.get("phase") == "Running"
    )


async def collect_cluster(bundle: Bundle, kube: Kube, control: Transport) -> None:
    """Workloads not ready, failing pods (with their logs), Warning events."""
    problems: list[dict[str, Any]] = []
    for api_version, kind in WORKLOADS:
        try:
            problems += [_summary(o) for o in await kube.list(api_version, kind) if not_ready(o)]
        except KubeError as exc:
            bundle.gap(f"listing {kind}s: {exc}")
    bundle.add("cluster/workloads-not-ready.json", json.dumps(problems, indent=2))
    try:
        pods = [p for p in await kube.list("v1", "Pod") if failing_pod(p)]
    except KubeError as exc:
        bundle.gap(f"listing pods: {exc}")
        pods = []
    bundle.add("cluster/pods-failing.json", json.dumps([_summary(p) for p in pods], indent=2))
    for pod in pods:
        meta = pod["metadata"]
        ns, name = meta.get("namespace", "default"), meta["name"]
        command = f"microk8s kubectl logs -n {ns} {name} --all-containers --tail={LOG_TAIL_LINES}"
        log = await _run(bundle, control, command, COMMAND_TIMEOUT_S)
        if log is not None:
            bundle.add(f"cluster/logs/{ns}/{name}.log", log)
    try:
        events = [e for e in await kube.list("v1", "Event") if e.get("type") == "Warning"]
    except KubeError as exc:
        bundle.gap(f"listing events: {exc}")
        events = []
    bundle.add("cluster/events-warning.json", json.dumps([_event(e) for e in events], indent=2))


def _summary(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {
        "kind": obj.get("kind"),
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "status": obj.get("status") or {},
    }


def _event(event: Mapping[str, Any]) -> dict[str, Any]:
    involved = event.get("involvedObject") or {}
    return {
        "object": f"{involved.get('kind')}/{involved.get('name')}",
        "namespace": involved.get("namespace"),
        "reason": event.get("reason"),
        "message": event.get("message"),
        "count": event.get("count"),
        "last": event.get("lastTimestamp") or event.get("eventTime"),
    }


# ---------------------------------------------------------------------------- this machine


def collect_local(bundle: Bundle, state_dir: Path) -> None:
    """The journal, the install logs and earlier crash reports, from the cluster's state directory."""
    if not state_dir.is_dir():
        bundle.gap(f"no state directory {state_dir}: nothing was installed from this machine")
        return
    for path in _local_files(state_dir):
        relative = path.relative_to(state_dir).as_posix()
        try:
            bundle.add(f"local/{relative}", path.read_text(errors="replace"))
        except OSError as exc:
            bundle.gap(f"{path}: {exc.strerror or exc}")


def _local_files(state_dir: Path) -> Iterable[Path]:
    candidates = [state_dir / "journal.json", *sorted(state_dir.glob("crash-*.txt"))]
    candidates += sorted((state_dir / "logs").glob("*.log")) if (state_dir / "logs").is_dir() else []
    return [p for p in candidates if p.is_file() and not LEFT_OUT.match(p.name)]


# ---------------------------------------------------------------------------- the whole


def default_output(state_dir: Path, now: float) -> Path:
    """`<state dir>/support-bundle-<time>.tar.gz`, numbered when one of that second exists."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    output, extra = state_dir / f"support-bundle-{stamp}.tar.gz", 1
    while output.exists():
        extra += 1
        output = state_dir / f"support-bundle-{stamp}-{extra}.tar.gz"
    return output


def made_at(now: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(now))


@dataclass(frozen=True)
class BundleResult:
    path: Path
    files: int
    gaps: tuple[str, ...]


async def build(
    *,
    nodes: Mapping[str, Transport],
    facts: Mapping[str, Facts],
    unreachable: Mapping[str, str],
    control: str,
    kube: Callable[[], Any] | None,
    secrets: Secrets,
    state_dir: Path,
    output: Path,
    now: str,
) -> BundleResult:
    """Collect from every reachable node at once, the cluster and this machine; write `output`.

    `kube` builds the API client (reads `microk8s config` on the control node); None or a
    failure leaves the cluster's part out, saying why. Secrets of the cluster are registered
    before anything is collected, so every text is masked with all of them."""
    bundle = Bundle(secrets)
    for name, why in unreachable.items():
        bundle.gap(f"{name}: not reached: {why}")
    client: Kube | None = None
    if kube is not None and control in nodes:
        try:
            client = await kube()
            await register_cluster_secrets(client, secrets)
        except Exception as exc:  # the API may be what is broken: say so, bundle the rest
            bundle.gap(f"the cluster's API could not be read: {type(exc).__name__}: {exc}")
            client = None
    await asyncio.gather(*(collect_node(bundle, name, node, facts.get(name)) for name, node in nodes.items()))
    if client is not None:
        await collect_cluster(bundle, client, nodes[control])
    collect_local(bundle, state_dir)
    bundle.write(output, readme(now, sorted(nodes), bundle.gaps))
    return BundleResult(output, len(bundle.files) + 1, tuple(bundle.gaps))


def readme(now: str, nodes: list[str], gaps: list[str]) -> str:
    lines = [
        f"thinkube-tui support bundle, made {now}",
        "",
        f"nodes reached: {', '.join(nodes) or 'none'}",
        "",
        "nodes/NODE/: microk8s inspect (its report under inspect/), microk8s status, discovered facts",
        "cluster/: workloads not ready, failing pods and their logs, Warning events",
        "local/: the install journal, install logs and crash reports of this machine",
        "",
        "Secrets known to the run (secrets file, sudo passwords, kubeconfig, every Kubernetes",
        "Secret's value) are replaced by ****** throughout. Review before sharing.",
        "",
    ]
    lines += ["What could not be collected:", *(f"  - {g}" for g in gaps)] if gaps else ["Everything was collected."]
    return "\n".join(lines) + "\n"
