"""`sudo` on a simulated node (sudo 1.9.15, Ubuntu 24.04).

`-n` never asks: it fails with "a password is required" unless the node allows NOPASSWD.
`-S` reads the password from the first line of stdin (up to three attempts, each a line, as
the real sudo does -- which is why callers check the password with `sudo -S true` first),
then runs the command as root with the rest of stdin. Without `-S` and without a terminal it
fails like sudo does over a plain SSH exec channel. There is no credential cache between
commands (the lab has no tty to key it on).
"""

from __future__ import annotations

from ..nodestate import SECURE_PATH
from ..shell import Ctx
from .table import program


def _usage(ctx: Ctx) -> int:
    ctx.err(
        "usage: sudo [-AbEHknPS] [-C num] [-D directory] [-g group] [-h host] [-p prompt] [-R directory] "
        "[-T timeout] [-u user] [VAR=value] [-i | -s] [command [arg ...]]"
    )
    return 1


@program("/usr/bin/sudo")
async def sudo(ctx: Ctx, argv: list[str]) -> int:
    args = argv[1:]
    non_interactive = stdin_password = False
    prompt = f"[sudo] password for {ctx.user}: "
    target = "root"
    while args and args[0].startswith("-"):
        a = args.pop(0)
        if a == "--":
            break
        if a in ("-p", "--prompt"):
            if not args:
                return _usage(ctx)
            prompt = args.pop(0)
            continue
        if a.startswith("-p") and len(a) > 2:
            prompt = a[2:]
            continue
        if a in ("-u", "--user"):
            target = args.pop(0) if args else ""
            if target != "root":
                ctx.err(f"thinkube-lab: sudo -u {target} is not simulated (only root)")
                return 1
            continue
        for c in a[1:]:
            if c == "n":
                non_interactive = True
            elif c == "S":
                stdin_password = True
            elif c in ("k", "E", "H"):
                pass
            else:
                ctx.err(f"sudo: invalid option -- '{c}'")
                return _usage(ctx)
    if not args:
        return _usage(ctx)
    node = ctx.node
    if not ctx.is_root:
        if not node.sudoer:
            ctx.err(f"{ctx.user} is not in the sudoers file.")
            return 1
        if not node.nopasswd:
            if non_interactive:
                ctx.err("sudo: a password is required")
                return 1
            if not stdin_password:
                ctx.err(
                    "sudo: a terminal is required to read the password; either use the -S option to read "
                    "from standard input or configure an askpass helper"
                )
                ctx.err("sudo: a password is required")
                return 1
            ok = False
            for attempt in range(3):
                if prompt:
                    ctx.stderr.write(prompt)
                line = await ctx.stdin.readline()
                if not line:
                    if attempt == 0:
                        ctx.err("sudo: no password was provided")
                    else:
                        ctx.err(f"sudo: {attempt} incorrect password attempt{'s' if attempt > 1 else ''}")
                    return 1
                if node.sudo_password is not None and line.rstrip("\n") == node.sudo_password:
                    ok = True
                    break
                ctx.err("Sorry, try again.")
            if not ok:
                ctx.err("sudo: 3 incorrect password attempts")
                return 1
    env = {k: v for k, v in ctx.env.items() if k in ("LANG", "LC_ALL", "TERM")}
    env.update(
        PATH=SECURE_PATH,
        HOME="/root",
        USER="root",
        LOGNAME="root",
        SHELL="/bin/bash",
        SUDO_USER=ctx.user,
        SUDO_UID=str(node.uid(ctx.user)),
    )
    while args and "=" in args[0] and not args[0].startswith("="):
        k, _, v = args.pop(0).partition("=")
        env[k] = v
    if not args:
        return _usage(ctx)
    sub = ctx.shell.child(user="root", env=env, groups=frozenset({"root"}))
    if sub.table.lookup(node, args[0], env["PATH"]) is None:
        ctx.err(f"sudo: {args[0]}: command not found")
        return 1
    return await sub.exec_argv(args, ctx.stdin, ctx.stdout, ctx.stderr, env)
