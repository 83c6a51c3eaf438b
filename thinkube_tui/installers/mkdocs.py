"""5.13 Documentation site: MkDocs (Material theme image) building a site that nginx serves at
`docs.<domain>`.

One Deployment `mkdocs`, no Job and no shared volume: an init container (squidfunk/mkdocs-material,
pinned) builds the site into an `emptyDir` that the nginx container serves, so the first pod is
Ready only with a built site. A Job writing into a PVC that an nginx Deployment reads (the
catalog's first idea) would need a ReadWriteMany volume or both pods on one node: MicroK8s'
hostpath storage is ReadWriteOnce. With `rebuildMinutes` > 0 a sidecar (same image) pulls the
branch and rebuilds in place every that many minutes; 0 builds once (at each pod start).

- `repository` (+ `branch`): `git clone --depth 1 --branch <branch>`, then `mkdocs build`
  with the repository's own mkdocs.yml (its theme wins).
- Without a repository: a starter site from the ConfigMap `mkdocs-source` (mkdocs.yml with
  `theme`, and docs/index.md listing the platform's services and their URLs), generated from the
  catalog and the answers; the pod template carries its hash, so a change rolls the pod.

Images: squidfunk/mkdocs-material (https://squidfunk.github.io/mkdocs-material/creating-your-site/ ,
"mkdocs build" in Docker; the image ships git), nginx (https://hub.docker.com/_/nginx).
"""

from __future__ import annotations

import hashlib
from typing import Any

from .base import InstallContext
from .support.components import enabled, hostname
from .support.objects import MANAGED_BY, ensure, ensure_namespace, rollout
from .support.uninstall import standard
from .support.workspace import ingress

NAME = "mkdocs"
SOURCE = "mkdocs-source"
MKDOCS_IMAGE = "squidfunk/mkdocs-material:9.6.14"
NGINX_IMAGE = "nginx:1.27.5-alpine"
LABELS = {"app.kubernetes.io/name": NAME, **MANAGED_BY}

CLONE_AND_BUILD = """\
set -eu
rm -rf /work/src
git clone --depth 1 --branch "$BRANCH" "$REPOSITORY" /work/src
cd /work/src
mkdocs build --clean --site-dir /site
echo "built $REPOSITORY@$BRANCH"
"""
LOCAL_BUILD = """\
set -eu
rm -rf /work/src && mkdir -p /work/src/docs
cp /source/mkdocs.yml /work/src/mkdocs.yml
cp /source/index.md /work/src/docs/index.md
cd /work/src
mkdocs build --clean --site-dir /site
echo "built the starter site"
"""
REBUILD_LOOP = """\
set -u
while true; do
  sleep "$INTERVAL"
  if git -C /work/src pull --ff-only --depth 1 origin "$BRANCH"; then
    (cd /work/src && mkdocs build --site-dir /work/site-new) && cp -r /work/site-new/. /site/ && rm -rf /work/site-new
  fi
done
"""


def installed_services(ctx: InstallContext) -> list[tuple[str, str, list[str]]]:
    """(title, description, URLs) of the components this Spec installs, in catalog order."""
    out = []
    for comp in ctx.cluster.catalog:
        if comp.tier == "core" or enabled(ctx, comp.id):
            out.append((comp.title, comp.description, list(comp.urls(ctx.spec.cluster.domain))))
    return out


def source_files(ctx: InstallContext) -> dict[str, str]:
    theme = str(ctx.config["theme"])
    name = ctx.spec.cluster.name
    mkdocs_yml = f"site_name: {name} documentation\ntheme:\n  name: {theme}\nnav:\n  - Home: index.md\n"
    lines = [
        f"# {name}",
        "",
        f"Services of the {name} platform at `{ctx.spec.cluster.domain}`.",
        "",
        "| Service | What it is | Address |",
        "| --- | --- | --- |",
    ]
    for title, description, urls in installed_services(ctx):
        where = ", ".join(f"[{u.removeprefix('https://')}]({u})" for u in urls) or "inside the cluster"
        lines.append(f"| {title} | {description.replace('|', '/')} | {where} |")
    lines += ["", "Set `components.mkdocs.repository` to build your own documentation from git instead."]
    return {"mkdocs.yml": mkdocs_yml, "index.md": "\n".join(lines) + "\n"}


def objects(ctx: InstallContext) -> list[dict[str, Any]]:
    c = ctx.config
    ns = ctx.component.namespace
    repository = c.get("repository")
    branch = str(c["branch"])
    minutes = int(c["rebuildMinutes"])
    out: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = [{"name": "site", "emptyDir": {}}, {"name": "work", "emptyDir": {}}]
    mounts: list[dict[str, Any]] = [{"name": "site", "mountPath": "/site"}, {"name": "work", "mountPath": "/work"}]
    env = [{"name": "REPOSITORY", "value": str(repository or "")}, {"name": "BRANCH", "value": branch}]
    annotations: dict[str, str] = {}
    if repository:
        build = CLONE_AND_BUILD
    else:
        files = source_files(ctx)
        out.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": SOURCE, "namespace": ns, "labels": LABELS},
                "data": files,
            }
        )
        volumes.append({"name": "source", "configMap": {"name": SOURCE}})
        mounts = [*mounts, {"name": "source", "mountPath": "/source", "readOnly": True}]
        build = LOCAL_BUILD
        digest = hashlib.sha256("".join(f"{k}\0{v}\0" for k, v in sorted(files.items())).encode()).hexdigest()
        annotations["thinkube.io/source-sha256"] = digest[:16]
    builder = {
        "name": "build",
        "image": MKDOCS_IMAGE,
        "command": ["/bin/sh", "-c", build],
        "env": env,
        "volumeMounts": mounts,
    }
    containers: list[dict[str, Any]] = [
        {
            "name": "nginx",
            "image": NGINX_IMAGE,
            "ports": [{"name": "http", "containerPort": 80}],
            "volumeMounts": [{"name": "site", "mountPath": "/usr/share/nginx/html", "readOnly": True}],
            "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 10},
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
        }
    ]
    if repository and minutes > 0:
        containers.append(
            {
                "name": "rebuild",
                "image": MKDOCS_IMAGE,
                "command": ["/bin/sh", "-c", REBUILD_LOOP],
                "env": [*env, {"name": "INTERVAL", "value": f"{minutes * 60}"}],
                "volumeMounts": mounts,
                "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "512Mi"}},
            }
        )
    template: dict[str, Any] = {
        "metadata": {"labels": LABELS},
        "spec": {"initContainers": [builder], "containers": containers, "volumes": volumes},
    }
    if annotations:
        template["metadata"]["annotations"] = annotations
    out.append(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": NAME, "namespace": ns, "labels": LABELS},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
                "template": template,
            },
        }
    )
    out.append(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": NAME, "namespace": ns, "labels": LABELS},
            "spec": {
                "selector": {"app.kubernetes.io/name": NAME},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        }
    )
    out.append(ingress(ctx, NAME, hostname(ctx), NAME, 80))
    return out


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    host = hostname(ctx)

    async def apply() -> None:
        await ensure_namespace(ctx, ns)
        for obj in objects(ctx):
            await ensure(ctx, obj)

    await ctx.step(f"the documentation site at {host}", apply)
    # Verify: the pod is Ready only after the init container built the site.
    await rollout(ctx, "Deployment", NAME, ns, timeout=900)
    source = ctx.config.get("repository") or "the starter site (no repository set)"
    ctx.log(f"the documentation is served at https://{host}, built from {source}")


async def uninstall(ctx: InstallContext) -> None:
    """What install created goes; its data stays unless purge (support/uninstall.py)."""
    await standard(ctx, releases=())
