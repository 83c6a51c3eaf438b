"""The probe on this very machine, and concurrent discovery of many nodes."""

from __future__ import annotations

import asyncio
import os
import platform
import socket
import time

import pytest

from tests.discovery.helpers import FakeTransport, probe_output, ubuntu_sections
from thinkube_tui.discovery import (
    PROBE_SCRIPT,
    DiscoveryError,
    discover,
    discover_all,
    normalise_arch,
    resolve_hostnames,
)
from thinkube_tui.transport import LocalTransport


async def test_local_probe_matches_what_python_reads():
    facts = await discover(LocalTransport("here"), timeout=60)
    assert facts.node == "here"
    assert facts.hostname == socket.gethostname()
    assert facts.cpu.count == os.cpu_count()
    with open("/proc/meminfo") as fh:
        mem_kb = next(int(line.split()[1]) for line in fh if line.startswith("MemTotal:"))
    assert facts.memory_bytes == mem_kb * 1024
    assert facts.machine == platform.machine()
    assert facts.arch == normalise_arch(platform.machine())
    assert facts.kernel == platform.release()
    assert facts.os.id is not None
    with open("/etc/machine-id") as fh:
        assert facts.machine_id == fh.read().strip()
    st = os.statvfs("/")
    assert facts.root_fs is not None
    # free space moves while tests run; allow 1 GiB
    assert abs(facts.root_fs.avail_bytes - st.f_bavail * st.f_frsize) < 1024**3
    assert facts.clock is not None and abs(facts.clock.offset_s) < 1.0
    assert facts.warnings == ()


def test_probe_script_is_posix_sh():
    """dash (Ubuntu's /bin/sh) must accept it: check the syntax with `sh -n`."""
    import subprocess

    for shell in ("/bin/sh", "/bin/dash"):
        if os.path.exists(shell):
            r = subprocess.run([shell, "-n"], input=PROBE_SCRIPT, capture_output=True, text=True)
            assert r.returncode == 0, r.stderr


async def test_probe_is_one_command():
    t = FakeTransport("a", probe_output(ubuntu_sections()))
    await discover(t)
    assert len(t.commands) == 1 and "sudo" not in t.commands[0]


async def test_not_a_probe_output_is_an_error():
    with pytest.raises(DiscoveryError) as e:
        await discover(FakeTransport("weird", "fish: Unknown command\n", exit_status=127))
    assert e.value.node == "weird" and "did not run" in e.value.message


async def test_probe_timeout_is_an_error():
    with pytest.raises(DiscoveryError, match="did not finish within 0.05 s"):
        await discover(FakeTransport("slow", probe_output(ubuntu_sections()), delay=5), timeout=0.05)


async def test_discover_all_yields_each_node_as_it_answers():
    out = probe_output(ubuntu_sections())

    async def refused():
        raise ConnectionRefusedError("Connect call failed ('10.0.0.9', 22)")

    async def hangs():
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    async def connects():
        await asyncio.sleep(0.05)
        return FakeTransport("made", out)

    targets = [
        FakeTransport("slow", out, delay=0.4),
        ("dead", refused),
        ("hung", hangs),
        ("made", connects),
        FakeTransport("fast", out),
        FakeTransport("garbage", "no probe here"),
    ]
    start = time.monotonic()
    seen = []
    async for r in discover_all(targets, timeout=1.0):
        seen.append((r.node, time.monotonic() - start, r))
    order = [n for n, _, _ in seen]
    assert set(order) == {"slow", "dead", "hung", "made", "fast", "garbage"}
    # the dead and fast nodes arrive long before the hung one
    times = {n: t for n, t, _ in seen}
    assert times["fast"] < 0.3 and times["dead"] < 0.3 and times["made"] < 0.3
    assert times["slow"] < times["hung"]
    assert order[-1] == "hung"
    res = {n: r for n, _, r in seen}
    assert res["fast"].ok and res["slow"].ok and res["made"].ok and res["made"].transport is not None
    assert "could not connect" in res["dead"].error and "10.0.0.9" in res["dead"].error
    assert "connecting did not finish within 1 s" in res["hung"].error
    assert "did not run" in res["garbage"].error
    assert res["hung"].elapsed_s < 2


async def test_discover_all_limit_and_early_exit_cancels_the_rest():
    out = probe_output(ubuntu_sections())
    targets = [FakeTransport(f"n{i}", out, delay=0.05 if i else 10) for i in range(5)]
    agen = discover_all(targets, timeout=20, limit=2)
    first = await agen.__anext__()
    assert first.node != "n0"
    start = time.monotonic()
    await agen.aclose()  # the 10 s node is cancelled, not awaited
    assert time.monotonic() - start < 1


async def test_many_nodes_concurrently():
    out = probe_output(ubuntu_sections())
    targets = [FakeTransport(f"n{i}", out, delay=0.2) for i in range(50)]
    start = time.monotonic()
    results = [r async for r in discover_all(targets, timeout=5)]
    assert len(results) == 50 and all(r.ok for r in results)
    assert time.monotonic() - start < 1.5


async def test_resolve_hostnames_on_the_control_node():
    t = FakeTransport("ctl", responses={"getent": "@@ gpu1\n10.0.0.11 STREAM gpu1\n@@ ghost\n"})
    got = await resolve_hostnames(t, ["gpu1", "ghost", "gpu1"])
    assert got == {"ghost": (), "gpu1": ("10.0.0.11",)}
    assert "getent ahosts gpu1" in t.commands[0]
    assert await resolve_hostnames(t, []) == {}


async def test_resolve_hostnames_locally():
    got = await resolve_hostnames(LocalTransport(), ["localhost", "no-such-host.invalid"])
    assert got["no-such-host.invalid"] == ()
    assert any(a in ("127.0.0.1", "::1") for a in got["localhost"])
