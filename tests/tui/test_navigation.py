"""Navigation under Pilot: every button clicked once and twice moves exactly one step, an install
starts exactly once however it is asked for, and destructive dialogs default to the safe answer."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import pytest
from textual.app import App
from textual.binding import Binding, BindingType
from textual.widgets import Button, Static

from thinkube_tui.app import ThinkubeApp
from thinkube_tui.engine import EngineSettings
from thinkube_tui.screens.base import StepBar, WizardScreen
from thinkube_tui.screens.dialogs import ConfirmDialog, HelpDialog

from .wizard_harness import fake_installers, snapshot_model, wait_until

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


# ---------------------------------------------------------------- the wizard's steps


def counting_installers() -> tuple[dict[str, Any], Counter[str]]:
    """Fake installers that count how often each component's installer runs."""
    calls: Counter[str] = Counter()

    def counted(cid: str, inner: Any) -> Any:
        async def install(ctx: Any) -> None:
            calls[cid] += 1
            await inner(ctx)

        return install

    return {cid: counted(cid, inner) for cid, inner in fake_installers().items()}, calls


def make_app(tmp_path: Path, installers: Any = None) -> ThinkubeApp:
    return ThinkubeApp(
        model=snapshot_model(),
        state_dir=tmp_path / "state",
        answers_dir=tmp_path,
        known_hosts=tmp_path / "known_hosts",
        installers=installers if installers is not None else fake_installers(),
        engine_settings=EngineSettings(log_interval_s=0.001),
        mirror_to_cluster=False,
    )


WALK = ["WelcomeScreen", "NodesScreen", "RolesScreen", "ComponentsScreen", "ConfigureScreen", "ReviewScreen"]


def stack(app: ThinkubeApp) -> list[str]:
    return [type(screen).__name__ for screen in app.screen_stack[1:]]


async def settle(pilot: Any) -> None:
    """Let every queued message and scheduled screen change run."""
    for _ in range(3):
        await pilot.pause()


async def press(pilot: Any, button_id: str, how: str) -> None:
    if how == "click":
        await pilot.click(f"#{button_id}")
    elif how == "double click":
        await pilot.click(f"#{button_id}", times=2)
    else:  # "two presses": queued before the first is handled
        press_twice(pilot.app.screen.query_one(f"#{button_id}", Button))
    await settle(pilot)


HOW = ["click", "double click", "two presses"]


@pytest.mark.parametrize("how", HOW)
async def test_next_moves_exactly_one_step(tmp_path: Path, how: str) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        for depth in range(1, len(WALK)):
            assert stack(app) == WALK[:depth]
            await press(pilot, "next", how)
        assert stack(app) == WALK


@pytest.mark.parametrize("how", HOW)
async def test_back_moves_exactly_one_step(tmp_path: Path, how: str) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        for _ in WALK[1:]:
            await pilot.press("f9")
            await settle(pilot)
        assert stack(app) == WALK
        for depth in range(len(WALK) - 1, 0, -1):
            await press(pilot, "back", how)
            assert stack(app) == WALK[:depth]
        assert app.screen.query_one("#back", Button).disabled  # nothing behind Welcome


async def test_every_key_for_next_and_back(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+n")
        await pilot.press("f9")
        await settle(pilot)
        assert stack(app) == WALK[:3]
        await pilot.press("escape")
        await settle(pilot)
        assert stack(app) == WALK[:2]
        await pilot.press("f8")
        await settle(pilot)
        await pilot.press("escape")  # nothing behind Welcome: nothing happens
        await settle(pilot)
        assert stack(app) == WALK[:1]


async def test_the_step_bar_leads_back_to_a_visited_step(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        for _ in WALK[1:]:
            await pilot.press("f9")
            await settle(pilot)
        bar = app.screen.query_one(StepBar)
        await pilot.click(bar, offset=(1 + len("Welcome  ") + 1, 0), times=2)  # on "Nodes", twice
        await settle(pilot)
        assert stack(app) == WALK[:2]
        await pilot.click(app.screen.query_one(StepBar), offset=(1 + len("Welcome  Nodes  ") + 1, 0))
        await settle(pilot)  # Roles is not behind Nodes: not a link
        assert stack(app) == WALK[:2]


async def go_to_review(pilot: Any) -> None:
    for _ in WALK[1:]:
        await pilot.press("f9")
        await settle(pilot)
    await pilot.app.workers.wait_for_complete()
    assert stack(pilot.app) == WALK


@pytest.mark.parametrize("how", HOW)
async def test_install_asks_once_and_starts_once(tmp_path: Path, how: str) -> None:
    installers, calls = counting_installers()
    app = make_app(tmp_path, installers)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_review(pilot)
        await press(pilot, "next", how)
        assert stack(app) == [*WALK, "ConfirmDialog"]
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        assert app.focused is not None and app.focused.id == "no"  # the safe answer is the default
        question = str(dialog.query_one("#question", Static).render())
        assert "components on 3 nodes" in question and "min" in question
        await press(pilot, "yes", how)
        await wait_until(pilot, lambda: app.install is not None and app.install.result is not None, what="run over")
        await settle(pilot)
        assert stack(app) == ["InstallScreen"]
        assert calls and set(calls.values()) == {1}, calls


async def test_install_by_keys_and_palette_starts_once(tmp_path: Path) -> None:
    installers, calls = counting_installers()
    app = make_app(tmp_path, installers)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_review(pilot)
        await pilot.press("ctrl+n", "f9")  # the second lands on the dialog: ignored there
        await settle(pilot)
        assert stack(app) == [*WALK, "ConfirmDialog"]
        await pilot.press("enter")  # the focused answer is "Not yet"
        await settle(pilot)
        assert stack(app) == WALK
        review = app.screen
        review.call_later(review.run_action, "next")
        review.call_later(review.run_action, "next")  # as the palette's "Review: Next" would, twice
        await settle(pilot)
        assert stack(app) == [*WALK, "ConfirmDialog"]
        await pilot.press("right", "enter")
        await wait_until(pilot, lambda: app.install is not None and app.install.result is not None, what="run over")
        await pilot.press("f9", "f9")
        await settle(pilot)
        assert stack(app) == ["SummaryScreen"]
        assert set(calls.values()) == {1}, calls


async def test_help_shows_the_screens_purpose_and_keys(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f9")
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, HelpDialog)
        keys = str(dialog.query_one("#help-keys", Static).render())
        assert "Discover" in keys and "Next" in keys and "F9" in keys
        assert "machines" in str(dialog.query_one("#help-purpose", Static).render())
        await pilot.press("f1")
        await settle(pilot)
        assert stack(app) == WALK[:2]


# ---------------------------------------------------------------- unexpected errors


class BrokenScreen(WizardScreen):
    """A step that fails as a bug would: while handling a key."""

    STEP = "Nodes"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("b", "break", "Break")]

    def action_break(self) -> None:
        raise RuntimeError(f"something broke near {self.model.node_secrets[('tk-control', 'sudo')]}")


async def test_an_unexpected_error_leaves_a_crash_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = make_app(tmp_path)
    app.model.node_secrets[("tk-control", "sudo")] = "sudo-canary-93b1"
    with pytest.raises(RuntimeError):
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(BrokenScreen(app.context))
            await pilot.press("b")
            await settle(pilot)
    assert app.return_code == 1
    report = app.crash_report
    assert report is not None and report.parent == tmp_path / "state" / "thinkube-lab"
    assert report.stat().st_mode & 0o777 == 0o600
    text = report.read_text()
    for expected in ("version: ", "screens: WelcomeScreen > BrokenScreen", "RuntimeError", "journal:"):
        assert expected in text, text
    assert "sudo-canary-93b1" not in text
    shown = capsys.readouterr().err.replace("\n", "")  # what the restored terminal shows, unwrapped
    assert str(report) in shown and "resume" in shown and "sudo-canary-93b1" not in shown


# ---------------------------------------------------------------- screens and their host


class Host(App[None]):
    """Any app can host a wizard screen: it only has to handle the screen's messages."""

    def __init__(self, screen: WizardScreen) -> None:
        super().__init__()
        self.step_screen = screen
        self.requests: list[str] = []

    async def on_mount(self) -> None:
        await self.push_screen(self.step_screen)

    def on_wizard_screen_next(self, message: WizardScreen.Next) -> None:
        self.requests.append(f"next from {message.screen.STEP}")

    def on_wizard_screen_back(self, message: WizardScreen.Back) -> None:
        self.requests.append(f"back from {message.screen.STEP}")


async def test_a_screen_asks_its_host_by_message_and_gets_its_context(tmp_path: Path) -> None:
    from thinkube_tui.screens.context import WizardContext
    from thinkube_tui.screens.roles import RolesScreen
    from thinkube_tui.targets import Prompts
    from thinkube_tui.wizard_run import NodeSession

    context = WizardContext(snapshot_model(), NodeSession(Prompts()))
    app = Host(RolesScreen(context))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert str(app.screen.query_one("#roles").get_row_at(0)[0]) == "tk-control"  # the context's model
        await pilot.press("f8")  # nothing behind it on this host: Back asks nothing
        await pilot.press("f9")
        await settle(pilot)
        assert app.requests == ["next from Roles"]
        assert app.screen is app.step_screen  # moving on is the host's to do


async def test_a_press_on_text_taken_down_in_the_same_moment_does_not_crash(tmp_path: Path) -> None:
    """Textual's text selection read the pressed widget's parent, gone when the widget was just
    removed (the compositor not yet refreshed): the wizard died with "'NoneType' object has no
    attribute 'region'" on a double click of Install under load."""
    from textual import events

    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        text = app.screen.query(Static).first()
        x, y = text.region.x + 1, text.region.y
        await text.remove()
        app.screen._forward_event(events.MouseDown(None, x, y, 0, 0, 1, False, False, False, screen_x=x, screen_y=y))
        await pilot.pause()
    assert app._exception is None
