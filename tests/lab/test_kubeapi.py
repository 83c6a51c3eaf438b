"""The lab's Kubernetes API emulator, driven by the real kubernetes-asyncio client."""

from __future__ import annotations

import asyncio
import copy
import json
import ssl
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException

from thinkube_lab.kubeapi import STATE_FILE, KubeApiEmulator

APPLY = "application/apply-patch+yaml"


@pytest.fixture
async def emu(tmp_path: Path):
    async with KubeApiEmulator(state_dir=tmp_path, rollout_delay=0.2) as api:
        yield api


async def _client(emu: KubeApiEmulator, token: str | None = None) -> client.ApiClient:
    cfg = client.Configuration()
    await config.load_kube_config_from_dict(emu.kubeconfig(token=token), client_configuration=cfg)
    return client.ApiClient(cfg)


@pytest.fixture
async def kc(emu: KubeApiEmulator):
    async with await _client(emu) as c:
        yield c


def cm(name: str, data: dict[str, str], ns: str = "default", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": data, **extra}


def deployment(name: str, image: str = "nginx:1.27", replicas: int = 2) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "web", "image": image}]}},
        },
    }


def rolled_out(d: dict[str, Any]) -> bool:
    """`kubectl rollout status` for a Deployment."""
    s, want = d.get("status") or {}, d["spec"].get("replicas", 1)
    return (
        s.get("observedGeneration", 0) >= d["metadata"]["generation"]
        and s.get("updatedReplicas", 0) == want
        and s.get("replicas", 0) == want
        and s.get("availableReplicas", 0) == want
    )


async def wait_rolled_out(kc: client.ApiClient, name: str, timeout: float = 5) -> dict[str, Any]:
    apps = client.AppsV1Api(kc)
    async with watch.Watch() as w:
        async with asyncio.timeout(timeout):
            async for ev in w.stream(
                apps.list_namespaced_deployment,
                "default",
                field_selector=f"metadata.name={name}",
                timeout_seconds=int(timeout) + 1,
            ):
                if rolled_out(ev["raw_object"]):
                    return ev["raw_object"]
    raise AssertionError("watch ended before the rollout finished")


async def test_namespace_lifecycle(kc):
    core = client.CoreV1Api(kc)
    created = await core.create_namespace({"metadata": {"name": "thinkube-system"}})
    assert created.metadata.uid and created.metadata.resource_version and created.metadata.creation_timestamp
    assert created.status.phase == "Active"
    got = await core.read_namespace("thinkube-system")
    assert got.metadata.labels["kubernetes.io/metadata.name"] == "thinkube-system"
    names = {n.metadata.name for n in (await core.list_namespace()).items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease", "thinkube-system"} <= names
    with pytest.raises(ApiException) as e:
        await core.create_namespace({"metadata": {"name": "thinkube-system"}})
    assert e.value.status == 409 and json.loads(e.value.body)["reason"] == "AlreadyExists"
    await core.create_namespaced_config_map("thinkube-system", cm("x", {"a": "1"}, "thinkube-system"))
    deleting = await core.delete_namespace("thinkube-system")
    # A real namespace terminates first (see test_kubeapi_validation for the details), then goes.
    since = deleting.metadata.resource_version
    async with watch.Watch() as w, asyncio.timeout(5):
        async for ev in w.stream(
            core.list_namespace, field_selector="metadata.name=thinkube-system", resource_version=since
        ):
            if ev["type"] == "DELETED":
                break
    with pytest.raises(ApiException) as e:
        await core.read_namespace("thinkube-system")
    assert e.value.status == 404 and json.loads(e.value.body)["reason"] == "NotFound"
    assert not (await core.list_config_map_for_all_namespaces(field_selector="metadata.name=x")).items
    with pytest.raises(ApiException) as e:
        await core.create_namespace({"metadata": {"name": "Not_A_Label"}})
    assert e.value.status == 422 and "RFC 1123" in json.loads(e.value.body)["message"]


async def test_server_side_apply_creates_then_merges(kc):
    core = client.CoreV1Api(kc)
    first = await core.patch_namespaced_config_map(
        "settings",
        "default",
        cm("settings", {"a": "1", "b": "2"}),
        field_manager="thinkube",
        force=True,
        _content_type=APPLY,
    )
    assert first.data == {"a": "1", "b": "2"}
    # Someone else adds a key; the applier changes one and drops one it owned.
    await core.patch_namespaced_config_map("settings", "default", {"data": {"c": "3"}}, field_manager="operator")
    second = await core.patch_namespaced_config_map(
        "settings", "default", cm("settings", {"a": "10"}), field_manager="thinkube", force=True, _content_type=APPLY
    )
    assert second.data == {"a": "10", "c": "3"}
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    assert second.metadata.uid == first.metadata.uid
    managers = {m.manager: m.operation for m in second.metadata.managed_fields}
    assert managers == {"thinkube": "Apply", "operator": "Update"}
    # Applying the same thing again changes nothing, not even the resourceVersion.
    again = await core.patch_namespaced_config_map(
        "settings", "default", cm("settings", {"a": "10"}), field_manager="thinkube", force=True, _content_type=APPLY
    )
    assert again.metadata.resource_version == second.metadata.resource_version
    # Without force, changing a field another manager owns is a conflict.
    with pytest.raises(ApiException) as e:
        await core.patch_namespaced_config_map(
            "settings", "default", cm("settings", {"c": "4"}), field_manager="thinkube", _content_type=APPLY
        )
    assert e.value.status == 409 and "operator" in json.loads(e.value.body)["message"]


async def test_unknown_field_is_refused(kc):
    core = client.CoreV1Api(kc)
    with pytest.raises(ApiException) as e:
        await core.create_namespaced_config_map(
            "default", cm("bad", {"a": "1"}, datta={"x": "y"}), field_validation="Strict"
        )
    status = json.loads(e.value.body)
    assert e.value.status == 400 and status["reason"] == "BadRequest" and 'unknown field "datta"' in status["message"]
    with pytest.raises(ApiException) as e:
        await client.AppsV1Api(kc).patch_namespaced_deployment(
            "web",
            "default",
            {**deployment("web"), "spec": {**deployment("web")["spec"], "replicas": "two"}},
            field_manager="t",
            force=True,
            _content_type=APPLY,
        )
    assert e.value.status == 422 and "spec.replicas" in json.loads(e.value.body)["message"]


async def test_missing_namespace_is_not_found(kc):
    core = client.CoreV1Api(kc)
    with pytest.raises(ApiException) as e:
        await core.create_namespaced_config_map("nowhere", cm("x", {}, "nowhere"))
    assert e.value.status == 404 and json.loads(e.value.body)["message"] == 'namespaces "nowhere" not found'
    with pytest.raises(ApiException) as e:
        await core.patch_namespaced_config_map(
            "x", "nowhere", cm("x", {}, "nowhere"), field_manager="t", _content_type=APPLY
        )
    assert e.value.status == 404


CERT_MANAGER_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "clusterissuers.cert-manager.io"},
    "spec": {
        "group": "cert-manager.io",
        "scope": "Cluster",
        "names": {
            "kind": "ClusterIssuer",
            "listKind": "ClusterIssuerList",
            "plural": "clusterissuers",
            "singular": "clusterissuer",
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "selfSigned": {
                                        "type": "object",
                                        "properties": {
                                            "crlDistributionPoints": {"type": "array", "items": {"type": "string"}}
                                        },
                                    },
                                    "ca": {
                                        "type": "object",
                                        "required": ["secretName"],
                                        "properties": {"secretName": {"type": "string"}},
                                    },
                                },
                            },
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            }
        ],
    },
}
ISSUER = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "ClusterIssuer",
    "metadata": {"name": "selfsigned"},
    "spec": {"selfSigned": {}},
}


async def test_custom_kind_needs_its_crd(kc):
    custom = client.CustomObjectsApi(kc)
    with pytest.raises(ApiException) as e:
        await custom.create_cluster_custom_object("cert-manager.io", "v1", "clusterissuers", ISSUER)
    assert e.value.status == 404
    groups = await client.ApisApi(kc).get_api_versions()
    assert "cert-manager.io" not in {g.name for g in groups.groups}

    crd = await client.ApiextensionsV1Api(kc).create_custom_resource_definition(CERT_MANAGER_CRD)
    assert {c.type: c.status for c in crd.status.conditions}["Established"] == "True"
    made = await custom.create_cluster_custom_object("cert-manager.io", "v1", "clusterissuers", ISSUER)
    assert made["metadata"]["generation"] == 1
    got = await custom.get_cluster_custom_object("cert-manager.io", "v1", "clusterissuers", "selfsigned")
    assert got["spec"] == {"selfSigned": {}}
    with pytest.raises(ApiException) as e:
        await custom.patch_cluster_custom_object(
            "cert-manager.io",
            "v1",
            "clusterissuers",
            "ca",
            {**ISSUER, "metadata": {"name": "ca"}, "spec": {"ca": {"secretNme": "x"}}},
            field_manager="t",
            _content_type=APPLY,
        )
    # server-side apply refuses unknown fields whatever the fieldValidation
    assert e.value.status == 500 and ".spec.ca.secretNme: field not declared" in json.loads(e.value.body)["message"]
    resources = await client.CustomObjectsApi(kc).api_client.call_api(
        "/apis/cert-manager.io/v1",
        "GET",
        response_types_map={200: "object"},
        auth_settings=["BearerToken"],
        _return_http_data_only=True,
    )
    assert [r["kind"] for r in resources["resources"]] == ["ClusterIssuer", "ClusterIssuer"]


async def test_dynamic_client_discovers_kinds(kc, emu, tmp_path):
    from kubernetes_asyncio.dynamic import DynamicClient

    await client.ApiextensionsV1Api(kc).create_custom_resource_definition(CERT_MANAGER_CRD)
    dyn = await DynamicClient(kc, cache_file=str(tmp_path / "discovery.json"))
    issuers = await dyn.resources.get(api_version="cert-manager.io/v1", kind="ClusterIssuer")
    await dyn.server_side_apply(issuers, body=ISSUER, field_manager="thinkube", force_conflicts=True)
    cms = await dyn.resources.get(api_version="v1", kind="ConfigMap")
    listed = await dyn.get(cms, namespace="kube-system")
    assert listed.kind == "ConfigMapList"
    assert emu.get("cert-manager.io/v1", "ClusterIssuer", "selfsigned")["spec"] == {"selfSigned": {}}


async def test_watch_sees_added_then_modified(kc):
    core = client.CoreV1Api(kc)
    await core.create_namespaced_config_map("default", cm("before", {}))
    seen: list[tuple[str, str]] = []
    started = asyncio.Event()

    async def follow() -> None:
        async with watch.Watch() as w:
            async for ev in w.stream(
                core.list_namespaced_config_map, "default", label_selector="app=web", timeout_seconds=5
            ):
                started.set()
                seen.append((ev["type"], ev["object"].data.get("v")))
                if len(seen) == 3:
                    return

    task = asyncio.create_task(follow())
    await core.create_namespaced_config_map(
        "default", cm("w", {"v": "0"}, metadata={"name": "w", "labels": {"app": "web"}})
    )
    await asyncio.wait_for(started.wait(), 5)
    await core.patch_namespaced_config_map("w", "default", {"data": {"v": "1"}})
    await core.create_namespaced_config_map("default", cm("other", {}))  # not selected
    await core.delete_namespaced_config_map("w", "default")
    await asyncio.wait_for(task, 5)
    assert seen == [("ADDED", "0"), ("MODIFIED", "1"), ("DELETED", "1")]


async def test_watch_resumes_from_resource_version_and_times_out(kc, emu):
    core = client.CoreV1Api(kc)
    first = await core.create_namespaced_config_map("default", cm("a", {}))
    await core.create_namespaced_config_map("default", cm("b", {}))
    t0 = time.monotonic()
    events = []
    async with watch.Watch() as w:
        async for ev in w.stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=first.metadata.resource_version,
            timeout_seconds=1,
        ):
            events.append((ev["type"], ev["object"].metadata.name))
    assert events == [("ADDED", "b")]
    assert 0.9 < time.monotonic() - t0 < 3  # timeoutSeconds ends the stream
    with pytest.raises(ApiException) as e:
        async with watch.Watch() as w:
            async for _ in w.stream(
                core.list_namespaced_config_map, "default", resource_version="1", timeout_seconds=1
            ):
                pass
    assert e.value.status == 410


async def test_deployment_becomes_ready_after_simulated_delay(kc, emu):
    apps = client.AppsV1Api(kc)
    t0 = time.monotonic()
    applied = await apps.patch_namespaced_deployment(
        "web", "default", deployment("web"), field_manager="thinkube", force=True, _content_type=APPLY
    )
    assert applied.metadata.generation == 1 and not rolled_out(kc.sanitize_for_serialization(applied))
    done = await wait_rolled_out(kc, "web")
    assert time.monotonic() - t0 >= 0.2
    assert done["status"]["readyReplicas"] == 2
    # A new image is a new generation: not ready until the controller catches up again.
    changed = await apps.patch_namespaced_deployment(
        "web", "default", deployment("web", "nginx:1.28"), field_manager="thinkube", force=True, _content_type=APPLY
    )
    assert changed.metadata.generation == 2 and changed.status.observed_generation == 1
    assert (await wait_rolled_out(kc, "web"))["status"]["observedGeneration"] == 2


async def test_daemonset_counts_ready_nodes_and_status_subresource(kc, emu):
    emu.set_node("control", labels={"node.kubernetes.io/microk8s-controlplane": "microk8s-controlplane"})
    emu.set_node("gpu1", labels={"nvidia.com/gpu.present": "true"}, gpus=1, address="127.0.0.2")
    emu.set_node("down", ready=False)
    nodes = await client.CoreV1Api(kc).list_node(label_selector="nvidia.com/gpu.present")
    assert [n.metadata.name for n in nodes.items] == ["gpu1"]
    assert nodes.items[0].status.capacity["nvidia.com/gpu"] == "1"
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "kube-system"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "a", "image": "busybox"}]},
            },
        },
    }
    apps = client.AppsV1Api(kc)
    await apps.patch_namespaced_daemon_set("agent", "kube-system", ds, field_manager="t", _content_type=APPLY)
    async with asyncio.timeout(5):
        async with watch.Watch() as w:
            async for ev in w.stream(apps.list_namespaced_daemon_set, "kube-system", timeout_seconds=5):
                s = ev["raw_object"].get("status") or {}
                if s.get("observedGeneration") == 1:
                    break
    assert s["desiredNumberScheduled"] == s["numberReady"] == s["updatedNumberScheduled"] == 2
    # Writes to the main resource keep .status; /status writes only change .status.
    await apps.patch_namespaced_daemon_set_status("agent", "kube-system", {"status": {"numberReady": 1}})
    got = await apps.read_namespaced_daemon_set_status("agent", "kube-system")
    assert got.status.number_ready == 1 and got.metadata.generation == 1


async def test_selectors_and_errors(kc):
    core = client.CoreV1Api(kc)
    for name, tier in (("a", "web"), ("b", "db"), ("c", None)):
        labels = {"tier": tier} if tier else {}
        await core.create_namespaced_config_map("default", {"metadata": {"name": name, "labels": labels}})

    async def names(**kw: str) -> list[str]:
        return [i.metadata.name for i in (await core.list_namespaced_config_map("default", **kw)).items]

    assert await names(label_selector="tier=web") == ["a"]
    assert await names(label_selector="tier in (web,db)") == ["a", "b"]
    assert await names(label_selector="!tier") == ["c"]
    assert await names(label_selector="tier,tier!=web") == ["b"]
    assert await names(field_selector="metadata.name=b") == ["b"]
    old = await core.read_namespaced_config_map("a", "default")
    await core.patch_namespaced_config_map("a", "default", {"data": {"x": "1"}})
    old.data = {"x": "2"}
    with pytest.raises(ApiException) as e:
        await core.replace_namespaced_config_map("a", "default", old)  # stale resourceVersion
    assert e.value.status == 409 and json.loads(e.value.body)["reason"] == "Conflict"
    with pytest.raises(ApiException) as e:
        await core.read_namespaced_config_map("zzz", "default")
    assert json.loads(e.value.body) | {"details": None} == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps "zzz" not found',
        "reason": "NotFound",
        "code": 404,
        "details": None,
    }
    secret = await core.create_namespaced_secret("default", {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    assert secret.data == {"k": "dg=="} and secret.type == "Opaque"


async def test_state_survives_restart(tmp_path):
    async with KubeApiEmulator(state_dir=tmp_path, rollout_delay=0.2) as emu:
        async with await _client(emu) as kc:
            await client.CoreV1Api(kc).create_namespace({"metadata": {"name": "keep"}})
            await client.AppsV1Api(kc).create_namespaced_deployment("default", deployment("web"))
        port, token, rv = emu.port, emu.token, emu.rv
    assert (tmp_path / STATE_FILE).stat().st_mode & 0o777 == 0o600
    # Stopped mid-rollout: the restarted lab finishes it, on the same port with the same token.
    async with KubeApiEmulator(state_dir=tmp_path, rollout_delay=0.2) as emu:
        assert (emu.port, emu.token) == (port, token) and emu.rv == rv
        async with await _client(emu) as kc:
            assert (await client.CoreV1Api(kc).read_namespace("keep")).status.phase == "Active"
            assert (await wait_rolled_out(kc, "web"))["status"]["readyReplicas"] == 2


async def test_wrong_token_is_unauthorized(emu):
    async with await _client(emu, token="wrong") as kc:
        with pytest.raises(ApiException) as e:
            await client.CoreV1Api(kc).list_namespace()
    assert e.value.status == 401
    tls = ssl.create_default_context(cadata=emu.ca.cert_pem.decode())
    async with aiohttp.ClientSession() as s, s.get(emu.url + "/version", ssl=tls) as r:
        assert (await r.json())["platform"] == "thinkube-lab"  # /version is public, like a real server


async def test_rollout_delay_callable_and_never_ready(tmp_path):
    delays = {"slow": 0.3, "stuck": None}
    async with (
        KubeApiEmulator(
            state_dir=tmp_path, speed=3.0, rollout_delay=lambda o: delays.get(o["metadata"]["name"], 0.0)
        ) as emu,
        await _client(emu) as kc,
    ):
        apps = client.AppsV1Api(kc)
        for name in ("fast", "slow", "stuck"):
            await apps.create_namespaced_deployment("default", deployment(name))
        t0 = time.monotonic()
        await wait_rolled_out(kc, "slow")
        assert 0.08 < time.monotonic() - t0 < 1  # 0.3 s divided by speed 3
        assert rolled_out(emu.get("apps/v1", "Deployment", "fast"))
        assert not rolled_out(emu.get("apps/v1", "Deployment", "stuck"))


async def test_merge_json_patch_and_dry_run(kc, emu):
    core = client.CoreV1Api(kc)
    emu.set_node("worker1", labels={"node.kubernetes.io/microk8s-worker": "microk8s-worker"})
    node = await core.patch_node(
        "worker1",
        [
            {"op": "add", "path": "/metadata/labels/thinkube.io~1gpu", "value": "true"},
            {"op": "add", "path": "/spec/taints", "value": [{"key": "gpu", "effect": "NoSchedule"}]},
        ],
    )
    assert node.metadata.labels["thinkube.io/gpu"] == "true" and node.spec.taints[0].key == "gpu"
    emu.set_node("worker1", ready=False)  # the kubelet's update keeps what installers set
    kept = emu.get("v1", "Node", "worker1")
    assert kept["metadata"]["labels"]["thinkube.io/gpu"] == "true" and not node_ready_(kept)
    await core.create_namespaced_config_map("default", cm("m", {"a": "1", "b": "2"}))
    merged = await core.patch_namespaced_config_map(
        "m", "default", {"data": {"a": None, "c": "3"}}, _content_type="application/merge-patch+json"
    )
    assert merged.data == {"b": "2", "c": "3"}
    await core.create_namespaced_config_map("default", cm("dry", {}), dry_run="All")
    assert emu.get("v1", "ConfigMap", "dry") is None


def node_ready_(node: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])


async def test_an_object_read_stays_as_it_was_read(kc, emu):
    """get/list hand out the stored objects without copying: every write -- a put, an apply,
    a patch, a rollout finishing, a delete -- must store a new object, never change one in place."""
    apps = client.AppsV1Api(kc)
    await apps.patch_namespaced_deployment(
        "web", "default", deployment("web"), field_manager="thinkube", force=True, _content_type=APPLY
    )
    read = emu.get("apps/v1", "Deployment", "web", "default")
    listed = emu.list("apps/v1", "Deployment", "default")
    assert read is not None and listed == [read]
    as_read = copy.deepcopy(read)
    await wait_rolled_out(kc, "web")  # the simulated controller writes status
    changed = copy.deepcopy(emu.get("apps/v1", "Deployment", "web", "default"))
    changed["metadata"].setdefault("labels", {})["tier"] = "front"
    emu.put(changed)
    await apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 3}})  # strategic merge
    await apps.patch_namespaced_deployment(
        "web", "default", deployment("web", "nginx:1.28"), field_manager="thinkube", force=True, _content_type=APPLY
    )
    await wait_rolled_out(kc, "web")
    await apps.delete_namespaced_deployment("web", "default")
    assert read == as_read and listed == [as_read]


async def test_the_kubelets_nodes_pass_the_node_schema_the_lab_skips_for_them(emu):
    """set_node writes without the OpenAPI check (two writes per joining node): its objects,
    ready or not, GPU and taints included, must be what the check would let through."""
    for ready, gpus, taints in ((False, 0, None), (True, 2, [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}])):
        node = emu.set_node("tk-gpu-1", ready=ready, labels={"thinkube.io/role": "gpu"}, gpus=gpus, taints=taints)
        assert emu.validator.findings(node) == ([], []), node
