"""A DAG drawn as text, one component per line, edges as lanes on the left (`git log --graph`).

Rows come in plan order (each after what it needs). A component that something needs owns a
lane: a vertical line that starts on its row and ends on the row of the last component needing
it; each of those rows joins the lane with a horizontal line to its name:

    ┌───○ microk8s-control
    ├┬──○ microk8s-workers      microk8s-workers needs microk8s-control
    └┼┬─○ metallb               metallb too (the control plane's lane ends here)

Only the edges that are not implied by others are drawn (the transitive reduction): keycloak
needs ssl-certificates, but through vault, so that edge is left out — the drawing stays readable
for 35 components in 40 columns. Where a horizontal line passes a lane, the lane stays drawn
(`│`): a crossing; a junction is always one of `├ └ ┼ ┴ ┌ ┬`.

Everything here is plain data: the widget draws rows from it and styles the characters by role.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# (comes from above, goes on below, joins from the left): every lane junction leads right.
_JUNCTIONS = {
    (True, True, False): "├",
    (True, False, False): "└",
    (True, True, True): "┼",
    (True, False, True): "┴",
    (False, True, False): "┌",
    (False, True, True): "┬",
}
HORIZONTAL = "─"
VERTICAL = "│"


def transitive_reduction(order: Sequence[str], deps: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """Each component's requirements less those it also gets through another requirement.
    `order` is topological (requirements first)."""
    ancestors: dict[str, set[str]] = {}
    for cid in order:
        seen: set[str] = set()
        for dep in deps.get(cid, ()):
            seen |= ancestors.get(dep, set()) | {dep}
        ancestors[cid] = seen
    return {
        cid: tuple(
            dep
            for dep in deps.get(cid, ())
            if not any(dep in ancestors.get(other, ()) for other in deps.get(cid, ()) if other != dep)
        )
        for cid in order
    }


@dataclass(frozen=True)
class LaneCell:
    """One character of a row's lane area and whose edge it draws (None: nobody's, or a crossing)."""

    char: str
    owner: str | None


@dataclass(frozen=True)
class GraphRow:
    component: str
    label: str  # the gutter: the wave number on a wave's first row, else ""
    cells: tuple[LaneCell, ...]  # one per lane in use on this row
    span_from: int | None  # the leftmost lane this row's horizontal line starts at (None: no edges)


@dataclass(frozen=True)
class GraphLayout:
    rows: tuple[GraphRow, ...]
    lanes: int  # the most lanes any row uses
    lane_of: Mapping[str, int]  # the lane a component's outgoing edges use
    drawn_deps: Mapping[str, tuple[str, ...]]  # the edges drawn (transitive reduction)
    row_of: Mapping[str, int] = field(default_factory=dict)

    def lane_text(self, index: int, spacing: int = 1) -> str:
        """The lane area of a row, `lanes * spacing + 1` characters, ending next to the name."""
        row = self.rows[index]
        span = row.span_from
        out = []
        for lane in range(self.lanes):
            joined = span is not None and lane >= span
            out.append(row.cells[lane].char if lane < len(row.cells) else (HORIZONTAL if joined else " "))
            out.append((HORIZONTAL if joined else " ") * (spacing - 1))
        out.append(HORIZONTAL if span is not None else " ")
        return "".join(out)

    def roles(self, index: int, spacing: int, edges: Mapping[tuple[str, str], str]) -> list[str | None]:
        """For each character of `lane_text(index, spacing)`, the role that colours it: the role
        of the marked edge (requirement, dependent) -> role that it draws, first one first."""
        row = self.rows[index]
        size = self.lanes * spacing + 1
        out: list[str | None] = [None] * size
        for (source, target), role in edges.items():
            lane = self.lane_of.get(source)
            if lane is None or self.row_of.get(target, -1) < index:
                continue
            if lane < len(row.cells) and row.cells[lane].owner == source and out[lane * spacing] is None:
                out[lane * spacing] = role  # the lane, from the requirement down to this dependent
            if target == row.component:  # the horizontal line into the dependent's name
                for k in range(lane * spacing, size):
                    out[k] = out[k] or role
        return out

    def edges_of(self, component: str) -> list[tuple[str, str]]:
        """The drawn edges into and out of `component`."""
        into = [(dep, component) for dep in self.drawn_deps.get(component, ())]
        out = [(component, cid) for cid, deps in self.drawn_deps.items() if component in deps]
        return into + out


def lay_out_dag(
    order: Sequence[str],
    deps: Mapping[str, Sequence[str]],
    labels: Mapping[str, str] | None = None,
) -> GraphLayout:
    """Rows for `order` (topological) with the lanes of the reduced `deps` edges.
    `labels`: the gutter text of a component's row (its wave, on the wave's first row)."""
    drawn = transitive_reduction(order, deps)
    row_of = {cid: i for i, cid in enumerate(order)}
    last_use: dict[str, int] = {}
    for cid in order:
        for dep in drawn[cid]:
            last_use[dep] = max(last_use.get(dep, -1), row_of[cid])
    lanes: list[str | None] = []  # who owns each lane now
    lane_of: dict[str, int] = {}
    rows: list[GraphRow] = []
    widest = 0
    for index, cid in enumerate(order):
        joins = {lane_of[dep] for dep in drawn[cid]}
        own = None
        if cid in last_use:  # something needs it: a lane from here down
            own = next((i for i, owner in enumerate(lanes) if owner is None), len(lanes))
            if own == len(lanes):
                lanes.append(None)
        involved = joins | ({own} if own is not None else set())
        span = min(involved) if involved else None
        cells = [_cell(lane, owner, index, cid, joins, own, span, last_use) for lane, owner in enumerate(lanes)]
        rows.append(GraphRow(cid, (labels or {}).get(cid, ""), tuple(cells), span))
        widest = max(widest, len(cells))
        if own is not None:
            lanes[own] = cid
            lane_of[cid] = own
        for dep in drawn[cid]:
            if last_use[dep] == index:
                lanes[lane_of[dep]] = None
        while lanes and lanes[-1] is None:
            lanes.pop()
    return GraphLayout(tuple(rows), widest, lane_of, drawn, row_of)


def _cell(
    lane: int,
    owner: str | None,
    index: int,
    cid: str,
    joins: set[int],
    own: int | None,
    span: int | None,
    last_use: Mapping[str, int],
) -> LaneCell:
    from_left = span is not None and lane > span
    if lane in joins and owner is not None:
        return LaneCell(_JUNCTIONS[(True, last_use[owner] > index, from_left)], owner)
    if lane == own:
        return LaneCell(_JUNCTIONS[(False, True, from_left)], cid)
    if owner is not None:
        return LaneCell(VERTICAL, owner)  # a lane passing by, under a horizontal line or not
    return LaneCell(HORIZONTAL if from_left else " ", None)
