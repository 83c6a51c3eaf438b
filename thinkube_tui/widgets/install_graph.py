"""The live dependency graph of an install: one line per component, its edges drawn as lanes.

The layout (`graph_layout.lay_out_dag`) reads like `git log --graph`: components in plan order,
the wave number in the gutter on each wave's first line, and a lane from each component down to
the last component that needs it. The selected component's edges (what it needs, what needs it)
and the critical path's edges are coloured; critical components carry ◆. Lanes are two
characters apart when the width allows, one when it does not; the view scrolls to the selection.

Each state has a symbol as well as a colour (readable without colour, and in snapshots):
waiting ○, running ◐, done ✔, failed ✖, blocked ⊘, installed ≡, skipped –.
Lines are drawn on demand and cached: `set_state` redraws that component's line only, so the
cost of an event does not grow with the plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import ClassVar

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

from ..eta import describe_remaining
from ..events import State
from ..graph_layout import GraphLayout, lay_out_dag
from ..plan import Plan
from .static_text import show_text

# The engine's vocabulary (events.State); a component the engine cancelled is drawn as still
# waiting or running was: the status line says the run was cancelled.
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
INSTALLED_ROW_LABEL = "≡"  # the gutter of components installed before this run
GUTTER = 3  # "11 "
CRITICAL_MARK = " ◆"


def node_text(component: str, state: str, critical: bool = False) -> str:
    return f"{SYMBOLS[state]} {component}{CRITICAL_MARK if critical else ''}"


def lane_spacing(layout: GraphLayout, names: Iterable[str], width: int) -> int:
    """Two columns per lane when the longest line fits in `width`, else one."""
    longest = max((len(node_text(n, "waiting", True)) for n in names), default=0)
    return 2 if GUTTER + layout.lanes * 2 + 1 + longest <= width else 1


class InstallGraphMap(ScrollView, can_focus=True):
    """The drawn graph: one line per component, from a cache, repainted line by line."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *(f"install-graph--{state}" for state in STATES),
        "install-graph--selected",
        "install-graph--related",
        "install-graph--critical",
        "install-graph--edge",
        "install-graph--gutter",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,left", "move(-1)", "Previous", show=False),
        Binding("down,right", "move(1)", "Next", show=False),
        Binding("pageup", "move(-10)", "Page up", show=False),
        Binding("pagedown", "move(10)", "Page down", show=False),
        Binding("home", "move_to(0)", "First", show=False),
        Binding("end", "move_to(-1)", "Last", show=False),
    ]

    def __init__(
        self,
        graph: InstallGraph,
        order: list[str],
        deps: dict[str, tuple[str, ...]],
        labels: dict[str, str],
        states: dict[str, State],
        critical: Sequence[str],
    ) -> None:
        super().__init__()
        self.graph = graph
        self.order = order
        self.states = states
        self.dag = lay_out_dag(order, deps, labels)
        self.critical = set(critical)
        self._critical_edges = {edge: "critical" for edge in pairwise(critical) if edge[0] in deps.get(edge[1], ())}
        self.spacing = 2
        self._strips: dict[int, Strip] = {}  # drawn lines, dropped when what is on them changes
        self._marked: dict[tuple[str, str], str] = dict(self._critical_edges)
        self.selected: str | None = None

    # -------------------------------------------------- layout and drawing

    def on_resize(self, event: events.Resize) -> None:
        self.relayout()

    def relayout(self) -> None:
        width = max(self.scrollable_content_region.width, 20)
        self.spacing = lane_spacing(self.dag, self.order, width)
        self._strips.clear()
        widest = max((len(node_text(c, "waiting", True)) for c in self.order), default=0)
        self.virtual_size = Size(GUTTER + self.dag.lanes * self.spacing + 1 + widest, len(self.order))
        self.refresh()
        if self.selected is not None:  # selected before the first layout, or moved by a new width
            self._scroll_to_row(self.selected)

    def _scroll_to_row(self, component: str) -> None:
        row = self.dag.row_of.get(component)
        if row is not None:
            self.scroll_to_region(Region(0, row, 1, 1), animate=False, immediate=True, center=False)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        line = scroll_y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if line >= len(self.order):
            return Strip.blank(width, base)
        strip = self._strips.get(line)
        if strip is None:
            strip = self._strips[line] = self._draw_line(line, base)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _draw_line(self, line: int, base: Style) -> Strip:
        row = self.dag.rows[line]
        cid = row.component
        style_of = self.get_component_rich_style
        segments = [Segment(f"{row.label:>{GUTTER - 1}} ", base + style_of("install-graph--gutter"))]
        lanes = self.dag.lane_text(line, self.spacing)
        roles = self.dag.roles(line, self.spacing, self._marked)
        edge = base + style_of("install-graph--edge")
        start = 0
        for k in range(1, len(lanes) + 1):  # one segment per run of characters in one role
            if k == len(lanes) or roles[k] != roles[start]:
                role = roles[start]
                style = edge if role is None else edge + style_of(f"install-graph--{role}")
                segments.append(Segment(lanes[start:k], style))
                start = k
        style = base + style_of(f"install-graph--{self.states[cid]}")
        if cid == self.selected:
            style += style_of("install-graph--selected")
        elif self.selected is not None and any(cid in edge for edge in self.dag.edges_of(self.selected)):
            style += style_of("install-graph--related")
        segments.append(Segment(node_text(cid, self.states[cid], cid in self.critical), style))
        return Strip(segments)

    def line_text(self, line: int) -> str:
        """A line of the graph as plain text (tests, debugging)."""
        return "".join(seg.text for seg in self._draw_line(line, Style()))

    def repaint(self, component: str) -> None:
        """Redraw one component's line, nothing else."""
        line = self.dag.row_of.get(component)
        if line is None:
            return
        self._strips.pop(line, None)
        self.refresh(Region(0, line - self.scroll_offset.y, self.scrollable_content_region.width, 1))

    # -------------------------------------------------- selection

    def select(self, component: str | None) -> None:
        if component == self.selected:
            return
        if component is not None and component not in self.states:
            raise KeyError(f"{component!r} is not in the install graph")
        self.selected = component
        # The selection's edges first: they win over the critical path's colour.
        selected_edges = dict.fromkeys(self.dag.edges_of(component), "related") if component else {}
        self._marked = {**selected_edges, **{e: r for e, r in self._critical_edges.items() if e not in selected_edges}}
        self._strips.clear()  # edges run over many lines; a selection is rare next to state changes
        self.refresh()
        if component is not None:
            self._scroll_to_row(component)
        self.graph.selection_changed(component)

    def action_move(self, step: int) -> None:
        if not self.order:
            return
        index = -1 if self.selected is None else self.dag.row_of[self.selected]
        target = 0 if index < 0 else max(0, min(len(self.order) - 1, index + step))
        self.select(self.order[target])

    def action_move_to(self, index: int) -> None:
        if self.order:
            self.select(self.order[index])

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        line = offset.y + self.scroll_offset.y
        if 0 <= line < len(self.order):
            self.select(self.order[line])


class InstallGraph(Vertical):
    """The plan's dependency graph, coloured by state, with the selected one's neighbours."""

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
        states: dict[str, State] | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """`installed`: components installed before this run (besides `plan.installed`),
        shown on lines of their own above the plan. `states`: the run's states to draw (a
        `RunState`'s, shared: whoever changes it calls `show_state`); None: the graph's own."""
        super().__init__(name=name, id=id, classes=classes)
        self.plan = plan
        already = sorted(set(installed) | set(plan.installed))
        if states is None:
            states = {cid: "installed" for cid in already}
            states.update({p.id: "waiting" for p in plan.items})
        self.states = states
        self.requires: dict[str, tuple[str, ...]] = {p.id: p.deps for p in plan.items}
        self.required_by: dict[str, list[str]] = {cid: [] for cid in self.states}
        for p in plan.items:
            for dep in p.deps:
                self.required_by[dep].append(p.id)
        order = [*already, *plan.ids]
        labels = {already[0]: INSTALLED_ROW_LABEL} if already else {}
        labels.update({ids[0]: str(number) for number, ids in enumerate(plan.waves, 1) if ids})
        self.map = InstallGraphMap(self, order, dict(self.requires), labels, self.states, plan.critical_path)

    def compose(self) -> ComposeResult:
        yield self.map
        yield Static("", classes="install-graph--detail")
        yield Static("", classes="install-graph--legend")

    def on_mount(self) -> None:
        words = {**{s: s for s in STATES}, "installed": "before"}  # installed before this run
        legend = Text(" ").join(Text(f"{SYMBOLS[s]} {words[s]}", self._style(s)) for s in STATES)
        legend.append(f"{CRITICAL_MARK} critical", self.map.get_component_rich_style("install-graph--critical"))
        self.query_one(".install-graph--legend", Static).update(legend)
        self._show_detail()

    def focus(self, scroll_visible: bool = True) -> InstallGraph:
        self.map.focus(scroll_visible)  # the drawn graph takes the keys
        return self

    # -------------------------------------------------- API

    @property
    def selected(self) -> str | None:
        return self.map.selected

    def select(self, component_id: str) -> None:
        self.map.select(component_id)

    def state_of(self, component_id: str) -> State:
        return self.states[component_id]

    def set_state(self, component_id: str, state: State) -> None:
        if state not in SYMBOLS:
            raise ValueError(f"unknown state {state!r}: one of {', '.join(STATES)}")
        if self.states.get(component_id) == state:
            return
        self.states[component_id] = state
        self.show_state(component_id)

    def show_state(self, component_id: str) -> None:
        """Redraw what shows `component_id`'s state (its line, the detail when related)."""
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
        return [self.map.line_text(line) for line in range(len(self.map.order))]

    # -------------------------------------------------- detail

    def selection_changed(self, component_id: str | None) -> None:
        self._show_detail()
        if component_id is not None:
            self.post_message(self.Selected(self, component_id))

    def _style(self, state: State) -> Style:
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
            show_text(detail, "Arrow keys or a click select a component: what it needs and what needs it.")
            return
        state = self.states[shown]
        head = Text.assemble(self._named(shown), f" — {state}")
        if shown in self.plan:
            planned = self.plan[shown]
            estimate = describe_remaining(planned.estimate_s).replace(" left", "").replace("about ", "~")
            head.append(f" · wave {planned.wave + 1} · {estimate}")
            if shown in self.map.critical:
                head.append(" · critical path")
            lines = [
                head,
                Text.assemble("needs: ", self._listed(self.requires[shown])),
                Text.assemble("needed by: ", self._listed(self.required_by[shown])),
            ]
        else:
            lines = [head.append(" before this run")]
        show_text(detail, Text("\n").join(lines))
