"""Step 3: which node is the control plane; labels and taints; GPU nodes with their GPUs."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.widgets import DataTable, Input, Label, Static

from ..formatting import gpu_short as describe_gpu
from ..spec import format_path
from ..textsafe import data
from ..wizard import format_labels, parse_labels, parse_taints
from .base import WizardScreen


class RolesScreen(WizardScreen):
    STEP = "Roles"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("c", "make_control", "Make control plane")]

    def body(self) -> ComposeResult:
        with Vertical(classes="main"):
            yield Static(
                "Highlight a node and press [b]c[/b] to make it the control plane; every other node is a worker.",
                classes="hint",
            )
            yield DataTable(id="roles", cursor_type="row", zebra_stripes=True)
            with Grid(classes="form-grid", id="node-extras"):
                yield Label("Labels", id="labels-label")
                yield Input(id="labels", placeholder="key=value, key2=value2", compact=True)
                yield Label("Taints", id="taints-label")
                yield Input(id="taints", placeholder="key=value:NoSchedule, ...", compact=True)
            yield Static("", id="roles-errors", classes="errors")

    def on_mount(self) -> None:
        table = self.query_one("#roles", DataTable)
        for label, key in (
            ("Node", "name"),
            ("Role", "role"),
            ("Host", "host"),
            ("GPUs", "gpus"),
            ("Labels", "labels"),
            ("Taints", "taints"),
        ):
            table.add_column(label, key=key)
        self.refresh_table()
        self.show_extras()

    def refresh_table(self) -> None:
        table = self.query_one("#roles", DataTable)
        cursor = table.cursor_row
        table.clear()
        for node in self.model.nodes:
            facts = self.model.facts.get(node.name)
            gpus = "; ".join(describe_gpu(g) for g in facts.gpus) if facts and facts.gpus else "-"
            role = Text("control plane", style="bold") if node.role == "control" else Text("worker")
            table.add_row(
                data(node.name),
                role,
                data(node.host),
                data(gpus),
                data(format_labels(node.labels) or "-"),
                data(", ".join(node.taints) or "-"),
                key=node.name,
            )
        if self.model.nodes:
            table.move_cursor(row=min(max(cursor, 0), len(self.model.nodes) - 1))

    def current(self) -> str | None:
        table = self.query_one("#roles", DataTable)
        if not self.model.nodes:
            return None
        return self.model.nodes[min(max(table.cursor_row, 0), len(self.model.nodes) - 1)].name

    def action_make_control(self) -> None:
        name = self.current()
        if name:
            self.model.set_control(name)
            self.refresh_table()
            self.notify(f"{name} is the control plane.", markup=False)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_extras()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.query_one("#labels", Input).focus()

    def show_extras(self) -> None:
        name = self.current()
        if name is None:
            return
        node = self.model.node(name)
        # Which node the fields edit, said on both (names are node data: never markup).
        self.query_one("#labels-label", Label).update(Text(f"Labels ({name})"))
        self.query_one("#taints-label", Label).update(Text(f"Taints ({name})"))
        with self.prevent(Input.Changed):
            self.query_one("#labels", Input).value = format_labels(node.labels)
            self.query_one("#taints", Input).value = ", ".join(node.taints)
        self.query_one("#roles-errors", Static).update("")
        for widget in self.query("#node-extras Input"):
            widget.remove_class("-invalid")

    def on_input_changed(self, event: Input.Changed) -> None:
        name = self.current()
        if name is None:
            return
        node = self.model.node(name)
        errors = self.query_one("#roles-errors", Static)
        try:
            labels = parse_labels(self.query_one("#labels", Input).value)
        except ValueError as exc:
            errors.update(Text(f"labels: {exc}"))
            event.input.add_class("-invalid")
            return
        taints = parse_taints(self.query_one("#taints", Input).value)
        saved = (node.labels, node.taints)
        node.labels, node.taints = labels, taints
        problems = [
            p for p in self.model.node_problems(node, replacing=name) if p.path[:1] in (("labels",), ("taints",))
        ]
        if problems:
            node.labels, node.taints = saved
            errors.update(Text("\n".join(f"{format_path(p.path)}: {p.message}" for p in problems)))
            event.input.add_class("-invalid")
            return
        errors.update("")
        for widget in self.query(Input):
            widget.remove_class("-invalid")
        self.refresh_table()

    def ready(self) -> str | None:
        if self.model.control is None:
            return "Choose the control-plane node (c)."
        if self.query("#node-extras Input.-invalid"):
            return "Fix the labels or taints first."
        return None
