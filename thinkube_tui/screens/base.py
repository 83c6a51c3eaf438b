"""What every wizard step shares: header, step bar, button bar, back/next, the model."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Static

if TYPE_CHECKING:
    from ..app import ThinkubeApp
    from ..wizard import WizardModel

STEPS = ("Welcome", "Nodes", "Roles", "Components", "Configure", "Review", "Install", "Summary")


class StepBar(Static):
    """`Welcome › Nodes › …` with the current step highlighted."""

    def __init__(self, current: str) -> None:
        parts = [f"[b reverse]{s}[/]" if s == current else f"[dim]{s}[/]" for s in STEPS]
        super().__init__("  ".join(parts), classes="step-bar")


class WizardScreen(Screen[None]):
    """A step of the wizard. Subclasses compose `body()`, and may refuse to leave in `ready()`."""

    STEP: ClassVar[str] = ""
    NEXT_LABEL: ClassVar[str] = "Next"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "next", "Next"),
        Binding("ctrl+b", "back", "Back"),
    ]

    @property
    def wizard(self) -> ThinkubeApp:
        from ..app import ThinkubeApp

        assert isinstance(self.app, ThinkubeApp)
        return self.app

    @property
    def model(self) -> WizardModel:
        return self.wizard.model

    def compose(self) -> ComposeResult:
        yield Header()
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

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "next":
            event.stop()
            self.action_next()
        elif event.button.id == "back":
            event.stop()
            self.action_back()

    def ready(self) -> str | None:
        """None when the operator may go on; otherwise what is missing, for people."""
        return None

    def action_next(self) -> None:
        problem = self.ready()
        if problem:
            self.notify(problem, title="Not yet", severity="warning")
            return
        self.leave()
        self.wizard.next_step(self)

    def leave(self) -> None:
        """Store what the screen holds into the model (also when going back)."""

    def action_back(self) -> None:
        self.leave()
        self.wizard.previous_step(self)
