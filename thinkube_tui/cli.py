"""Command line entry point. Each command imports what it needs when it runs: start-up stays fast."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_PREFLIGHT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def speed_factor(text: str) -> float:
    """`--lab-speed`: a finite number above zero (it divides every simulated duration)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; give a factor such as 1, 5 or 0.5") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the factor must be above 0 (1 is real time, 5 five times faster)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thinkube-tui",
        description="Install the Thinkube platform (MicroK8s and its services) onto Ubuntu machines over SSH.",
    )
    parser.add_argument("--version", action="version", version=f"thinkube-tui {__version__}")
    run = parser.add_argument_group("installing (without a command)")
    run.add_argument("--answers", metavar="FILE", type=Path, help="install headless from an answers file")
    run.add_argument("--secrets", metavar="FILE", type=Path, help="secrets file (mode 0600) for {secret: KEY}")
    run.add_argument("--yes", action="store_true", help="do not ask before installing")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print, per node, the commands and API calls an install would make; change nothing",
    )
    run.add_argument(
        "--show-input",
        action="store_true",
        help="with --dry-run: print each command's stdin and each API call's object below it "
        "(Helm values as YAML), every secret masked",
    )
    run.add_argument(
        "--state-dir",
        metavar="DIR",
        type=Path,
        help="where the journal and logs live (default: $XDG_STATE_HOME/thinkube-tui)",
    )
    run.add_argument(
        "--skip-check",
        action="append",
        default=[],
        metavar="NAME",
        help="skip a preflight check by name (repeatable; 'all' skips every check)",
    )
    run.add_argument(
        "--accept-new-host-keys",
        action="store_true",
        help="trust host keys seen for the first time (they are remembered)",
    )
    run.add_argument(
        "--known-hosts",
        metavar="FILE",
        type=Path,
        help="thinkube-tui's own known-hosts file (default: in the state dir)",
    )
    run.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="COMPONENT",
        help="install just this component and what it requires (repeatable)",
    )
    run.add_argument(
        "--demo",
        action="store_true",
        help="the wizard against the lab, a SIMULATED cluster on this machine (3 nodes, one "
        "GPU); with --answers FILE, headless against the lab with FILE's components",
    )
    run.add_argument(
        "--fresh",
        action="store_true",
        help="with --demo: start over with a new lab (the demo keeps its lab and installs between runs)",
    )
    run.add_argument(
        "--interactive",
        action="store_true",
        help="with --answers: open the wizard, every screen pre-filled from the file",
    )
    run.add_argument(
        "--lab-speed",
        type=speed_factor,
        default=1.0,
        metavar="FACTOR",
        help="the lab's simulated commands run FACTOR times faster than real ones (default 1)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("validate", help="check answers files; print every problem as FILE:LINE:COL: path: message")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--secrets", metavar="FILE", help="secrets file (mode 0600) to check references against")

    p = sub.add_parser("plan", help="show what would be installed, by group and by wave")
    p.add_argument("--answers", required=True, metavar="FILE")
    p.add_argument("--secrets", metavar="FILE")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    sub.add_parser("schema", help="print the answers file's JSON Schema")

    p = sub.add_parser("status", help="what is installed, from the install journal")
    p.add_argument("--state-dir", metavar="DIR", type=Path)
    p.add_argument("--cluster", metavar="NAME", help="only this cluster (default: every one recorded)")
    p.add_argument("--demo", action="store_true", help="the demo's installs (`--demo`, `make demo`)")

    p = sub.add_parser("lab", help="the simulated cluster: start it in the background, stop it")
    lab = p.add_subparsers(dest="lab_command", metavar="up|down", required=True)
    for name, text in (
        ("up", "start a lab and print its nodes, answers file and known-hosts file"),
        ("down", "stop the lab started by `lab up`"),
        ("serve", "run a lab in the foreground (what `lab up` starts)"),
    ):
        q = lab.add_parser(name, help=text)
        q.add_argument("--state-dir", metavar="DIR", type=Path, help="default: $XDG_STATE_HOME/thinkube-tui/lab")
        if name != "down":
            q.add_argument("--nodes", type=int, default=3, help="nodes in all, the control node included")
            q.add_argument("--gpus", type=int, default=1, help="how many workers have an NVIDIA H100")
            q.add_argument("--lab-speed", type=speed_factor, default=1.0, metavar="FACTOR")
            q.add_argument("--faults", type=Path, metavar="FILE", help="faults to inject (YAML or JSON)")

    p = sub.add_parser("discover", help="probe nodes over SSH (or this machine) and run preflight checks")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--answers", metavar="FILE", help="discover the nodes of an answers file")
    where.add_argument("--local", action="store_true", help="discover this machine, without SSH")
    where.add_argument("hosts", nargs="*", default=[], metavar="[USER@]HOST[:PORT]")
    p.add_argument("--secrets", metavar="FILE")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--skip-check",
        action="append",
        default=[],
        metavar="NAME",
        help="skip a preflight check by name (repeatable; 'all' skips every check)",
    )
    p.add_argument(
        "--accept-new-host-keys",
        action="store_true",
        help="trust host keys seen for the first time (they are remembered)",
    )
    for command in DAY_TWO:
        _day_two(command).add_parser(sub)
    return parser


# Day-two commands act on an installed cluster (named by --answers, or --demo): each module in
# thinkube_tui/commands/ gives `add_parser(sub)` and `async run(args) -> int`, loaded when used.
DAY_TWO: dict[str, str] = {
    "support-bundle": "support_bundle",
    "doctor": "doctor",
    "remove": "remove",
    "reset": "reset",
    "upgrade": "upgrade",
    "node": "node",
}


def _day_two(command: str) -> Any:
    import importlib

    return importlib.import_module(f".commands.{DAY_TWO[command]}", __package__)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _needs_lab(args: argparse.Namespace) -> str | None:
    """The command, if it runs against the lab (a distribution of its own, maybe not installed)."""
    if args.command is None and args.demo:
        return "`thinkube-tui --demo`"
    if args.command in DAY_TWO and args.demo:
        return f"`thinkube-tui {args.command} --demo`"
    if args.command == "lab" and args.lab_command in ("up", "serve"):
        return f"`thinkube-tui lab {args.lab_command}`"
    return None  # `lab down` only signals a process; `status --demo` only reads the journal


def _dispatch(args: argparse.Namespace) -> int:
    if getattr(args, "fresh", False) and not args.demo:
        print("thinkube-tui: --fresh starts the demo over; use it with --demo", file=sys.stderr)
        return EXIT_INVALID
    if getattr(args, "show_input", False) and (
        args.command is not None or not args.dry_run or args.answers is None or args.interactive
    ):
        print(
            "thinkube-tui: --show-input shows what a dry run would send; use it with --answers FILE --dry-run",
            file=sys.stderr,
        )
        return EXIT_INVALID
    if (what := _needs_lab(args)) is not None:
        from .lab_loader import LabMissing, check_lab

        try:
            check_lab(what)  # checked before any screen or process starts
        except LabMissing as exc:
            print(f"thinkube-tui: {exc}", file=sys.stderr)
            return EXIT_INVALID
    if args.command == "validate":
        from .commands.validate import run_validate

        return run_validate(args.files, secrets=args.secrets)
    if args.command == "plan":
        from .commands.plan import run_plan

        return run_plan(args.answers, secrets=args.secrets, json_out=args.json)
    if args.command == "schema":
        import json

        from .spec import answers_schema

        print(json.dumps(answers_schema(), indent=2))
        return EXIT_OK
    if args.command == "status":
        from .commands.status import run_status

        return run_status(args.state_dir, args.cluster, demo=args.demo)
    if args.command == "lab":
        from .commands.lab import run_lab_command

        return run_lab_command(args)
    if args.command in DAY_TWO:
        import asyncio

        return int(asyncio.run(_day_two(args.command).run(args)))
    if args.command == "discover":
        from .commands.discover import run_discover_command

        return run_discover_command(args)
    if args.answers is None or args.interactive:
        from .app import run_wizard

        return run_wizard(
            answers=args.answers,
            secrets=args.secrets,
            demo=args.demo,
            state_dir=args.state_dir,
            known_hosts=args.known_hosts,
            skip_checks=args.skip_check,
            lab_speed=args.lab_speed,
            fresh=args.fresh,
        )
    if args.demo:
        import asyncio

        from .commands.lab import run_demo

        return asyncio.run(run_demo(args))
    import asyncio

    from .headless import HeadlessOptions, run

    options = HeadlessOptions(
        answers=args.answers,
        secrets=args.secrets,
        yes=args.yes,
        dry_run=args.dry_run,
        show_input=args.show_input,
        state_dir=args.state_dir,
        skip_checks=frozenset(args.skip_check),
        accept_new_host_keys=args.accept_new_host_keys,
        known_hosts=args.known_hosts,
        only=frozenset(args.only),
    )
    return asyncio.run(run(options))


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
