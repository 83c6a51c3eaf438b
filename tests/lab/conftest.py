"""What the lab's day-two tests share: a lab with components really installed, and the arguments
a day-two command takes for it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from thinkube_lab.cluster import Lab
from thinkube_tui.commands.lab import demo_answers
from thinkube_tui.headless import HeadlessOptions, run

FULL = Path(__file__).resolve().parents[2] / "examples" / "answers-full.yaml"
Installed = Callable[..., Awaitable[tuple[Lab, argparse.Namespace]]]


@pytest.fixture
async def installed_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Installed]:
    """`await installed_lab({"valkey"}, nodes=3, gpus=1, edit=None, yes=True, ...)`: a lab (speed
    0.01) with those components installed headless from the full example's settings (changed by
    `edit`), and a command's arguments for it (`--json`, the rest as given)."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(
            only: set[str], *, nodes: int = 3, gpus: int = 1, edit: Callable[[dict], None] | None = None, **extra: Any
        ) -> tuple[Lab, argparse.Namespace]:
            lab = await stack.enter_async_context(
                Lab(tmp_path / "lab", nodes=nodes, gpus=gpus, speed=0.01, log=lambda _m: None)
            )
            monkeypatch.setenv("TK_LAB_SUDO_PASSWORD", lab.sudo_password)
            answers = tmp_path / "answers.yaml"
            doc = demo_answers(lab.answers(), FULL)
            if edit is not None:
                edit(doc)
            answers.write_text(yaml.safe_dump(doc, sort_keys=False))
            known_hosts = lab.write_known_hosts(tmp_path / "known_hosts")
            out = io.StringIO()
            options = HeadlessOptions(
                answers=answers,
                yes=True,
                state_dir=tmp_path / "state",
                known_hosts=known_hosts,
                interactive_output=False,
                only=frozenset(only),
            )
            assert await asyncio.wait_for(run(options, out=out, err=out), 300) == 0, out.getvalue()[-3000:]
            given = {
                "answers": answers,
                "secrets": None,
                "state_dir": tmp_path / "state",
                "known_hosts": known_hosts,
                "accept_new_host_keys": False,
                "demo": False,
                "json": True,
                "dry_run": False,
            }
            return lab, argparse.Namespace(**{**given, **extra})

        yield make
