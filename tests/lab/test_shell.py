"""The lab shell: parsing and evaluation of the POSIX-sh subset, without SSH."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from thinkube_lab.node import LabNode
from thinkube_lab.profiles import profile
from thinkube_lab.shell import BufferOutput, ShellError, StringInput, Unsupported, parse


@pytest.fixture
def node(tmp_path: Path) -> LabNode:
    return LabNode(
        "tk-test", profile("worker"), index=1, address="10.42.0.12", state_dir=tmp_path / "n", sudo_password="s3cret"
    )


async def sh(node: LabNode, command: str, stdin: str = "", user: str = "thinkube") -> tuple[int, str, str]:
    out, err = BufferOutput(), BufferOutput()
    rc = await node.run(command, StringInput(stdin), out, err, user=user)
    return rc, out.getvalue(), err.getvalue()


async def test_lists_and_status(node: LabNode) -> None:
    assert await sh(node, "true && echo a || echo b; false || echo c; false && echo d; echo $?") == (0, "a\nc\n1\n", "")
    assert (await sh(node, "echo one\necho two"))[1] == "one\ntwo\n"
    assert (await sh(node, "! false && echo negated"))[1] == "negated\n"
    assert (await sh(node, "exit 3; echo never"))[0] == 3


async def test_pipelines(node: LabNode) -> None:
    rc, out, _ = await sh(node, "printf 'a\\nb\\nc\\n' | tail -n +2 | head -n 1")
    assert (rc, out) == (0, "b\n")
    rc, out, _ = await sh(node, "cat | grep -c x", stdin="x1\ny\nx2\n")
    assert out == "2\n"
    assert (await sh(node, "echo x | false"))[0] == 1


async def test_quoting_and_expansions(node: LabNode) -> None:
    _, out, _ = await sh(node, "A='a  b'; echo $A \"$A\" '$A' \\$A ${A} ${NOPE:-dflt} \"${NOPE-}\"x")
    assert out == "a b a  b $A $A a b dflt x\n"
    _, out, _ = await sh(node, 'X=$(echo "one two"; echo three); echo "[$X]"; echo $(echo nested $(echo deep))')
    assert out == "[one two\nthree]\nnested deep\n"
    _, out, _ = await sh(node, "echo $$ $0 ~")
    pid, zero, home = out.split()
    assert pid.isdigit() and zero == "bash" and home == "/home/thinkube"  # an SSH command line runs under bash
    _, out, _ = await sh(node, "V=1 env | grep '^V='; echo \"[$V]\"")
    assert out == "V=1\n[]\n"
    _rc, out, _ = await sh(node, "export E=x; sh -c 'echo $E $0 $1' me arg")
    assert out == "x me arg\n"


async def test_redirections(node: LabNode) -> None:
    rc, out, err = await sh(
        node, "echo hi > /tmp/f; echo there >> /tmp/f; cat < /tmp/f; cat /nope 2>/dev/null; echo $?"
    )
    assert out == "hi\nthere\n1\n" and err == ""
    rc, out, err = await sh(node, "cat /nope 2>&1 | grep -c 'No such'")
    assert out == "1\n"
    rc, out, err = await sh(node, "echo to-err >&2; echo also 1>&2")
    assert (out, err) == ("", "to-err\nalso\n")
    rc, out, err = await sh(node, "echo x > /etc/motd")
    assert (rc, err) == (1, "bash: line 1: /etc/motd: Permission denied\n")
    rc, out, err = await sh(node, "sh -c 'echo x > /etc/motd'")
    assert rc == 2 and "cannot create /etc/motd: Permission denied" in err
    assert await node.fs.read("/tmp/f") == "hi\nthere\n"


async def test_builtins(node: LabNode) -> None:
    _, out, _ = await sh(node, "printf '%s=%s\\n' a 1 b 2; echo -n x; echo")
    assert out == "a=1\nb=2\nx\n"
    _, out, _ = await sh(node, "command -v echo snap nosuch; echo $?")
    assert out == "echo\n/usr/bin/snap\n1\n"
    _rc, out, _ = await sh(
        node,
        "[ -e /etc/os-release ] && test -d /var/snap && [ -n x ] && [ -z '' ] && "
        "[ a = a ] && [ a != b ] && ! [ -f /nope ] && echo ok",
    )
    assert out == "ok\n"
    assert (await sh(node, "exec false; echo never"))[0:2] == (1, "")


@pytest.mark.parametrize(
    "script",
    [
        "case x in x) ;; esac",
        "f() { echo; }",
        "[[ a == a ]]",
        "cat <<EOF\nx",
        "ls /etc/*",
        "echo `id`",
        "sleep 1 &",
        "echo $((1+1))",
    ],
)
async def test_unsupported_syntax_is_refused(node: LabNode, script: str) -> None:
    rc, out, err = await sh(node, script)
    assert rc == 2 and out == ""
    assert err.startswith("lab shell: unsupported syntax:"), err
    with pytest.raises(ShellError):
        if not script.startswith(("ls", "echo $((")):
            parse(script, "bash")
        else:
            raise Unsupported("checked at run time")


async def test_syntax_errors_and_unknown_commands(node: LabNode) -> None:
    rc, _, err = await sh(node, "echo a &&")
    assert rc == 2 and "Syntax error" in err
    assert await sh(node, "frobnicate --now") == (127, "", "bash: line 1: frobnicate: command not found\n")
    assert await sh(node, "sh -c 'frobnicate --now'") == (127, "", "sh: 1: frobnicate: not found\n")
    assert (await sh(node, "/snap/bin/microk8s status"))[0] == 127  # not installed yet
    assert (await sh(node, "nvidia-smi"))[0] == 127  # no GPU on a worker


async def test_history_records_argv_not_stdin(node: LabNode) -> None:
    await sh(node, "sudo -S -p '' id -u", stdin="s3cret\n")
    assert node.history[-1] == "sudo -S -p '' id -u"
    assert ("thinkube", ("sudo", "-S", "-p", "", "id", "-u")) in node.argv_log
    assert ("root", ("id", "-u")) in node.argv_log
    assert not any("s3cret" in " ".join(argv) for _, argv in node.argv_log)


async def test_mkdir_is_one_atomic_test_and_create(node: LabNode) -> None:
    """Lock directories rely on `mkdir DIR` failing when DIR exists. The lab checked, awaited, then
    created with exist_ok: two installs racing for the control node's lock both won it."""
    await sh(node, "mkdir -p /tmp/locks")
    results = await asyncio.gather(*(sh(node, "mkdir /tmp/locks/install.lock") for _ in range(8)))
    assert sorted(code for code, _, _ in results) == [0] + [1] * 7, results
    assert all("File exists" in err for code, _, err in results if code)
    assert (await sh(node, "mkdir /etc"))[0] == 1  # a directory the simulation has, not the disk
