"""Helpers for the discovery tests: fixture files, capture sections, fake transports.

Imported as `tests.discovery.helpers` (the repository root is on sys.path via pytest's
`pythonpath`)."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Mapping
from pathlib import Path

from thinkube_tui.discovery import MARKER
from thinkube_tui.transport import CommandResult, CommandTimeout

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CAPTURES = sorted((FIXTURES / "nvidia_gpu_exporter").glob("*.txt"))


def fixture_text(rel: str) -> str:
    return (FIXTURES / rel).read_text(encoding="utf-8")


def capture_section(path: Path | str, title: str) -> tuple[str, str]:
    """A section of an nvidia_gpu_exporter capture: (command, body).

    Sections look like: a `####` banner, `# <title>`, `# $ <command>`, a `####` banner, then
    the body up to the next banner. `title` is matched as a prefix of the `# <title>` line.
    """
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("# ") and line[2:].startswith(title) and i > 0 and lines[i - 1].startswith("####"):
            command = lines[i + 1][4:] if lines[i + 1].startswith("# $ ") else ""
            j = i + 1
            while j < len(lines) and not lines[j].startswith("####"):
                j += 1
            body: list[str] = []
            for line2 in lines[j + 1 :]:
                if line2.startswith("####"):
                    break
                body.append(line2)
            return command, "\n".join(body).strip("\n")
    raise KeyError(f"no section {title!r} in {path}")


def probe_output(sections: Mapping[str, str | tuple[str, int]], *, complete: bool = True) -> str:
    """Build probe output like PROBE_SCRIPT prints: `{name: body}` or `{name: (body, rc)}`."""
    out = [f"{MARKER} probe v2"]
    for name, value in sections.items():
        body, rc = (value, 0) if isinstance(value, str) else value
        out.append(f"\n{MARKER} {name}\n{body}\n\n{MARKER} rc={rc}")
    if complete and "clock_end" not in sections:
        out.append(f"\n{MARKER} clock_end\n1700000000.5\n\n{MARKER} rc=0")
    return "\n".join(out) + "\n"


UBUNTU_2404 = """PRETTY_NAME="Ubuntu 24.04.2 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.2 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=noble
"""


DF_HEADER = "Filesystem 1-blocks Used Available Capacity Mounted on\n"


def ubuntu_sections(hostname: str = "gpu1", address: str = "10.0.0.11") -> dict[str, str | tuple[str, int]]:
    """A plausible Ubuntu 24.04 node without GPU, every section present."""
    return {
        "clock_start": "1700000000.25",
        "hostname": hostname,
        "machine_id": hashlib.md5(hostname.encode()).hexdigest(),
        "os_release": UBUNTU_2404,
        "kernel": "6.8.0-60-generic",
        "machine": "x86_64",
        "cpu_count": "32",
        "cpu_model": "model name\t: AMD Ryzen 9 7950X 16-Core Processor",
        "meminfo": "MemTotal:       65536000 kB",
        "lsblk": '{"blockdevices":[{"name":"nvme0n1","size":2000398934016,"type":"disk","model":"Samsung SSD 990 PRO 2TB","rota":false,"tran":"nvme"},'
        '{"name":"loop0","size":"4096","type":"loop","model":null,"rota":"0","tran":null}]}',
        "df_root": DF_HEADER + "/dev/mapper/ubuntu--vg-ubuntu--lv 1967317549056 25000000000 1842317549056 2% /",
        "df_var_snap": DF_HEADER + "/dev/mapper/ubuntu--vg-ubuntu--lv 1967317549056 25000000000 1842317549056 2% /",
        "df_var": DF_HEADER + "/dev/mapper/ubuntu--vg-ubuntu--lv 1967317549056 25000000000 1842317549056 2% /",
        "ip_addr": '[{"ifindex":1,"ifname":"lo","operstate":"UNKNOWN","address":"00:00:00:00:00:00",'
        '"addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host"}]},'
        '{"ifindex":2,"ifname":"enp5s0","operstate":"UP","address":"a8:a1:59:00:00:01",'
        f'"addr_info":[{{"family":"inet","local":"{address}","prefixlen":24,"scope":"global"}},'
        '{"family":"inet6","local":"fe80::1","prefixlen":64,"scope":"link"}]}]',
        "ip_route": '[{"dst":"default","gateway":"10.0.0.1","dev":"enp5s0","protocol":"dhcp","flags":[]}]',
        "user": "thinkube",
        "uid": "1000",
        "snap": "/usr/bin/snap",
        "snap_microk8s": ("error: no matching snaps installed", 1),
        "ss": "LISTEN 0      4096   127.0.0.53%lo:53   0.0.0.0:*\nLISTEN 0      4096   0.0.0.0:22   0.0.0.0:*\n"
        "LISTEN 0      4096   [::]:22   [::]:*",
        "lspci": ("", 1),
        "modules": "ext4 1093632 1 - Live 0x0000000000000000\nsnd_hda_intel 61440 2 - Live 0x0000000000000000",
        "nvidia_smi_csv": ("sh: 1: nvidia-smi: not found", 127),
        "nvidia_smi_list": ("sh: 1: nvidia-smi: not found", 127),
    }


class FakeTransport:
    """A Transport whose `run` answers with canned output after `delay` seconds."""

    def __init__(
        self,
        node: str,
        stdout: str = "",
        *,
        delay: float = 0.0,
        exit_status: int = 0,
        responses: Mapping[str, str] | None = None,
        exc: BaseException | None = None,
    ) -> None:
        self._node = node
        self.stdout = stdout
        self.delay = delay
        self.exit_status = exit_status
        self.responses = dict(responses or {})
        self.exc = exc
        self.commands: list[str] = []

    @property
    def node(self) -> str:
        return self._node

    async def run(self, command, *, input=None, timeout=None, on_line=None) -> CommandResult:
        self.commands.append(command)
        if timeout is not None and self.delay > timeout:
            await asyncio.sleep(timeout)
            raise CommandTimeout(self._node, "probe", timeout)
        await asyncio.sleep(self.delay)
        if self.exc is not None:
            raise self.exc
        for key, out in self.responses.items():
            if re.search(key, command):
                return CommandResult(command, 0, out, "")
        return CommandResult(command, self.exit_status, self.stdout, "")
