"""`thinkube-tui discover`: Rich tables of what discovery found, JSON, and the command itself.

Rendering helpers are pure (results in, renderable out) so a caller can redraw them in
`rich.live.Live` as nodes answer; no Textual here.
"""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..discovery import NodeResult
from ..facts import Clock
from ..formatting import cpu_cell, disk_cell, gib, gpu_long, os_cell
from ..phases import Discover, Preflight, ResolveHostnames, Session, run_phases
from ..preflight import CHECKS, Finding, has_errors
from ..transport import LocalTransport, Transport

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_PREFLIGHT_ERRORS = 3

_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def nodes_table(results: Sequence[NodeResult], pending: Iterable[str] = ()) -> Table:
    """One row per node: answered nodes with their facts, failed ones with the error, and
    `pending` ones as still being discovered. Call again with more results to redraw."""
    table = Table(title="Nodes", expand=False, show_lines=True)
    table.add_column("Node", style="bold", no_wrap=True)
    table.add_column("Address")
    table.add_column("OS")
    table.add_column("CPU")
    table.add_column("RAM", justify="right")
    table.add_column("Disk")
    table.add_column("GPUs")
    for r in results:
        if r.facts is None:
            table.add_row(Text(r.node), "", Text(r.error or "failed", style="red"), "", "", "", "")
            continue
        f = r.facts
        name = Text(r.node)
        if f.hostname and f.hostname != r.node:
            name.append(f"\n{f.hostname}", style="dim")
        gpus = "\n".join(gpu_long(g) for g in f.gpus) or "—"
        table.add_row(
            name,
            Text(f.primary_address or "?"),
            Text(os_cell(f)),
            Text(cpu_cell(f)),
            Text(gib(f.memory_bytes, 1)),
            Text(disk_cell(f)),
            Text(gpus),
        )
    for node in pending:
        table.add_row(Text(node), "", Text("discovering…", style="dim italic"), "", "", "", "")
    return table


def findings_table(findings: Sequence[Finding]) -> RenderableType:
    if not findings:
        return Text("Preflight: all checks passed.", style="green")
    table = Table(title="Preflight", show_lines=True)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Check", no_wrap=True)
    table.add_column("Node", no_wrap=True)
    table.add_column("Problem")
    table.add_column("Fix")
    for f in findings:
        table.add_row(
            Text(f.severity, style=_SEVERITY_STYLE.get(f.severity, "")),
            Text(f.check),
            Text(f.node or "—"),
            Text(f.message),
            Text(f.fix),
        )
    return table


def summary_line(findings: Sequence[Finding]) -> Text:
    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("error", "warning", "info")}
    text = Text()
    for sev, n in counts.items():
        if n:
            if text:
                text.append(", ")
            text.append(f"{n} {sev}{'s' if n != 1 else ''}", style=_SEVERITY_STYLE[sev])
    return text if text else Text("no problems found", style="green")


# ---- JSON --------------------------------------------------------------------------------------


def facts_to_json(obj: Any) -> Any:
    """Dataclasses (Facts, Finding, NodeResult...) → plain JSON-able dicts and lists.

    Adds the clock's computed `offset_s`/`uncertainty_s`; leaves out live objects (transports).
    """
    if isinstance(obj, NodeResult):
        return {
            "node": obj.node,
            "ok": obj.ok,
            "error": obj.error,
            "elapsed_s": round(obj.elapsed_s, 3),
            "facts": facts_to_json(obj.facts),
        }
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {f.name: facts_to_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        if isinstance(obj, Clock):  # its computed properties too
            out["offset_s"] = obj.offset_s
            out["uncertainty_s"] = obj.uncertainty_s
        return out
    if isinstance(obj, (frozenset, set)):
        return sorted(facts_to_json(x) for x in obj)
    if isinstance(obj, (list, tuple)):
        return [facts_to_json(x) for x in obj]
    if isinstance(obj, Mapping):
        return {str(k): facts_to_json(v) for k, v in obj.items()}
    return obj


def report_json(results: Sequence[NodeResult], findings: Sequence[Finding]) -> dict[str, Any]:
    return {
        "nodes": [facts_to_json(r) for r in results],
        "findings": [facts_to_json(f) for f in findings],
        "errors": sum(1 for f in findings if f.severity == "error"),
    }


# ---- the command ------------------------------------------------------------------------------


TransportFactory = Callable[[], Awaitable[Transport]]


async def run_discover(
    targets: list[tuple[str, TransportFactory]],
    *,
    json_out: bool,
    control: str | None,
    skip: set[str],
    console: Console,
    sudo_ok: Mapping[str, bool | None] | None = None,
    microk8s_channel: str | None = None,
    timeout: float = 60.0,
    limit: int | None = None,
) -> int:
    """Discover every target concurrently, run preflight, print a table (or JSON).

    Returns 0 when preflight found no errors, 3 when it did (or a node could not be
    discovered), 2 for bad arguments (unknown check in `skip`, unknown `control`).
    Transports the factories return are left open: their owner closes them.
    """
    names = [name for name, _ in targets]
    bad_skip = {s for s in skip if s not in CHECKS and s != "all"}
    if bad_skip:
        console.print(
            Text(
                f"error: unknown preflight check(s) to skip: {', '.join(sorted(bad_skip))}; "
                f"valid names: {', '.join(CHECKS)}, all",
                style="red",
            )
        )
        return EXIT_USAGE
    if control is not None and control not in names:
        console.print(
            Text(f"error: control node {control!r} is not one of the targets ({', '.join(names)})", style="red")
        )
        return EXIT_USAGE
    control = control if control is not None else (names[0] if names else None)

    session = Session(control=control, skip=frozenset(skip), microk8s_channel=microk8s_channel)
    session.sudo_ok = dict(sudo_ok) if sudo_ok is not None else None
    discover = Discover(targets, timeout=timeout, limit=limit, in_given_order=True)
    if json_out or not console.is_terminal:
        await discover.run(session)
    else:
        from rich.live import Live

        def view() -> Table:
            done = {r.node for r in session.results}
            return nodes_table(session.results, [n for n in names if n not in done])

        with Live(view(), console=console, refresh_per_second=8, transient=False) as live:
            async for _ in discover.each(session):
                live.update(view())
    await run_phases(session, [ResolveHostnames(), Preflight()])  # no sudo check: discover only reads
    results, findings = session.results, session.findings
    if json_out:
        console.file.write(json.dumps(report_json(results, findings), indent=2) + "\n")
        console.file.flush()
    else:
        if not console.is_terminal:
            console.print(nodes_table(results))
        console.print(findings_table(findings))
        console.print(Group(Text("Preflight: ", style="bold") + summary_line(findings)))
    return EXIT_PREFLIGHT_ERRORS if has_errors(findings) else EXIT_OK


async def run_local(json_out: bool, *, console: Console | None = None, skip: set[str] | None = None) -> int:
    """`thinkube-tui discover --local`: discover this machine and run preflight on it."""
    console = console or Console()
    name = socket.gethostname() or "localhost"

    async def connect() -> Transport:
        return LocalTransport(name)

    return await run_discover([(name, connect)], json_out=json_out, control=name, skip=set(skip or ()), console=console)
