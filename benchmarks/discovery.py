"""Benchmark: discovering N nodes over SSH — thinkube-tui vs bare asyncssh vs Ansible.

Every "node" is one port of real OpenSSH sshds on loopback (started here in a temp dir). They
are logged in to as a plain user with /bin/sh as login shell, created for the run and removed
after (as root; otherwise as the user running this, and the output says so): a login shell
that does work of its own (root's here starts pyenv, +0.14 s a command) hides the client's cost.
For each N it measures, in the same run, each contender timed the same way -- from before the
first connection to after the last one is closed:

  ours     an `SshPool` (default settings: handshakes bounded to 8) and `discover_all`, until
           the pool is closed; every node must succeed;
  bare     plain asyncssh per node, all concurrently: connect (host key checked against a
           known_hosts file) + run PROBE_SCRIPT + close; no pool, no bounds, no parsing;
  ansible  `ansible all -m raw -a PROBE -f N` (host key checking on), when `ansible` is on PATH.

Wall time and the client's CPU time (this process's, or Ansible's processes') for each; each
figure is the median of --reps runs, with the spread (min–max), the contenders' order
alternating between runs.

    .venv/bin/python benchmarks/discovery.py [--nodes 32,64] [--reps 3] [--json]

Both ends of every handshake share this machine's cores, so absolute times mean little; the
ratios are what to read. Exits 0 even when a target is missed (PASS/MISS is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import asyncssh  # noqa: E402

from benchmarks._sshd import MultiPortSshd, PlainUser  # noqa: E402
from thinkube_tui.discovery import MARKER, PROBE_SCRIPT, discover_all  # noqa: E402
from thinkube_tui.hostkeys import KnownHosts  # noqa: E402
from thinkube_tui.ssh import KeyAuth, NodeTarget, SshPool, SshSettings  # noqa: E402

TARGET_BARE_RATIO = 1.10  # ours / bare, wall time, at the largest N
TARGET_BARE_CPU_RATIO = 1.25  # ours / bare, client CPU time, at the largest N
TARGET_ANSIBLE_RATIO = 0.6  # ours / ansible at the largest N


# ---- the contenders -------------------------------------------------------------------------------


async def run_ours(server: MultiPortSshd, ports: list[int], state: Path) -> float:
    targets = [
        NodeTarget(name=f"node{i:02d}", host=server.host, user=server.user, port=p, auth=KeyAuth(server.client_key))
        for i, p in enumerate(ports)
    ]
    # Trust exactly as the operator's ~/.ssh/known_hosts would; our own file is fresh each run.
    shutil.rmtree(state, ignore_errors=True)
    start = time.perf_counter()
    host_keys = KnownHosts(own_file=state / "known_hosts", ssh_files=[server.known_hosts])
    async with SshPool(SshSettings(), host_keys=host_keys) as pool:
        factories = []
        for t in targets:
            connection = pool.connection(t)

            async def connected(connection=connection):  # type: ignore[no-untyped-def]
                await connection.connect()
                return connection

            factories.append((t.name, connected))
        results = [r async for r in discover_all(factories, timeout=120)]
    elapsed = time.perf_counter() - start  # with the pool closed, as bare closes its connections
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


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def spread(values: list[float]) -> dict[str, object]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
        "runs": [round(v, 3) for v in values],
    }


def measure(server: MultiPortSshd, n: int, reps: int, work: Path, ansible: str | None) -> dict[str, object]:
    ports = server.ports[:n]
    wall: dict[str, list[float]] = {"ours": [], "bare": []}
    cpu: dict[str, list[float]] = {"ours": [], "bare": []}
    if ansible:
        wall["ansible"], cpu["ansible"] = [], []
        inventory, env = ansible_setup(server, ports, work)

    def contender(name: str) -> float:
        if name == "ours":
            return asyncio.run(run_ours(server, ports, work / "state"))
        if name == "bare":
            return asyncio.run(run_bare(server, ports))
        return run_ansible(ansible, inventory, env, n)  # type: ignore[arg-type]

    names = list(wall)
    for rep in range(reps):
        order = names if rep % 2 == 0 else names[::-1]  # alternate who goes first
        for name in order:
            cpu0, children0 = time.process_time(), _children_cpu()
            wall[name].append(contender(name))
            # The client's CPU: this process for ours and bare, Ansible's processes for it.
            cpu[name].append(_children_cpu() - children0 if name == "ansible" else time.process_time() - cpu0)
    med = {k: statistics.median(v) for k, v in wall.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    row: dict[str, object] = {
        "nodes": n,
        "ours_s": round(med["ours"], 3),
        "bare_s": round(med["bare"], 3),
        "ratio_ours_bare": round(med["ours"] / med["bare"], 3),
        "ours_cpu_s": round(med_cpu["ours"], 3),
        "bare_cpu_s": round(med_cpu["bare"], 3),
        "ratio_cpu_ours_bare": round(med_cpu["ours"] / med_cpu["bare"], 3),
        "ansible_s": round(med["ansible"], 3) if ansible else None,
        "ratio_ours_ansible": round(med["ours"] / med["ansible"], 3) if ansible else None,
        "wall": {k: spread(v) for k, v in wall.items()},
        "cpu": {k: spread(v) for k, v in cpu.items()},
    }
    return row


def targets(rows: list[dict[str, object]], ansible: bool) -> list[dict[str, object]]:
    top = max(rows, key=lambda r: r["nodes"])  # type: ignore[arg-type,return-value]
    out: list[dict[str, object]] = [
        {
            "target": f"ours/bare wall <= {TARGET_BARE_RATIO} at N={top['nodes']}",
            "value": top["ratio_ours_bare"],
            "pass": top["ratio_ours_bare"] <= TARGET_BARE_RATIO,  # type: ignore[operator]
        },
        {
            "target": f"ours/bare client CPU <= {TARGET_BARE_CPU_RATIO} at N={top['nodes']}",
            "value": top["ratio_cpu_ours_bare"],
            "pass": top["ratio_cpu_ours_bare"] <= TARGET_BARE_CPU_RATIO,  # type: ignore[operator]
        },
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


def _fmt(stat: dict[str, object]) -> str:
    return f"{stat['median']:.2f} ({stat['min']:.2f}-{stat['max']:.2f})"


def print_table(rows: list[dict[str, object]], checks: list[dict[str, object]], ansible: str | None) -> None:
    print("median (min-max) of the runs; wall and client CPU in seconds")
    head = (
        ("N", 4),
        ("ours wall", 17),
        ("bare wall", 17),
        ("ratio", 5),
        ("ours CPU", 17),
        ("bare CPU", 17),
        ("ratio", 5),
    )
    print("  ".join(f"{name:>{width}}" for name, width in head))
    for r in rows:
        w, c = r["wall"], r["cpu"]
        print(
            f"{r['nodes']:>4}  {_fmt(w['ours']):>17}  {_fmt(w['bare']):>17}  {r['ratio_ours_bare']:>5.2f}  "  # type: ignore[index]
            f"{_fmt(c['ours']):>17}  {_fmt(c['bare']):>17}  {r['ratio_cpu_ours_bare']:>5.2f}"  # type: ignore[index]
        )
        if r["ansible_s"] is not None:
            print(f"      ansible -m raw: {_fmt(w['ansible'])} s, ours/ansible {r['ratio_ours_ansible']:.2f}")  # type: ignore[index]
    if not ansible:
        print("ansible: not installed")
    for c in checks:
        print(f"{'PASS' if c['pass'] else 'MISS'}  {c['target']}: {c['value']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", default="32,64", help="comma-separated node counts (default 32,64)")
    parser.add_argument("--reps", type=int, default=3, help="runs per figure; the median counts (default 3)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    counts = sorted({int(x) for x in args.nodes.split(",") if x.strip()})
    if not counts or counts[0] < 1:
        parser.error("--nodes: positive integers")
    ansible = shutil.which("ansible")

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tk-bench-") as tmp, PlainUser() as user:
        work = Path(tmp)
        work.chmod(0o755)  # the SSH user reads the authorized_keys file under it
        if not args.json:
            print(user.note, file=sys.stderr)
        with MultiPortSshd(work / "sshd", ports=max(counts), user=user.name) as server:
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
                    "ssh_user": user.note,
                    "rows": rows,
                    "targets": checks,
                    "total_s": round(time.perf_counter() - started, 1),
                    "load_average": round(os.getloadavg()[0], 2),
                },
                indent=2,
            )
        )
    else:
        print(user.note)
        print_table(rows, checks, ansible)
        print(
            f"total {time.perf_counter() - started:.0f} s on {os.cpu_count()} CPUs; "
            f"load average {os.getloadavg()[0]:.1f} at the end"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
