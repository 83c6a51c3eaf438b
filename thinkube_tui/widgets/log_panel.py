"""The log of one component at a time, while every component's recent lines are kept.

Lines arrive in batches (one `LogLines` event each). Every batch goes into its component's
ring buffer; only the shown component's lines reach the screen, gathered for at most
`DRAW_INTERVAL_S` and written with one `write_lines` call — the fastest way into a `Log`
(FACTS.md: ~150,000 lines/s). Drawing costs per draw, not per line (following the end
redraws every shown line), and a log read at ten draws a second looks no different from one
drawn sixty times. Switching components clears the Log and writes that component's buffer once.

A batch costs this widget alone, not the screen: Textual's `Log` sets its `virtual_size`, a
reactive that lays out the whole screen again (every widget measured and redrawn) for each
batch, and measures line widths in a new thread per batch. Here the size is set without a
layout (the panel's box does not depend on its lines) and widths are measured in place.
Following the end moves every shown line up one place per batch: each line is drawn once
and kept (Textual's `Log` draws every shown line again on each scroll).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from rich.cells import cell_len
from rich.style import Style
from textual.cache import LRUCache
from textual.geometry import Size
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Log

DEFAULT_MAX_LINES = 5000
DRAW_INTERVAL_S = 0.1


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
        self._strips: LRUCache[int, tuple[Style, Strip]] = LRUCache(1024)  # by line number since the start
        self._dropped = 0  # lines pruned from the top so far: line y is number y + _dropped
        self._waiting: list[str] = []  # the shown component's lines not drawn yet
        self._draw_timer: Timer | None = None

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
            self._waiting.extend(lines)
            if self._draw_timer is None:
                self._draw_timer = self.set_timer(DRAW_INTERVAL_S, self.draw_waiting)

    def draw_waiting(self) -> None:
        """Write the shown component's lines that wait to be drawn (at once, not at the next tick)."""
        if self._draw_timer is not None:
            self._draw_timer.stop()
            self._draw_timer = None
        if self._waiting:
            waiting, self._waiting = self._waiting, []
            self.write_lines(waiting)

    @property
    def lines(self) -> Sequence[str]:
        """The lines in the Log, those waiting for the next draw included."""
        self.draw_waiting()
        return super().lines

    @property
    def line_count(self) -> int:
        self.draw_waiting()
        return super().line_count

    def show(self, component: str) -> None:
        """Show `component`'s log (its last `max_lines` lines, then what follows)."""
        if component == self.shown:
            return
        self.shown = component
        self.border_title = f"log: {component}"
        self._waiting = []  # they are in the buffer, written next
        self.clear()
        self.write_lines(self._buffer(component))

    def lines_of(self, component: str) -> list[str]:
        """The kept lines of any component, shown or not."""
        return list(self._buffers.get(component, ()))

    @property
    def components(self) -> list[str]:
        """Components that have logged something, in the order they started."""
        return list(self._buffers)

    # ------------------------------------------------------------ drawing a batch

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> LogPanel:
        """As `Log.write_lines` (follows the end only when the view was at the end, so that
        scrolling up stops the auto-scroll), without a layout of the screen."""
        follow = (
            (self.auto_scroll if scroll_end is None else scroll_end)
            and self.is_vertical_scroll_end
            and not self.is_vertical_scrollbar_grabbed
        )
        new_lines = [part for line in lines for part in line.splitlines()]
        start = len(self._lines)
        self._lines.extend(new_lines)
        pruned = self.max_lines is not None and len(self._lines) > self.max_lines
        if pruned:
            self._prune_max_lines()
        if new_lines:
            self._width = max(self._width, max(map(self._cells, new_lines)))
        self._set_virtual_size(Size(self._width, len(self._lines)))
        if pruned:
            self.refresh()  # every line moved up
        else:
            self.refresh_lines(start, len(new_lines))
        if follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        return self

    def _cells(self, line: str) -> int:
        """How many columns `line` takes once drawn; most log lines are printable ASCII, one
        column per character, measured without Rich's per-character width table."""
        if line.isascii() and line.isprintable():
            return len(line)
        return cell_len(self._process_line(line))

    def _set_virtual_size(self, size: Size) -> None:
        """The scrollable size, with the scrollbars told, and a layout only when a scrollbar
        appears or goes (that changes what is inside the panel's box)."""
        if size == self.virtual_size:
            return
        if not self.is_mounted or not self.container_size:
            self.virtual_size = size  # not laid out yet: the first layout measures it
            return
        scrollbars = (self.show_horizontal_scrollbar, self.show_vertical_scrollbar)
        self.set_reactive(Widget.virtual_size, size)
        self._scroll_update(size)
        if scrollbars != (self.show_horizontal_scrollbar, self.show_vertical_scrollbar):
            self.refresh(layout=True)

    # ------------------------------------------------------------ drawn lines, kept

    def _render_line_strip(self, y: int, rich_style: Style) -> Strip:
        if self.text_selection is not None:
            return super()._render_line_strip(y, rich_style)
        kept = self._strips.get(y + self._dropped)
        if kept is not None and kept[0] == rich_style:
            return kept[1]
        strip = super()._render_line_strip(y, rich_style)
        self._strips[y + self._dropped] = (rich_style, strip)
        return strip

    def _prune_max_lines(self) -> None:
        before = len(self._lines)
        super()._prune_max_lines()
        self._dropped += before - len(self._lines)

    def refresh_lines(self, y_start: int, line_count: int = 1) -> None:
        for y in range(y_start, y_start + line_count):
            self._strips.discard(y + self._dropped)
        super().refresh_lines(y_start, line_count)

    def clear(self) -> LogPanel:
        super().clear()
        self._strips.clear()
        return self

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
