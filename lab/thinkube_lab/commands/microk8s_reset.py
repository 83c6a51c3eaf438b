"""`microk8s reset` on a simulated node.

As MicroK8s' reset does: root only; refused on a joined worker ("acting as a node in a
cluster") and on a control node that still has other nodes ("multi-node ... remove all joined
nodes before calling reset"); otherwise every addon is disabled and what was created in the
cluster is removed -- every namespace but Kubernetes' own (with their contents), custom
resource definitions, persistent volumes, cluster roles and bindings not named `system:` --
leaving MicroK8s installed and running, as after `snap install`. `--destroy-storage` also
deletes the hostpath storage's directory.
"""

from __future__ import annotations

import shutil

from ..shell import Ctx

KUBERNETES_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
HOSTPATH_STORAGE = "var/snap/microk8s/common/default-storage"
CLUSTER_KINDS = (
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("v1", "PersistentVolume"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
)


async def reset(ctx: Ctx, args: list[str]) -> int:
    node, m = ctx.node, ctx.node.microk8s
    if not ctx.is_root:
        ctx.err("Elevated permissions are needed for this command. Please use sudo.")
        return 1
    if m.role == "worker":
        ctx.out("This MicroK8s deployment is acting as a node in a cluster. Please use microk8s leave.\n")
        return 1
    lab = node.lab
    others = [n for n in lab.kube.list("v1", "Node") if n["metadata"]["name"] != node.name] if lab else []
    if others:
        ctx.out(
            "This is a multi-node MicroK8s deployment. Reset is applicable for single node clusters. "
            "Please remove all joined nodes before calling reset.\n"
        )
        return 1
    ctx.out("Disabling all addons\n")
    for addon in list(m.addons):
        await ctx.sleep("disable")
        ctx.out(f"Disabling addon : {addon}\n")
        m.addons.remove(addon)
    if lab is not None:
        ctx.out("Cleaning resources in namespaces\n")
        for ns in lab.kube.list("v1", "Namespace"):
            name = ns["metadata"]["name"]
            if name not in KUBERNETES_NAMESPACES:
                lab.kube.delete("v1", "Namespace", name)
        for api_version, kind in CLUSTER_KINDS:
            for obj in lab.kube.list(api_version, kind):
                name = obj["metadata"]["name"]
                if not name.startswith("system:"):
                    lab.kube.delete(api_version, kind, name)
        lab.changed()
    if "--destroy-storage" in args:
        ctx.out("Destroying storage\n")
        shutil.rmtree(node.root_dir / HOSTPATH_STORAGE, ignore_errors=True)
    node.counters["microk8s-reset"] += 1
    node.changed()
    return 0
