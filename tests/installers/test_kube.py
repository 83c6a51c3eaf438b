"""The installers' Kubernetes client against the lab's API emulator."""

import asyncio

import pytest
import yaml

from thinkube_lab.kubeapi import KubeApiEmulator
from thinkube_tui.kube import Kube, KubeError


@pytest.fixture
async def emu():
    async with KubeApiEmulator(rollout_delay=0.2) as api:
        yield api


@pytest.fixture
async def kube(emu):
    k = await Kube.from_kubeconfig(yaml.safe_dump(emu.kubeconfig()))
    yield k
    await k.close()


def deployment(name, ns, replicas=2):
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": "nginx:1.27"}]},
            },
        },
    }


async def test_apply_is_idempotent_and_converges(kube):
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}
    await kube.apply(ns)
    await kube.apply(ns)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "demo"}, "data": {"a": "1"}}
    first = await kube.apply(cm)
    again = await kube.apply(cm)
    assert first["metadata"]["resourceVersion"] == again["metadata"]["resourceVersion"]
    changed = await kube.apply({**cm, "data": {"b": "2"}})
    assert changed["data"] == {"b": "2"}  # a field this manager stopped setting is removed
    assert (await kube.get("v1", "ConfigMap", "c", "demo"))["data"] == {"b": "2"}
    assert await kube.get("v1", "ConfigMap", "missing", "demo") is None


async def test_invalid_object_error_names_the_field(kube):
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}, "dataa": {}}
    with pytest.raises(KubeError, match="dataa"):
        await kube.apply(bad)


async def test_unknown_kind_says_crd_missing(kube):
    with pytest.raises(KubeError, match="is its CRD installed"):
        await kube.apply({"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "x"}})


async def test_wait_rollout_follows_the_deployment(kube, emu):
    await kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}})
    await kube.apply(deployment("web", "web"))
    obj = await asyncio.wait_for(kube.wait_rollout("Deployment", "web", "web", timeout=10), 15)
    assert obj["status"]["readyReplicas"] == 2


async def test_wait_times_out_with_the_status(kube, emu):
    emu_never = KubeApiEmulator(rollout_delay=lambda obj: None)
    async with emu_never as api:
        k = await Kube.from_kubeconfig(yaml.safe_dump(api.kubeconfig()))
        await k.apply(deployment("stuck", "default", 1))
        with pytest.raises(KubeError, match=r"Deployment default/stuck: not ready after 1 s"):
            await k.wait_rollout("Deployment", "stuck", "default", timeout=1)
        await k.close()


async def test_wait_node_ready(kube, emu):
    emu.set_node("tk-worker", ready=False)
    waiting = asyncio.create_task(kube.wait_node_ready("tk-worker", timeout=10))
    await asyncio.sleep(0)
    emu.set_node("tk-worker", ready=True)
    node = await asyncio.wait_for(waiting, 15)
    assert node["metadata"]["name"] == "tk-worker"


async def test_writes_ask_for_strict_field_validation(kube):
    """A server's default drops a misspelt field with a warning; the installers' writes refuse it."""
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}, "dataa": {}}
    with pytest.raises(KubeError, match='strict decoding error: unknown field "dataa"'):
        await kube.create(bad)
    await kube.create({k: v for k, v in bad.items() if k != "dataa"})
    with pytest.raises(KubeError, match='strict decoding error: unknown field "dataa"'):
        await kube.merge_patch("v1", "ConfigMap", "c", "default", {"dataa": {"x": "y"}})
    current = await kube.get("v1", "ConfigMap", "c", "default")
    with pytest.raises(KubeError, match='unknown field "dataa"'):
        await kube.replace({**current, "dataa": {}})


async def test_ensure_creates_a_changed_job_anew(kube):
    """A re-run with other settings changes a Job's template, which a real API server refuses
    ("field is immutable"): `ensure` deletes the Job and creates it anew."""
    from thinkube_tui.installers.support.objects import ensure

    class Ctx:
        def __init__(self):
            self.logs = []

        async def kube(self):
            return kube

        def log(self, message):
            self.logs.append(message)

    def job(value):
        container = {"name": "run", "image": "busybox:1.36", "env": [{"name": "SETTING", "value": value}]}
        spec = {"template": {"spec": {"restartPolicy": "Never", "containers": [container]}}}
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "once", "namespace": "default"},
            "spec": spec,
        }

    ctx = Ctx()
    assert await ensure(ctx, job("a"))
    assert not await ensure(ctx, job("a"))
    first = await kube.get("batch/v1", "Job", "once", "default")
    assert await ensure(ctx, job("b"))
    live = await kube.get("batch/v1", "Job", "once", "default")
    assert live["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "b"
    assert live["metadata"]["uid"] != first["metadata"]["uid"]
