"""The journal's copy in the cluster, so re-entry works from another machine.

Once MicroK8s is up, each finished or failed component updates the ConfigMap
`thinkube-system/thinkube-installer-state`. A later run on another machine reads it and
counts what it lists as done as installed. The ConfigMap holds what the journal holds: no
secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from .events import ComponentDone, ComponentFailed, Event
from .journal import ComponentRecord, Journal, parse
from .kube import Kube

NAMESPACE = "thinkube-system"
NAME = "thinkube-installer-state"
KEY = "journal.json"
CLUSTER_READY = "microk8s-control"  # once this is done, the API server can hold the copy


class ClusterMirror:
    """Event subscriber that keeps the ConfigMap in step with the journal, one write at a time."""

    def __init__(self, journal: Journal, kube: Callable[[], Any], warn: Callable[[str], None]) -> None:
        self._journal = journal
        self._kube = kube
        self._warn = warn
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, (ComponentDone, ComponentFailed)) and CLUSTER_READY in self._journal.installed:
            self._dirty.set()
            if self._task is None:
                self._task = asyncio.get_running_loop().create_task(self._writer())

    async def _writer(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                await write_state(await self._kube(), self._journal)
            except Exception as exc:  # the copy is a convenience: never a task that dies unseen
                self._warn(f"could not update {NAMESPACE}/{NAME} in the cluster ({exc}); the local journal is current")

    async def close(self) -> None:
        """Stop the writer, then write the journal as it is now -- even when nothing looks
        pending: the writer may have been cut off in the middle of its last write."""
        if self._task is None:
            return
        task, self._task = self._task, None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        try:
            await write_state(await self._kube(), self._journal)
        except Exception as exc:
            self._warn(f"could not update {NAMESPACE}/{NAME} in the cluster ({exc})")


async def write_state(kube: Kube, journal: Journal) -> None:
    await kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    await kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": NAME,
                "namespace": NAMESPACE,
                "labels": {"app.kubernetes.io/managed-by": "thinkube-tui"},
            },
            "data": {KEY: json.dumps(journal.to_json(), indent=1)},
        }
    )


async def read_state(kube: Kube) -> dict[str, ComponentRecord]:
    """The records the cluster keeps; empty when it keeps none."""
    cm = await kube.get("v1", "ConfigMap", NAME, NAMESPACE)
    if cm is None:
        return {}
    try:  # checked against the journal's schema like the local file: a bad copy adopts nothing
        return parse(json.loads(cm.get("data", {}).get(KEY, "{}")))
    except (ValueError, TypeError, AttributeError, RecursionError):
        return {}


def adopt(journal: Journal, records: dict[str, ComponentRecord]) -> list[str]:
    """Take the cluster's record of components the local journal does not have as done."""
    adopted = [cid for cid, rec in records.items() if rec.status == "done" and cid not in journal.installed]
    for cid in adopted:
        journal.components[cid] = records[cid]
    if adopted:
        journal.save()
    return adopted
