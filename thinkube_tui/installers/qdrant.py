"""5.7 Qdrant: the vector database from the Qdrant Helm chart, with an API key.

The API key is the operator's (`apiKey`) or generated once; it is kept in the Secret
`qdrant-api-key` (key `api-key`) and reused on a re-run. The chart takes the key as a value
(`apiKey: <string>`, https://github.com/qdrant/qdrant-helm `charts/qdrant/values.yaml`), which
reaches helm on stdin only (never a command line) and lives on in the release's own Secret.
Distributed mode (`config.cluster.enabled`) is switched on above one replica.

Verified like `kubectl rollout status statefulset/qdrant`.
"""

from __future__ import annotations

from typing import Any

from .base import InstallContext
from .support.objects import ensure_namespace
from .support.secret_objects import ensure_secret, keep_or_make
from .support.uninstall import standard

NAME = "qdrant"  # release and StatefulSet
KEY_SECRET = "qdrant-api-key"


def chart_values(ctx: InstallContext, api_key: str) -> dict[str, Any]:
    c = ctx.config
    replicas = int(c["replicas"])
    return {
        "replicaCount": replicas,
        "persistence": {"size": c["storageSize"]},
        "snapshotPersistence": {"enabled": True, "size": c["snapshotsStorageSize"]},
        "config": {"cluster": {"enabled": replicas > 1}},
        "apiKey": api_key,
    }


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    await ctx.step("namespace", lambda: ensure_namespace(ctx, ns))
    # Not a step: the chart step below needs the key, and reading it back is cheap.
    api_key = await keep_or_make(
        ctx, [(KEY_SECRET, ns, "api-key")], ref=ctx.config.get("apiKey"), used_for="the Qdrant API key"
    )
    await ctx.step("keep the API key", lambda: ensure_secret(ctx, KEY_SECRET, ns, {"api-key": api_key}))
    await ctx.step("install the Qdrant chart", lambda: ctx.helm(chart_values(ctx, api_key)))
    kube = await ctx.kube()
    await kube.wait_rollout("StatefulSet", NAME, ns, timeout=600)
    ctx.log(
        f"Qdrant is ready at http://{NAME}.{ns}.svc.cluster.local:6333 (gRPC 6334); API key in Secret {ns}/{KEY_SECRET}"
    )


async def uninstall(ctx: InstallContext) -> None:
    """What install created goes; its data stays unless purge (support/uninstall.py)."""
    await standard(ctx)
