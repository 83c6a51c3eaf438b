"""Step 1: a new install, or back to a cluster this machine installed (add components, retry failed)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Button, DataTable, Static

from ..wizard import ClusterRecord, WizardModel, known_clusters
from .base import WizardScreen

INTRO = (
    "[b]Install the Thinkube platform[/b] — MicroK8s and its services — onto your Ubuntu machines over SSH.\n\n"
    "The wizard asks for the machines, finds out what they have, lets you choose the components and their "
    "settings, shows the plan, and installs. Nothing is changed on any machine before you press [b]Install[/b] "
    "on the Review screen. What you enter can be saved as an answers file and replayed with "
    "[b]thinkube-tui --answers FILE[/b]."
)


class WelcomeScreen(WizardScreen):
    STEP = "Welcome"
    NEXT_LABEL = "New install"

    def body(self) -> ComposeResult:
        with VerticalScroll(classes="main"):
            if self.wizard.sub_title.startswith("DEMO"):
                yield Static(
                    "[b]DEMO[/b]: the nodes below are a SIMULATED lab running on this machine; "
                    "nothing real is installed.",
                    classes="demo-banner",
                )
            yield Static(INTRO, id="intro")
            self.records = known_clusters(self.wizard.state_base)
            if self.records:
                yield Static(
                    "[b]Clusters installed from this machine[/b] (choose one to come back to it):",
                    classes="section-title",
                )
                yield DataTable(id="clusters", cursor_type="row", zebra_stripes=True)

    def buttons(self) -> ComposeResult:
        if self.records:
            yield Button("Add components", id="add", compact=True)
            yield Button("Retry failed", id="retry", compact=True)

    def on_mount(self) -> None:
        if self.records:
            table = self.query_one("#clusters", DataTable)
            table.add_columns("Cluster", "Installed", "Failed", "Answers saved")
            for record in self.records:
                failed = ", ".join(sorted(record.failed)) or "-"
                table.add_row(
                    record.name, str(len(record.installed)), failed, "yes" if record.answers else "no", key=record.name
                )
            self._sync_buttons()

    def selected_record(self) -> ClusterRecord | None:
        if not self.records:
            return None
        table = self.query_one("#clusters", DataTable)
        return self.records[table.cursor_row] if 0 <= table.cursor_row < len(self.records) else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        record = self.selected_record()
        self.query_one("#add", Button).disabled = record is None or record.error is not None
        self.query_one("#retry", Button).disabled = record is None or not record.failed

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id in ("add", "retry"):
            event.stop()
            record = self.selected_record()
            if record is not None:
                self.wizard.model = WizardModel.for_reentry(record, self.model.catalog, self.model)
                self.notify(
                    f"{record.name}: {len(record.installed)} components installed"
                    + (f"; {len(record.failed)} failed will be tried again" if record.failed else ""),
                    title="Re-entry",
                )
                self.wizard.next_step(self)
            return
        super().on_button_pressed(event)

    def action_next(self) -> None:
        if self.model.reentry:  # coming back here from a re-entry: a new install starts afresh
            self.wizard.model = WizardModel(self.model.catalog)
        super().action_next()

    def action_back(self) -> None:
        pass
