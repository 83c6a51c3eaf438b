"""A day-two operation from the Welcome screen (remove components, upgrade): its events as they
come, as the command prints them, then how it ended. escape closes it once it has ended.

Lines come from nodes and the cluster: drawn as plain Text, never as markup.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, RichLog, SelectionList, Static
from textual.widgets.selection_list import Selection

from ..events import Event, RunFinished
from ..printer import describe
from .dialogs import Dialog

Runner = Callable[[Callable[[Event], None], Callable[[str], None]], Awaitable[RunFinished]]


class OperationScreen(ModalScreen[RunFinished | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, title: str, name: str, runner: Runner) -> None:
        super().__init__()
        self.title_text, self.run_name, self.runner = title, name, runner
        self.result: RunFinished | None = None
        self.failed: str | None = None  # refused or stopped before the engine ran

    def compose(self) -> ComposeResult:
        with Vertical(classes="log-view"):
            yield Static(Text(self.title_text, style="bold"), id="operation-title")
            yield RichLog(wrap=True, markup=False, highlight=False, auto_scroll=True, id="operation-lines")
            yield Static("Running…", id="operation-status", classes="status-line")
        yield Footer()

    def on_mount(self) -> None:
        self.go()

    def write(self, line: str) -> None:
        self.query_one(RichLog).write(Text(line))

    def show_event(self, event: Event) -> None:
        for line in describe(event, self.run_name):
            self.write(f"[{event.component}] {line}" if event.component else line)

    @work(exclusive=True, group="operation")
    async def go(self) -> None:
        status = self.query_one("#operation-status", Static)
        try:
            self.result = await self.runner(self.show_event, self.write)
        except Exception as exc:  # refused under the lock, the lock held elsewhere, a node lost
            self.failed = str(exc) or type(exc).__name__
            status.update(Text(f"Nothing more was done: {self.failed}  (escape closes)", style="bold red"))
            return
        ok = self.result.ok
        text = "Done." if ok else "Finished with failures: see the lines above; run it again to resume."
        status.update(Text(f"{text}  (escape closes)", style="green" if ok else "bold red"))

    def action_close(self) -> None:
        if self.result is None and self.failed is None:
            self.notify("Still running: it closes once it has ended.", timeout=4)
            return
        self.dismiss(self.result)


class RemoveDialog(Dialog):
    """Which installed components to remove: space ticks one; Remove asks nothing more."""

    CANCEL_RESULT: object = None

    def __init__(self, candidates: list[tuple[str, str]]) -> None:
        super().__init__()
        self.candidates = candidates  # (id, title)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("[b]Remove components[/b]", classes="dialog-title")
            yield SelectionList[str](
                *(Selection(Text(f"{cid}  {title}"), cid) for cid, title in self.candidates), id="remove-choice"
            )
            yield Static(
                "Their data (volume claims, databases, buckets) is kept; `thinkube-tui remove --purge` deletes it.",
                classes="hint",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Remove", id="yes", variant="error")
                yield Button("Cancel", id="no")

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        chosen = list(self.query_one(SelectionList).selected)
        self.dismiss(chosen if event.button.id == "yes" and chosen else None)
