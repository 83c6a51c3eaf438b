"""`thinkube-tui lab up|down|serve` and `--demo`: the simulated cluster, for trying things by hand.

`lab up` starts the lab as a process of its own (so an installer can be killed and restarted
against it), writes an answers file and a known-hosts file pointing at it, prints where its
nodes are and returns. `lab down` stops it. `--demo` runs thinkube-tui against a lab started
in the same process, from `<state dir>/demo/` (kept between runs; `--demo --fresh` starts over).
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..files import default_state_dir, open_append, write_atomic
from ..lab_loader import load_lab

READY = "lab-ready"
PID = "lab.pid"
ANSWERS = "answers.yaml"
KNOWN_HOSTS = "known_hosts"
SUDO_ENV = "TK_LAB_SUDO_PASSWORD"


def lab_dir(given: Path | None) -> Path:
    return given or default_state_dir() / "lab"


# ---------------------------------------------------------------- the demo's own directory
# One demo lab and its install state, kept across runs (a second `make demo` shows re-entry)
# and shared by the wizard's and headless demos, in `<state dir>/demo/`. Its entries never
# have the names of a cluster's state files, so even a real cluster named "demo" (whose state
# is that same directory) does not collide with it; `--demo --fresh` removes only these.

DEMO = "demo"
DEMO_LAB, DEMO_STATE, DEMO_ANSWERS = "lab", "state", "lab-answers.yaml"


def demo_dir(state_base: Path | None) -> Path:
    """The demo's directory: `demo/` in the state directory (`--state-dir` or the XDG default)."""
    return (state_base or default_state_dir()) / DEMO


def demo_state_dir(state_base: Path | None) -> Path:
    """Where the demo's installs keep their journals and logs, one directory per cluster."""
    return demo_dir(state_base) / DEMO_STATE


def start_demo_over(state_base: Path | None) -> None:
    """`--demo --fresh`: forget the demo's lab and installs (nothing else in that directory)."""
    root = demo_dir(state_base)
    for name in (DEMO_LAB, DEMO_STATE):
        if (root / name).is_dir() and not (root / name).is_symlink():
            shutil.rmtree(root / name)
    for name in (DEMO_ANSWERS, KNOWN_HOSTS):
        (root / name).unlink(missing_ok=True)


class DemoBusy(Exception):
    """Another demo runs from the same directory (one lab, one process at a time)."""


class DemoLock:
    """An flock on `<demo>/demo.lock` while a demo's lab runs: a second demo on the same lab
    would start it twice over one state."""

    def __init__(self, root: Path) -> None:
        self.path = root / "demo.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = open_append(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _read_pid(self.path)
            raise DemoBusy(
                f"another demo runs from {self.path.parent}{f' (pid {holder})' if holder else ''}: "
                "let it finish (or quit it), then run this again"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


def write_demo_answers(root: Path, data: dict[str, Any], source: Path | None) -> Path:
    """The answers the demo installs from: the lab's nodes and network, FILE's components."""
    path = root / DEMO_ANSWERS
    write_atomic(
        path,
        "# thinkube-tui demo: the lab's nodes and network"
        + (f", the components of {source}" if source else "")
        + "\n"
        + yaml.safe_dump(data, sort_keys=False),
    )
    return path


async def _serve(state_dir: Path, nodes: int, gpus: int, speed: float, faults: Path | None) -> None:
    Lab = load_lab("`thinkube-tui lab serve`")

    async with Lab(state_dir, nodes=nodes, gpus=gpus, speed=1.0 / speed, faults=faults) as lab:
        lab.write_answers(state_dir / ANSWERS)
        lab.write_known_hosts(state_dir / KNOWN_HOSTS)
        (state_dir / READY).write_text(lab.describe() + "\n")
        print(lab.describe(), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    (state_dir / READY).unlink(missing_ok=True)


def run_lab_command(args: argparse.Namespace) -> int:
    state = lab_dir(args.state_dir)
    if args.lab_command in ("serve", "up"):
        from ..files import UnsafePathError, check_state_dir

        try:
            check_state_dir(state)  # it holds the lab's client key and sudo password
        except UnsafePathError as exc:
            print(f"thinkube-tui: {exc}", file=sys.stderr)
            return 2
    if args.lab_command == "serve":
        asyncio.run(_serve(state, args.nodes, args.gpus, args.lab_speed, args.faults))
        return 0
    if args.lab_command == "up":
        return _up(state, args)
    return _down(state)


def _running_pid(state: Path) -> int | None:
    try:
        pid = int((state / PID).read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _up(state: Path, args: argparse.Namespace) -> int:
    if (pid := _running_pid(state)) is not None:
        print(f"a lab already runs from {state} (pid {pid}); `thinkube-tui lab down --state-dir {state}` stops it")
        return 2
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    (state / READY).unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "thinkube_tui",
        "lab",
        "serve",
        "--state-dir",
        str(state),
        "--nodes",
        str(args.nodes),
        "--gpus",
        str(args.gpus),
        "--lab-speed",
        str(args.lab_speed),
    ]
    if args.faults:
        command += ["--faults", str(args.faults)]
    log = os.fdopen(open_append(state / "lab.log"), "ab")  # handed to the child process
    child = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )
    (state / PID).write_text(str(child.pid))
    deadline = time.monotonic() + 60
    while not (state / READY).exists():
        if child.poll() is not None or time.monotonic() > deadline:
            print(f"the lab did not start; see {state / 'lab.log'}", file=sys.stderr)
            return 1
        time.sleep(0.1)
    print((state / READY).read_text(), end="")
    print(
        f"answers file: {state / ANSWERS}\nknown hosts:  {state / KNOWN_HOSTS}\n"
        f"try: {SUDO_ENV}=$(cat {state / 'sudo-password'}) thinkube-tui discover --answers {state / ANSWERS}"
    )
    return 0


def _down(state: Path) -> int:
    pid = _running_pid(state)
    if pid is None:
        print(f"no lab runs from {state}")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while _running_pid(state) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    (state / PID).unlink(missing_ok=True)
    print(f"lab stopped ({state}); its state stays there for the next `lab up`")
    return 0


def demo_answers(lab_answers: dict[str, Any], answers: Path | None) -> dict[str, Any]:
    """The lab's nodes and network, with the components and settings of `answers` (if given)."""
    if answers is None:
        return lab_answers
    from ..spec import read_answers_document  # the one strict reader of answers files

    wanted = read_answers_document(answers).data
    merged = dict(lab_answers)
    if "components" in wanted:
        merged["components"] = wanted["components"]
    return merged


# The lab's answers as `Lab.answers` writes them, without a lab running: FILE's components are
# checked against them before a lab is started, so a bad FILE is refused at once (exit 2).
_LAB_SHAPE: dict[str, Any] = {
    "apiVersion": "thinkube.io/v1alpha1",
    "cluster": {
        "name": "thinkube-lab",
        "domain": "thinkube-lab.lan",
        "adminEmail": "admin@thinkube-lab.lan",
        "metallbRange": "10.42.0.200-10.42.0.220",
        "ingressIP": "10.42.0.200",
        "ingressKnIP": "10.42.0.201",
    },
    "nodes": [
        {"name": "tk-control", "host": "127.0.0.1", "port": 2201, "user": "thinkube", "role": "control"},
        {"name": "tk-worker-1", "host": "127.0.0.1", "port": 2202, "user": "thinkube", "role": "worker"},
        {
            "name": "tk-gpu-1",
            "host": "127.0.0.1",
            "port": 2203,
            "user": "thinkube",
            "role": "worker",
            "labels": {"thinkube.io/accelerator": "nvidia"},
        },
    ],
}


def check_demo_answers(answers: Path) -> None:
    """Raise `AnswersError` (positions in FILE) if FILE's components would not install on the lab."""
    from ..catalog import load_catalog
    from ..spec import AnswersError, answers_problems, read_answers_document

    located = read_answers_document(answers)
    merged = demo_answers(_LAB_SHAPE, answers)
    problems = [p for p in answers_problems(merged, located, load_catalog()) if p.path[:1] == ("components",)]
    if problems:
        raise AnswersError(str(answers), problems)


@dataclass(frozen=True)
class DemoRun:
    """What a command run against the demo's lab works with: its answers, state and host keys."""

    answers: Path
    state_dir: Path
    known_hosts: Path


async def with_demo(args: argparse.Namespace, body: Callable[[DemoRun], Awaitable[int]], *, fresh: bool = False) -> int:
    """Start the demo's lab in this process (its state kept between runs) and run `body`
    against it; `args.answers` (optional) gives the components. Exit 2, saying why, when the
    answers would not fit the lab, the demo directory is unsafe or another demo runs."""
    from ..files import UnsafePathError, check_state_dir
    from ..spec import AnswersError

    if args.answers is not None:
        try:
            check_demo_answers(args.answers)  # refused before a lab is started for it
        except AnswersError as exc:
            for problem in exc.problems:
                print(problem.format(exc.source), file=sys.stderr)
            return 2
    root = demo_dir(args.state_dir)
    try:
        check_state_dir(root)
    except UnsafePathError as exc:
        print(f"thinkube-tui: {exc}", file=sys.stderr)
        return 2
    lock = DemoLock(root)
    try:
        lock.acquire()
    except DemoBusy as exc:
        print(f"thinkube-tui: {exc}", file=sys.stderr)
        return 2
    try:
        Lab = load_lab()
        if fresh:
            start_demo_over(args.state_dir)
            print(f"demo: starting over (the lab and the installs under {root} were removed)", flush=True)
        speed = 1.0 / getattr(args, "lab_speed", 1.0)
        async with Lab(root / DEMO_LAB, nodes=3, gpus=1, speed=speed, log=lambda _m: None) as lab:
            print(lab.describe(), flush=True)
            print(f"demo state: {root} (kept between runs; --demo --fresh starts over)", flush=True)
            answers = write_demo_answers(root, demo_answers(lab.answers(), args.answers), args.answers)
            os.environ[SUDO_ENV] = lab.sudo_password  # the lab's own sudo password, for this process only
            run = DemoRun(answers, demo_state_dir(args.state_dir), lab.write_known_hosts(root / KNOWN_HOSTS))
            return await body(run)
    finally:
        lock.release()


async def run_demo(args: argparse.Namespace) -> int:
    """Headless install against the demo's lab, started in this process (its state kept)."""
    from ..headless import HeadlessOptions, run
    from ..rerun import demo_command

    async def install(demo: DemoRun) -> int:
        options = HeadlessOptions(
            answers=demo.answers,
            yes=True,
            dry_run=args.dry_run,
            show_input=getattr(args, "show_input", False),
            state_dir=demo.state_dir,
            skip_checks=frozenset(args.skip_check),
            only=frozenset(args.only),
            known_hosts=demo.known_hosts,
            rerun=demo_command(args.answers, state_dir=args.state_dir, lab_speed=args.lab_speed),
        )
        return await run(options)

    return await with_demo(args, install, fresh=getattr(args, "fresh", False))
