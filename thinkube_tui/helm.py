"""Helm releases through MicroK8s' helm3 addon, over SSH on the control node.

Values go to helm on stdin (`-f -`): no values file is left on the node, and no secret is
ever part of a command line. A release already deployed at the pinned chart version with
the same values is left alone, so a second run changes nothing (not even the revision).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from .transport import LineCallback, Transport


@dataclass(frozen=True)
class Chart:
    release: str
    chart: str
    repo: str
    version: str
    namespace: str


class HelmError(Exception):
    def __init__(self, message: str, node: str, output_tail: str) -> None:
        super().__init__(message)
        self.node = node
        self.output_tail = output_tail


def upgrade_command(chart: Chart, *, timeout: str = "15m") -> str:
    # https://helm.sh/docs/helm/helm_upgrade/ ; MicroK8s ships helm as `microk8s helm3`
    # (https://microk8s.io/docs/addon-helm3).
    q = shlex.quote
    return (
        f"microk8s helm3 upgrade --install {q(chart.release)} {q(chart.chart)} --repo {q(chart.repo)} "
        f"--version {q(chart.version)} --namespace {q(chart.namespace)} --create-namespace "
        f"--wait --timeout {q(timeout)} -f -"
    )


async def deployed(node: Transport, chart: Chart) -> tuple[str | None, dict[str, Any] | None]:
    """(chart version, user values) of the release as deployed now, or (None, None)."""
    q = shlex.quote
    listing = await node.run(
        f"microk8s helm3 list --namespace {q(chart.namespace)} --filter "
        f"{q('^' + chart.release + '$')} --deployed -o json",
        sudo=True,
        timeout=60,
    )
    try:
        releases = json.loads(listing.stdout) if listing.ok else []
    except ValueError:
        releases = []
    if not releases:
        return None, None
    version = str(releases[0].get("chart", "")).removeprefix(chart.chart + "-") or None
    values = await node.run(
        f"microk8s helm3 get values {q(chart.release)} --namespace {q(chart.namespace)} -o json", sudo=True, timeout=60
    )
    try:
        current = json.loads(values.stdout) if values.ok and values.stdout.strip() else {}
    except ValueError:
        current = None
    return version, current if isinstance(current, dict) else None


async def upgrade_install(
    node: Transport,
    chart: Chart,
    values: Mapping[str, Any],
    *,
    on_line: LineCallback | None = None,
    timeout_s: float = 900,
) -> bool:
    """Install or upgrade the release; False when it was already as wanted."""
    version, current = await deployed(node, chart)
    wanted = json.loads(json.dumps(values))  # plain data, as helm would return it
    same_chart = version in (chart.version, chart.version.lstrip("v"))
    if same_chart and (current == wanted or (current is None and not wanted)):
        return False
    minutes = max(1, int(timeout_s // 60))
    result = await node.run(
        upgrade_command(chart, timeout=f"{minutes}m"),
        input=yaml.safe_dump(wanted),
        sudo=True,
        on_line=on_line,
        timeout=timeout_s + 60,
    )
    if not result.ok:
        raise HelmError(
            f"helm could not install {chart.release} ({chart.chart} {chart.version}) in namespace {chart.namespace}",
            node.node,
            result.tail(),
        )
    return True
