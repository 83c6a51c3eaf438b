"""One component's whole log, full width, lines wrapped, with a search that keeps matching lines.

Opened from the install screen with `l`. The lines are data from nodes: drawn as plain Text,
never as markup. escape closes it; `/` goes to the search; `w` saves the log to a file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, RichLog, Static


def matching(lines: Sequence[str], query: str) -> list[str]:
    """The lines containing `query`, ignoring case (all lines for an empty query)."""
    needle = query.casefold()
    return [line for line in lines if needle in line.casefold()] if needle else list(lines)


class LogViewScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("slash", "search", "Search"),
        Binding("w", "save", "Save log"),
    ]

    def __init__(self, component: str, lines: Sequence[str], save: Callable[[], None]) -> None:
        super().__init__()
        self.component = component
        self.lines = list(lines)
        self._save = save

    def compose(self) -> ComposeResult:
        with Vertical(classes="log-view"):
            yield Static("", id="log-view-title")
            yield RichLog(wrap=True, markup=False, highlight=False, auto_scroll=True, id="log-view-lines")
            yield Input(placeholder="search: lines containing… (enter keeps them, escape closes)", id="log-search")
        yield Footer()

    def on_mount(self) -> None:
        self.show(self.lines, "")
        self.query_one(RichLog).focus()

    def show(self, lines: Sequence[str], query: str) -> None:
        view = self.query_one(RichLog)
        view.clear()
        for line in lines:
            view.write(Text(line))
        title = Text.assemble((self.component, "bold"), f" — {len(lines)} of {len(self.lines)} lines")
        if query:
            title.append(f" containing “{query}”")
        self.query_one("#log-view-title", Static).update(title)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.show(matching(self.lines, event.value), event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(RichLog).focus()

    def action_search(self) -> None:
        self.query_one(Input).focus()

    def action_save(self) -> None:
        self._save()

    def action_close(self) -> None:
        self.dismiss(None)
