"""Rendering, JSON, and the discover command end to end (local, and with fake nodes)."""

from __future__ import annotations

import io
import json

from rich.console import Console

from tests.discovery.helpers import FakeTransport, probe_output, ubuntu_sections
from thinkube_tui.commands.discover_view import (
    facts_to_json,
    findings_table,
    nodes_table,
    report_json,
    run_discover,
    run_local,
)
from thinkube_tui.discovery import PROBE_SCRIPT, NodeResult, parse_probe_output
from thinkube_tui.facts import Gpu
from thinkube_tui.preflight import Finding


def render(renderable, width: int = 200) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def _facts(name="n1", **kw):
    f = parse_probe_output(
        name, probe_output(ubuntu_sections(hostname=name)), local_sent=1.7e9, local_received=1.7e9 + 1
    )
    from dataclasses import replace

    return replace(f, **kw)


def test_nodes_table_fills_in_as_nodes_answer():
    gpu = Gpu("0000:83:00.0", "2335", "NVIDIA H200", 143771, "590.48.01", "9.0", "Enabled", 5, "GPU-0", 0, "nvidia")
    bare = Gpu("0000:01:00.0", "2684", None, kernel_driver="nouveau")
    results = [
        NodeResult("n1", _facts("n1", gpus=(gpu, bare)), None, 0.1),
        NodeResult("n2", None, "could not connect: Connection refused", 0.1),
    ]
    text = render(nodes_table(results, pending=["n3"]))
    assert "NVIDIA H200 · 140 GiB · driver 590.48.01 · cc 9.0 · MIG ×5" in text
    assert "NVIDIA [10de:2684] · no driver (nouveau)" in text
    assert "Ubuntu 24.04.2 LTS" in text and "62.5 GiB" in text and "10.0.0.11" in text
    assert "Connection refused" in text and "discovering…" in text
    assert "n3" in text


def test_markup_in_names_is_not_interpreted():
    text = render(nodes_table([NodeResult("[bold]x[/bold]", None, "[red]boom", 0.0)]))
    assert "[bold]x[/bold]" in text and "[red]boom" in text


def test_findings_table():
    assert "all checks passed" in render(findings_table([]))
    text = render(findings_table([Finding("ram", "error", "n1", "n1 has 2 GiB", "Add RAM")]))
    assert "error" in text and "ram" in text and "Add RAM" in text


def test_facts_to_json_is_plain_data():
    f = _facts(listening_ports=frozenset({25000, 22}))
    data = facts_to_json(f)
    json.dumps(data)
    assert data["listening_ports"] == [22, 25000]
    assert data["clock"]["offset_s"] == f.clock.offset_s
    assert data["os"]["version_id"] == "24.04"
    rep = report_json([NodeResult("n1", f, None, 0.5, transport=FakeTransport("n1"))], [])
    assert "transport" not in rep["nodes"][0] and rep["errors"] == 0
    json.dumps(rep)


async def test_run_local_json():
    out = io.StringIO()
    rc = await run_local(True, console=Console(file=out, width=120))
    data = json.loads(out.getvalue())
    assert rc in (0, 3)
    assert rc == (3 if data["errors"] else 0)
    (n,) = data["nodes"]
    assert n["ok"] and n["facts"]["cpu"]["count"] >= 1


async def test_run_local_table():
    out = io.StringIO()
    rc = await run_local(False, console=Console(file=out, width=160, color_system=None))
    text = out.getvalue()
    assert "Nodes" in text and "Preflight" in text and rc in (0, 3)


def _target(t):
    async def connect():
        return t

    return (t.node, connect)


async def test_run_discover_with_fake_nodes_and_resolution():
    ctl = FakeTransport(
        "n1",
        probe_output(ubuntu_sections("n1", "10.0.0.11")),
        responses={"getent": "@@ n2\n10.0.0.12 STREAM n2\n@@ n3\n"},
    )
    assert "getent" not in PROBE_SCRIPT  # so the fake answers the probe with stdout, getent with responses
    n2 = FakeTransport("n2", probe_output(ubuntu_sections("n2", "10.0.0.12")))
    n3 = FakeTransport("n3", probe_output(ubuntu_sections("n3", "10.0.0.13")), delay=0.1)
    out = io.StringIO()
    rc = await run_discover(
        [_target(ctl), _target(n2), _target(n3)], json_out=True, control="n1", skip=set(), console=Console(file=out)
    )
    data = json.loads(out.getvalue())
    assert [n["node"] for n in data["nodes"]] == ["n1", "n2", "n3"]  # given order, not arrival order
    assert [(f["check"], f["node"]) for f in data["findings"]] == [("hostname-resolves", "n3")]
    assert rc == 3


async def test_run_discover_unreachable_node_and_skip():
    async def refused():
        raise OSError("Connection refused")

    n1 = FakeTransport("n1", probe_output(ubuntu_sections("n1")))
    out = io.StringIO()
    rc = await run_discover(
        [_target(n1), ("n2", refused)],
        json_out=False,
        control=None,
        skip={"hostname-resolves"},
        console=Console(file=out, width=160, color_system=None),
    )
    text = out.getvalue()
    assert rc == 3 and "reachable" in text and "Connection refused" in text


async def test_run_discover_bad_arguments():
    n1 = FakeTransport("n1", probe_output(ubuntu_sections("n1")))
    out = io.StringIO()
    assert (
        await run_discover([_target(n1)], json_out=False, control=None, skip={"nope"}, console=Console(file=out)) == 2
    )
    assert "unknown preflight check" in out.getvalue()
    assert await run_discover([_target(n1)], json_out=False, control="zz", skip=set(), console=Console(file=out)) == 2
    assert not n1.commands  # nothing was run


async def test_run_discover_live_on_a_terminal():
    nodes = [
        FakeTransport(f"n{i}", probe_output(ubuntu_sections(f"n{i}", f"10.0.0.{10 + i}")), delay=0.05 * i)
        for i in range(1, 4)
    ]
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=True, color_system=None)
    rc = await run_discover(
        [_target(n) for n in nodes], json_out=False, control="n1", skip={"hostname-resolves"}, console=console
    )
    text = out.getvalue()
    assert rc == 0 and "n3" in text and "all checks passed" in text
