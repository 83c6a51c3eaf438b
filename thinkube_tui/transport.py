"""The contract between code that runs commands on a node and the ways of reaching it.

Discovery, preflight and the installers only ever see a `Transport`: an SSH connection to a
remote node (`ssh.py`), or this machine itself (`LocalTransport`, for `discover --local`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CommandResult:
    """What a finished command left behind."""

    command: str
    exit_status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    def tail(self, lines: int = 20) -> str:
        """The last lines of output, for error messages."""
        text = (self.stdout + ("\n" if self.stdout and self.stderr else "") + self.stderr).rstrip()
        return "\n".join(text.splitlines()[-lines:])


class CommandTimeout(Exception):
    """A command ran past its timeout and was stopped."""

    def __init__(self, node: str, command: str, timeout: float, output_tail: str = "") -> None:
        self.node = node
        self.command = command
        self.timeout = timeout
        self.output_tail = output_tail
        super().__init__(
            f"{node}: command timed out after {timeout:g} s: {command}"
            + (f"\nlast output:\n{output_tail}" if output_tail else "")
        )


LineCallback = Callable[[str], None]


class Transport(Protocol):
    """Runs shell commands on one node."""

    @property
    def node(self) -> str:
        """The node's name, for messages."""
        ...

    async def run(
        self,
        command: str,
        *,
        input: str | None = None,
        timeout: float | None = None,
        on_line: LineCallback | None = None,
        sudo: bool = False,
    ) -> CommandResult:
        """Run `command` through the node's POSIX shell (as root with `sudo`).

        `input` is written to the command's stdin (then stdin is closed). `on_line` receives
        each line of stdout as it arrives. Raises `CommandTimeout` past `timeout` seconds.
        A non-zero exit status is returned, not raised.
        """
        ...


class LocalTransport:
    """Runs commands on the machine thinkube-tui itself runs on."""

    def __init__(self, node: str = "localhost") -> None:
        self._node = node

    @property
    def node(self) -> str:
        return self._node

    async def run(
        self,
        command: str,
        *,
        input: str | None = None,
        timeout: float | None = None,
        on_line: LineCallback | None = None,
        sudo: bool = False,
    ) -> CommandResult:
        argv = ["/bin/sh", "-c", command]
        if sudo and os.geteuid() != 0:
            argv = ["sudo", "-n", *argv]  # never prompts: this machine's operator set sudo up
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "LC_ALL": "C"},
        )
        stdout_lines: list[str] = []

        async def read_stdout() -> None:
            assert proc.stdout is not None
            async for raw in _lines(proc.stdout):
                stdout_lines.append(raw)
                if on_line is not None:
                    on_line(raw.rstrip("\n"))

        async def feed_stdin() -> None:
            if input is not None and proc.stdin is not None:
                proc.stdin.write(input.encode())
                await proc.stdin.drain()
                proc.stdin.close()

        async def communicate() -> bytes:
            assert proc.stderr is not None
            _, _, err = await asyncio.gather(feed_stdin(), read_stdout(), proc.stderr.read())
            await proc.wait()
            return err

        try:
            err = await asyncio.wait_for(communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise CommandTimeout(self._node, command, timeout or 0, "".join(stdout_lines)[-2000:]) from None
        return CommandResult(
            command=command,
            exit_status=proc.returncode if proc.returncode is not None else -1,
            stdout="".join(stdout_lines),
            stderr=err.decode(errors="replace"),
        )


async def _lines(stream: asyncio.StreamReader) -> AsyncIterator[str]:
    while True:
        raw = await stream.readline()
        if not raw:
            return
        yield raw.decode(errors="replace")
