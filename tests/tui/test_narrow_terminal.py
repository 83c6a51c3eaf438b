"""80×24 holds: the Nodes table shows name, status, GPUs, RAM and OS; preflight findings wrap."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable

from thinkube_tui.app import ThinkubeApp

from .wizard_harness import fake_installers, snapshot_model


async def test_nodes_table_keeps_the_key_columns_on_screen_at_80_columns(tmp_path: Path) -> None:
    app = ThinkubeApp(
        model=snapshot_model(),
        state_dir=tmp_path / "state",
        answers_dir=tmp_path,
        installers=fake_installers(),
        known_hosts=tmp_path / "known_hosts",
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(app.screen_for("Nodes"))
        await pilot.pause()
        table = app.screen.query_one("#nodes", DataTable)
        right = 0
        visible = set()
        for column in table.ordered_columns:
            right += column.get_render_width(table)
            if right <= table.scrollable_content_region.width:
                visible.add(str(column.key.value))
        assert {"name", "status", "gpus", "ram", "os"} <= visible, visible
        assert "1× H100 80GB HBM3" in str(table.get_cell("tk-gpu-1", "gpus"))
        findings = app.screen.query_one("#findings", DataTable)
        assert findings.ordered_rows[0].height > 1  # the problem and what to do wrap, whole
        assert "→ Add memory" in str(findings.get_row_at(0)[-1])
