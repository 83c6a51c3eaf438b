"""Shared fixtures.

`sshd`: a real OpenSSH server on 127.0.0.1 (session-scoped), logging in as the user running the
tests with a generated key. One server can stand in for many nodes (MaxStartups is raised):

    async def test_x(sshd, tmp_path):
        async with SshPool(host_keys=sshd.host_keys(tmp_path)) as pool:
            result = await pool.connection(sshd.target("node1")).run("uname -a")
"""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = Path("/usr/sbin/sshd")
SFTP_SERVER = Path("/usr/lib/openssh/sftp-server")


@dataclass(frozen=True)
class Sshd:
    host: str
    port: int
    user: str
    client_key: Path  # private key whose public half is in authorized_keys
    host_key_fingerprint: str  # "SHA256:..."
    known_hosts: Path  # an OpenSSH known_hosts file holding the server's host key
    log: Path  # sshd's own log (-E), worth reading when a test fails

    def target(self, name: str = "sshd", **changes):  # -> thinkube_tui.ssh.NodeTarget
        """A NodeTarget for this server, authenticating with the client key."""
        from thinkube_tui.ssh import KeyAuth, NodeTarget

        fields = dict(name=name, host=self.host, port=self.port, user=self.user, auth=KeyAuth(self.client_key))
        return NodeTarget(**{**fields, **changes})

    def host_keys(self, state_dir: Path):  # -> thinkube_tui.hostkeys.KnownHosts
        """Trust as if the server's key were in ~/.ssh/known_hosts; our own file under state_dir."""
        from thinkube_tui.hostkeys import KnownHosts

        return KnownHosts(own_file=state_dir / "thinkube-tui" / "known_hosts", ssh_files=[self.known_hosts])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(path)], check=True)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    if not SSHD.exists():
        pytest.skip(f"{SSHD} is not installed (apt-get install openssh-server)")
    d = tmp_path_factory.mktemp("sshd")
    _keygen(d / "hostkey")
    _keygen(d / "client_key")
    (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
    fp = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(d / "hostkey.pub")], check=True, capture_output=True, text=True
    ).stdout.split()[1]
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir

    log = d / "sshd.log"
    for _ in range(5):  # another process may grab the port between probing and binding
        port = _free_port()
        (d / "sshd_config").write_text(
            f"Port {port}\n"
            "ListenAddress 127.0.0.1\n"
            f"HostKey {d / 'hostkey'}\n"
            f"AuthorizedKeysFile {d / 'authorized_keys'}\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            f"PidFile {d / 'sshd.pid'}\n"
            "StrictModes no\n"
            "UsePAM no\n"
            # One sshd stands in for many nodes: let their handshakes in together. MaxSessions
            # stays at OpenSSH's default (10) so the client's session bound is really tested.
            "MaxStartups 200\n"
            "MaxSessions 10\n"
            f"Subsystem sftp {SFTP_SERVER}\n"
        )
        # sshd daemonizes *before* it listens, so a plain start races the first connection.
        # In the foreground (-D) with its log on stderr (-e) we read until it says it listens.
        proc = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(d / "sshd_config")], stderr=subprocess.PIPE, text=True
        )
        assert proc.stderr is not None
        with log.open("a") as f:
            for line in proc.stderr:
                f.write(line)
                if line.startswith("Server listening on"):
                    break
        if proc.poll() is None:
            break
        proc.wait()
    else:
        pytest.fail(f"sshd did not start:\n{log.read_text()}")
    # Keep draining its log so sshd never blocks on a full pipe.
    drain = threading.Thread(target=_copy, args=(proc.stderr, log), daemon=True)
    drain.start()

    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {(d / 'hostkey.pub').read_text()}")
    os.chmod(d / "client_key", 0o600)
    try:
        yield Sshd("127.0.0.1", port, getpass.getuser(), d / "client_key", fp, d / "known_hosts", log)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        drain.join(timeout=5)
        proc.stderr.close()


def _copy(stream, path: Path) -> None:
    with path.open("a") as f:
        for line in stream:
            f.write(line)
            f.flush()


@pytest.fixture(autouse=True, scope="session")
def _private_state_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The user's state root (cluster lock files, default state dirs) in a scratch directory,
    never ~/.local/state; subprocesses started by tests inherit it."""
    before = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("xdg-state"))
    yield
    if before is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = before
