"""`thinkube-tui discover`: probe this machine, the nodes of an answers file, or hosts by name."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path


def run_discover_command(args: argparse.Namespace) -> int:
    from .discover_view import run_local

    if args.local:
        return asyncio.run(run_local(args.json, skip=set(args.skip_check) or None))
    return asyncio.run(_remote(args))


async def _remote(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..access import headless_prompts, node_target, parse_host
    from ..secrets import Secrets
    from ..session import read_secrets
    from ..spec import AnswersError, load_answers
    from ..ssh import SshPool, SshSettings
    from .discover_view import run_discover

    spec = None
    file_secrets: dict[str, str] = {}
    if args.answers:
        try:
            given = Path(args.secrets) if args.secrets else None
            spec = load_answers(args.answers, secrets=given)
            file_secrets = read_secrets(Path(args.answers), spec, given)
        except AnswersError as exc:
            for problem in exc.problems:
                print(problem.format(exc.source), file=sys.stderr)
            return 2
        targets = [node_target(n) for n in spec.nodes]
        control = spec.control.name
    else:
        targets = [parse_host(h) for h in args.hosts]
        control = targets[0].name
    settings = SshSettings(accept_new_host_keys=args.accept_new_host_keys)
    async with SshPool(settings, headless_prompts(spec, Secrets(file_secrets))) as pool:
        factories = []
        for target in targets:
            connection = pool.connection(target)

            async def connected(connection=connection):  # type: ignore[no-untyped-def]
                await connection.connect()
                return connection

            factories.append((target.name, connected))
        return await run_discover(
            factories,
            json_out=args.json,
            control=control,
            skip=set(args.skip_check),
            console=Console(),
            microk8s_channel=spec.cluster.microk8s_channel if spec else None,
        )
