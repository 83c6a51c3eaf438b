"""The log of one component at a time, while every component's recent lines are kept.

Lines arrive in batches (one `LogLines` event each). Every batch goes into its component's
ring buffer; only the shown component's batches reach the screen, with one `write_lines`
call — the fastest way into a `Log` (FACTS.md: ~150,000 lines/s). Switching components
clears the Log and writes that component's buffer once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from textual.widgets import Log

DEFAULT_MAX_LINES = 5000


class LogPanel(Log):
    def __init__(
        self,
        max_lines: int = DEFAULT_MAX_LINES,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(max_lines=max_lines, auto_scroll=True, name=name, id=id, classes=classes)
        self._buffers: dict[str, deque[str]] = {}
        self.shown: str | None = None
        self.border_title = "log"

    def _buffer(self, component: str) -> deque[str]:
        buffer = self._buffers.get(component)
        if buffer is None:
            buffer = self._buffers[component] = deque(maxlen=self.max_lines)
        return buffer

    def append(self, component: str, lines: Sequence[str]) -> None:
        """Keep a batch of `component`'s lines; draw them only if it is the one shown."""
        if isinstance(lines, str):
            lines = [lines]  # a str is a Sequence[str] too: one line, not one line per character
        self._buffer(component).extend(lines)
        if component == self.shown:
            self.write_lines(lines)

    def show(self, component: str) -> None:
        """Show `component`'s log (its last `max_lines` lines, then what follows)."""
        if component == self.shown:
            return
        self.shown = component
        self.border_title = f"log: {component}"
        self.clear()
        self.write_lines(self._buffer(component))

    def lines_of(self, component: str) -> list[str]:
        """The kept lines of any component, shown or not."""
        return list(self._buffers.get(component, ()))

    @property
    def components(self) -> list[str]:
        """Components that have logged something, in the order they started."""
        return list(self._buffers)
