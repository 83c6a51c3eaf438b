"""`thinkube-tui status`: what is installed, from the journal in the state directory."""

from __future__ import annotations

import time
from pathlib import Path

from ..catalog import load_catalog
from ..files import default_state_dir
from ..journal import Journal, JournalError


def run_status(state_dir: Path | None, cluster: str | None) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    base = state_dir or default_state_dir()
    names = [cluster] if cluster else sorted(p.name for p in base.glob("*") if (p / "journal.json").exists())
    if not names:
        console.print(f"No install recorded under {base}. Run an install first (thinkube-tui --answers FILE).")
        return 0
    catalog = load_catalog()
    for name in names:
        try:
            journal = Journal.open(base / name / "journal.json")
        except JournalError as exc:
            console.print(f"[red]{exc}[/]")
            return 2
        table = Table(title=f"cluster {name} ({base / name})")
        for column in ("component", "state", "attempts", "finished", "namespace", "note"):
            table.add_column(column)
        for cid, rec in sorted(
            journal.components.items(), key=lambda kv: catalog.ids.index(kv[0]) if kv[0] in catalog else 999
        ):
            finished = time.strftime("%Y-%m-%d %H:%M", time.localtime(rec.finished_at)) if rec.finished_at else "-"
            style = {"done": "green", "failed": "red"}.get(rec.status, "yellow")
            namespace = catalog[cid].namespace if cid in catalog else "?"
            table.add_row(
                cid,
                f"[{style}]{rec.status}[/]",
                str(rec.attempts),
                finished,
                namespace,
                rec.error or f"{len(rec.steps_done)} steps done",
            )
        console.print(table)
    return 0
