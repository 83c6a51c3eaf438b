"""A node away for 1-3 s while the installer opens a session on it (a restart, a network blip):
the connection closes under the session open, then the port refuses for a while. That is
transient -- retried with backoff within the step's budget -- and the install succeeds.

The lab's `outage` fault fires at a session open: the node drops every connection and closes
its port for `down_for` real seconds. It is armed once the install has recorded a step, so it
hits the install, not discovery.
"""

import asyncio
import io
import os

import pytest

from thinkube_lab.cluster import Lab
from thinkube_lab.faults import Fault
from thinkube_tui.headless import HeadlessOptions, run
from thinkube_tui.journal import Journal

SPEED = 0.05


@pytest.fixture
async def lab(tmp_path):
    async with Lab(tmp_path / "lab", nodes=3, gpus=1, speed=SPEED, log=lambda _m: None) as lab:
        os.environ["TK_LAB_SUDO_PASSWORD"] = lab.sudo_password
        yield lab
    os.environ.pop("TK_LAB_SUDO_PASSWORD", None)


def steps_done(path) -> int:
    try:
        return sum(len(rec.steps_done) for rec in Journal.open(path).components.values())
    except FileNotFoundError:
        return 0


@pytest.mark.parametrize(("node", "down_for"), [("tk-control", 1.0), ("tk-worker-1", 2.0), ("tk-gpu-1", 3.0)])
async def test_a_node_away_for_seconds_during_a_session_open_is_waited_for(lab, tmp_path, node, down_for):
    answers = lab.write_answers(tmp_path / "answers.yaml")
    out = io.StringIO()
    opts = HeadlessOptions(
        answers=answers,
        yes=True,
        state_dir=tmp_path / "state",
        known_hosts=tmp_path / "kh",
        interactive_output=False,
        only=frozenset({"microk8s-workers"}),
    )
    install = asyncio.create_task(run(opts, out=out, err=out))
    journal = tmp_path / "state" / "thinkube-lab" / "journal.json"
    while steps_done(journal) < 1 and not install.done():
        await asyncio.sleep(0.01)  # polling the journal: the condition we wait for
    outage = Fault("outage", node=node, times=1, down_for=down_for)
    lab.faults.faults.append(outage)

    code = await asyncio.wait_for(install, 180)
    text = out.getvalue()
    assert outage.fired == 1, text[-3000:]  # the outage did hit a session open of the install
    assert code == 0, text[-3000:]
    assert "refused a new session" not in text and "nothing listens" not in text
    for name, lab_node in lab.nodes.items():
        assert lab_node.counters["snap-install:microk8s"] == 1, (name, dict(lab_node.counters))
        assert lab_node.counters["join"] <= 1, (name, dict(lab_node.counters))
