"""SSH faults injected by the lab during a real install: retried where safe, else clear failures.

Also re-entry: adding a component later leaves what is installed alone.
"""

import asyncio
import io
import os

import pytest

from thinkube_lab.cluster import Lab
from thinkube_lab.faults import Fault
from thinkube_tui.headless import HeadlessOptions, run

SPEED = 0.05


@pytest.fixture
async def lab(tmp_path):
    async with Lab(tmp_path / "lab", nodes=3, gpus=1, speed=SPEED, log=lambda _m: None) as lab:
        os.environ["TK_LAB_SUDO_PASSWORD"] = lab.sudo_password
        yield lab
    os.environ.pop("TK_LAB_SUDO_PASSWORD", None)


async def install(lab, tmp_path, *only, timeout=120, **options):
    answers = lab.write_answers(tmp_path / "answers.yaml", components={"valkey": {"enabled": True}})
    out = io.StringIO()
    opts = HeadlessOptions(
        answers=answers,
        yes=True,
        state_dir=tmp_path / "state",
        known_hosts=tmp_path / "kh",
        interactive_output=False,
        only=frozenset(only or ("microk8s-workers",)),
        **options,
    )
    code = await asyncio.wait_for(run(opts, out=out, err=out), timeout)
    return code, out.getvalue()


async def test_a_step_that_fails_once_is_reported_then_retried(lab, tmp_path):
    lab.faults.faults.append(
        Fault(
            "fail",
            node="tk-worker-1",
            pattern="snap install",
            times=1,
            message="error: cannot communicate with server: timeout",
        )
    )
    code, out = await install(lab, tmp_path)
    assert code == 1
    assert "[microk8s-workers] FAILED (node tk-worker-1, step 'tk-worker-1: install the MicroK8s snap')" in out
    assert "last output: error: cannot communicate with server: timeout" in out
    assert "- microk8s-control: done" in out  # what did not depend on it finished
    assert "run the same command again" in out

    code, out = await install(lab, tmp_path)
    assert code == 0, out
    assert "skipped: already installed" in out  # microk8s-control is not run again
    assert all(node.counters["snap-install:microk8s"] == 1 for node in lab.nodes.values())


async def test_a_dropped_connection_is_retried(lab, tmp_path):
    lab.faults.faults.append(Fault("drop", node="tk-control", pattern="status --wait-ready", times=1))
    code, out = await install(lab, tmp_path)
    assert code == 0, out
    assert "trying again" in out and "tk-control" in out


async def test_refused_handshakes_are_retried(lab, tmp_path):
    lab.faults.faults.append(Fault("refuse", node="tk-worker-1", times=2))
    code, out = await install(lab, tmp_path)
    assert code == 0, out


async def test_a_hanging_command_is_bounded_and_the_rest_goes_on(lab, tmp_path):
    lab.faults.faults.append(Fault("hang", node="tk-gpu-1", pattern="snap install"))
    code, out = await install(lab, tmp_path, "microk8s-workers", "valkey", component_timeout_s=6)
    assert code == 1
    assert "[microk8s-workers] FAILED" in out and "did not finish within 6 s" in out
    assert "[valkey] blocked" in out  # it requires the workers


async def test_reentry_adds_a_component_without_rerunning_the_rest(lab, tmp_path):
    code, _ = await install(lab, tmp_path)
    assert code == 0
    before = {name: dict(node.counters) for name, node in lab.nodes.items()}
    code, out = await install(lab, tmp_path, "valkey")
    assert code == 0, out
    assert "plan: 1 component, about" in out, out
    for name, node in lab.nodes.items():
        changed = {k: v for k, v in node.counters.items() if before[name].get(k) != v}
        assert all(k.startswith("helm-") for k in changed), (name, changed)
    assert lab.kube.get("apps/v1", "Deployment", "valkey", "valkey") is not None


async def test_a_node_rebooting_during_its_step_is_waited_for(lab, tmp_path):
    lab.faults.faults.append(Fault("reboot", node="tk-worker-1", pattern="status --wait-ready", times=1, down_for=1.0))
    code, out = await install(lab, tmp_path)
    assert code == 0, out
    assert "trying again" in out


async def test_a_node_gone_for_good_fails_its_component_and_the_rest_finishes(lab, tmp_path):
    # From its first install command on, tk-gpu-1 drops every connection: it is gone.
    lab.faults.faults.append(Fault("drop", node="tk-gpu-1", pattern="snap install"))
    code, out = await asyncio.wait_for(install(lab, tmp_path, "microk8s-workers", "metallb"), 90)
    assert code == 1
    assert "FAILED (node tk-gpu-1, step 'tk-gpu-1: install the MicroK8s snap')" in out
    assert "the connection dropped while running" in out
    assert "- metallb: done" in out  # independent of the lost node: finished
    assert "run the same command again" in out


async def test_a_changed_host_key_is_refused_like_a_man_in_the_middle(lab, tmp_path):
    import asyncssh

    code, _ = await install(lab, tmp_path)  # the nodes' keys are now known (pinned and remembered)
    assert code == 0
    server = lab.servers["tk-worker-1"]
    old = server.fingerprint
    await server.stop()
    server.host_key = asyncssh.generate_private_key("ssh-ed25519")  # someone else answers on that address
    await server.start()
    code, out = await install(lab, tmp_path)
    assert code == 3  # preflight: nothing was changed
    assert "HOST KEY" in out.upper() and old in out and server.fingerprint in out
    assert "ssh-keygen -R" in out


async def test_changed_settings_of_an_installed_component_are_reported_not_reapplied(lab, tmp_path):
    code, _ = await install(lab, tmp_path)
    assert code == 0
    answers = lab.write_answers(
        tmp_path / "answers.yaml",
        components={"valkey": {"enabled": True}, "microk8s-workers": {"joinTimeoutSeconds": 900}},
    )
    before = {name: dict(node.counters) for name, node in lab.nodes.items()}
    out = io.StringIO()
    opts = HeadlessOptions(
        answers=answers,
        yes=True,
        state_dir=tmp_path / "state",
        known_hosts=tmp_path / "kh",
        interactive_output=False,
        only=frozenset({"microk8s-workers"}),
    )
    assert await asyncio.wait_for(run(opts, out=out, err=out), 120) == 0
    assert "microk8s-workers's settings changed since it was installed; they are not re-applied" in out.getvalue()
    assert "nothing to do" in out.getvalue()
    assert {name: dict(node.counters) for name, node in lab.nodes.items()} == before
