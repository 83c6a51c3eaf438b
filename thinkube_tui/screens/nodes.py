"""Step 2: the machines: add/edit/remove, discover them all at once, preflight findings."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Button, DataTable, Static

from ..formatting import facts_row, gpus_counted
from ..preflight import Finding
from ..textsafe import data, styled
from ..wizard import NodeDraft
from ..wording import plural
from .base import WizardScreen
from .dialogs import ConfirmDialog, NodeDialog

COLUMNS = (
    ("Node", "name"),
    ("Host", "host"),
    ("Status", "status"),
    ("GPUs", "gpus"),
    ("RAM", "ram"),
    ("OS", "os"),
    ("CPU", "cpu"),
    ("Disk free", "disk"),
    ("User", "user"),
    ("Login", "auth"),
    ("GPU details", "gpu_detail"),
)
# Name, status, GPUs, RAM and OS come first and short, so that 80 columns show them; the rest
# (and each GPU's memory and driver, under "GPU details") scrolls in from the right.


FINDING_TEXT_WIDTH = 46
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


class NodesScreen(WizardScreen):
    STEP = "Nodes"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add_node", "Add"),
        Binding("e", "edit_node", "Edit"),
        Binding("delete,x", "remove_node", "Remove"),
        Binding("d", "discover", "Discover"),
    ]

    def body(self) -> ComposeResult:
        with Vertical(classes="main"):
            yield DataTable(id="nodes", cursor_type="row", zebra_stripes=True)
            yield Static("", id="discovery-status", classes="status-line")
            yield Static("[b]Preflight[/b]", classes="section-title")
            yield DataTable(id="findings", cursor_type="row")

    def buttons(self) -> ComposeResult:
        yield Button("Add", id="add", compact=True)
        yield Button("Edit", id="edit", compact=True)
        yield Button("Remove", id="remove", compact=True)
        yield Button("Discover", id="discover", variant="success", compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#nodes", DataTable)
        for label, key in COLUMNS:
            table.add_column(label, key=key)
        findings = self.query_one("#findings", DataTable)
        for label, key in (
            ("Severity", "severity"),
            ("Node", "node"),
            ("Check", "check"),
            ("Problem → what to do", "message"),
        ):
            # Problem and fix wrap in one fixed-width column (rows grow): 80 columns read them whole.
            findings.add_column(label, key=key, width=FINDING_TEXT_WIDTH if key == "message" else None)
        self.refresh_nodes()
        self.refresh_findings()

    def on_screen_resume(self) -> None:
        self.refresh_nodes()

    # ------------------------------------------------------------ tables

    def refresh_nodes(self) -> None:
        table = self.query_one("#nodes", DataTable)
        cursor = table.cursor_row
        table.clear()
        for node in self.model.nodes:
            table.add_row(*self._row(node), key=node.name)
        if self.model.nodes:
            table.move_cursor(row=min(max(cursor, 0), len(self.model.nodes) - 1))
        self._sync_status()

    def _row(self, node: NodeDraft, status: str | None = None) -> list[object]:
        facts = self.model.facts.get(node.name)
        error = self.model.discovery_errors.get(node.name)
        if status is None:
            status = "found" if facts else ("failed" if error else "not yet")
        auth = {"agent": "agent", "key": "key file", "password": "password"}[node.auth_method]
        style = {"found": "green", "failed": "bold red"}.get(status, "dim")
        os_name, cpu, ram, disk, gpus = facts_row(facts, error)
        os_name = os_name.removesuffix(" LTS")
        cells = {
            "name": node.name,
            "host": f"{node.host}:{node.port}" if node.port != 22 else node.host,
            "user": node.user,
            "auth": auth,
            "status": Text(status, style=style),
            "os": os_name,
            "cpu": cpu,
            "ram": ram,
            "disk": disk,
            "gpus": gpus_counted(facts) if facts else gpus,
            "gpu_detail": gpus if facts and facts.gpus else "",
        }
        return [data(cells[key]) for _, key in COLUMNS]  # every cell as text: names, hosts, facts are data

    def _update_row(self, name: str, status: str | None = None) -> None:
        table = self.query_one("#nodes", DataTable)
        row = self._row(self.model.node(name), status)
        for (_, key), value in zip(COLUMNS, row, strict=True):
            table.update_cell(name, key, value, update_width=True)
        # The table measures updated cells when its own queue next runs empty; updated from the
        # screen, it may get no message for a long while (a GPU cell stayed cut at "1× H").
        table.call_later(table.refresh)

    def refresh_findings(self) -> None:
        table = self.query_one("#findings", DataTable)
        table.clear()
        findings: list[Finding] = list(self.model.findings)
        for i, f in enumerate(findings):
            table.add_row(
                Text(f.severity, style=SEVERITY_STYLE.get(f.severity, "")),
                data(f.node or "all"),
                data(f.check),
                Text.assemble(data(f.message), "\n→ ", data(f.fix)) if f.fix else data(f.message),
                key=str(i),
                height=None,
            )
        if not findings and self.model.discovered:
            table.add_row(Text("ok", style="green"), "all", "-", "no problems found", key="ok")
        self._sync_status()

    def _sync_status(self) -> None:
        model = self.model
        if not model.nodes:
            text = "No nodes yet: press [b]a[/b] to add one (the first becomes the control plane)."
        elif not model.discovered:
            text = "Press [b]d[/b] to discover the nodes: each is probed over SSH, all at once."
        elif model.blocking_findings:
            errors = sum(1 for f in model.findings if f.severity == "error")
            text = styled(
                "[red]{n} error(s) block the install:[/] fix them (see 'What to do'), then discover again.", n=errors
            )
        else:
            text = f"{len(model.facts)} of {plural(len(model.nodes), 'node')} discovered; warnings do not block."
        self.query_one("#discovery-status", Static).update(text)

    # ------------------------------------------------------------ actions

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {
            "add": self.action_add_node,
            "edit": self.action_edit_node,
            "remove": self.action_remove_node,
            "discover": self.action_discover,
        }
        if event.button.id in actions:
            event.stop()
            actions[event.button.id]()
            return
        super().on_button_pressed(event)

    def current_node(self) -> NodeDraft | None:
        table = self.query_one("#nodes", DataTable)
        if not self.model.nodes or table.cursor_row < 0:
            return None
        return self.model.nodes[min(table.cursor_row, len(self.model.nodes) - 1)]

    def action_add_node(self) -> None:
        def added(draft: object) -> None:
            if isinstance(draft, NodeDraft):
                self.model.add_node(draft)
                self.refresh_nodes()
                self.query_one("#nodes", DataTable).move_cursor(row=len(self.model.nodes) - 1)

        self.app.push_screen(NodeDialog(self.model), added)

    def action_edit_node(self) -> None:
        node = self.current_node()
        if node is None:
            return
        name = node.name

        def edited(draft: object) -> None:
            if isinstance(draft, NodeDraft):
                self.model.update_node(name, draft)
                self.refresh_nodes()
                self.refresh_findings()

        self.app.push_screen(NodeDialog(self.model, node), edited)

    def action_remove_node(self) -> None:
        node = self.current_node()
        if node is None:
            return

        def confirmed(yes: object) -> None:
            if yes:
                self.model.remove_node(node.name)
                self.refresh_nodes()
                self.refresh_findings()

        self.app.push_screen(
            ConfirmDialog(styled("Remove node {name} ({host})?", name=node.name, host=node.host), "Remove", "Keep"),
            confirmed,
        )

    def action_discover(self) -> None:
        if not self.model.nodes:
            self.notify("Add a node first.", severity="warning")
            return
        self.discover()

    @work(exclusive=True, group="discover")
    async def discover(self) -> None:
        model = self.model
        status = self.query_one("#discovery-status", Static)
        for node in model.nodes:
            model.forget_discovery(node.name)
            self._update_row(node.name, "probing…")
        status.update(f"Discovering {plural(len(model.nodes), 'node')}…")
        async for result in self.wizard.session.discover(list(model.nodes)):
            if not any(n.name == result.node for n in model.nodes):
                continue
            model.record_discovery(result)
            self._update_row(result.node)
            if result.error:
                self.notify(
                    result.error, title=f"{result.node}: not discovered", severity="error", timeout=8, markup=False
                )
        status.update("Running preflight checks…")
        model.findings = await self.wizard.session.preflight(model, self.wizard.skip_checks)
        self.refresh_findings()

    def ready(self) -> str | None:
        model = self.model
        if not model.nodes:
            return "Add at least one node."
        if not model.discovered:
            return "Discover the nodes first (d): the wizard needs to know what they have."
        if model.blocking_findings:
            return "Preflight found errors: fix them and discover again."
        return None
