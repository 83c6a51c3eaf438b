"""5.14 code-server repository monitor: reports what changes in the git repositories of the
code-server workspace, in its log.

What it is, exactly (small on purpose):

- Deployment `code-server-monitor` in namespace `code-server`, one pod, image `alpine/git`
  (pinned, through Harbor's Docker Hub proxy cache), running as the workspace's user (uid 1000).
- It mounts the workspace volume `code-server-workspace` **read-only** (sub-path `workspace`).
  The volume is ReadWriteOnce, so a required pod affinity puts the monitor on the node where
  code-server runs (RWO allows several pods of one node).
- Every `intervalSeconds` it looks at each repository (`repositories`: paths relative to the
  workspace; empty: every `.git` directory up to 4 levels deep) and computes one line:
  the checked-out branch, the number of uncommitted changes
  (`git --no-optional-locks status --porcelain`: no index refresh, works read-only), and the
  commit of each branch in `branches`. When that line differs from the last one, it is written
  to the pod's log with a UTC timestamp — the report: `microk8s kubectl -n code-server logs
  deploy/code-server-monitor` (and Loki, when installed, collects it).
- No API access, no network, no writes: nothing to leak, nothing to break.

Verified: the Deployment rolls out (it schedules only next to code-server with the volume).
"""

from __future__ import annotations

from typing import Any

from .base import InstallContext
from .code_server import NAME as CODE_SERVER
from .code_server import WORKSPACE_PVC
from .support.objects import MANAGED_BY, ensure, rollout
from .support.uninstall import namespace_gone
from .support.workspace import harbor_image

NAME = "code-server-monitor"
IMAGE = "alpine/git:v2.52.0"
MOUNT = "/workspace"
LABELS = {
    "app.kubernetes.io/name": NAME,
    "app.kubernetes.io/part-of": CODE_SERVER,
    **MANAGED_BY,
}

SCRIPT = """\
set -u
set -f
cd "$WORKSPACE" || { echo "no workspace at $WORKSPACE"; exit 1; }
state=/tmp/state
mkdir -p "$state"
say() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $*"; }
repos() {
  if [ -n "${REPOSITORIES:-}" ]; then
    for r in $REPOSITORIES; do echo "$r"; done
  else
    find . -maxdepth 4 -type d -name .git 2>/dev/null | sed -e 's|/\\.git$||' -e 's|^\\./||' | sort
  fi
}
say "watching ${REPOSITORIES:-every git repository} in $WORKSPACE every ${INTERVAL}s (branches: ${BRANCHES:-none})"
while true; do
  for repo in $(repos); do
    key=$(echo "$repo" | tr '/.' '__')
    if [ ! -e "$repo/.git" ]; then
      now="not a git repository"
    else
      head=$(git -C "$repo" rev-parse --abbrev-ref HEAD 2>/dev/null || echo "?")
      changes=$(git --no-optional-locks -C "$repo" status --porcelain 2>/dev/null | wc -l | tr -d ' ')
      now="branch=$head uncommitted=$changes"
      for b in ${BRANCHES:-}; do
        tip=$(git -C "$repo" rev-parse --short "refs/heads/$b" 2>/dev/null) && now="$now $b=$tip"
      done
    fi
    if [ "$(cat "$state/$key" 2>/dev/null)" != "$now" ]; then
      say "$repo: $now"
      echo "$now" > "$state/$key"
    fi
  done
  sleep "$INTERVAL"
done
"""


def deployment(ctx: InstallContext) -> dict[str, Any]:
    c = ctx.config
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": ctx.component.namespace, "labels": LABELS},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {
                    "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "runAsNonRoot": True},
                    # The workspace volume is ReadWriteOnce: share code-server's node.
                    "affinity": {
                        "podAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "labelSelector": {"matchLabels": {"app.kubernetes.io/name": CODE_SERVER}},
                                    "topologyKey": "kubernetes.io/hostname",
                                }
                            ]
                        }
                    },
                    "automountServiceAccountToken": False,
                    "containers": [
                        {
                            "name": "monitor",
                            "image": harbor_image(ctx, IMAGE),
                            "command": ["/bin/sh", "-c", SCRIPT],
                            # (empty values left out: the API server drops `value: ""`)
                            "env": [
                                {"name": k, "value": v}
                                for k, v in (
                                    ("WORKSPACE", MOUNT),
                                    ("INTERVAL", str(int(c["intervalSeconds"]))),
                                    ("REPOSITORIES", " ".join(c["repositories"])),
                                    ("BRANCHES", " ".join(c["branches"])),
                                )
                                if v
                            ]
                            + [
                                # the repositories belong to code-server's user; trust them read-only
                                {"name": "GIT_CONFIG_COUNT", "value": "1"},
                                {"name": "GIT_CONFIG_KEY_0", "value": "safe.directory"},
                                {"name": "GIT_CONFIG_VALUE_0", "value": "*"},
                            ],
                            "volumeMounts": [
                                {"name": "workspace", "mountPath": MOUNT, "subPath": "workspace", "readOnly": True},
                                {"name": "tmp", "mountPath": "/tmp"},
                            ],  # its last reports
                            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True},
                            "resources": {
                                "requests": {"cpu": "5m", "memory": "16Mi"},
                                "limits": {"cpu": "200m", "memory": "64Mi"},
                            },
                        }
                    ],
                    "volumes": [
                        {"name": "workspace", "persistentVolumeClaim": {"claimName": WORKSPACE_PVC, "readOnly": True}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}},
                    ],
                },
            },
        },
    }


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    await ctx.step("the repository monitor", lambda: ensure(ctx, deployment(ctx)))
    await rollout(ctx, "Deployment", NAME, ns, timeout=300)
    watched = ", ".join(ctx.config["repositories"]) or "every git repository"
    ctx.log(
        f"the monitor watches {watched} in the code-server workspace every "
        f"{int(ctx.config['intervalSeconds'])} s; its reports: "
        f"`microk8s kubectl -n {ns} logs deploy/{NAME}`"
    )


async def uninstall(ctx: InstallContext) -> None:
    """Its Deployment goes; code-server's namespace and workspace stay (they are code-server's)."""

    async def delete() -> None:
        kube = await ctx.kube()
        if await kube.delete("apps/v1", "Deployment", NAME, ctx.component.namespace):
            ctx.log(f"Deployment {ctx.component.namespace}/{NAME} deleted")
        await kube.wait_gone(
            "apps/v1", "Deployment", NAME, ctx.component.namespace, timeout=300, what=f"Deployment {NAME}"
        )

    await ctx.step(f"delete the Deployment {NAME}", delete)
    await namespace_gone(ctx)
