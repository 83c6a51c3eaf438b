"""What every wizard step shares: header, step bar, button bar, back/next, help, the model.

Keys: F9 or ctrl+n go on, F8 or escape go back, F1 or ? open the screen's help. ctrl+n stays for
terminals; the F-keys are the ones a browser leaves to the app under `textual serve`.

A screen gets what it works with as a `WizardContext` and never imports the app: to move on, go
back or start the install it posts a message to the app (`Next`, `Back`, `BackTo`,
`StartInstall`), which the app handles.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.events import Mount
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Static
from textual.widgets._header import HeaderTitle

from .context import WizardContext
from .dialogs import HelpDialog

if TYPE_CHECKING:
    from ..wizard import WizardModel

STEPS = ("Welcome", "Nodes", "Roles", "Components", "Configure", "Review", "Install", "Summary")


class WizardHeader(Header):
    """Textual's Header updates its title from a watcher that can run after the screen under
    it was removed (a screen pushed and popped, or replaced, within one refresh — as when the
    install starts and the wizard's stack is replaced). Textual's own watcher then raises
    NoMatches and the app dies; here there is simply nothing left to update."""

    def _on_mount(self, event: Mount) -> None:
        event.prevent_default()  # instead of Header._on_mount, not besides it

        async def set_title() -> None:
            with contextlib.suppress(NoMatches):  # already taken down with its screen
                self.query_one(HeaderTitle).update(self.format_title())

        self.watch(self.app, "title", set_title)
        self.watch(self.app, "sub_title", set_title)
        self.watch(self.screen, "title", set_title)
        self.watch(self.screen, "sub_title", set_title)


class StepBar(Static):
    """`Welcome  Nodes  …` with the current step highlighted; steps already visited (still behind
    this screen on the stack) are links back to them."""

    def __init__(self, current: str) -> None:
        self.current = current
        super().__init__(self._markup(()), classes="step-bar")

    def _markup(self, visited: tuple[str, ...]) -> str:
        parts = []
        for step in STEPS:  # our own step names, escaped all the same: markup is built from nothing else
            shown = escape(step)
            if step == self.current:
                parts.append(f"[b reverse]{shown}[/]")
            elif step in visited:
                parts.append(f"[@click=screen.go_to_step('{step}')][u]{shown}[/u][/]")
            else:
                parts.append(f"[dim]{shown}[/]")
        return "  ".join(parts)

    def show_visited(self, visited: tuple[str, ...]) -> None:
        self.update(self._markup(visited))


class WizardScreen(Screen[None]):
    """A step of the wizard. Subclasses compose `body()`, and may refuse to leave in `ready()`.

    Moving on or back happens once per request: a second click, key or palette command that
    arrives while the screen is already leaving is ignored, here when the screen is no longer the
    active one, by the app when the request comes from a screen it has already left.
    """

    STEP: ClassVar[str] = ""
    NEXT_LABEL: ClassVar[str] = "Next"
    HELP: ClassVar[str] = ""  # what the screen is for; default: its module's docstring
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f9,ctrl+n", "next", "Next"),
        Binding("f8,escape", "back", "Back"),
        Binding("f1,question_mark", "help", "Help"),
    ]

    class Next(Message):
        """Go on from `screen` to the step after it (Next, its keys, the palette, a confirmed question)."""

        def __init__(self, screen: WizardScreen) -> None:
            super().__init__()
            self.screen = screen

    class Back(Message):
        """Back from `screen` to the step below it."""

        def __init__(self, screen: WizardScreen) -> None:
            super().__init__()
            self.screen = screen

    class BackTo(Message):
        """Back from `screen` to `step`, further down the stack (a click in the step bar)."""

        def __init__(self, screen: WizardScreen, step: str) -> None:
            super().__init__()
            self.screen, self.step = screen, step

    class StartInstall(Message):
        """Straight to the install (the operator confirmed it), from wherever the wizard is."""

    def __init__(self, wizard: WizardContext) -> None:
        super().__init__()
        self.wizard = wizard  # what the screen works with; the app's, shared by every screen

    @property
    def model(self) -> WizardModel:
        return self.wizard.model

    def request(self, message: Message) -> None:
        """Ask the app for a change of step; any app hosting the screen only has to handle these.

        Posted to the app itself, not bubbled up from the screen: the change follows the key or
        click as closely as when screens called the app, with no hop through the screen's queue.
        """
        self.app.post_message(message)

    def compose(self) -> ComposeResult:
        yield WizardHeader()
        yield StepBar(self.STEP)
        yield from self.body()
        with Horizontal(classes="button-bar"):
            yield from self.buttons()
            yield Static(classes="spacer")
            yield Button("Back", id="back", compact=True)
            yield Button(self.NEXT_LABEL, id="next", variant="primary", compact=True)
        yield Footer()

    def body(self) -> ComposeResult:
        yield from ()

    def buttons(self) -> ComposeResult:
        """Buttons for this screen's own actions, left of Back/Next."""
        yield from ()

    # ------------------------------------------------------------ where we are

    def steps_behind(self) -> tuple[str, ...]:
        """The wizard steps on the stack below this screen: where Back and the step bar lead."""
        stack = self.app.screen_stack
        below = stack[: stack.index(self)] if self in stack else []
        return tuple(s.STEP for s in below if isinstance(s, WizardScreen))

    def on_screen_resume(self) -> None:
        behind = self.steps_behind()
        for bar in self.query(StepBar):
            bar.show_visited(behind)
        for back in self.query("#back").results(Button):
            back.disabled = not behind
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Nothing behind: Back is hidden from the footer and does nothing.
        return action != "back" or bool(self.steps_behind())

    # ------------------------------------------------------------ buttons and actions

    def on_button_pressed(self, event: Button.Pressed) -> None:
        action = {"next": self.action_next, "back": self.action_back}.get(event.button.id or "")
        if action is None:
            return
        event.stop()
        # Handled here once: stop Textual from calling this handler again for the base class
        # when a subclass's handler already called it through super().
        event.prevent_default()
        action()

    def ready(self) -> str | None:
        """None when the operator may go on; otherwise what is missing, for people."""
        return None

    def action_next(self) -> None:
        if not self.is_active:  # a second request while leaving, or one from under a dialog
            return
        problem = self.ready()
        if problem:
            self.notify(problem, title="Not yet", severity="warning")
            return
        self.leave()
        self.request(self.Next(self))

    def leave(self) -> None:
        """Store what the screen holds into the model (also when going back)."""

    def action_back(self) -> None:
        if not self.is_active or not self.steps_behind():
            return
        self.leave()
        self.request(self.Back(self))

    def action_go_to_step(self, step: str) -> None:
        """A click on a visited step in the step bar: back to it, keeping what each screen holds."""
        if not self.is_active or step not in self.steps_behind():
            return
        self.leave()
        self.request(self.BackTo(self, step))

    def action_help(self) -> None:
        if not self.is_active:
            return
        purpose = self.HELP or (sys.modules[type(self).__module__].__doc__ or "").strip()
        keys = [  # the screen's and the app's keys; a focused widget's own (cursor keys) are left out
            (key_label(binding.key_display or self.app.get_key_display(binding)), binding.description)
            for node, binding, enabled, _ in self.active_bindings.values()
            if enabled and binding.description and (node is self or node is self.app)
        ]
        self.app.push_screen(HelpDialog(self.STEP or type(self).__name__, purpose, keys))


def key_label(display: str) -> str:
    """`F9` rather than `f9`, as keyboards print it."""
    return display.upper() if display[:1] == "f" and display[1:].isdigit() else display
