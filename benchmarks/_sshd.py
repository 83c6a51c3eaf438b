"""Real OpenSSH sshd on loopback listening on many ports: each port stands in for a node.

Like the `sshd` fixture in tests/conftest.py, but with many `Port` lines and the limits raised
(`MaxStartups 100:30:200`, `MaxSessions 64`) so the server can take every benchmark node's
handshakes at once. One sshd listens on at most 16 sockets (OpenSSH's MAX_LISTEN_SOCKS: more
is fatal, "Too many listen sockets"), so beyond 16 ports several sshd processes share one host
key and one config shape. Used only by the benchmarks:

    with PlainUser() as user, MultiPortSshd(tmp_dir, ports=32, user=user.name) as server:
        server.ports, server.client_key, server.known_hosts ...

`PlainUser` (as root) creates a user whose login shell is /bin/sh and removes it afterwards: SSH
benchmarks log in as that user, because a login shell that does work of its own (root's
.bashrc on this machine starts pyenv: +0.14 s per command) hides what the client costs.
"""

from __future__ import annotations

import getpass
import os
import pwd
import secrets
import socket
import subprocess
import threading
from pathlib import Path
from typing import IO

SSHD = Path("/usr/sbin/sshd")
SFTP_SERVER = Path("/usr/lib/openssh/sftp-server")
HOST = "127.0.0.1"
MAX_LISTEN_SOCKS = 16  # OpenSSH refuses to start with more listening sockets


def _free_ports(n: int) -> list[int]:
    """n distinct free ports (held open together while choosing, so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(path)], check=True)


class PlainUser:
    """A throwaway user with /bin/sh as login shell (created as root; removed on exit). Not
    root: the benchmark runs as the user running it, and `note` says so."""

    SHELL = "/bin/sh"

    def __init__(self) -> None:
        self.name = getpass.getuser()
        self.created = False
        self.note = ""

    def __enter__(self) -> PlainUser:
        if os.geteuid() != 0:
            shell = pwd.getpwnam(self.name).pw_shell
            self.note = f"SSH as {self.name} (login shell {shell}: not root, so no user of our own was created)"
            return self
        self.name = f"tkbench{secrets.token_hex(3)}"
        # Password "*": none can log in with, but not locked ("!"), which sshd without PAM
        # refuses even for a key.
        subprocess.run(["useradd", "--create-home", "--shell", self.SHELL, "--password", "*", self.name], check=True)
        self.created = True
        self.note = f"SSH as {self.name}, a plain user created for this run (login shell {self.SHELL}), removed after"
        return self

    def __exit__(self, *exc: object) -> None:
        if self.created:
            subprocess.run(["userdel", "--remove", self.name], check=False, capture_output=True)


class MultiPortSshd:
    def __init__(self, directory: Path, ports: int, user: str | None = None) -> None:
        self.dir = Path(directory)
        self.count = ports
        self.host = HOST
        self.user = user or getpass.getuser()
        self.client_key = self.dir / "client_key"
        self.host_key = self.dir / "hostkey"
        self.known_hosts = self.dir / "known_hosts"  # OpenSSH format, one line per port
        self.log = self.dir / "sshd.log"
        self.ports: list[int] = []
        self.host_key_fingerprint = ""
        self._procs: list[tuple[subprocess.Popen[str], threading.Thread]] = []

    def start(self) -> MultiPortSshd:
        if not SSHD.exists():
            raise RuntimeError(f"{SSHD} is not installed (apt-get install openssh-server)")
        self.dir.mkdir(parents=True, exist_ok=True)
        _keygen(self.host_key)
        _keygen(self.client_key)
        os.chmod(self.client_key, 0o600)
        (self.dir / "authorized_keys").write_text((self.dir / "client_key.pub").read_text())
        # sshd reads authorized_keys as the user logging in: it (and the directories above it,
        # which the caller makes) must be readable to that user. No secret in it.
        self.dir.chmod(0o755)
        os.chmod(self.dir / "authorized_keys", 0o644)
        self.host_key_fingerprint = subprocess.run(
            ["ssh-keygen", "-l", "-E", "sha256", "-f", f"{self.host_key}.pub"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()[1]
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege-separation directory
        for _ in range(5):  # another process may take a port between choosing and binding
            self.ports = _free_ports(self.count)
            if self._try_start():
                break
        else:
            raise RuntimeError(f"sshd did not start:\n{self.log.read_text()}")
        pub = (self.dir / "hostkey.pub").read_text().strip()
        self.known_hosts.write_text("".join(f"[{self.host}]:{p} {pub}\n" for p in self.ports))
        return self

    def _try_start(self) -> bool:
        """Start one sshd per MAX_LISTEN_SOCKS ports; False (all stopped) if one cannot bind."""
        groups = [self.ports[i : i + MAX_LISTEN_SOCKS] for i in range(0, len(self.ports), MAX_LISTEN_SOCKS)]
        for index, ports in enumerate(groups):
            if not self._start_one(index, ports):
                self.stop()
                return False
        return True

    def _start_one(self, index: int, ports: list[int]) -> bool:
        config = self.dir / f"sshd_config.{index}"
        config.write_text(
            "".join(f"Port {p}\n" for p in ports) + f"ListenAddress {self.host}\n"
            f"HostKey {self.host_key}\n"
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            f"PidFile {self.dir / f'sshd.{index}.pid'}\n"
            "StrictModes no\n"
            "UsePAM no\n"
            "UseDNS no\n"
            "MaxStartups 100:30:200\n"
            "MaxSessions 64\n"
            f"Subsystem sftp {SFTP_SERVER}\n"
        )
        # In the foreground (-D), logging to stderr (-e): read until every port listens.
        proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        listening = 0
        with self.log.open("a") as f:
            for line in proc.stderr:
                f.write(line)
                if line.startswith("Server listening on"):
                    listening += 1
                    if listening == len(ports):
                        break
        if proc.poll() is not None:
            proc.wait()
            proc.stderr.close()
            return False
        drain = threading.Thread(target=self._copy, args=(proc.stderr,), daemon=True)
        drain.start()
        self._procs.append((proc, drain))
        return True

    def _copy(self, stream: IO[str]) -> None:  # keep draining so sshd never blocks on a full pipe
        with self.log.open("a") as f:
            for line in stream:
                f.write(line)

    def stop(self) -> None:
        procs, self._procs = self._procs, []
        for proc, _ in procs:
            proc.terminate()
        for proc, drain in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            drain.join(timeout=5)
            if proc.stderr is not None:
                proc.stderr.close()

    def __enter__(self) -> MultiPortSshd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
