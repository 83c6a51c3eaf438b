"""The whole lab: clustering, Helm releases, faults and restarts, over real SSH and the Kube API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncssh
import pytest
import yaml
from kubernetes_asyncio import client, config, watch

from thinkube_lab.agent import token_key
from thinkube_lab.cluster import Lab
from thinkube_lab.faults import Fault, Faults

SPEED = 0.01
TOKEN = "0123456789abcdef0123456789abcdef"


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[Lab]:
    async with Lab(tmp_path / "lab", nodes=3, gpus=1, speed=SPEED, log=lambda m: None) as lab:
        yield lab


def connect(lab: Lab, name: str, **kw: Any):
    lab.write_known_hosts(lab.state_dir / "known_hosts.test")
    port = lab.addresses()[name]["port"]
    return asyncssh.connect(
        "127.0.0.1",
        port,
        username="thinkube",
        client_keys=[str(lab.client_key)],
        known_hosts=str(lab.state_dir / "known_hosts.test"),
        agent_path=None,
        **kw,
    )


async def run(lab: Lab, name: str, command: str, input: str = "", sudo: bool = False) -> asyncssh.SSHCompletedProcess:
    if sudo:
        command, input = f"sudo -k -S -p '' {command}", lab.sudo_password + "\n" + input
    async with connect(lab, name) as conn:
        return await conn.run(command, input=input)


async def kube(lab: Lab) -> client.ApiClient:
    r = await run(lab, "tk-control", "microk8s config", sudo=True)
    assert r.exit_status == 0, r.stderr
    cfg = client.Configuration()
    await config.load_kube_config_from_dict(yaml.safe_load(r.stdout), client_configuration=cfg)
    return client.ApiClient(cfg)


async def wait_for(list_fn: Callable[..., Any], cond: Callable[[Any], bool], timeout: float = 10, **kw: Any) -> Any:
    """Watch `list_fn` until an object satisfies `cond` (like `kubectl wait`)."""
    async with asyncio.timeout(timeout):
        items = await list_fn(**kw)
        for obj in items.items:
            if cond(obj):
                return obj
        w = watch.Watch()
        async with w.stream(list_fn, resource_version=items.metadata.resource_version, **kw) as stream:
            async for event in stream:
                if cond(event["object"]):
                    return event["object"]
    raise AssertionError("watch ended")


def node_ready(name: str) -> Callable[[Any], bool]:
    return lambda n: (
        n.metadata.name == name and any(c.type == "Ready" and c.status == "True" for c in (n.status.conditions or []))
    )


async def install_control(lab: Lab) -> None:
    for cmd in ("snap install microk8s --classic --channel=1.33/stable", "microk8s status --wait-ready"):
        r = await run(lab, "tk-control", cmd, sudo=True)
        assert r.exit_status == 0, r.stderr


async def test_add_node_and_join(lab: Lab) -> None:
    await install_control(lab)
    r = await run(lab, "tk-control", f"microk8s add-node --token-ttl 3600 --format yaml --token {TOKEN}", sudo=True)
    info = yaml.safe_load(r.stdout)
    url = info["urls"][0]
    assert url.startswith("10.42.0.11:25000/" + TOKEN)
    r = await run(lab, "tk-worker-1", "snap install microk8s --classic --channel=1.33/stable", sudo=True)
    assert r.exit_status == 0
    r = await run(lab, "tk-worker-1", f"microk8s join {url} --worker", sudo=True)
    assert r.exit_status == 0 and "has joined the cluster" in r.stdout, r.stdout + r.stderr
    async with await kube(lab) as api:
        v1 = client.CoreV1Api(api)
        node = await wait_for(v1.list_node, node_ready("tk-worker-1"))
        assert node.status.addresses[0].address == "10.42.0.12"
    # A token with a TTL is not used up (MicroK8s' agent removes only tokens without one): a
    # second worker joins with it, and the counters say one join each.
    r = await run(lab, "tk-gpu-1", "snap install microk8s --classic --channel=1.33/stable", sudo=True)
    r = await run(lab, "tk-gpu-1", f"microk8s join {url} --worker", sudo=True)
    assert r.exit_status == 0, r.stdout
    assert lab.nodes["tk-worker-1"].counters["join"] == 1 and lab.nodes["tk-gpu-1"].counters["join"] == 1
    r = await run(lab, "tk-worker-1", "microk8s status --format yaml", sudo=True)
    assert "acting as a node in a cluster" in r.stdout
    r = await run(lab, "tk-worker-1", "test -e /var/snap/microk8s/current/var/lock/clustered.lock && echo yes")
    assert r.stdout == "yes\n"


async def test_helm_upgrade_install_creates_a_ready_deployment(lab: Lab) -> None:
    await install_control(lab)
    helm = (
        "microk8s helm3 upgrade --install valkey valkey --repo https://charts.example.invalid --version 1.2.3 "
        "--namespace valkey --create-namespace --wait --timeout 5m -f -"
    )
    r = await run(lab, "tk-control", helm, input="replicas: 1\nauth:\n  enabled: true\n", sudo=True)
    assert r.exit_status == 0, r.stderr
    assert 'Release "valkey" does not exist. Installing it now.' in r.stdout and "REVISION: 1" in r.stdout
    async with await kube(lab) as api:
        apps = client.AppsV1Api(api)
        dep = await wait_for(
            apps.list_namespaced_deployment,
            lambda d: d.metadata.name == "valkey" and (d.status.ready_replicas or 0) >= 1,
            namespace="valkey",
        )
        assert dep.metadata.labels["app.kubernetes.io/managed-by"] == "Helm"
    r = await run(lab, "tk-control", helm, input="replicas: 1\n", sudo=True)
    assert "has been upgraded" in r.stdout and "REVISION: 2" in r.stdout
    r = await run(lab, "tk-control", "microk8s helm3 list -n valkey -o json", sudo=True)
    (item,) = json.loads(r.stdout)
    got = (item["name"], item["revision"], item["chart"], item["status"])
    assert got == ("valkey", "2", "valkey-1.2.3", "deployed")
    counters = lab.nodes["tk-control"].counters
    assert counters["helm-install:valkey/valkey"] == 1 and counters["helm-upgrade:valkey/valkey"] == 1
    assert lab.releases["valkey/valkey"]["values"] == {"replicas": 1}


async def test_fault_fail_once(lab: Lab) -> None:
    lab.faults.add("fail", node="tk-worker-1", pattern=r"^uname", times=1, message="boom")
    r1 = await run(lab, "tk-worker-1", "uname -m")
    r2 = await run(lab, "tk-worker-1", "uname -m")
    assert (r1.exit_status, r1.stderr) == (1, "boom\n")
    assert (r2.exit_status, r2.stdout) == (0, "x86_64\n")


async def test_fault_drop_mid_command(lab: Lab) -> None:
    lab.faults.add("drop", node="tk-control", pattern="cat /proc/cpuinfo", after_bytes=100)
    async with connect(lab, "tk-control") as conn:
        with pytest.raises(
            (
                asyncssh.ConnectionLost,
                asyncssh.DisconnectError,
                asyncssh.ChannelOpenError,
                BrokenPipeError,
                ConnectionError,
            )
        ):
            r = await conn.run("cat /proc/cpuinfo")
            assert r.exit_status is None  # no exit status: treat like a lost connection
            raise ConnectionError("dropped")


async def test_fault_hang_until_killed(lab: Lab) -> None:
    lab.faults.add("hang", node="tk-control", pattern="microk8s status")
    async with connect(lab, "tk-control") as conn:
        proc = await conn.create_process('echo "pgid:$$" >&2; microk8s status')
        line = await proc.stderr.readline()
        pgid = int(line.split(":")[1])
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(proc.wait(), 0.3)
        r = await conn.run(f"kill -KILL -{pgid}")
        assert r.exit_status == 0
        await asyncio.wait_for(proc.wait(), 5)
        assert proc.exit_signal is not None and proc.exit_signal[0] == "KILL"


async def test_fault_refused_handshake(lab: Lab) -> None:
    lab.faults.add("refuse", node="tk-gpu-1", times=2)
    for _ in range(2):
        with pytest.raises((asyncssh.ConnectionLost, ConnectionError, asyncssh.DisconnectError)):
            async with connect(lab, "tk-gpu-1"):
                pass
    r = await run(lab, "tk-gpu-1", "hostname")
    assert r.stdout == "tk-gpu-1\n"


async def test_fault_reboot(lab: Lab) -> None:
    lab.faults.add("reboot", node="tk-worker-1", pattern="reboot", times=1, down_for=0.3)
    async with connect(lab, "tk-worker-1") as conn:
        with pytest.raises((asyncssh.ConnectionLost, asyncssh.DisconnectError, ConnectionError)):
            r = await conn.run("sudo reboot")
            raise ConnectionError(str(r))
    with pytest.raises(OSError):
        async with connect(lab, "tk-worker-1"):
            pass
    async with asyncio.timeout(5):
        while True:
            try:
                r = await run(lab, "tk-worker-1", "true")
                break
            except OSError:
                await asyncio.sleep(0.05)
    assert r.exit_status == 0 and lab.nodes["tk-worker-1"].reboots == 1


def test_faults_file(tmp_path: Path) -> None:
    p = tmp_path / "faults.yaml"
    p.write_text("faults:\n  - {kind: fail, node: tk-control, pattern: join, times: 1}\n  - {kind: refuse, times: 3}\n")
    f = Faults.load(p)
    assert f.faults == [Fault("fail", node="tk-control", pattern="join", times=1), Fault("refuse", times=3)]
    with pytest.raises(ValueError):
        Faults.from_data({"faults": [{"kind": "explode"}]})


async def test_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "lab"
    async with Lab(state, nodes=2, gpus=0, speed=SPEED, log=lambda m: None) as lab:
        await install_control(lab)
        await run(lab, "tk-control", "usermod -a -G microk8s thinkube", sudo=True)
        r = await run(lab, "tk-control", f"microk8s add-node --token {TOKEN} --format token", sudo=True)
        await run(lab, "tk-control", "echo kept > /tmp/note")
        ports = {n: a["port"] for n, a in lab.addresses().items()}
        fingerprints = {n: a["fingerprint"] for n, a in lab.addresses().items()}
        answers = lab.write_answers(tmp_path / "answers.yaml", components=["valkey"])
        sudo_password = lab.sudo_password
    async with Lab(state, nodes=2, gpus=0, speed=SPEED, log=lambda m: None) as lab:
        assert {n: a["port"] for n, a in lab.addresses().items()} == ports
        assert {n: a["fingerprint"] for n, a in lab.addresses().items()} == fingerprints
        r = await run(lab, "tk-control", "snap list microk8s; microk8s status --format yaml; cat /tmp/note")
        assert r.exit_status == 0 and "1.33/stable" in r.stdout and r.stdout.endswith("kept\n")
        assert lab.nodes["tk-control"].counters["snap-install:microk8s"] == 1
        assert token_key(TOKEN) in lab.tokens and TOKEN not in json.dumps(lab.tokens)
        async with await kube(lab) as api:
            await wait_for(client.CoreV1Api(api).list_node, node_ready("tk-control"))
    doc = yaml.safe_load(answers.read_text())
    assert doc["nodes"][0]["hostKey"] == fingerprints["tk-control"]
    assert doc["nodes"][0]["sudoPassword"] == {"env": "TK_LAB_SUDO_PASSWORD"}
    assert sudo_password not in answers.read_text()
    from thinkube_tui.spec import parse_answers

    spec = parse_answers(answers.read_text(), str(answers))  # a valid answers file for thinkube-tui
    assert spec is not None


async def test_state_writes_form_one_chain_never_two_at_once(tmp_path):
    """An explicit save and the debounced one used to write the same temporary file at once
    (FileNotFoundError when one renamed it from under the other, seen under load)."""
    import threading
    import time

    async with Lab(tmp_path / "lab", nodes=1, gpus=0, speed=0.05, log=lambda _m: None) as lab:
        write = lab._write_state
        guard = threading.Lock()
        active, most = 0, 0

        def slow_write(data):
            nonlocal active, most
            with guard:
                active += 1
                most = max(most, active)
            time.sleep(0.02)  # widens the window in which two writers would meet
            write(data)
            with guard:
                active -= 1

        lab._write_state = slow_write
        lab._save()  # a debounced save under way
        explicit = asyncio.ensure_future(lab.save())
        await asyncio.sleep(0)
        lab._save()  # another change while the explicit save waits
        await explicit
        await lab._saving
        assert most == 1


async def test_a_join_is_verified_by_the_certificate_fingerprint(lab: Lab) -> None:
    """add-node prints `<token>/<check>`; join refuses a wrong check, and a join without one
    (which real MicroK8s takes without verifying the control node) is counted and warned about."""
    await install_control(lab)
    for worker in ("tk-worker-1", "tk-gpu-1"):
        r = await run(lab, worker, "snap install microk8s --classic --channel=1.33/stable", sudo=True)
        assert r.exit_status == 0
    r = await run(lab, "tk-control", f"microk8s add-node --token-ttl 3600 --format yaml --token {TOKEN}", sudo=True)
    token, check = yaml.safe_load(r.stdout)["token"].split("/")
    wrong = "0" * len(check) if check != "0" * len(check) else "1" * len(check)
    r = await run(lab, "tk-worker-1", f"microk8s join 10.42.0.11:25000/{token}/{wrong} --worker", sudo=True)
    assert r.exit_status == 4 and "Could not verify the identity of 10.42.0.11" in r.stdout
    other = "b" * 32
    await run(lab, "tk-control", f"microk8s add-node --token-ttl 3600 --token {other}", sudo=True)
    r = await run(lab, "tk-gpu-1", f"microk8s join 10.42.0.11:25000/{other} --worker", sudo=True)
    assert r.exit_status == 0 and "did not verify the control node" in r.stderr
    assert lab.nodes["tk-gpu-1"].counters["join-unverified"] == 1


async def test_microk8s_reset_is_for_a_single_node_and_removes_what_was_created(lab: Lab) -> None:
    """As MicroK8s' reset: refused on a joined worker and while other nodes are joined; then
    addons disabled and every namespace but Kubernetes' own gone, MicroK8s still installed."""
    await install_control(lab)
    r = await run(lab, "tk-worker-1", "snap install microk8s --classic --channel=1.33/stable", sudo=True)
    assert r.exit_status == 0
    await run(lab, "tk-control", f"microk8s add-node --token-ttl 3600 --token {TOKEN}", sudo=True)
    r = await run(lab, "tk-worker-1", f"microk8s join 10.42.0.11:25000/{TOKEN} --worker", sudo=True)
    assert r.exit_status == 0, r.stdout + r.stderr
    lab.kube.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "qdrant"}})

    r = await run(lab, "tk-worker-1", "microk8s reset", sudo=True)
    assert r.exit_status == 1 and "acting as a node in a cluster" in r.stdout
    r = await run(lab, "tk-control", "microk8s reset", sudo=True)
    assert r.exit_status == 1 and "Please remove all joined nodes before calling reset" in r.stdout
    assert lab.kube.get("v1", "Namespace", "qdrant") is not None, "a refused reset changes nothing"

    assert (await run(lab, "tk-worker-1", "snap remove microk8s", sudo=True)).exit_status == 0
    r = await run(lab, "tk-control", "microk8s reset --destroy-storage", sudo=True)
    assert r.exit_status == 0, r.stdout + r.stderr
    assert "Disabling addon : dns" in r.stdout
    control = lab.nodes["tk-control"]
    assert control.microk8s.installed and control.microk8s.addons == []
    namespace = lab.kube.get("v1", "Namespace", "qdrant")
    assert namespace is None or namespace["metadata"].get("deletionTimestamp")
    assert lab.kube.get("v1", "Namespace", "kube-system") is not None
    assert control.counters["microk8s-reset"] == 1
