"""The lab's shell against Ubuntu's own shells, over a real OpenSSH client.

Each script of the battery runs two ways on a lab node, as installers run commands on a real
node: as the SSH command line (sshd runs it with the login shell, bash: `bash -c LINE`) and
through `sudo -n sh -c LINE` (dash, Ubuntu's /bin/sh). The same strings run on this machine
under the real `bash -c` and `dash -c` (invoked as `sh`, as `sudo sh` does); stdout, stderr and
the exit status must be the same, word for word. Scratch files go to the same absolute path
on both sides (`@D@` in a script), so messages naming a file match too.

What the lab refuses instead of simulating is asserted separately (`REFUSED`): exit status 2,
`lab shell: unsupported syntax: ...` naming the construct, and nothing after it runs; docs/lab.md
lists them. A real shell's answer to the same string is checked to differ, so a refusal never
hides a construct the lab could be compared on.
"""

from __future__ import annotations

import asyncio
import shlex
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from thinkube_lab.cluster import Lab

SSH = shutil.which("ssh")
BASH = shutil.which("bash")
DASH = shutil.which("dash")
pytestmark = [
    pytest.mark.skipif(not (SSH and BASH and DASH), reason="needs the OpenSSH client, bash and dash"),
    pytest.mark.asyncio(loop_scope="module"),
]

# The environment sshd and sudo give a command on an Ubuntu node (what the lab's sessions have).
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}

# (id, script): run both ways, compared with the real shell of each way.
BATTERY: list[tuple[str, str]] = [
    ("quoting", """A='a  b'; echo $A "$A" '$A' \\$A "${A}x" ${NOPE:-dflt} "${NOPE-}"x"""),
    ("quotes-nested", """echo "it's" 'say "hi"' a\\ b "semi;colon" 'x|y' a\\;b"""),
    ("status", 'false; echo $?; true; echo $?; false; echo "${?}"'),
    ("and-or", "true && echo a || echo b; false && echo c || echo d; false || false || echo e"),
    ("negation", "! false; echo $?; ! true; echo $?"),
    ("pipeline-status", "false | true; echo $?; true | false; echo $?"),
    ("pipefail", "set -o pipefail; false | true; echo $?; true | false | true; echo $?; echo end"),
    ("set-euo-pipefail", "set -euo pipefail; echo start; false | true; echo never"),
    ("set-e-stops", "set -e; echo one; false; echo never"),
    (
        "set-e-exemptions",
        "set -e; false || echo rescued; if false; then :; fi; ! true; false && true; "
        "while false; do :; done; echo survived; false; echo never",
    ),
    ("set-e-substitution", "set -e; x=$(false); echo never"),
    ("set-e-group", "set -e; { echo in; false; echo never; }; echo never"),
    ("set-x", "set -x; A='a b'; echo $A \"x y\" ''; B=1 true; C=2 D='3 4'; echo done"),
    ("set-x-substitution", "set -x; echo $(echo inner) done; set +x; echo quiet"),
    ("set-x-loop", "set -x; for i in a 'b c'; do echo \"$i\"; done"),
    ("set-u", "set -u; echo ${UNSET_X:-dflt}; echo $UNSET_X; echo never"),
    ("sh-c-args", """sh -c 'for a in "$@"; do echo "[$a]"; done; echo "$#" "$*" "$0"' _ "a b" c"""),
    ("bash-c-args", """bash -c 'printf "<%s>" "$@"; echo; echo "$0"' me "a b" '' c"""),
    (
        "positional",
        """set -- "a b" c; printf '<%s>' "$@"; echo; printf '<%s>' $@; echo; printf '<%s>' "$*"; echo; """
        """printf '<%s>' "x$@y"; echo; shift; echo "$#:$1"; set --; printf '<%s>' "$@"; echo "n=$#" """,
    ),
    ("dollar-zero", 'echo "$0" $#'),
    ("test-double-equals", "[ a == a ]; echo $?; test b == c; echo $?"),
    ("test-basics", "[ a = a ] && [ a != b ] && [ -n x ] && [ -z '' ] && [ 1 -lt 2 ] && test -d / && echo ok"),
    ("test-errors", "[ x -eq 1 ]; echo $?; [ a = a; echo $?; [ a b c d ]; echo $?; [ x -foo y ]; echo $?"),
    ("test-and-or", "test 1 -gt 2 -o a = a; echo $?; [ 1 -gt 2 -a a = a ]; echo $?; [ ! -e /nonexistent ]; echo $?"),
    ("double-bracket-under-sh", "sh -c '[[ a == a ]]'; echo $?"),
    ("mkdir-existing", "mkdir @D@/m; echo $?; mkdir @D@/m; echo $?; mkdir -p @D@/m; echo $?"),
    ("mkdir-missing-parent", "mkdir @D@/no/such; echo $?; mkdir -p @D@/no/such && test -d @D@/no/such && echo made"),
    ("redirect-order", "{ echo out; echo err >&2; } 2>&1 >/dev/null; echo x 2>&1 >/dev/null"),
    (
        "mv-rename",  # lock records rely on rename(2): whole or not at all
        "mkdir @D@/a @D@/b @D@/c && echo x > @D@/a/holder && echo > @D@/b/y; mv -T @D@/a @D@/b; echo $?; "
        "mv -T @D@/a @D@/c; echo $?; cat @D@/c/holder; test -e @D@/a; echo $?; mv @D@/none @D@/z; echo $?; "
        "echo f > @D@/f && mv -T @D@/f @D@/b; echo $?; mv -f @D@/f @D@/g && cat @D@/g; mv @D@/g @D@/b && ls @D@/b",
    ),
    ("redirect-files", "echo a > @D@/f; echo b >> @D@/f; cat < @D@/f; cat @D@/none; echo $?"),
    ("redirect-missing-dir", "echo a > @D@/no/f; echo $?; cat < @D@/no/f; echo $?"),
    ("heredoc", "A=val; cat <<EOF\nhello $A\n\\$A $(echo sub) \"q\" 'q'\nEOF\necho after"),
    ("heredoc-quoted", "A=val; cat <<'EOF'\n$A $(echo no) \\n\nEOF"),
    ("heredoc-strip-tabs", "cat <<-EOF\n\tindented\n\t\tmore\n\tEOF\necho after"),
    ("heredoc-two", "cat <<A; cat <<B\none\nA\ntwo\nB"),
    ("for-loop", 'for x in a "b c" d; do echo "<$x>"; done; for y in; do echo never; done; echo "end $x"'),
    ("for-continue-break", "for i in 1 2 3 4; do if [ $i = 2 ]; then continue; fi; [ $i = 4 ] && break; echo $i; done"),
    (
        "if-elif",
        "for v in 1 2 3; do if [ $v = 1 ]; then echo one; elif [ $v = 2 ]; then echo two; else echo other; fi; done",
    ),
    ("while-until", "while false; do echo never; done; until true; do echo never; done; echo $?"),
    ("loop-redirect", "for i in 1 2; do echo $i; done > @D@/loop; cat @D@/loop"),
    ("subshell", "x=1; (x=2; echo in $x; exit 3); echo $? $x"),
    ("group-pipe", "{ echo g1; echo g2; } | cat; echo x | { cat; echo y; }"),
    ("command-substitution", """echo $(echo a; echo b) "$(printf 'x\\n\\n')" end; v=$(exit 4); echo $?"""),
    ("missing-command", "frobnicate --now; echo $?"),
    ("missing-path", "/nonexistent/frobnicate; echo $?"),
    ("echo-escapes", "echo 'a\\nb'; echo -n n; echo; echo -e 'x\\ty'"),
    ("printf", "printf '%s-%s|' a 1 b 2; printf '%5s|%-3s|%03d\\n' r l 7"),
    ("exit-status", "exit 300"),
    ("nested-sh", "sh -c 'exit 5'; echo $?; export V=1; sh -c 'echo V=$V'; W=2 sh -c 'echo W=$W'"),
    ("set-e-nested", "set -e; sh -c 'false'; echo never"),
    ("cd-pwd", "cd @D@ && pwd; cd @D@/nonexistent; echo $?"),
    ("assignments", "A=1 B=2; echo \"$A$B\"; A=x sh -c 'echo $A'; echo $A"),
    ("line-numbers", "echo a\nfrobnicate\n# a comment\necho b # trailing\n[ x -lt y ]\nexit 3"),
    ("if-not", "if ! false; then echo negated; fi; if command -v nosuchcmd; then :; else echo absent $?; fi"),
    ("default-substitution", 'echo "${NOPE:-$(echo from-sub)}" ${EMPTY-unset} "${EMPTY:-x}"'),
    ("heredoc-in-loop", "for n in 1 2; do cat <<EOF\nitem $n\nEOF\ndone | cat"),
    ("stdin-substitution", 'x=$(sh -c \'exit 3\') || echo failed $?; printf "%s\\n" "$(echo a | cat)"'),
    ("test-files", "echo x > @D@/f; test -f @D@/f && test -s @D@/f && ! test -d @D@/f && [ -e @D@ ] && echo files"),
    (
        "relative-paths",
        "cd @D@ && echo x > rel && cat rel @D@/rel && mkdir sub && cd sub && pwd && test -d ../sub && echo ok",
    ),
    (
        "coreutils-messages",
        "head -n x /dev/null; tail -n x /dev/null; uname x; sleep x; rm @D@/none; ls @D@/none; echo $?",
    ),
    ("dev-null", "cat /dev/null; echo $?; [ -e /dev/null ] && ! [ -f /dev/null ] && echo dev; echo x | tee /dev/null"),
    ("kill-not-a-pid", "kill x; echo $?"),
    ("continuation", "echo one \\\n  two; true &&\n  echo three"),
]

# (id, script, way, what the message names, stdout before the refusal): refused loudly.
REFUSED: list[tuple[str, str, str, str, str]] = [
    ("double-bracket", "echo before; [[ a == a ]]; echo after", "bash", "[[ ... ]]", ""),
    ("amp-redirect-under-dash", "echo hi &>/dev/null; echo after", "dash", "'&>' under sh", ""),
    ("case", "case x in x) echo x;; esac", "both", "case", ""),
    ("function", "f() { echo in f; }; f", "both", "function definitions", ""),
    ("arithmetic", "echo before; echo $((1+2)); echo after", "both", "arithmetic", ""),  # refused as parsed
    ("backquote", "echo `echo x`", "both", "backquote", ""),
    ("background", "sleep 1 & echo after", "both", "background jobs", ""),
    ("glob", "echo before; echo /etc/host*; echo after", "both", "glob pattern", "before\n"),
    ("read", "echo before; read x; echo after", "both", "the shell builtin 'read'", "before\n"),
    ("here-string", "cat <<<x", "bash", "here-strings", ""),
    ("set-o-noclobber", "echo before; set -o noclobber; echo after", "both", "set -o noclobber", "before\n"),
    (
        "exec-redirections",
        "echo before; exec 2>/dev/null; echo after >&2",
        "both",
        "exec with only redirections",
        "before\n",
    ),
    ("time", "time true; echo after", "bash", "'time'", ""),
    ("parameter-length", "A=abc; echo ${#A}", "both", "parameter expansion", ""),
]


def _ways(way: str) -> list[str]:
    return ["bash", "dash"] if way == "both" else [way]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def lab(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Lab]:
    d = tmp_path_factory.mktemp("fidelity-lab")
    async with Lab(d / "lab", nodes=1, gpus=0, speed=0.01, nopasswd=True, log=lambda m: None) as lab:
        lab.write_known_hosts(d / "known_hosts")
        yield lab
        control = d / "ssh-control"
        if control.exists():
            await _ssh_process(lab, ["-O", "exit"], "")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fidelity-scratch")


def _ssh_argv(lab: Lab) -> list[str]:
    assert SSH is not None
    state = lab.state_dir.parent
    port = lab.addresses()["tk-control"]["port"]
    return [
        SSH,
        "-F",
        "/dev/null",
        "-p",
        str(port),
        "-i",
        str(lab.client_key),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",  # an unknown host key is refused, never asked about
        "-o",
        f"UserKnownHostsFile={state / 'known_hosts'}",
        "-o",
        "LogLevel=ERROR",
        # One connection, a session per command (as thinkube-tui's pool does).
        "-o",
        "ControlMaster=auto",
        "-o",
        f"ControlPath={state / 'ssh-control'}",
        "-o",
        "ControlPersist=yes",
    ]


async def _ssh_process(lab: Lab, extra: list[str], remote: str) -> tuple[int, str, str]:
    argv = [*_ssh_argv(lab), *extra, "thinkube@127.0.0.1"]
    if remote:
        argv += ["--", remote]
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def on_lab(lab: Lab, script: str, way: str) -> tuple[int, str, str]:
    """`script` on the lab node: the SSH command line itself (bash), or `sudo -n sh -c` (dash)."""
    remote = script if way == "bash" else f"sudo -n sh -c {shlex.quote(script)}"
    return await _ssh_process(lab, [], remote)


def on_ubuntu_shell(script: str, way: str, cwd: Path) -> tuple[int, str, str]:
    """`script` under this machine's real bash (`bash -c`) or dash (as `sh -c`, like `sudo sh -c`)."""
    argv, exe = (["bash", "-c", script], BASH) if way == "bash" else (["sh", "-c", script], DASH)
    p = subprocess.run(argv, executable=exe, env=ENV, cwd=cwd, capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


async def _fresh_dir(lab: Lab, scratch: Path, name: str) -> Path:
    """An empty directory at the same path here and on the lab node."""
    d = scratch / name
    d.mkdir()
    rc, _, err = await on_lab(lab, f"mkdir -p {shlex.quote(str(d))}", "bash")
    assert rc == 0, err
    return d


@pytest.mark.parametrize("way", ["bash", "dash"])
@pytest.mark.parametrize(("case", "script"), BATTERY, ids=[c for c, _ in BATTERY])
async def test_same_as_ubuntu(lab: Lab, scratch: Path, case: str, script: str, way: str) -> None:
    d = await _fresh_dir(lab, scratch, f"{case}-{way}")
    text = script.replace("@D@", str(d))
    real = on_ubuntu_shell(text, way, scratch)
    simulated = await on_lab(lab, text, way)
    assert simulated == real, f"{way} -c {text!r}\n lab:  {simulated!r}\n real: {real!r}"


@pytest.mark.parametrize(
    ("case", "script", "way", "names", "before"),
    [(c, s, w, n, b) for c, s, ws, n, b in REFUSED for w in _ways(ws)],
    ids=[f"{c}-{w}" for c, _, ws, _, _ in REFUSED for w in _ways(ws)],
)
async def test_refused_loudly(
    lab: Lab, scratch: Path, case: str, script: str, way: str, names: str, before: str
) -> None:
    rc, out, err = await on_lab(lab, script, way)
    assert (rc, out) == (2, before), (rc, out, err)
    assert err.startswith("lab shell: unsupported syntax:") and names in err, err
    assert "after" not in out  # the script stops at the refusal: nothing runs past it
    assert on_ubuntu_shell(script, way, scratch) != (rc, out, err)  # a real shell does something else


# ---------------------------------------------------------------------------- SFTP

SFTP = shutil.which("sftp")


async def sftp(lab: Lab, *commands: str) -> tuple[int, str, str]:
    """OpenSSH's sftp client in batch mode, on the same connection as the commands above."""
    assert SFTP is not None
    ssh = _ssh_argv(lab)
    options = [a for i, a in enumerate(ssh) if i and (ssh[i - 1] in ("-o", "-i", "-F") or a in ("-o", "-i", "-F"))]
    port = lab.addresses()["tk-control"]["port"]
    proc = await asyncio.create_subprocess_exec(
        SFTP,
        "-b",
        "-",
        "-P",
        str(port),
        *options,
        "thinkube@127.0.0.1",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await proc.communicate("\n".join(commands).encode() + b"\n")
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def owner_ids(lab: Lab, path: str) -> tuple[str, str]:
    rc, out, err = await sftp(lab, f"ls -ln {path}")
    assert rc == 0, (out, err)
    listed = [line for line in out.splitlines() if line.rstrip().endswith(path) and not line.startswith("sftp>")]
    fields = listed[0].split()  # mode, links, uid, gid, size, date, name
    return fields[2], fields[3]


@pytest.mark.skipif(SFTP is None, reason="needs OpenSSH's sftp client")
async def test_sftp_writes_as_the_login_user(lab: Lab, tmp_path: Path) -> None:
    """As on a real node: what the login user uploads is its own (uid 1000), it may not write
    root's directories, and what root writes (sudo) stays root's."""
    local = tmp_path / "payload.txt"
    local.write_text("payload\n")
    home = "/home/thinkube/uploaded.txt"
    assert (await sftp(lab, f"put {local} {home}"))[0] == 0
    assert await owner_ids(lab, home) == ("1000", "1000")
    rc, out, _ = await on_lab(lab, f"cat {home}", "bash")
    assert (rc, out) == (0, "payload\n")  # the shell sees the same file

    rc, out, err = await sftp(lab, f"put {local} /etc/uploaded.conf")
    assert rc != 0 and "Permission denied" in out + err, (out, err)
    assert (await on_lab(lab, "test -e /etc/uploaded.conf", "bash"))[0] == 1

    # The product's `upload(..., sudo=True)`: staged by SFTP in /tmp, installed as root.
    assert (await sftp(lab, f"put {local} /tmp/staged"))[0] == 0
    assert await owner_ids(lab, "/tmp/staged") == ("1000", "1000")
    rc, _, err = await on_lab(lab, "sudo -n install -m 644 /tmp/staged /etc/uploaded.conf", "bash")
    assert rc == 0, err
    assert await owner_ids(lab, "/etc/uploaded.conf") == ("0", "0")
    rc, _, err = await on_lab(lab, "sudo -n sh -c 'echo by-root > /home/thinkube/root-made'", "bash")
    assert rc == 0, err
    assert await owner_ids(lab, "/home/thinkube/root-made") == ("0", "0")
    rc, out, err = await sftp(lab, "chmod 600 /home/thinkube/root-made")  # not the owner
    assert rc != 0 and "Permission denied" in out + err, (out, err)
    rc, out, err = await sftp(lab, "get /etc/os-release " + str(tmp_path / "os-release"))  # a generated file
    assert rc == 0 and "Ubuntu 24.04" in (tmp_path / "os-release").read_text(), (out, err)
