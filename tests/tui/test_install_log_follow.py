"""The install screen's log as the operator watches it: every line, in order, the view following
the end; scrolling up stops the following, `end` takes it up again.

The installer logs in three bursts, each waiting for the test, so that what is on screen is
checked between them (no timing: each wait is for a condition).
"""

import asyncio
from pathlib import Path
from typing import Any

from thinkube_tui.app import ThinkubeApp
from thinkube_tui.engine import EngineSettings
from thinkube_tui.widgets import InstallGraph, LogPanel

from .wizard_harness import fake_installers, snapshot_model, wait_until

BURST = 150  # lines per burst: several screens of the log panel


def numbered(burst: int) -> list[str]:
    return [f"line {burst}-{i:03d} of the chatty installer" for i in range(BURST)]


def chatty_installers(component: str) -> tuple[dict[str, Any], list[asyncio.Event]]:
    """`component` logs a burst and waits for the burst's event, three times (it stays the one
    shown until the last event: once it is done, the screen shows the next one to start)."""
    installers = fake_installers()
    gates = [asyncio.Event(), asyncio.Event(), asyncio.Event()]

    async def chatty(ctx: Any) -> None:
        for burst in range(3):
            for line in numbered(burst):
                ctx.log(line)
                if len(line) % 7 == 0:
                    await asyncio.sleep(0)  # lines arrive over many batches, as from a node
            await gates[burst].wait()

    installers[component] = chatty
    return installers, gates


def bottom_line(panel: LogPanel) -> str:
    """The text on the panel's last visible row, as drawn (without drawing waiting lines)."""
    strip = panel.render_line(panel.scrollable_content_region.height - 1)
    return "".join(segment.text for segment in strip).rstrip()


def logged(panel: LogPanel) -> list[str]:
    return [line for line in panel.lines if line.startswith("line ")]


async def test_the_log_follows_the_end_until_scrolled_up(tmp_path: Path) -> None:
    model = snapshot_model()
    first = model.plan(model.build_spec()).items[0].id  # the component the screen shows first
    installers, gates = chatty_installers(first)
    app = ThinkubeApp(
        model=model,
        state_dir=tmp_path / "state",
        installers=installers,
        known_hosts=tmp_path / "known_hosts",
        engine_settings=EngineSettings(log_interval_s=0.001),
        mirror_to_cluster=False,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        app.start_install()
        await wait_until(pilot, lambda: bool(app.screen.query(LogPanel)), what="the install screen")
        panel = app.screen.query_one(LogPanel)
        assert app.screen.query_one(InstallGraph).selected == first and panel.shown == first

        # The first burst: the view follows it to its last line.
        last = numbered(0)[-1]
        await wait_until(pilot, lambda: bottom_line(panel) == last, what="the first burst's last line shown")
        assert panel.is_vertical_scroll_end and panel.max_scroll_y > 0
        assert logged(panel) == numbered(0)

        # The operator scrolls up a few lines: the view stays there while the next burst arrives.
        await pilot.click(LogPanel)
        for _ in range(5):
            await pilot.press("up")
        held_at = panel.scroll_offset.y
        assert held_at == panel.max_scroll_y - 5 and bottom_line(panel) == numbered(0)[-6]
        gates[0].set()
        wanted = numbered(0) + numbered(1)
        await wait_until(pilot, lambda: panel.max_scroll_y >= held_at + BURST, what="the second burst drawn")
        assert panel.scroll_offset.y == held_at and bottom_line(panel) == numbered(0)[-6]
        assert logged(panel) == wanted

        # `end` goes back to the end, and the view follows again.
        await pilot.press("end")
        assert panel.is_vertical_scroll_end
        gates[1].set()
        wanted += numbered(2)
        await wait_until(pilot, lambda: bottom_line(panel) == wanted[-1], what="the third burst's last line shown")
        assert logged(panel) == wanted
        gates[2].set()
        await wait_until(pilot, lambda: not app.install_running, what="the install finished")
