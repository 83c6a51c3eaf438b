"""The lab shell's builtins, as bash and dash each have them.

Where Ubuntu's two shells differ, each builtin follows the shell running it (`ctx.shell.dialect`):
`echo` (dash always interprets backslash escapes; bash only with `-e`), `test`/`[` (`==` is bash's,
an error in dash), `set -o pipefail` (bash only; dash 0.5.12 stops with "Illegal option"), and
their error messages and statuses -- dash ends the script on an error in a special builtin
(`set`, `exit`, `export`, `shift`), bash carries on.

Builtins a real shell has but the lab does not simulate (`read`, `eval`, `trap`, ...) are listed
in `NOT_SIMULATED`: using one stops the script loudly instead of "command not found".
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .shell_syntax import ExitShell, LoopControl, ShellError, unsupported

if TYPE_CHECKING:
    from .shell import Ctx

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

NOT_SIMULATED = frozenset(
    [
        "read",
        "local",
        "return",
        "eval",
        "source",
        ".",
        "trap",
        "wait",
        "umask",
        "type",
        "alias",
        "unalias",
        "getopts",
        "hash",
        "ulimit",
        "readonly",
        "let",
        "declare",
        "typeset",
        "shopt",
        "pushd",
        "popd",
        "dirs",
        "times",
        "jobs",
        "fg",
        "bg",
        "mapfile",
        "readarray",
    ]
)


def _special_error(ctx: Ctx, message: str, bash_status: int) -> int:
    """An error in a special builtin: dash ends the script (status 2), bash returns `bash_status`."""
    ctx.err(ctx.shell.diag(message))
    if not ctx.shell.bash:
        raise ExitShell(2)
    return bash_status


async def _true(ctx: Ctx, argv: list[str]) -> int:
    return 0


async def _false(ctx: Ctx, argv: list[str]) -> int:
    return 1


async def _exit(ctx: Ctx, argv: list[str]) -> int:
    if len(argv) > 1:
        if not argv[1].isdigit():
            bash = f"exit: {argv[1]}: numeric argument required"
            ctx.err(ctx.shell.diag(bash if ctx.shell.bash else f"exit: Illegal number: {argv[1]}"))
            raise ExitShell(2)
        raise ExitShell(int(argv[1]) & 0xFF)
    raise ExitShell(ctx.shell.status)


async def _export(ctx: Ctx, argv: list[str]) -> int:
    for arg in argv[1:]:
        if arg == "-p":
            for k in sorted(ctx.shell.exported):
                if k in ctx.shell.vars:
                    ctx.out(f"export {k}='{ctx.shell.vars[k]}'\n")
            continue
        name, eq, value = arg.partition("=")
        if not _NAME.fullmatch(name):
            bash = f"export: `{arg}': not a valid identifier"
            return _special_error(ctx, bash if ctx.shell.bash else f"export: {arg}: bad variable name", 1)
        if eq:
            ctx.shell.vars[name] = value
        ctx.shell.exported.add(name)
    return 0


async def _unset(ctx: Ctx, argv: list[str]) -> int:
    for name in argv[1:]:
        if name in ("-v", "-f"):
            continue
        ctx.shell.vars.pop(name, None)
        ctx.shell.exported.discard(name)
    return 0


_SET_LETTERS = {"e": "errexit", "u": "nounset", "x": "xtrace"}
_SET_VALID = set("abefhkmnptuvxBCEHPT")  # bash's set letters; the lab refuses those it does not simulate


def _set_option(ctx: Ctx, name: str, on: bool) -> int | None:
    shell = ctx.shell
    if name in ("errexit", "nounset", "xtrace") or (name == "pipefail" and shell.bash):
        setattr(shell, name, on)
        return None
    known = {"allexport", "noglob", "noclobber", "noexec", "verbose", "monitor", "notify", "vi", "emacs"}
    if name in known or (shell.bash and name in {"posix", "errtrace", "functrace", "hashall", "braceexpand"}):
        raise unsupported(f"set -o {name}")
    if shell.bash:
        return _special_error(ctx, f"set: {name}: invalid option name", 2)
    return _special_error(ctx, f"set: Illegal option -o {name}", 2)


async def _set(ctx: Ctx, argv: list[str]) -> int:
    shell = ctx.shell
    args = argv[1:]
    while args:
        arg = args.pop(0)
        if arg == "--":
            shell.args = [shell.args[0], *args]
            return 0
        if arg in ("-o", "+o"):
            if not args:
                raise unsupported(f"set {arg} without an option name (listing options)")
            status = _set_option(ctx, args.pop(0), arg[0] == "-")
            if status is not None:
                return status
            continue
        if re.fullmatch(r"[-+][A-Za-z]+", arg):
            on = arg[0] == "-"
            for letter in arg[1:]:
                if letter == "o":
                    if not args:
                        raise unsupported(f"set {arg} without an option name (listing options)")
                    status = _set_option(ctx, args.pop(0), on)
                    if status is not None:
                        return status
                elif letter in _SET_LETTERS:
                    setattr(shell, _SET_LETTERS[letter], on)
                elif letter in _SET_VALID:
                    raise unsupported(f"set {arg[0]}{letter}")
                elif shell.bash:
                    ctx.err(shell.diag(f"set: {arg[0]}{letter}: invalid option"))
                    ctx.err("set: usage: set [-abefhkmnptuvxBCEHPT] [-o option-name] [--] [-] [arg ...]")
                    return 2
                else:
                    return _special_error(ctx, f"set: Illegal option {arg[0]}{letter}", 2)
            continue
        shell.args = [shell.args[0], arg, *args]  # `set a b`: new positional parameters
        return 0
    return 0


async def _shift(ctx: Ctx, argv: list[str]) -> int:
    n = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else 1
    shell = ctx.shell
    if n > len(shell.args) - 1:
        if shell.bash:
            return 1
        return _special_error(ctx, "shift: can't shift that many", 2)
    shell.args = [shell.args[0], *shell.args[1 + n :]]
    return 0


async def _loop_control(ctx: Ctx, argv: list[str]) -> int:
    if not ctx.shell.loops:
        return 0
    levels = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() and int(argv[1]) > 0 else 1
    raise LoopControl(argv[0], min(levels, ctx.shell.loops))


async def _cd(ctx: Ctx, argv: list[str]) -> int:
    given = argv[1] if len(argv) > 1 else ctx.shell.vars.get("HOME", "/")
    target = given if given.startswith("/") else ctx.node.fs.norm(ctx.shell.vars.get("PWD", "/") + "/" + given)
    if not await ctx.node.fs.is_dir(target):
        bash = f"cd: {given}: No such file or directory"
        ctx.err(ctx.shell.diag(bash if ctx.shell.bash else f"cd: can't cd to {given}"))
        return 1 if ctx.shell.bash else 2
    ctx.shell.vars["PWD"] = target
    return 0


async def _pwd(ctx: Ctx, argv: list[str]) -> int:
    ctx.out(ctx.shell.vars.get("PWD", "/") + "\n")
    return 0


def _echo_escapes(text: str) -> tuple[str, bool]:
    """Backslash escapes as dash's echo (and bash's `echo -e`) interprets them; `\\c` stops output."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            n = text[i + 1]
            if n == "c":
                return "".join(out), True
            mapping = {"n": "\n", "t": "\t", "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "r": "\r", "v": "\v"}
            if n in mapping:
                out.append(mapping[n])
                i += 2
                continue
            if n == "0":
                j = i + 2
                digits = ""
                while j < len(text) and len(digits) < 3 and text[j] in "01234567":
                    digits += text[j]
                    j += 1
                out.append(chr(int(digits or "0", 8)))
                i = j
                continue
        out.append(c)
        i += 1
    return "".join(out), False


async def _echo(ctx: Ctx, argv: list[str]) -> int:
    return await echo_command(ctx, argv, ctx.shell.dialect)


async def echo_command(ctx: Ctx, argv: list[str], flavor: str) -> int:
    """`echo` as `flavor` has it: "dash", or "bash"/"coreutils" (escapes only with -e)."""
    args = argv[1:]
    newline = True
    if flavor != "dash":  # bash: -n, -e, -E (any mix); escapes only with -e
        escapes = False
        while args and re.fullmatch(r"-[neE]+", args[0]):
            for c in args.pop(0)[1:]:
                newline = newline and c != "n"
                escapes = c == "e" if c in "eE" else escapes
        text, stop = _echo_escapes(" ".join(args)) if escapes else (" ".join(args), False)
    else:  # dash: only -n; escapes always
        if args and args[0] == "-n":
            newline = False
            args = args[1:]
        text, stop = _echo_escapes(" ".join(args))
    ctx.out(text + ("" if stop or not newline else "\n"))
    return 0


def _printf_format(fmt: str, args: list[str]) -> tuple[str, int]:
    out: list[str] = []
    used = 0
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c == "\\" and i + 1 < len(fmt):
            text, _ = _echo_escapes(fmt[i : i + 2])
            out.append(text)
            i += 2
            continue
        if c == "%" and i + 1 < len(fmt):
            m = re.match(r"%([-+ 0#]*)(\d*)(?:\.(\d+))?([sdbc%xu])", fmt[i:])
            if not m:
                raise ShellError(f"printf: %{fmt[i + 1]}: invalid directive")
            flags, width, prec, conv = m.groups()
            i += m.end()
            if conv == "%":
                out.append("%")
                continue
            arg = args[used] if used < len(args) else ""
            used += 1
            if conv == "s":
                value = arg if prec is None else arg[: int(prec)]
            elif conv == "b":
                value = _echo_escapes(arg)[0]
            elif conv == "c":
                value = arg[:1]
            else:
                try:
                    n = int(arg or "0", 0)
                except ValueError:
                    raise ShellError(f"printf: {arg}: expected numeric value") from None
                value = format(n, "x") if conv == "x" else str(n)
            if width:
                pad = "0" if "0" in flags and conv != "s" else " "
                value = value.ljust(int(width)) if "-" in flags else value.rjust(int(width), pad)
            out.append(value)
            continue
        out.append(c)
        i += 1
    return "".join(out), used


async def _printf(ctx: Ctx, argv: list[str]) -> int:
    if len(argv) < 2:
        ctx.err("printf: usage: printf format [arg ...]")
        return 2
    fmt, args = argv[1], argv[2:]
    while True:
        text, used = _printf_format(fmt, args)
        ctx.out(text)
        if not used or used >= len(args):
            break
        args = args[used:]
    return 0


async def _command(ctx: Ctx, argv: list[str]) -> int:
    args = argv[1:]
    if args and args[0] in ("-v", "-V"):
        status = 0
        # dash 0.5.12 looks at the first name only, and a missing one is 127; bash: each, and 1
        names = args[1:] if ctx.shell.bash else args[1:2]
        for name in names:
            path = ctx.shell.command_path(name)
            if path is None:
                status = 1 if args[0] == "-v" and ctx.shell.bash else 127
                if args[0] == "-V":
                    ctx.err(f"{name}: not found")
                continue
            ctx.out(f"{path}\n" if args[0] == "-v" else f"{name} is {path}\n")
        return status
    if not args:
        return 0
    return await ctx.shell._run(args, ctx.stdin, ctx.stdout, ctx.stderr, ctx.env, ctx.shell.line, [])


async def _exec(ctx: Ctx, argv: list[str]) -> int:
    if len(argv) == 1:
        return 0
    status = await ctx.shell.exec_argv(argv[1:], ctx.stdin, ctx.stdout, ctx.stderr, ctx.env, ctx.shell.line)
    raise ExitShell(status)


# ---------------------------------------------------------------------------- test / [

_UNARY = {"-n", "-z", "-e", "-a", "-f", "-d", "-x", "-r", "-w", "-s", "-L", "-h"}
_UNARY_UNSIMULATED = {"-b", "-c", "-g", "-G", "-k", "-N", "-O", "-p", "-S", "-t", "-u", "-v", "-o"}
_BINARY = {"=", "!=", "-eq", "-ne", "-lt", "-le", "-gt", "-ge"}


class _TestError(Exception):
    pass


async def test_command(ctx: Ctx, argv: list[str], flavor: str) -> int:
    """`test`/`[` as `flavor` has it: "dash" or "bash" (the builtins), "coreutils" (/usr/bin/test)."""
    name = argv[0]
    args = argv[1:]
    if name == "[":
        if not args or args[-1] != "]":
            message = "[: missing `]'" if flavor == "bash" else "[: missing ]"
            ctx.err(ctx.shell.diag(message) if flavor != "coreutils" else "[: missing ']'")
            return 2
        args = args[:-1]
    try:
        return 0 if await _test_expr(ctx, args, flavor) else 1
    except _TestError as exc:
        ctx.err(ctx.shell.diag(f"{name}: {exc}") if flavor != "coreutils" else f"{name}: {exc}")
        return 2


async def _test(ctx: Ctx, argv: list[str]) -> int:
    return await test_command(ctx, argv, ctx.shell.dialect)


def _binary_ops(flavor: str) -> set[str]:
    # `==` is bash's and coreutils'; dash's test knows only `=` (`[ a == a ]`: "unexpected operator")
    return _BINARY | ({"==", "<", ">"} if flavor != "dash" else set())


async def _test_expr(ctx: Ctx, args: list[str], flavor: str) -> bool:
    if not args:
        return False
    if args[0] == "!" and len(args) != 3:
        return not await _test_expr(ctx, args[1:], flavor)
    for op in ("-o", "-a"):
        if op in args[1:-1]:
            i = args.index(op, 1)
            left = await _test_expr(ctx, args[:i], flavor)
            right = await _test_expr(ctx, args[i + 1 :], flavor)
            return (left or right) if op == "-o" else (left and right)
    if len(args) == 1:
        return args[0] != ""
    if len(args) == 2:
        op, x = args
        if op in _UNARY:
            return await _unary(ctx, op, x)
        if op in _UNARY_UNSIMULATED or op in {"-ef", "-nt", "-ot"}:
            raise unsupported(f"test {op}")
        if flavor == "dash":
            raise _TestError(f"{x}: argument expected" if x in _binary_ops("bash") else f"{op}: unexpected operator")
        raise _TestError(f"{op}: unary operator expected")
    if len(args) == 3:
        a, op, b = args
        if a == "!":
            return not await _test_expr(ctx, args[1:], flavor)
        if op in _binary_ops(flavor):
            return _binary(a, op, b, flavor)
        if op in {"-ef", "-nt", "-ot"}:
            raise unsupported(f"test {op}")
        if flavor == "dash":
            raise _TestError(f"{a}: unexpected operator")
        raise _TestError(f"{op}: binary operator expected")
    if flavor == "dash":
        raise _TestError(f"{args[0]}: unexpected operator")
    raise _TestError("too many arguments")


async def _unary(ctx: Ctx, op: str, x: str) -> bool:
    fs = ctx.node.fs
    if op == "-n":
        return x != ""
    if op == "-z":
        return x == ""
    if op in ("-e", "-a"):
        return await fs.exists(x) or ctx.node.is_executable(x)
    if op == "-f":
        return await fs.is_file(x) or ctx.node.is_executable(x)
    if op == "-d":
        return await fs.is_dir(x)
    if op == "-x":
        return ctx.node.is_executable(x) or await fs.is_dir(x)
    if op == "-r":
        return (await fs.exists(x)) and fs.cannot_read(x, ctx.user) is None
    if op == "-w":
        return (await fs.exists(x)) and fs.cannot_write(x, ctx.user) is None
    if op == "-s":
        return bool(await fs.read(x))
    return False  # -L / -h: the lab has no symbolic links


def _binary(a: str, op: str, b: str, flavor: str) -> bool:
    if op in ("=", "=="):
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == ">":
        return a > b
    try:
        x, y = int(a), int(b)
    except ValueError:
        bad = a if not a.strip().lstrip("-").isdigit() else b
        raise _TestError(
            f"Illegal number: {bad}" if flavor == "dash" else f"{bad}: integer expression expected"
        ) from None
    return {"-eq": x == y, "-ne": x != y, "-lt": x < y, "-le": x <= y, "-gt": x > y, "-ge": x >= y}[op]


Builtin = Callable[["Ctx", list[str]], Awaitable[int]]

BUILTINS: dict[str, Builtin] = {
    "true": _true,
    ":": _true,
    "false": _false,
    "exit": _exit,
    "export": _export,
    "unset": _unset,
    "set": _set,
    "shift": _shift,
    "break": _loop_control,
    "continue": _loop_control,
    "cd": _cd,
    "pwd": _pwd,
    "echo": _echo,
    "printf": _printf,
    "command": _command,
    "exec": _exec,
    "test": _test,
    "[": _test,
}
