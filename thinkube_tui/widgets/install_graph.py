"""The live dependency graph of an install: one box per component, one row per wave.

A wave is what could run together (everything a component needs is in earlier rows), so the
rows read top to bottom as the install proceeds. Edges are not drawn — 35 components with
their edges are illegible at 80 columns — the selected component's requirements and
dependents are listed under the graph instead, each with its state.

Each state has a symbol as well as a colour (readable without colour, and in snapshots):
waiting ○, running ◐, done ✔, failed ✖, blocked ⊘, installed ≡, skipped –.
`set_state` repaints only that component's box (and the detail lines if they mention it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from ..plan import Plan

State = Literal["waiting", "running", "done", "failed", "blocked", "installed", "skipped"]
STATES: tuple[State, ...] = ("waiting", "running", "done", "failed", "blocked", "installed", "skipped")
SYMBOLS: dict[str, str] = {
    "waiting": "○",
    "running": "◐",
    "done": "✔",
    "failed": "✖",
    "blocked": "⊘",
    "installed": "≡",
    "skipped": "–",
}
INSTALLED_ROW_LABEL = "≡"  # the row of components installed before this run
GUTTER = 4  # "10 │"


@dataclass(frozen=True)
class Box:
    """Where a component is drawn: line (from the top of the graph), column, width."""

    component: str
    line: int
    x: int
    width: int

    @property
    def center(self) -> float:
        return self.x + self.width / 2


def box_text(component: str, state: str) -> str:
    return f" {SYMBOLS[state]} {component} "


def lay_out(rows: Sequence[tuple[str, Sequence[str]]], width: int) -> tuple[list[Box], list[str]]:
    """Boxes for each row's components, wrapping a row onto more lines when it is too wide.
    Returns the boxes in reading order and the gutter label of every line."""
    boxes: list[Box] = []
    labels: list[str] = []
    for label, components in rows:
        labels.append(label)
        x = GUTTER + 1
        for component in components:
            box_width = len(box_text(component, "waiting"))
            if x + box_width > width and x > GUTTER + 1:
                labels.append("")
                x = GUTTER + 1
            boxes.append(Box(component, len(labels) - 1, x, box_width))
            x += box_width
    return boxes, labels


class InstallGraphMap(ScrollView, can_focus=True):
    """The boxes themselves: drawn line by line from a cache, repainted box by box."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *(f"install-graph--{state}" for state in STATES),
        "install-graph--selected",
        "install-graph--gutter",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "move(-1)", "Previous", show=False),
        Binding("right", "move(1)", "Next", show=False),
        Binding("up", "move_line(-1)", "Row above", show=False),
        Binding("down", "move_line(1)", "Row below", show=False),
        Binding("home", "move_to(0)", "First", show=False),
        Binding("end", "move_to(-1)", "Last", show=False),
    ]

    def __init__(self, graph: InstallGraph, rows: list[tuple[str, list[str]]], states: dict[str, str]) -> None:
        super().__init__()
        self.graph = graph
        self.rows = rows
        self.states = states
        self.boxes: list[Box] = []
        self.labels: list[str] = []
        self._box_of: dict[str, Box] = {}
        self._strips: dict[int, Strip] = {}  # rendered lines, dropped when a box on them changes
        self.selected: str | None = None

    # -------------------------------------------------- layout and drawing

    def on_resize(self, event: events.Resize) -> None:
        self.relayout()

    def relayout(self) -> None:
        self.boxes, self.labels = lay_out(self.rows, max(self.scrollable_content_region.width, GUTTER + 8))
        self._box_of = {box.component: box for box in self.boxes}
        self._strips.clear()
        self.virtual_size = Size(max((b.x + b.width for b in self.boxes), default=0), len(self.labels))
        self.refresh()
        if self.selected is not None:  # selected before the first layout, or moved by a new width
            self._scroll_to_box(self.selected)

    def _scroll_to_box(self, component: str) -> None:
        box = self._box_of.get(component)
        if box is not None:
            self.scroll_to_region(Region(box.x, box.line, box.width, 1), animate=False, immediate=True)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        line = scroll_y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if line >= len(self.labels):
            return Strip.blank(width, base)
        strip = self._strips.get(line)
        if strip is None:
            strip = self._strips[line] = self._draw_line(line, base)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _draw_line(self, line: int, base: Style) -> Strip:
        gutter = self.get_component_rich_style("install-graph--gutter")
        segments = [Segment(f"{self.labels[line]:>{GUTTER - 1}}│ ", base + gutter)]
        for box in (b for b in self.boxes if b.line == line):
            state = self.states[box.component]
            style = base + self.get_component_rich_style(f"install-graph--{state}")
            if box.component == self.selected:
                style += self.get_component_rich_style("install-graph--selected")
            segments.append(Segment(box_text(box.component, state), style))
        return Strip(segments)

    def line_text(self, line: int) -> str:
        """A line of the graph as plain text (tests, debugging)."""
        return "".join(seg.text for seg in self._draw_line(line, Style()))

    def repaint(self, component: str) -> None:
        """Redraw one component's box, nothing else."""
        box = self._box_of.get(component)
        if box is None:
            return
        self._strips.pop(box.line, None)
        scroll_x, scroll_y = self.scroll_offset
        self.refresh(Region(box.x - scroll_x, box.line - scroll_y, box.width, 1))

    # -------------------------------------------------- selection

    def select(self, component: str | None) -> None:
        if component == self.selected:
            return
        if component is not None and component not in self.states:
            raise KeyError(f"{component!r} is not in the install graph")
        previous, self.selected = self.selected, component
        for changed in (previous, component):
            if changed is not None:
                self.repaint(changed)
        if component is not None:
            self._scroll_to_box(component)
        self.graph.selection_changed(component)

    def _index(self) -> int:
        if self.selected is None:
            return -1
        return next(i for i, b in enumerate(self.boxes) if b.component == self.selected)

    def action_move(self, step: int) -> None:
        if self.boxes:
            index = self._index()
            target = 0 if index < 0 else max(0, min(len(self.boxes) - 1, index + step))
            self.select(self.boxes[target].component)

    def action_move_to(self, index: int) -> None:
        if self.boxes:
            self.select(self.boxes[index].component)

    def action_move_line(self, step: int) -> None:
        if not self.boxes:
            return
        if self.selected is None:
            self.select(self.boxes[0].component)
            return
        here = self._box_of[self.selected]
        candidates = [b for b in self.boxes if b.line == here.line + step]
        if candidates:
            self.select(min(candidates, key=lambda b: abs(b.center - here.center)).component)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        x, y = offset.x + self.scroll_offset.x, offset.y + self.scroll_offset.y
        for box in self.boxes:
            if box.line == y and box.x <= x < box.x + box.width:
                self.select(box.component)
                return


class InstallGraph(Vertical):
    """The plan's components by wave, coloured by state, with the selected one's neighbours."""

    class Selected(Message):
        """The operator selected a component (arrow keys or a click)."""

        def __init__(self, graph: InstallGraph, component_id: str) -> None:
            super().__init__()
            self.graph = graph
            self.component_id = component_id

        @property
        def control(self) -> InstallGraph:
            return self.graph

    def __init__(
        self,
        plan: Plan,
        installed: Iterable[str] = frozenset(),
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """`installed`: components installed before this run (besides `plan.installed`),
        shown in a row of their own above the waves."""
        super().__init__(name=name, id=id, classes=classes)
        self.plan = plan
        already = sorted(set(installed) | set(plan.installed))
        self.states: dict[str, str] = {cid: "installed" for cid in already}
        self.states.update({p.id: "waiting" for p in plan.items})
        self.requires: dict[str, tuple[str, ...]] = {p.id: p.deps for p in plan.items}
        self.required_by: dict[str, list[str]] = {cid: [] for cid in self.states}
        for p in plan.items:
            for dep in p.deps:
                self.required_by[dep].append(p.id)
        rows = [(INSTALLED_ROW_LABEL, already)] if already else []
        rows += [(str(wave), list(ids)) for wave, ids in enumerate(plan.waves)]
        self.map = InstallGraphMap(self, rows, self.states)

    def compose(self) -> ComposeResult:
        yield self.map
        yield Static("", classes="install-graph--detail")
        yield Static("", classes="install-graph--legend")

    def on_mount(self) -> None:
        self.query_one(".install-graph--legend", Static).update(
            Text(" ").join(Text(f"{SYMBOLS[s]} {s}", self._style(s)) for s in STATES)
        )
        self._show_detail()

    def focus(self, scroll_visible: bool = True) -> InstallGraph:
        self.map.focus(scroll_visible)  # the boxes take the keys
        return self

    # -------------------------------------------------- API

    @property
    def selected(self) -> str | None:
        return self.map.selected

    def select(self, component_id: str) -> None:
        self.map.select(component_id)

    def state_of(self, component_id: str) -> str:
        return self.states[component_id]

    def set_state(self, component_id: str, state: str) -> None:
        if state not in SYMBOLS:
            raise ValueError(f"unknown state {state!r}: one of {', '.join(STATES)}")
        if self.states.get(component_id) == state:
            return
        self.states[component_id] = state
        self.map.repaint(component_id)
        shown = self.selected
        if shown is not None and (
            component_id == shown
            or component_id in self.requires.get(shown, ())
            or component_id in self.required_by.get(shown, ())
        ):
            self._show_detail()

    def rendered_lines(self) -> list[str]:
        """The graph as plain text, line by line (tests, debugging)."""
        return [self.map.line_text(line) for line in range(len(self.map.labels))]

    # -------------------------------------------------- detail

    def selection_changed(self, component_id: str | None) -> None:
        self._show_detail()
        if component_id is not None:
            self.post_message(self.Selected(self, component_id))

    def _style(self, state: str) -> Style:
        return self.map.get_component_rich_style(f"install-graph--{state}")

    def _named(self, component_id: str) -> Text:
        state = self.states.get(component_id, "installed")
        return Text(f"{SYMBOLS[state]} {component_id}", self._style(state))

    def _listed(self, ids: Sequence[str]) -> Text:
        return Text(", ").join(self._named(c) for c in ids) if ids else Text("nothing")

    def _show_detail(self) -> None:
        detail = self.query_one(".install-graph--detail", Static)
        shown = self.selected
        if shown is None:
            detail.update("Arrow keys or a click select a component: what it needs and what needs it.")
            return
        state = self.states[shown]
        head = Text.assemble(self._named(shown), f" — {state}")
        if shown in self.plan:
            planned = self.plan[shown]
            head.append(f" · {planned.component.title} · group {planned.component.group} · wave {planned.wave}")
            lines = [
                head,
                Text.assemble("needs: ", self._listed(self.requires[shown])),
                Text.assemble("needed by: ", self._listed(self.required_by[shown])),
            ]
        else:
            lines = [head.append(" before this run")]
        detail.update(Text("\n").join(lines))
