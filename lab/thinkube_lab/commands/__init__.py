"""The programs a simulated node has, one module per family.

Each program is an async handler `async def handler(ctx, argv) -> int` registered under its
absolute path(s) with `@program(...)`; `available` says whether this node has it installed
(`/snap/bin/microk8s` only after `snap install microk8s`, `nvidia-smi` only on GPU nodes).
The shell finds programs through `$PATH` like a real one; Ubuntu 24.04 is usr-merged, so
`/bin/X` is `/usr/bin/X`.
"""

# Each module registers its programs in TABLE as it is imported.
from . import coreutils, hardware, microk8s, net, snap, sudo
from .table import TABLE, CommandTable, Program, program

__all__ = ["TABLE", "CommandTable", "Program", "coreutils", "hardware", "microk8s", "net", "program", "snap", "sudo"]
