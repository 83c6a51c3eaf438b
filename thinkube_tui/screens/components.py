"""Step 4: the components by group; requirements ticked automatically, and said why."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from ..wizard import group_components
from .base import WizardScreen

MARK = {
    "installed": ("[i]", "green"),
    "core": ("[■]", "bold"),
    "selected": ("[x]", "bold cyan"),
    "required": ("[x]", "cyan"),
    "auto": ("[a]", "magenta"),
    "off": ("[ ]", "dim"),
}


class ComponentTree(Tree[str]):
    """The catalog as a tree; space or enter on a component ticks or unticks it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("space", "toggle_component", "Tick/untick", show=True)]

    class Toggle(Message):
        def __init__(self, component: str) -> None:
            super().__init__()
            self.component = component

    def action_toggle_component(self) -> None:
        node = self.cursor_node
        if node is not None and node.data:
            self.post_message(self.Toggle(node.data))
        elif node is not None:
            node.toggle()


class ComponentsScreen(WizardScreen):
    STEP = "Components"

    def body(self) -> ComposeResult:
        with Horizontal(classes="main"):
            yield ComponentTree("Components", id="components")
            with VerticalScroll(id="component-info"):
                yield Static("", id="component-description")
        yield Static("", id="selection-message", classes="status-line")

    def on_mount(self) -> None:
        tree = self.query_one(ComponentTree)
        tree.show_root = False
        self.leaves: dict[str, TreeNode[str]] = {}
        for group_id, title, members in group_components(self.model.catalog):
            group = tree.root.add(f"{group_id} {title}", expand=True)
            for comp in members:
                self.leaves[comp.id] = group.add_leaf("", data=comp.id)
        self.refresh_labels()
        tree.focus()
        tree.move_cursor(tree.root.children[0].children[0] if tree.root.children else None)
        installed = len(self.model.installed)
        self.query_one("#selection-message", Static).update(
            f"{installed} installed already; tick what to add."
            if self.model.reentry
            else "Space/enter ticks a component; \\[■] core (always), \\[x] selected, \\[a] automatic, \\[i] installed."
        )

    def refresh_labels(self) -> None:
        chosen = self.model.selection()
        for cid, leaf in self.leaves.items():
            state = self.model.state(cid)
            mark, style = MARK[state]
            label = Text.assemble((mark, style), " ", self.model.catalog[cid].title)
            if state == "required":
                label.append(f"  required by {', '.join(self.model.required_by(cid))}", "dim italic")
            elif state == "installed":
                label.append("  installed", "green italic")
            elif cid in self.model.failed and cid in chosen:
                label.append("  failed last time", "red italic")
            leaf.set_label(label)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[str]) -> None:
        cid = event.node.data
        text = self.model.describe(cid) if cid else event.node.label
        self.query_one("#component-description", Static).update(text)

    def on_tree_node_selected(self, event: Tree.NodeSelected[str]) -> None:
        if event.node.data:
            self.toggle(event.node.data)

    def on_component_tree_toggle(self, event: ComponentTree.Toggle) -> None:
        self.toggle(event.component)

    def toggle(self, cid: str) -> None:
        change = self.model.toggle(cid)
        message = change.explain(self.model.catalog)
        self.query_one("#selection-message", Static).update(Text(message, style="" if change.ok else "red"))
        if not change.ok:
            self.notify(message, title="Cannot untick", severity="warning")
        self.refresh_labels()
        self.query_one("#component-description", Static).update(self.model.describe(cid))
