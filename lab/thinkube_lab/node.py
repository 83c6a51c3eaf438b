"""A simulated Ubuntu 24.04 node of the lab: filesystem, users, snaps, MicroK8s state, history.

A `LabNode` is pure state plus `run()`, which interprets one SSH exec request with the lab
shell. The SSH server (`server.py`) and the cluster (`cluster.py`) wrap it; tests may also
drive it directly. It is a simulator and says so wherever a person could mistake it for a
real machine (the SSH banner, `uname -a`, /etc/motd, `nvidia-smi` footers are not altered,
since those are replayed captures).
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import posixpath
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import snapdata
from .commands import TABLE
from .commands.snap import seed_snaps
from .nodestate import DURATIONS, LAB_USER, LOGIN_PATH, SECURE_PATH, MicroK8sState
from .profiles import Profile
from .shell import CWD, Input, Output, Shell

if TYPE_CHECKING:
    from .cluster import Lab

OS_RELEASE = """PRETTY_NAME="Ubuntu 24.04.2 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.2 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
"""

BASE_GROUPS: dict[str, int] = {
    "root": 0,
    "adm": 4,
    "cdrom": 24,
    "sudo": 27,
    "dip": 30,
    "plugdev": 46,
    "users": 100,
    "lxd": 101,
    LAB_USER: 1000,
}
USER_GROUPS = ["adm", "cdrom", "sudo", "dip", "plugdev", "lxd"]
MICROK8S_GID = 997

FileContent = str | Callable[[], str]


# ============================================================================ filesystem


class VirtualFS:
    """The node's files: generated system files (from the profile, not persisted) overlaid
    by a real directory (`root`) holding everything written since -- by shell redirections,
    `install`, `tee`, and SFTP, which is chrooted to the same directory."""

    def __init__(
        self,
        root: Path,
        base: dict[str, FileContent],
        dirs: set[str],
        deleted: set[str],
        owners: dict[str, str] | None = None,
    ) -> None:
        self.root, self.base, self.dirs, self.deleted = root, base, dirs, deleted
        # Who created each file or directory written since (the disk's own uid is the tests'
        # user): what SFTP's stat reports. Anything not recorded is root's, or its user's under /home/USER.
        self.owners: dict[str, str] = {} if owners is None else owners

    def owner(self, path: str) -> str:
        p = self.norm(path)
        recorded = self.owners.get(p)
        if recorded is not None:
            return recorded
        parts = p.split("/")
        return parts[2] if len(parts) > 2 and parts[1] == "home" and parts[2] else "root"

    def set_owner(self, path: str, user: str) -> None:
        self.owners[self.norm(path)] = user

    @staticmethod
    def norm(path: str) -> str:
        """The absolute path: a relative one is taken from the running command's directory."""
        if not path:
            return "/"
        if not path.startswith("/"):
            path = CWD.get() + "/" + path
        return posixpath.normpath("/" + path.lstrip("/"))

    def _disk(self, path: str) -> Path:
        return self.root / self.norm(path).lstrip("/")

    async def read(self, path: str) -> str | None:
        p = self.norm(path)
        if p == "/dev/null":
            return ""
        disk = self._disk(p)
        text = await asyncio.to_thread(_read_text, disk)
        if text is not None:
            return text
        if p in self.deleted:
            return None
        content = self.base.get(p)
        if content is None:
            return None
        return content() if callable(content) else content

    async def write(
        self, path: str, text: str, *, append: bool = False, mode: int | None = None, owner: str = "root"
    ) -> None:
        """Write a file; a new one belongs to `owner` (an existing one keeps its owner, as on Linux)."""
        p = self.norm(path)
        if p == "/dev/null":
            return
        if append and not (await asyncio.to_thread(self._disk(p).exists)):
            old = await self.read(p)
            text = (old or "") + text
            append = False
        generated = p in self.base and p not in self.deleted
        self.deleted.discard(p)
        # One hop to the disk, as before: installs racing on a lock file see no wider window.
        created = await asyncio.to_thread(_write_text, self._disk(p), text, append, mode)
        if created and not generated:
            self.owners[p] = owner

    def append_now(self, path: str, text: str) -> None:
        """Append to a file already on disk, synchronously: a shell redirection's write(2)."""
        p = self.norm(path)
        if p != "/dev/null":
            with open(self._disk(p), "a", newline="", errors="surrogateescape") as f:
                f.write(text)

    async def write_bytes(self, path: str, data: bytes) -> None:
        """A binary file (a tarball); `read` gives it back with its bytes as surrogate escapes."""
        await self.write(path, data.decode(errors="surrogateescape"))

    async def remove(self, path: str) -> bool:
        p = self.norm(path)
        for q in [q for q in self.owners if q == p or q.startswith(p + "/")]:
            del self.owners[q]
        existed = await asyncio.to_thread(_unlink, self._disk(p))
        if p in self.base and p not in self.deleted:
            self.deleted.add(p)
            existed = True
        return existed

    async def rename(self, src: str, dest: str) -> None:
        """rename(2): `dest` replaced in one step (an empty directory too); OSError as the kernel
        gives it (ENOTEMPTY onto a directory with entries, ENOENT without `src`)."""
        s, d = self.norm(src), self.norm(dest)
        disk = self._disk(s)
        if not await asyncio.to_thread(disk.exists):
            text = await self.read(s)  # a generated file: it comes onto the disk under its new name
            if text is None:
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", src)
            await asyncio.to_thread(_write_text, disk, text, False, None)
        await asyncio.to_thread(os.rename, disk, self._disk(d))
        if s in self.base:
            self.deleted.add(s)
        self.deleted.discard(d)
        moved = {q: u for q, u in self.owners.items() if q == s or q.startswith(s + "/")}
        for q in [q for q in self.owners if q == d or q.startswith(d + "/")]:
            del self.owners[q]
        for q, u in moved.items():
            del self.owners[q]
            self.owners[d + q[len(s) :]] = u

    async def is_file(self, path: str) -> bool:
        p = self.norm(path)
        if await asyncio.to_thread(self._disk(p).is_file):
            return True
        return p in self.base and p not in self.deleted

    async def is_dir(self, path: str) -> bool:
        p = self.norm(path)
        if p == "/" or p in self.dirs:
            return True
        if await asyncio.to_thread(self._disk(p).is_dir):
            return True
        prefix = p + "/"
        return any(k.startswith(prefix) and k not in self.deleted for k in self.base)

    async def exists(self, path: str) -> bool:
        return self.norm(path) == "/dev/null" or await self.is_file(path) or await self.is_dir(path)

    async def listdir(self, path: str) -> list[str]:
        p = self.norm(path)
        prefix = "/" if p == "/" else p + "/"
        names = {
            k[len(prefix) :].split("/")[0]
            for k in [*self.base, *self.dirs]
            if k.startswith(prefix) and k not in self.deleted
        }
        disk = self._disk(p)
        names |= set(await asyncio.to_thread(lambda: os.listdir(disk) if disk.is_dir() else []))
        return sorted(n for n in names if n)

    def cannot_write(self, path: str, user: str) -> str | None:
        """Why `user` may not create `path` (dash's wording), or None."""
        p = self.norm(path)
        if p.startswith(("/proc/", "/sys/")):
            return "Read-only file system" if user == "root" and p.startswith("/sys/") else "Permission denied"
        if user != "root" and not (p.startswith(("/tmp/", f"/home/{user}/", "/dev/shm/")) or p == "/dev/null"):
            return "Permission denied"
        parent = posixpath.dirname(p)
        if parent not in ("/", "/tmp") and not self._parent_exists(parent):
            return "Directory nonexistent"
        return None

    def _parent_exists(self, parent: str) -> bool:
        if parent in self.dirs or self._disk(parent).is_dir():
            return True
        prefix = parent + "/"
        return any(k.startswith(prefix) for k in self.base)

    def cannot_read(self, path: str, user: str) -> str | None:
        p = self.norm(path)
        if user != "root" and (
            p in ("/etc/shadow", "/etc/sudoers", "/etc/gshadow")
            or p.startswith(("/root/", "/etc/sudoers.d/"))
            or snapdata.private(p)
        ):
            return "Permission denied"
        return None


def _read_text(path: Path) -> str | None:
    try:
        # Bytes as they are (no newline translation, surrogate escapes): binary files survive.
        with open(path, newline="", errors="surrogateescape") as f:
            return f.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def _write_text(path: Path, text: str, append: bool, mode: int | None) -> bool:
    """Write; whether the file is new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    with open(path, "a" if append else "w", newline="", errors="surrogateescape") as f:
        f.write(text)
    if mode is not None:
        os.chmod(path, mode)
    return created


def _unlink(path: Path) -> bool:
    try:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        return True
    except FileNotFoundError:
        return False


# ============================================================================ the node


class LabNode:
    """One simulated Ubuntu 24.04 machine.

    ``history`` holds every command line the node received over SSH, as received; ``argv_log``
    every argv a simple command ran with (user, argv), sudo's and `sh -c`'s included -- for
    tests asserting no secret ever appears in argv. Standard input is never recorded.
    ``counters`` counts side effects (``snap-install:microk8s``, ``addon-enable:dns``,
    ``helm-install:NS/NAME``, ``join``, ...), so tests can assert nothing ran twice.
    """

    SECURE_PATH = SECURE_PATH

    def __init__(
        self,
        name: str,
        profile: Profile,
        *,
        index: int,
        address: str,
        state_dir: Path,
        lab: Lab | None = None,
        speed: float = 1.0,
        sudo_password: str | None = None,
        nopasswd: bool | None = None,
        lab_id: str = "lab",
        gateway: str = "10.42.0.1",
        prefixlen: int = 24,
    ) -> None:
        self.name, self.profile, self.index, self.address = name, profile, index, address
        self.gateway, self.prefixlen = gateway, prefixlen
        self.lab, self.speed = lab, speed
        self.sudo_password = sudo_password
        self.nopasswd = profile.nopasswd if nopasswd is None else nopasswd
        self.sudoer = True
        self.lab_id = lab_id
        self.dir = Path(state_dir)
        self.root_dir = self.dir / "root"
        self.root_dir.mkdir(parents=True, exist_ok=True)
        self.machine_id = hashlib.sha256(f"{lab_id}/{name}".encode()).hexdigest()[:32]
        self.mac = "52:54:00:" + ":".join(self.machine_id[i : i + 2] for i in (0, 2, 4))
        self.boot_time = 0.0
        self.snaps: dict[str, dict[str, str]] = {}
        self.group_members: dict[str, list[str]] = {}
        self.microk8s = MicroK8sState()
        self.counters: Counter[str] = Counter()
        self.history: list[str] = []
        self.argv_log: list[tuple[str, tuple[str, ...]]] = []
        self.processes: dict[int, tuple[asyncio.Task[Any], str]] = {}
        self.killed: set[int] = set()  # sessions ended by `kill` (the server reports signal KILL)
        self.unresolvable: set[str] = set()  # node names the others' /etc/hosts leave out (faults)
        self._next_pid = 2000 + 97 * index
        self.deleted: set[str] = set()
        self.on_change: Callable[[], None] | None = None
        self.reboots = 0
        self.kubelite_epoch = 0  # bumped by each kubelite stop/start (snap restart)
        self.kubelite_failure: str | None = None  # why kube-apiserver did not come back, if it did not
        self.fs = VirtualFS(self.root_dir, {}, set(), self.deleted)
        self._seed()
        seed_snaps(self)

    # -- identity

    def uid(self, user: str) -> int:
        return 0 if user == "root" else 1000

    def groups_of(self, user: str) -> list[str]:
        if user == "root":
            return ["root"]
        extra = sorted(g for g, members in self.group_members.items() if user in members)
        return [user, *USER_GROUPS, *[g for g in extra if g not in USER_GROUPS]]

    def gid(self, group: str) -> int:
        if group == "microk8s":
            return MICROK8S_GID
        return BASE_GROUPS.get(group, 1001)

    def new_pid(self) -> int:
        self._next_pid += 1
        return self._next_pid

    def is_executable(self, path: str) -> bool:
        return TABLE.is_executable(self, path)

    def lab_resolvable(self, on: LabNode) -> bool:
        """Whether `on` resolves this node's name (MicroK8s join needs it on the control node)."""
        return self.name not in on.unresolvable

    def record_argv(self, user: str, argv: list[str]) -> None:
        self.argv_log.append((user, tuple(argv)))

    def changed(self) -> None:
        """Persist soon (the Lab saves its state file; the node alone keeps it in memory)."""
        if self.on_change is not None:
            self.on_change()

    async def sleep(self, what: str) -> None:
        seconds = DURATIONS.get(what, 0.0) * self.speed
        if seconds > 0:
            await asyncio.sleep(seconds)

    # -- running commands

    def session(self, user: str = LAB_USER, groups: frozenset[str] | None = None) -> Shell:
        home = "/root" if user == "root" else f"/home/{user}"
        env = {
            "PATH": LOGIN_PATH,
            "HOME": home,
            "USER": user,
            "LOGNAME": user,
            "SHELL": "/bin/bash",
            "LANG": "C.UTF-8",
            "PWD": home,
        }
        if groups is None:
            groups = frozenset(self.groups_of(user))
        # sshd runs the login shell (bash, as for a user Ubuntu's adduser creates) as `bash -c LINE`.
        return Shell(self, TABLE, user=user, env=env, groups=groups, dialect="bash", args=["bash"])

    async def run(
        self,
        command: str,
        stdin: Input,
        stdout: Output,
        stderr: Output,
        *,
        user: str = LAB_USER,
        groups: frozenset[str] | None = None,
        hang: str | None = None,
        pid_out: list[int] | None = None,
    ) -> int:
        """Run one exec request's command line as `user` (the login shell: `bash -c COMMAND`).

        `groups` are the user's groups as of the login (new groups need a new connection,
        as on a real machine). `hang` (a fault's regex, "" for any): the first simple command
        whose argv matches never finishes (until killed); the commands before it run."""
        self.history.append(command)
        shell = self.session(user, groups)
        if hang:
            import re

            shell.hang = re.compile(hang)
        if pid_out is not None:
            pid_out.append(shell.pid)
        task = asyncio.current_task()
        if task is not None:
            self.processes[shell.pid] = (task, user)
        try:
            status = await shell.run(command, stdin, stdout, stderr)
            if hang is not None:  # the pattern matched the line but no single command
                await asyncio.Event().wait()
            return status
        finally:
            self.processes.pop(shell.pid, None)

    # -- the simulated files

    def _seed(self) -> None:
        p = self.profile
        base: dict[str, FileContent] = {
            "/etc/os-release": OS_RELEASE,
            "/usr/lib/os-release": OS_RELEASE,
            "/etc/lsb-release": "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=24.04\nDISTRIB_CODENAME=noble\n"
            'DISTRIB_DESCRIPTION="Ubuntu 24.04.2 LTS"\n',
            "/etc/debian_version": "trixie/sid\n",
            "/etc/machine-id": self.machine_id + "\n",
            "/etc/hostname": self.name + "\n",
            "/proc/sys/kernel/hostname": self.name + "\n",
            "/etc/hosts": self._hosts,
            "/etc/group": self._etc_group,
            "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\n"
            f"{LAB_USER}:x:1000:1000:Thinkube lab user:/home/{LAB_USER}:/bin/bash\n",
            "/etc/motd": f"This is {self.name}, a SIMULATED Ubuntu node of the thinkube-tui lab.\n",
            "/proc/meminfo": self._meminfo(),
            "/proc/cpuinfo": self._cpuinfo(),
            "/proc/version": f"Linux version {p.kernel} (buildd@lcy02-amd64-062) (x86_64-linux-gnu-gcc-13 "
            "(Ubuntu 13.3.0-6ubuntu2~24.04) 13.3.0, GNU ld (GNU Binutils for Ubuntu) 2.42) "
            "#63-Ubuntu SMP PREEMPT_DYNAMIC (simulated by thinkube-lab)\n",
            "/proc/loadavg": "0.08 0.03 0.01 1/312 4242\n",
            "/proc/uptime": lambda: f"{max(1.0, asyncio.get_event_loop().time() - self.boot_time):.2f} 0.00\n",
            "/proc/sys/kernel/osrelease": p.kernel + "\n",
            "/var/snap/microk8s/current/var/lock/clustered.lock": lambda: "",
            f"/home/{LAB_USER}/.profile": "# ~/.profile (simulated)\n",
            "/etc/shadow": "root:*:20000:0:99999:7:::\n",
        }
        dirs = {
            "/etc",
            "/tmp",
            "/var",
            "/var/snap",
            "/var/lib",
            "/home",
            f"/home/{LAB_USER}",
            "/root",
            "/usr",
            "/usr/bin",
            "/usr/sbin",
            "/usr/local",
            "/usr/local/bin",
            "/snap",
            "/snap/bin",
            "/sys",
            "/sys/module",
            "/sys/module/nvme",
            "/sys/bus/pci/devices",
            "/proc",
            "/dev",
            "/dev/shm",
            "/opt",
            "/srv",
            "/mnt",
            "/boot",
        }
        if p.gpu is not None:
            g = p.gpu
            base["/proc/driver/nvidia/version"] = (
                f"NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  {g.driver}  Release Build  "
                "(dvs-builder@U22-I3-AF03-09-1)  Mon Dec  1 00:00:00 UTC 2025\n"
                "GCC version:  gcc version 13.3.0 (Ubuntu 13.3.0-6ubuntu2~24.04) \n"
            )
            dev = f"/sys/bus/pci/devices/{g.pci_address}"
            base[f"{dev}/vendor"] = "0x10de\n"
            base[f"{dev}/device"] = f"0x{g.pci_device_id}\n"
            base[f"{dev}/class"] = "0x030200\n"
            dirs |= {
                dev,
                f"{dev}/driver",
                "/sys/module/nvidia",
                "/sys/module/nvidia_uvm",
                "/sys/module/nvidia_modeset",
                "/sys/module/nvidia_drm",
                "/proc/driver/nvidia",
            }
        self.fs = VirtualFS(self.root_dir, base, dirs, self.deleted, self.fs.owners)
        self._snap_files: set[str] = set()
        self._snap_dirs: set[str] = set()
        self.refresh()

    def _base_clustered_lock(self) -> None:
        lock = "/var/snap/microk8s/current/var/lock/clustered.lock"
        if self.microk8s.role == "worker":
            self.deleted.discard(lock)
        else:
            self.deleted.add(lock)

    def _snap_data(self) -> None:
        """MicroK8s' $SNAP_DATA (args files, certificates: `snapdata.py`) while it is installed."""
        for path in self._snap_files:
            self.fs.base.pop(path, None)
        self.fs.dirs -= self._snap_dirs
        self._snap_files, self._snap_dirs = set(), set()
        if self.microk8s.installed:
            generated = snapdata.files(self)
            self.fs.base.update(generated)
            self._snap_files = set(generated)
            self._snap_dirs = snapdata.dirs()
            self.fs.dirs |= self._snap_dirs

    def refresh(self) -> None:
        """Re-derive files that depend on state (after install/join/load)."""
        self._base_clustered_lock()
        self._snap_data()

    def _hosts(self) -> str:
        lines = ["127.0.0.1 localhost", f"127.0.1.1 {self.name}", ""]
        if self.lab is not None:
            lines = (
                lines[:-1] + [f"{n.address} {n.name}" for n in self.lab.nodes.values() if n.lab_resolvable(self)] + [""]
            )
        lines += [
            "# The following lines are desirable for IPv6 capable hosts",
            "::1     ip6-localhost ip6-loopback",
            "fe00::0 ip6-localnet",
            "ff00::0 ip6-mcastprefix",
            "ff02::1 ip6-allnodes",
            "ff02::2 ip6-allrouters",
            "",
        ]
        return "\n".join(lines)

    def _etc_group(self) -> str:
        lines = []
        for g, gid in BASE_GROUPS.items():
            members = ",".join([LAB_USER] if g in USER_GROUPS else [])
            lines.append(f"{g}:x:{gid}:{members}")
        for g, members in sorted(self.group_members.items()):
            lines.append(f"{g}:x:{self.gid(g)}:{','.join(members)}")
        return "\n".join(lines) + "\n"

    def _meminfo(self) -> str:
        # The kernel keeps some memory for itself: MemTotal is a little below the installed size.
        total_kb = int(self.profile.memory_bytes / 1024 * 0.985)
        free = int(total_kb * 0.93)
        rows = [
            ("MemTotal", total_kb),
            ("MemFree", free),
            ("MemAvailable", int(total_kb * 0.95)),
            ("Buffers", 81234),
            ("Cached", 1234567),
            ("SwapCached", 0),
            ("Active", 734512),
            ("Inactive", 912345),
            ("SwapTotal", 0),
            ("SwapFree", 0),
            ("Dirty", 12),
            ("Shmem", 2345),
            ("Slab", 234567),
            ("PageTables", 6789),
            ("CommitLimit", total_kb // 2),
            ("VmallocTotal", 34359738367),
            ("HugePages_Total", 0),
        ]
        out = []
        for k, v in rows:
            if k.startswith("HugePages"):
                out.append(f"{k + ':':<16}{v:>8}")
            else:
                out.append(f"{k + ':':<16}{v:>8} kB")
        out.append(f"{'Hugepagesize:':<16}{2048:>8} kB")
        return "\n".join(out) + "\n"

    def _cpuinfo(self) -> str:
        p = self.profile
        intel = "Intel" in p.cpu_model
        blocks = []
        for i in range(p.cores):
            blocks.append(
                "\n".join(
                    [
                        f"processor\t: {i}",
                        f"vendor_id\t: {'GenuineIntel' if intel else 'AuthenticAMD'}",
                        f"cpu family\t: {6 if intel else 25}",
                        f"model\t\t: {143 if intel else 17}",
                        f"model name\t: {p.cpu_model}",
                        "stepping\t: 8" if intel else "stepping\t: 1",
                        "cpu MHz\t\t: 2000.000",
                        "cache size\t: 1024 KB",
                        "physical id\t: 0",
                        f"siblings\t: {p.cores}",
                        f"core id\t\t: {i}",
                        f"cpu cores\t: {p.cores}",
                        "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush "
                        "mmx fxsr sse sse2 ht syscall nx pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology "
                        "cpuid pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx "
                        "f16c rdrand hypervisor lahf_lm abm 3dnowprefetch avx2 avx512f",
                        "bogomips\t: 4000.00",
                        "address sizes\t: 52 bits physical, 57 bits virtual",
                        "",
                    ]
                )
            )
        return "\n".join(blocks)

    # -- persistence (the Lab writes these into its state file)

    def to_state(self) -> dict[str, Any]:
        m = self.microk8s
        return {
            "snaps": self.snaps,
            "groups": self.group_members,
            "microk8s": {
                "channel": m.channel,
                "version": m.version,
                "revision": m.revision,
                "running": m.running,
                "addons": m.addons,
                "role": m.role,
                "joined_to": m.joined_to,
                "metallb_range": m.metallb_range,
            },
            "counters": dict(self.counters),
            "deleted": sorted(self.deleted - {"/var/snap/microk8s/current/var/lock/clustered.lock"}),
            "owners": dict(sorted(self.fs.owners.items())),
        }

    def load_state(self, data: dict[str, Any]) -> None:
        self.snaps = dict(data.get("snaps") or {})
        self.group_members = {k: list(v) for k, v in (data.get("groups") or {}).items()}
        self.microk8s = MicroK8sState(**(data.get("microk8s") or {}))
        self.counters = Counter(data.get("counters") or {})
        self.deleted.clear()
        self.deleted.update(data.get("deleted") or [])
        self.fs.owners.clear()
        self.fs.owners.update(data.get("owners") or {})
        self.refresh()
