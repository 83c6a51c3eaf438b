"""The lab shell: what a simulated node runs for each SSH exec request, as bash or as dash.

An SSH command line runs under bash (a new Ubuntu user's login shell); `sh -c` and `sudo sh -c`
run dash; `bash -c` bash. The syntax both understand is in `shell_syntax.py`; this module runs
it: lists, pipelines (with `set -o pipefail` under bash), `if`/`for`/`while`/`until`, `{ }`,
`( )`, redirections and here-documents, `set -e`/`-u`/`-x` (traced as each shell traces),
`"$@"`/`"$*"`, and the builtins (`shell_builtins.py`), whose messages and exit statuses follow
the dialect: `sh: 1: foo: not found` against `bash: line 1: foo: command not found`.

What the lab does not simulate is refused loudly rather than approximated: exit status 2 and
`lab shell: unsupported syntax: ...` on stderr, and the script stops there (globs, `case`,
functions, background jobs, backquotes, arithmetic, `[[ ]]`, builtins such as `read`).

Commands are async handlers `async def handler(ctx, argv) -> int` (see `commands/`), writing
to `ctx.stdout` / `ctx.stderr` as they go, so output streams over SSH while they run.
"""

from __future__ import annotations

import asyncio
import contextvars
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .shell_builtins import BUILTINS, NOT_SIMULATED
from .shell_syntax import (
    Dialect,
    ExitShell,
    For,
    Group,
    If,
    Lit,
    Loop,
    LoopControl,
    Pipeline,
    Redir,
    Script,
    ShellError,
    Simple,
    Sub,
    Unsupported,
    Var,
    Word,
    parse,
    unsupported,
)

if TYPE_CHECKING:
    from .node import LabNode

__all__ = ["ExitShell", "ShellError", "Unsupported", "parse", "unsupported"]

# The working directory of the command running (the shell's $PWD): what relative paths mean to
# the node's files. A context variable, so each session and each pipeline stage has its own.
CWD: contextvars.ContextVar[str] = contextvars.ContextVar("thinkube_lab_cwd", default="/")


# ============================================================================ streams


class BrokenPipe(Exception):
    """The reader of an output went away (SIGPIPE for a real process)."""


class Output:
    """Where a command writes. `write` is synchronous (buffered); `drain` lets readers catch up."""

    def write(self, text: str) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        return None


class NullOutput(Output):
    def write(self, text: str) -> None:
        return None


class BufferOutput(Output):
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def getvalue(self) -> str:
        return "".join(self.parts)


class Input:
    """What a command reads. `read()` returns everything up to EOF; `readline()` one line ('' at EOF)."""

    async def read(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    async def readline(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError


class StringInput(Input):
    def __init__(self, text: str = "") -> None:
        self._text = text

    async def read(self) -> str:
        text, self._text = self._text, ""
        return text

    async def readline(self) -> str:
        i = self._text.find("\n")
        line, self._text = (self._text, "") if i < 0 else (self._text[: i + 1], self._text[i + 1 :])
        return line


class Pipe(Output, Input):
    """A pipe between two commands of a pipeline (unbounded, like a pipe nobody fills up)."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._buf = ""
        self._eof = False
        self.reader_gone = False

    def write(self, text: str) -> None:
        if self.reader_gone:
            raise BrokenPipe()
        if text:
            self._queue.put_nowait(text)

    def close(self) -> None:
        self._queue.put_nowait(None)

    async def _more(self) -> bool:
        if self._eof:
            return False
        chunk = await self._queue.get()
        if chunk is None:
            self._eof = True
            return False
        self._buf += chunk
        return True

    async def read(self) -> str:
        while await self._more():
            pass
        text, self._buf = self._buf, ""
        return text

    async def readline(self) -> str:
        while "\n" not in self._buf and await self._more():
            pass
        i = self._buf.find("\n")
        line, self._buf = (self._buf, "") if i < 0 else (self._buf[: i + 1], self._buf[i + 1 :])
        return line


class FileOutput(Output):
    """`> file` / `>> file`: opened (created, truncated) before the command runs, as the shell does;
    what the command writes reaches the file at once, as through a real file descriptor, so another
    session reading it meanwhile sees what a real node would show (a lock's record, say)."""

    def __init__(self, node: LabNode, path: str) -> None:
        self.node, self.path = node, node.fs.norm(path)

    def write(self, text: str) -> None:
        if text:
            self.node.fs.append_now(self.path, text)

    async def flush(self) -> None:
        return None


# ============================================================================ evaluation

Handler = Callable[["Ctx", list[str]], Awaitable[int]]


class CommandTable(Protocol):
    def lookup(self, node: LabNode, name: str, path_var: str) -> tuple[str, Handler] | None: ...


@dataclass
class Ctx:
    """What a command handler gets: its streams, the node, who runs it, and its environment."""

    node: LabNode
    shell: Shell
    user: str
    stdin: Input
    stdout: Output
    stderr: Output
    env: dict[str, str]
    groups: frozenset[str] = frozenset()

    @property
    def is_root(self) -> bool:
        return self.user == "root"

    @property
    def uid(self) -> int:
        return self.node.uid(self.user)

    def err(self, text: str) -> None:
        self.stderr.write(text if text.endswith("\n") else text + "\n")

    def out(self, text: str) -> None:
        self.stdout.write(text)

    async def sleep(self, what: str) -> None:
        await self.node.sleep(what)

    async def run_argv(
        self,
        argv: list[str],
        *,
        user: str | None = None,
        stdin: Input | None = None,
        groups: frozenset[str] | None = None,
    ) -> int:
        """Run a command (not a builtin-only one) as `user`, as sudo/timeout/exec do."""
        sub = self.shell.child(user=user or self.user, groups=groups if groups is not None else self.groups)
        return await sub.exec_argv(argv, stdin or self.stdin, self.stdout, self.stderr, dict(self.env))

    async def run_script(
        self,
        text: str,
        *,
        user: str | None = None,
        args: list[str] | None = None,
        stdin: Input | None = None,
        groups: frozenset[str] | None = None,
    ) -> int:
        """`sh -c TEXT` as `user`: a new shell sharing only the exported environment."""
        sub = self.shell.child(
            user=user or self.user, env=dict(self.env), args=args, groups=groups if groups is not None else self.groups
        )
        return await sub.run(text, stdin or self.stdin, self.stdout, self.stderr)


# What bash's xtrace quotes (its sh_contains_shell_metas): a word with any of these, or empty.
_BASH_METAS = set(" \t\n'\"\\|&;()<>!{}*[?]^$`")


def bash_quote(word: str) -> str:
    """A word as bash's `set -x` shows it."""
    needs = not word or any(c in _BASH_METAS for c in word) or word[0] in "~#"
    if not needs:
        needs = any(c == "~" and word[i - 1] in "=:" for i, c in enumerate(word) if i)
    return "'" + word.replace("'", "'\\''") + "'" if needs else word


class Shell:
    """One shell process on a node: its dialect, variables, options, `$?`, `$$`, a command table."""

    def __init__(
        self,
        node: LabNode,
        table: CommandTable,
        *,
        user: str,
        env: dict[str, str] | None = None,
        pid: int | None = None,
        args: list[str] | None = None,
        groups: frozenset[str] = frozenset(),
        dialect: Dialect = "dash",
    ) -> None:
        self.node, self.table, self.user, self.groups = node, table, user, groups
        self.dialect: Dialect = dialect
        self.vars: dict[str, str] = dict(env or {})
        self.exported: set[str] = set(self.vars)
        self.pid = pid if pid is not None else node.new_pid()
        self.args = args or ["bash" if dialect == "bash" else "sh"]
        self.status = 0
        self.errexit = False
        self.nounset = False
        self.xtrace = False
        self.pipefail = False
        self.line = 1  # the line of the command running (for messages)
        self.trace_level = 1  # bash repeats PS4's '+' once more per command substitution
        self.loops = 0  # loops we are inside (break/continue)
        self._no_errexit = 0  # > 0 inside an if/while condition, a `!`, or before && / ||
        self._sub_status = 0
        self.hang: re.Pattern[str] | None = None  # a `hang` fault: the first matching command never ends

    @property
    def bash(self) -> bool:
        return self.dialect == "bash"

    def diag(self, message: str, line: int | None = None) -> str:
        """`message` as this shell prefixes its own errors: `sh: 1: ...` or `bash: line 1: ...`."""
        n = self.line if line is None else line
        return f"{self.args[0]}: line {n}: {message}" if self.bash else f"{self.args[0]}: {n}: {message}"

    def child(
        self,
        *,
        user: str,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        groups: frozenset[str] = frozenset(),
        dialect: Dialect | None = None,
    ) -> Shell:
        """A new shell process (`sh -c`, sudo): only the exported environment carries over."""
        if env is None:
            env = {k: v for k, v in self.vars.items() if k in self.exported}
        env = {"PWD": CWD.get(), **env}  # a new process starts where its parent is (sudo keeps it too)
        if user != self.user and user == "root":
            env = {**env, "HOME": "/root", "USER": "root", "LOGNAME": "root", "PATH": self.node.SECURE_PATH}
        return Shell(self.node, self.table, user=user, env=env, args=args, groups=groups, dialect=dialect or "dash")

    def subshell(self) -> Shell:
        """A copy of this shell for `( )`, a pipeline's stage or `$(...)`: same variables and options."""
        sub = Shell(
            self.node,
            self.table,
            user=self.user,
            env=dict(self.vars),
            pid=self.pid,
            args=list(self.args),
            groups=self.groups,
            dialect=self.dialect,
        )
        sub.exported = set(self.exported)
        sub.status, sub.line, sub.trace_level = self.status, self.line, self.trace_level
        sub.errexit, sub.nounset, sub.xtrace, sub.pipefail = self.errexit, self.nounset, self.xtrace, self.pipefail
        sub._no_errexit = self._no_errexit
        return sub

    # -- entry points

    async def run(self, text: str, stdin: Input, stdout: Output, stderr: Output) -> int:
        try:
            script = parse(text, self.dialect)
        except Unsupported as exc:
            stderr.write(f"{exc.message}\n")
            return 2
        except ShellError as exc:
            prefix = f"{self.args[0]}: -c: line 1: " if self.bash else f"{self.args[0]}: 1: "
            stderr.write(f"{prefix}{exc.message}\n")
            return 2
        try:
            await self.run_script(script, stdin, stdout, stderr)
        except ExitShell as e:
            self.status = e.status
        except Unsupported as exc:
            stderr.write(f"{exc.message}\n")
            self.status = 2
        except ShellError as exc:
            stderr.write(f"{exc.message}\n")
            self.status = 2
        return self.status

    async def run_script(self, script: Script, stdin: Input, stdout: Output, stderr: Output) -> int:
        for item in script.items:
            last = len(item.rest)
            status = await self._pipeline(item.first, stdin, stdout, stderr, condition=last > 0)
            for i, (op, pipe) in enumerate(item.rest, 1):
                if (op == "&&") == (status == 0):
                    status = await self._pipeline(pipe, stdin, stdout, stderr, condition=i < last)
            self.status = status
        return self.status

    async def _condition(self, script: Script, stdin: Input, stdout: Output, stderr: Output) -> int:
        """An if/while/until condition: `set -e` does not apply inside it."""
        self._no_errexit += 1
        try:
            return await self.run_script(script, stdin, stdout, stderr)
        finally:
            self._no_errexit -= 1

    async def _pipeline(
        self, p: Pipeline, stdin: Input, stdout: Output, stderr: Output, *, condition: bool = False
    ) -> int:
        exempt = condition or p.negate
        self._no_errexit += exempt
        try:
            if len(p.commands) == 1:
                status = await self._command(p.commands[0], stdin, stdout, stderr)
            else:
                status = await self._stages(p, stdin, stdout, stderr)
        finally:
            self._no_errexit -= exempt
        if p.negate:
            status = 0 if status else 1
        self.status = status
        if self.errexit and status and not exempt and not self._no_errexit:
            raise ExitShell(status)
        return status

    async def _stages(self, p: Pipeline, stdin: Input, stdout: Output, stderr: Output) -> int:
        pipes = [Pipe() for _ in p.commands[1:]]

        async def stage(i: int, cmd: Any) -> int:
            out = pipes[i] if i < len(pipes) else stdout
            try:
                # Each stage of a pipeline runs in a subshell of its own.
                return await self.subshell()._command(cmd, pipes[i - 1] if i else stdin, out, stderr)
            except ExitShell as e:
                return e.status
            finally:
                if i < len(pipes):
                    pipes[i].close()
                if i:
                    pipes[i - 1].reader_gone = True

        results = await asyncio.gather(*(stage(i, c) for i, c in enumerate(p.commands)))
        if self.pipefail:  # the last stage that failed, as bash's pipefail
            return next((s for s in reversed(results) if s), 0)
        return results[-1]

    async def _command(self, cmd: Any, stdin: Input, stdout: Output, stderr: Output) -> int:
        if isinstance(cmd, Simple):
            return await self._simple(cmd, stdin, stdout, stderr)
        self.line = cmd.line
        streams: dict[int, Any] = {0: stdin, 1: stdout, 2: stderr}
        files: list[FileOutput] = []
        try:
            for r in cmd.redirs:
                problem = await self._redirect(streams, r, files, stderr)
                if problem is not None:
                    return problem
            return await self._compound(cmd, streams[0], streams[1], streams[2])
        finally:
            for f in files:
                await f.flush()

    async def _compound(self, cmd: Any, stdin: Input, stdout: Output, stderr: Output) -> int:
        if isinstance(cmd, Group):
            if not cmd.subshell:
                return await self.run_script(cmd.body, stdin, stdout, stderr)
            sub = self.subshell()
            try:
                return await sub.run_script(cmd.body, stdin, stdout, stderr)
            except ExitShell as e:
                return e.status
        if isinstance(cmd, If):
            for cond, body in cmd.clauses:
                if await self._condition(cond, stdin, stdout, stderr) == 0:
                    return await self.run_script(body, stdin, stdout, stderr)
            if cmd.otherwise is not None:
                return await self.run_script(cmd.otherwise, stdin, stdout, stderr)
            self.status = 0
            return 0
        if isinstance(cmd, For):
            if cmd.words is None:
                items = self.args[1:]
            else:
                items = [f for w in cmd.words for f in await self.expand(w, stdin, stderr)]
            return await self._loop(cmd, stdin, stdout, stderr, items)
        assert isinstance(cmd, Loop)
        return await self._loop(cmd, stdin, stdout, stderr, None)

    async def _loop(
        self, cmd: For | Loop, stdin: Input, stdout: Output, stderr: Output, items: list[str] | None
    ) -> int:
        status = 0
        self.loops += 1
        try:
            i = 0
            while True:
                if isinstance(cmd, For):
                    assert items is not None
                    if i >= len(items):
                        break
                    if self.xtrace and self.bash:
                        words = " ".join(bash_quote(w) for w in items)
                        stderr.write(f"{'+' * self.trace_level} for {cmd.name} in {words}\n")
                    self.vars[cmd.name] = items[i]
                    i += 1
                elif (await self._condition(cmd.cond, stdin, stdout, stderr) == 0) == cmd.until:
                    break
                try:
                    status = await self.run_script(cmd.body, stdin, stdout, stderr)
                except LoopControl as ctl:
                    if ctl.levels > 1:
                        ctl.levels -= 1
                        raise
                    status = 0
                    if ctl.kind == "break":
                        break
        finally:
            self.loops -= 1
        self.status = status
        return status

    # -- expansion

    def _lookup(self, name: str) -> str | None:
        if name == "?":
            return str(self.status)
        if name == "$":
            return str(self.pid)
        if name == "#":
            return str(len(self.args) - 1)
        if name in ("@", "*"):
            return " ".join(self.args[1:])
        if name.isdigit():
            i = int(name)
            return self.args[i] if i < len(self.args) else None
        return self.vars.get(name)

    async def _value(self, part: Var | Sub, stdin: Input, stderr: Output) -> str:
        if isinstance(part, Sub):
            buf = BufferOutput()
            sub = self.subshell()
            if self.bash:
                sub.trace_level += 1
            try:
                await sub.run_script(part.script, stdin, buf, stderr)
            except ExitShell as e:
                sub.status = e.status
            self._sub_status = sub.status
            return buf.getvalue().rstrip("\n")
        value = self._lookup(part.name)
        if part.default is not None and (value is None or (part.colon and value == "")):
            return " ".join(await self.expand(part.default, stdin, stderr)) if part.default.parts else ""
        if value is None:
            if self.nounset and part.name not in "@*":
                message = f"{part.name}: unbound variable" if self.bash else f"{part.name}: parameter not set"
                stderr.write(self.diag(message) + "\n")
                raise ExitShell(127 if self.bash else 2)  # what bash 5.2 and dash 0.5.12 exit with
            return ""
        return value

    async def expand(self, word: Word, stdin: Input, stderr: Output, split: bool = True) -> list[str]:
        """A word's fields after expansion, field splitting (when `split`) and quote removal."""
        fields: list[str] = []
        cur: str | None = None
        for part in word.parts:
            if isinstance(part, Lit):
                text = part.text
                if not part.quoted:
                    if cur is None and text.startswith("~") and (len(text) == 1 or text[1] == "/"):
                        text = self.vars.get("HOME", "/") + text[1:]
                    if _is_glob(text):
                        raise unsupported(f"glob pattern {text!r} (quote it)")
                cur = (cur or "") + text
                continue
            if isinstance(part, Var) and part.name == "@" and part.quoted and part.default is None and split:
                args = self.args[1:]  # "$@": one field per argument, joined to what is around it
                if args:
                    cur = (cur or "") + args[0]
                    for arg in args[1:]:
                        fields.append(cur)
                        cur = arg
                continue
            value = await self._value(part, stdin, stderr)
            if part.quoted or not split:
                cur = (cur or "") + value
                continue
            if not value:
                continue
            pieces = value.split()
            if not pieces:
                if cur is not None:
                    fields.append(cur)
                cur = None
                continue
            for i, piece in enumerate(pieces):
                if i == 0 and not value[0].isspace():
                    cur = (cur or "") + piece
                else:
                    if cur is not None:
                        fields.append(cur)
                    cur = piece
            if value[-1].isspace():
                fields.append(cur)  # type: ignore[arg-type]
                cur = None
        if cur is not None:
            fields.append(cur)
        return fields

    async def _expand_one(self, word: Word, stdin: Input, stderr: Output) -> str:
        return "".join(await self.expand(word, stdin, stderr, split=False))

    # -- simple commands

    def _trace(self, assigns: list[tuple[str, str]], argv: list[str], stderr: Output) -> None:
        """`set -x`: bash quotes each word and gives assignments a line each; dash writes them as they are."""
        if self.bash:
            plus = "+" * self.trace_level
            for name, value in assigns:
                stderr.write(f"{plus} {name}={bash_quote(value)}\n")
            if argv:
                stderr.write(f"{plus} {' '.join(bash_quote(a) for a in argv)}\n")
        elif assigns or argv:
            stderr.write("+ " + " ".join([*(f"{n}={v}" for n, v in assigns), *argv]) + "\n")

    async def _simple(self, cmd: Simple, stdin: Input, stdout: Output, stderr: Output) -> int:
        cwd = CWD.set(self.vars.get("PWD") or CWD.get())
        try:
            return await self._simple_in_cwd(cmd, stdin, stdout, stderr)
        finally:
            CWD.reset(cwd)

    async def _simple_in_cwd(self, cmd: Simple, stdin: Input, stdout: Output, stderr: Output) -> int:
        self.line = cmd.line
        self._sub_status = 0
        argv: list[str] = []
        for w in cmd.words:
            argv.extend(await self.expand(w, stdin, stderr))
        assigns = [(name, await self._expand_one(w, stdin, stderr)) for name, w in cmd.assigns]
        if self.xtrace:
            self._trace(assigns, argv, stderr)
        streams: dict[int, Any] = {0: stdin, 1: stdout, 2: stderr}
        files: list[FileOutput] = []
        try:
            for r in cmd.redirs:
                problem = await self._redirect(streams, r, files, stderr)
                if problem is not None:
                    return problem
            if argv == ["exec"] and cmd.redirs:
                raise unsupported("exec with only redirections (redirecting the rest of the script)")
            if not argv:
                for name, value in assigns:
                    self.vars[name] = value
                return self._sub_status
            env = {k: v for k, v in self.vars.items() if k in self.exported}
            env.update(assigns)
            return await self._run(argv, streams[0], streams[1], streams[2], env, cmd.line, assigns)
        finally:
            for f in files:
                await f.flush()

    async def _redirect(self, streams: dict[int, Any], r: Redir, files: list[FileOutput], stderr: Output) -> int | None:
        """Apply one redirection; on failure write the shell's message and return its status."""
        target = await self._expand_one(r.target, streams[0], stderr)

        def fail(dash: str, bash: str) -> int:
            stderr.write(self.diag(bash if self.bash else dash) + "\n")
            return 1 if self.bash else 2

        if r.op == "<<":
            streams[r.fd] = StringInput(target)
            return None
        if r.op in (">&", "<&"):
            if target == "-":
                streams[r.fd] = NullOutput() if r.op == ">&" else StringInput("")
                return None
            if not target.isdigit() or int(target) not in streams:
                return fail(f"{target}: Bad file descriptor", f"{target}: Bad file descriptor")
            streams[r.fd] = streams[int(target)]
            return None
        if r.op == "<":
            text = await self.node.fs.read(target)
            if text is None:
                return fail(f"cannot open {target}: No such file", f"{target}: No such file or directory")
            streams[r.fd] = StringInput(text)
            return None
        both = r.op in ("&>", "&>>")  # bash: stdout and stderr to the same file
        fd = 1 if both else r.fd
        if target == "/dev/null":
            out: Output = NullOutput()
        elif fd == 1 and target == "/dev/stderr":
            out = streams[2]
        else:
            why = self.node.fs.cannot_write(target, self.user)
            if why:
                bash_why = "No such file or directory" if why == "Directory nonexistent" else why
                return fail(f"cannot create {target}: {why}", f"{target}: {bash_why}")
            # open(2): create or truncate (`>>`: keep, a generated file's text included) -- then write through
            await self.node.fs.write(target, "", append=r.op in (">>", "&>>"), owner=self.user)
            f = FileOutput(self.node, target)
            files.append(f)
            out = f
        streams[fd] = out
        if both:
            streams[2] = out
        return None

    async def _run(
        self,
        argv: list[str],
        stdin: Input,
        stdout: Output,
        stderr: Output,
        env: dict[str, str],
        line: int,
        assigns: list[tuple[str, str]],
    ) -> int:
        name = argv[0]
        if self.hang is not None and self.hang.search(" ".join(argv)):
            self.node.record_argv(self.user, argv)
            await asyncio.Event().wait()
        builtin = BUILTINS.get(name)
        ctx = Ctx(self.node, self, self.user, stdin, stdout, stderr, env, self.groups)
        if builtin is not None:
            self.node.record_argv(self.user, argv)
            return await builtin(ctx, argv)
        if name in NOT_SIMULATED:
            raise unsupported(f"the shell builtin '{name}'")
        return await self.exec_argv(argv, stdin, stdout, stderr, env, line)

    async def exec_argv(
        self, argv: list[str], stdin: Input, stdout: Output, stderr: Output, env: dict[str, str], line: int = 1
    ) -> int:
        """Run an external command (PATH lookup), as `exec`, `sudo` or `timeout` would."""
        name = argv[0]
        self.node.record_argv(self.user, argv)
        found = self.table.lookup(self.node, name, env.get("PATH", self.vars.get("PATH", "")))
        if found is None:
            if not self.bash:
                stderr.write(self.diag(f"{name}: not found", line) + "\n")
            elif "/" in name:
                stderr.write(self.diag(f"{name}: No such file or directory", line) + "\n")
            else:
                stderr.write(self.diag(f"{name}: command not found", line) + "\n")
            return 127
        _path, handler = found
        ctx = Ctx(self.node, self, self.user, stdin, stdout, stderr, env, self.groups)
        try:
            return await handler(ctx, argv)
        except BrokenPipe:
            return 141
        except ExitShell:
            raise
        except asyncio.CancelledError:
            raise
        except ShellError as exc:
            stderr.write(f"{exc.message}\n")
            return 2
        except Exception as exc:  # a bug in the simulator: say so, loudly
            stderr.write(f"thinkube-lab: internal error in simulated '{name}': {exc.__class__.__name__}: {exc}\n")
            return 70

    def command_path(self, name: str) -> str | None:
        """What `command -v NAME` prints."""
        if name in BUILTINS or name in NOT_SIMULATED:
            return name
        found = self.table.lookup(self.node, name, self.vars.get("PATH", ""))
        return found[0] if found else None


def _is_glob(text: str) -> bool:
    if "*" in text or "?" in text:
        return True
    i = text.find("[")
    return i >= 0 and text not in ("[", "[[") and "]" in text[i + 1 :]
