"""The installer contract: what every installer coroutine is given.

An installer is `async def install(ctx: InstallContext) -> None`. It declares steps with
`ctx.step(name, action)` (journaled: a resumed run skips finished steps), runs commands on
nodes with `ctx.run(...)` (output streamed to the component's log, failures raised with the
node, the command and the last output), applies Kubernetes objects through `await ctx.kube()`
and Helm charts through `ctx.helm(...)`. Installers check before they act, so running one
again converges instead of repeating work.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..catalog import Catalog
from ..engine import InstallError, Steps
from ..facts import Facts
from ..files import default_state_dir
from ..helm import Chart, HelmError, upgrade_install
from ..kube import Kube
from ..secrets import Secrets
from ..spec import NodeSpec, Spec
from ..transport import CommandResult, CommandTimeout, Transport

T = TypeVar("T")


@dataclass
class Cluster:
    """What all installers of one run share: the nodes, their facts, secrets, the API client."""

    spec: Spec
    catalog: Catalog
    nodes: Mapping[str, Transport]
    facts: Mapping[str, Facts]
    secrets: Secrets
    state_dir: Path = field(default_factory=lambda: default_state_dir() / "thinkube")
    # Things to show the operator once, in the run's summary, and nowhere else (e.g. Vault's
    # unseal keys when they chose not to keep them in a file): (title, lines).
    handovers: list[tuple[str, list[str]]] = field(default_factory=list, repr=False)
    # Removing (remove, reset): whether data goes too (volume claims, databases), and which
    # installed components stay (a namespace or service they use is kept for them).
    purge: bool = False
    staying: frozenset[str] = frozenset()
    _kube: Kube | None = field(default=None, repr=False)
    _kube_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    async def kube(self) -> Kube:
        """The API client, built from `microk8s config` on the control node (once per run)."""
        async with self._kube_lock:
            if self._kube is None:
                control = self.nodes[self.spec.control.name]
                result = await control.run("microk8s config", sudo=True, timeout=60)
                if not result.ok:
                    raise InstallError(
                        "could not read the cluster's kubeconfig (`microk8s config`)",
                        node=control.node,
                        output_tail=result.tail(),
                    )
                self.secrets.register_kubeconfig(result.stdout)
                self._kube = await Kube.from_kubeconfig(result.stdout)
            return self._kube

    def handover(self, title: str, lines: list[str]) -> None:
        for line in lines:
            self.secrets.register(line)  # masked everywhere else
        self.handovers.append((title, lines))

    async def close(self) -> None:
        if self._kube is not None:
            await self._kube.close()
            self._kube = None


class InstallContext:
    def __init__(self, steps: Steps, cluster: Cluster) -> None:
        self._steps = steps
        self.cluster = cluster
        self.spec = cluster.spec
        self.component = cluster.catalog[steps.component]

    @property
    def config(self) -> Mapping[str, Any]:
        config: Mapping[str, Any] = self._steps.config or {}
        return config

    def log(self, line: str) -> None:
        self._steps.log(self.cluster.secrets.mask(line))

    async def step(self, name: str, action: Callable[[], Awaitable[T]], *, timeout: float | None = None) -> T | None:
        return await self._steps.step(name, action, timeout=timeout)

    # ------------------------------------------------------------ nodes

    @property
    def control(self) -> NodeSpec:
        return self.spec.control

    @property
    def workers(self) -> tuple[NodeSpec, ...]:
        return self.spec.workers

    def facts(self, node: NodeSpec) -> Facts:
        return self.cluster.facts[node.name]

    def hostname(self, node: NodeSpec) -> str:
        """The node's name as Kubernetes knows it: MicroK8s registers nodes by hostname."""
        return self.facts(node).hostname or node.name

    def address(self, node: NodeSpec) -> str:
        """The node's address on its LAN (the default route's interface), else the SSH host."""
        return self.facts(node).primary_address or node.host

    async def run(
        self,
        node: NodeSpec,
        command: str,
        *,
        sudo: bool = False,
        input: str | None = None,
        timeout: float = 600,
        check: bool = True,
        quiet: bool = False,
    ) -> CommandResult:
        """Run `command` on `node`; its output goes to the log unless `quiet`.

        With `check`, a non-zero exit raises `InstallError` naming the node, the command and
        the last lines of output.
        """
        transport = self.cluster.nodes[node.name]
        on_line = None if quiet else (lambda line: self.log(f"{node.name}: {line}"))
        if not quiet:
            self.log(f"{node.name}$ {'sudo ' if sudo else ''}{command}")
        try:
            result = await transport.run(command, sudo=sudo, input=input, timeout=timeout, on_line=on_line)
        except CommandTimeout as exc:
            raise InstallError(
                f"`{command}` did not finish within {exc.timeout:g} s",
                node=node.name,
                output_tail=self.cluster.secrets.mask(exc.output_tail),
            ) from None
        if check and not result.ok:
            raise InstallError(
                f"`{command}` failed with exit status {result.exit_status}",
                node=node.name,
                output_tail=self.cluster.secrets.mask(result.tail()),
            )
        return result

    # ------------------------------------------------------------ cluster

    async def kube(self) -> Kube:
        return await self.cluster.kube()

    async def helm(
        self,
        values: Mapping[str, Any],
        *,
        release: str | None = None,
        namespace: str | None = None,
        timeout_s: float = 900,
    ) -> bool:
        """Install or upgrade this component's chart (from the catalog) with `values`."""
        install = self.component.install
        assert install.repo and install.chart and install.version, f"{self.component.id} has no Helm chart"
        chart = Chart(
            release or self.component.id,
            install.chart,
            install.repo,
            install.version,
            namespace or self.component.namespace,
        )
        return await self.helm_chart(chart, values, timeout_s=timeout_s)

    async def helm_chart(self, chart: Chart, values: Mapping[str, Any], *, timeout_s: float = 900) -> bool:
        """Install or upgrade `chart` with `values` (values on stdin; an unchanged release is left
        alone); True when helm changed something."""
        transport = self.cluster.nodes[self.control.name]
        self.log(f"helm: {chart.release} = {chart.chart} {chart.version} from {chart.repo} in {chart.namespace}")
        try:
            changed = await upgrade_install(
                transport, chart, values, on_line=lambda line: self.log(f"helm: {line}"), timeout_s=timeout_s
            )
        except HelmError as exc:
            raise InstallError(
                str(exc), node=exc.node, output_tail=self.cluster.secrets.mask(exc.output_tail)
            ) from None
        except CommandTimeout as exc:
            raise InstallError(
                f"helm did not finish within {exc.timeout:g} s",
                node=self.control.name,
                output_tail=self.cluster.secrets.mask(exc.output_tail),
            ) from None
        if not changed:
            self.log(f"helm: {chart.release} is already deployed as wanted")
        return changed


def quote(value: str) -> str:
    return shlex.quote(value)


async def concurrently(*work: Awaitable[Any]) -> None:
    """Run `work` at the same time; when one fails, let the others finish what they started,
    then raise the first failure.

    A node step cut off half way (a `snap install` whose SSH session is closed goes on inside
    snapd) leaves the node in between, and the next run's preflight misreads it; as Terraform
    does, nothing new starts after a failure but what is running finishes. Cancelling the
    whole (Ctrl-C, the component's time limit) cancels every one.
    """
    results = await asyncio.gather(*work, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
