"""`thinkube-tui status`: what is installed, from the journal in the state directory.

`--demo` reads the demo's own state (`<state dir>/demo/state`, apart from real clusters').
A cluster asked for by name that has no journal is an error naming the clusters recorded.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text

from ..catalog import Catalog, load_catalog
from ..files import default_state_dir
from ..journal import Journal, JournalError
from .lab import demo_state_dir

if TYPE_CHECKING:
    from rich.table import Table

EXIT_OK, EXIT_INVALID = 0, 2


def recorded_clusters(base: Path) -> list[str]:
    """The clusters with an install journal under `base`, by name."""
    if not base.is_dir():
        return []
    from ..session import is_archived

    return sorted(p.name for p in base.iterdir() if (p / "journal.json").is_file() and not is_archived(p))


def run_status(state_dir: Path | None, cluster: str | None, *, demo: bool = False) -> int:
    from rich.console import Console

    console = Console()
    base = demo_state_dir(state_dir) if demo else (state_dir or default_state_dir())
    known = recorded_clusters(base)
    if cluster is not None and cluster not in known:
        recorded = ", ".join(known) if known else "none"
        print(f"thinkube-tui status: no install of cluster {cluster!r} is recorded under {base}", file=sys.stderr)
        print(f"clusters recorded there: {recorded}{_demo_hint(state_dir, demo)}", file=sys.stderr)
        return EXIT_INVALID
    names = [cluster] if cluster else known
    if not names:
        print(f"No install recorded under {base}. Run an install first (thinkube-tui --answers FILE).")
        if hint := _demo_hint(state_dir, demo).strip():
            print(hint)
        return EXIT_OK
    catalog = load_catalog()
    for name in names:
        try:
            journal = Journal.open(base / name / "journal.json")
        except JournalError as exc:
            console.print(Text(str(exc), style="red"))
            return EXIT_INVALID
        console.print(_table(name, base, journal, catalog))
    return EXIT_OK


def _table(name: str, base: Path, journal: Journal, catalog: Catalog) -> Table:
    from rich.table import Table

    # Without the answers the MicroK8s channel is unknown: the snap and its addons are compared
    # on re-entry, charts and manifests here.
    pins = {c.id: c.pinned_version("") for c in catalog.components if c.install.method not in ("snap", "addon")}

    table = Table(title=Text(f"cluster {name} ({base / name})"))
    for column in ("component", "state", "version", "attempts", "finished", "namespace", "note"):
        table.add_column(column)
    for cid, rec in sorted(
        journal.components.items(), key=lambda kv: catalog.ids.index(kv[0]) if kv[0] in catalog else 999
    ):
        finished = time.strftime("%Y-%m-%d %H:%M", time.localtime(rec.finished_at)) if rec.finished_at else "-"
        style = {"done": "green", "failed": "red"}.get(rec.status, "yellow")
        namespace = catalog[cid].namespace if cid in catalog else "?"
        pinned = pins.get(cid)
        version = Text(rec.version or "not recorded")
        if rec.status == "done" and pinned is not None and rec.version != pinned:
            version.append(f" (this release: {pinned})", style="yellow")
        table.add_row(
            Text(cid),  # text from a file: never markup
            Text(rec.status, style=style),
            version,
            str(rec.attempts),
            finished,
            Text(namespace),
            Text(rec.error or f"{len(rec.steps_done)} steps done"),
        )
    return table


def _demo_hint(state_dir: Path | None, demo: bool) -> str:
    """Where to look for the demo's installs, when there are some and they were not asked for."""
    if demo:
        return ""
    recorded = recorded_clusters(demo_state_dir(state_dir))
    if not recorded:
        return ""
    where = f" --state-dir {shlex.quote(str(state_dir))}" if state_dir else ""
    return f"\nthe demo's installs ({', '.join(recorded)}): thinkube-tui status --demo{where}"
