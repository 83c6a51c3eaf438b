"""Navigation under Pilot: every button clicked once and twice moves exactly one step, an install
starts exactly once however it is asked for, and destructive dialogs default to the safe answer."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.widgets import Button

from thinkube_tui.screens.dialogs import ConfirmDialog

SIZE = (100, 30)


class DialogHost(App[None]):
    """A bare app that shows one dialog and records every answer it gets."""

    def __init__(self, dialog: ConfirmDialog) -> None:
        super().__init__()
        self.dialog = dialog
        self.answers: list[Any] = []

    def on_mount(self) -> None:
        self.push_screen(self.dialog, self.answers.append)


async def test_a_destructive_dialog_focuses_the_safe_answer() -> None:
    app = DialogHost(ConfirmDialog("Cancel the install?", "Cancel install", "Keep installing"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "no"
        await pilot.press("enter")
        await pilot.pause()
    assert app.answers == [False]


async def test_a_plain_dialog_focuses_yes_and_arrows_switch() -> None:
    app = DialogHost(ConfirmDialog("Save?", "Save", "Not now", destructive=False))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "yes"
        await pilot.press("right")
        assert app.focused.id == "no"
        await pilot.press("left")
        assert app.focused.id == "yes"
        await pilot.press("enter")
        await pilot.pause()
    assert app.answers == [True]


def press_twice(button: Button) -> None:
    """Two presses queued before the first is handled: a double click slower than the button's
    press effect, or Enter and a click together."""
    button.post_message(Button.Pressed(button))
    button.post_message(Button.Pressed(button))


async def test_a_double_click_answers_a_dialog_once() -> None:
    app = DialogHost(ConfirmDialog("Quit?", "Quit", "Stay"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.click("#yes", times=2)
        await pilot.pause()
        assert app.answers == [True]
    app = DialogHost(ConfirmDialog("Quit?", "Quit", "Stay"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        press_twice(app.screen.query_one("#yes", Button))
        await pilot.pause()
        assert app.answers == [True]
        assert len(app.screen_stack) == 1  # the default screen below was not popped too
