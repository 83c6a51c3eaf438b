"""Small apps that hold one widget each, for the widgets' Pilot and snapshot tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.message import Message
from textual.widget import Widget

from thinkube_tui.catalog import load_catalog
from thinkube_tui.plan import Plan, make_plan
from thinkube_tui.spec import load_answers
from thinkube_tui.widgets import CSS_PATH

EXAMPLE_FULL = "examples/answers-full.yaml"


def full_plan() -> Plan:
    return make_plan(load_catalog(), load_answers(EXAMPLE_FULL), gpu_present=True)


class WidgetHarness(App[None]):
    """Shows the widgets `build()` makes and records the messages they post."""

    CSS_PATH: ClassVar = [CSS_PATH]

    def __init__(self, build: Callable[[], list[Widget] | Widget]) -> None:
        super().__init__()
        self._build = build
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        built = self._build()
        yield from built if isinstance(built, list) else [built]

    def on_schema_form_changed(self, message: Message) -> None:
        self.messages.append(message)

    def on_install_graph_selected(self, message: Message) -> None:
        self.messages.append(message)

    def recorded(self, kind: type[Message]) -> list[Any]:
        return [m for m in self.messages if isinstance(m, kind)]
