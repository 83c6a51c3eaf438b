"""Benchmark: discovering N nodes over SSH — thinkube-tui vs bare asyncssh vs Ansible.

Every "node" is one port of a single real OpenSSH sshd on loopback (started here in a temp dir).
For each N it measures, in the same run:

  ours     `discover_all` over an `SshPool` (default settings: handshakes bounded to 8), from
           start to the last result; every node must succeed;
  bare     plain asyncssh per node, all concurrently: connect (host key checked against a
           known_hosts file) + run PROBE_SCRIPT + close; no pool, no bounds, no parsing;
  ansible  `ansible all -m raw -a PROBE -f N` (host key checking on), when `ansible` is on PATH.

Each figure is the best of --reps runs, the order of the contenders alternating between runs.

    .venv/bin/python benchmarks/discovery.py [--nodes 1,8,32] [--reps 3] [--json]

Both ends of every handshake share this machine's cores, so absolute times mean little; the
ratios are what to read. Exits 0 even when a target is missed (PASS/MISS is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import asyncssh  # noqa: E402

from benchmarks._sshd import MultiPortSshd  # noqa: E402
from thinkube_tui.discovery import MARKER, PROBE_SCRIPT, discover_all  # noqa: E402
from thinkube_tui.hostkeys import KnownHosts  # noqa: E402
from thinkube_tui.ssh import KeyAuth, NodeTarget, SshPool, SshSettings  # noqa: E402

TARGET_BARE_RATIO = 1.25  # ours / bare at the largest N
TARGET_ANSIBLE_RATIO = 0.6  # ours / ansible at the largest N


# ---- the contenders -------------------------------------------------------------------------------


async def run_ours(server: MultiPortSshd, ports: list[int], state: Path) -> float:
    targets = [
        NodeTarget(name=f"node{i:02d}", host=server.host, user=server.user, port=p, auth=KeyAuth(server.client_key))
        for i, p in enumerate(ports)
    ]
    # Trust exactly as the operator's ~/.ssh/known_hosts would; our own file is fresh each run.
    shutil.rmtree(state, ignore_errors=True)
    host_keys = KnownHosts(own_file=state / "known_hosts", ssh_files=[server.known_hosts])
    async with SshPool(SshSettings(), host_keys=host_keys) as pool:
        factories = []
        for t in targets:
            connection = pool.connection(t)

            async def connected(connection=connection):  # type: ignore[no-untyped-def]
                await connection.connect()
                return connection

            factories.append((t.name, connected))
        start = time.perf_counter()
        results = [r async for r in discover_all(factories, timeout=120)]
        elapsed = time.perf_counter() - start
    failed = [f"{r.node}: {r.error}" for r in results if not r.ok]
    if failed or len(results) != len(targets):
        raise RuntimeError("ours: discovery failed:\n" + "\n".join(failed))
    return elapsed


async def run_bare(server: MultiPortSshd, ports: list[int]) -> float:
    async def one(port: int) -> str:
        conn = await asyncssh.connect(
            server.host,
            port,
            username=server.user,
            client_keys=[str(server.client_key)],
            known_hosts=str(server.known_hosts),
            config=[],
            agent_path=None,
        )
        try:
            result = await conn.run(PROBE_SCRIPT)
        finally:
            conn.close()
            await conn.wait_closed()
        return str(result.stdout)

    start = time.perf_counter()
    outputs = await asyncio.gather(*(one(p) for p in ports))
    elapsed = time.perf_counter() - start
    if not all(f"{MARKER} probe v2" in o for o in outputs):
        raise RuntimeError("bare: a probe did not run")
    return elapsed


def ansible_setup(server: MultiPortSshd, ports: list[int], work: Path) -> tuple[Path, dict[str, str]]:
    inventory = work / f"inventory-{len(ports)}.ini"
    inventory.write_text(
        "[nodes]\n"
        + "".join(f"node{i:02d} ansible_host={server.host} ansible_port={p}\n" for i, p in enumerate(ports))
        + "\n[all:vars]\n"
        f"ansible_user={server.user}\n"
        f"ansible_ssh_private_key_file={server.client_key}\n"
        "ansible_python_interpreter=/usr/bin/python3\n"
        f"ansible_ssh_common_args='-o UserKnownHostsFile={server.known_hosts}'\n"
    )
    config = work / "ansible.cfg"
    config.write_text("[defaults]\n")
    env = {
        **os.environ,
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_HOME": str(work / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp"),
        # No ControlMaster: a master left persisting by one run would make the next one warm.
        "ANSIBLE_SSH_ARGS": "-o ControlMaster=no",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_CONFIG": str(config),  # not an ansible.cfg from the working directory or home
    }
    env.pop("SSH_AUTH_SOCK", None)
    return inventory, env


def run_ansible(ansible: str, inventory: Path, env: dict[str, str], n: int) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [ansible, "all", "-i", str(inventory), "-m", "raw", "-a", PROBE_SCRIPT, "-f", str(n)],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or proc.stdout.count(f"{MARKER} probe v2") != n:
        raise RuntimeError(f"ansible failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed


# ---- the run ------------------------------------------------------------------------------------


def measure(server: MultiPortSshd, n: int, reps: int, work: Path, ansible: str | None) -> dict[str, object]:
    ports = server.ports[:n]
    times: dict[str, list[float]] = {"ours": [], "bare": []}
    if ansible:
        times["ansible"] = []
        inventory, env = ansible_setup(server, ports, work)

    def contender(name: str) -> float:
        if name == "ours":
            return asyncio.run(run_ours(server, ports, work / "state"))
        if name == "bare":
            return asyncio.run(run_bare(server, ports))
        return run_ansible(ansible, inventory, env, n)  # type: ignore[arg-type]

    names = list(times)
    for rep in range(reps):
        order = names if rep % 2 == 0 else names[::-1]  # alternate who goes first
        for name in order:
            times[name].append(contender(name))
    best = {k: min(v) for k, v in times.items()}
    row: dict[str, object] = {
        "nodes": n,
        "ours_s": round(best["ours"], 3),
        "bare_s": round(best["bare"], 3),
        "ratio_ours_bare": round(best["ours"] / best["bare"], 3),
        "ansible_s": round(best["ansible"], 3) if ansible else None,
        "ratio_ours_ansible": round(best["ours"] / best["ansible"], 3) if ansible else None,
        "runs": {k: [round(x, 3) for x in v] for k, v in times.items()},
    }
    return row


def targets(rows: list[dict[str, object]], ansible: bool) -> list[dict[str, object]]:
    top = max(rows, key=lambda r: r["nodes"])  # type: ignore[arg-type,return-value]
    out: list[dict[str, object]] = [
        {
            "target": f"ours/bare <= {TARGET_BARE_RATIO} at N={top['nodes']}",
            "value": top["ratio_ours_bare"],
            "pass": top["ratio_ours_bare"] <= TARGET_BARE_RATIO,  # type: ignore[operator]
        }
    ]
    if ansible:
        out.append(
            {
                "target": f"ours/ansible <= {TARGET_ANSIBLE_RATIO} at N={top['nodes']}",
                "value": top["ratio_ours_ansible"],
                "pass": top["ratio_ours_ansible"] <= TARGET_ANSIBLE_RATIO,  # type: ignore[operator]
            }
        )
    return out


def print_table(rows: list[dict[str, object]], checks: list[dict[str, object]], ansible: str | None) -> None:
    print(f"{'N':>4}  {'ours (s)':>9}  {'bare (s)':>9}  {'ours/bare':>9}  {'ansible (s)':>11}  {'ours/ansible':>12}")
    for r in rows:
        a = f"{r['ansible_s']:>11.2f}" if r["ansible_s"] is not None else f"{'—':>11}"
        ra = f"{r['ratio_ours_ansible']:>12.2f}" if r["ratio_ours_ansible"] is not None else f"{'—':>12}"
        print(f"{r['nodes']:>4}  {r['ours_s']:>9.2f}  {r['bare_s']:>9.2f}  {r['ratio_ours_bare']:>9.2f}  {a}  {ra}")
    if not ansible:
        print("ansible: not installed")
    for c in checks:
        print(f"{'PASS' if c['pass'] else 'MISS'}  {c['target']}: {c['value']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", default="1,8,32", help="comma-separated node counts (default 1,8,32)")
    parser.add_argument("--reps", type=int, default=3, help="runs per figure; the best counts (default 3)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    counts = sorted({int(x) for x in args.nodes.split(",") if x.strip()})
    if not counts or counts[0] < 1:
        parser.error("--nodes: positive integers")
    ansible = shutil.which("ansible")

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tk-bench-") as tmp:
        work = Path(tmp)
        with MultiPortSshd(work / "sshd", ports=max(counts)) as server:
            asyncio.run(run_bare(server, server.ports[:1]))  # warm up: imports, caches, sshd
            rows = []
            for n in counts:
                rows.append(measure(server, n, args.reps, work, ansible))
                if not args.json:
                    print(f"  measured N={n} ({time.perf_counter() - started:.0f} s so far)", file=sys.stderr)
    checks = targets(rows, ansible is not None)
    if args.json:
        print(
            json.dumps(
                {
                    "benchmark": "discovery",
                    "cpus": os.cpu_count(),
                    "asyncssh": asyncssh.__version__,
                    "reps": args.reps,
                    "ansible": ansible is not None,
                    "rows": rows,
                    "targets": checks,
                    "total_s": round(time.perf_counter() - started, 1),
                },
                indent=2,
            )
        )
    else:
        print_table(rows, checks, ansible)
        print(f"total {time.perf_counter() - started:.0f} s on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
