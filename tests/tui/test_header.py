"""The header survives screens that come and go within one refresh (issue 10: the app died with
`NoMatches: No nodes match 'HeaderTitle' on Header()` when the install screen replaced the stack)."""

from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from thinkube_tui.screens.base import WizardHeader


class Step(Screen[None]):
    def compose(self) -> ComposeResult:
        yield WizardHeader()
        yield Static("a step")


class Wizard(App[None]):
    async def on_mount(self) -> None:
        await self.push_screen(Step())


async def test_screens_pushed_and_popped_at_once_leave_the_header_quiet():
    app = Wizard()
    async with app.run_test() as pilot:
        for i in range(20):
            app.push_screen(Step())
            app.sub_title = f"title {i}"  # the header's watcher runs after its screen is gone
            app.pop_screen()
            await pilot.pause(0)
        await pilot.pause()
        app.sub_title = "still here"
        await pilot.pause()
        assert app.screen.query_one(WizardHeader).format_title().plain.endswith("still here")
    assert app._exception is None
