"""Step 8: what was installed and where it answers, where credentials and the log are, what failed."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, DataTable, Footer, Header, Static

from ..rerun import wizard_retry_commands
from ..wizard import credentials_note
from .base import StepBar, WizardScreen


class SummaryScreen(WizardScreen):
    STEP = "Summary"

    def compose(self) -> ComposeResult:
        yield Header()
        yield StepBar(self.STEP)
        with VerticalScroll(classes="main"):
            yield Static("", id="summary-head")
            yield Static("", id="summary-notes")
            yield DataTable(id="services", cursor_type="row", zebra_stripes=True)
        with Horizontal(classes="button-bar"):
            yield Static(classes="spacer")
            yield Button("Quit", id="quit", variant="primary", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        wizard = self.wizard
        run = wizard.install
        assert run is not None
        spec, result = run.spec, run.result
        states = dict(run.engine.state)
        table = self.query_one("#services", DataTable)
        table.add_columns("Component", "State", "URL")
        catalog = self.model.catalog
        for item in run.plan.items:
            state = states.get(item.id, "waiting")
            style = {"done": "green", "failed": "bold red", "blocked": "yellow"}.get(state, "dim")
            urls = ", ".join(item.component.urls(spec.cluster.domain)) or "-"
            table.add_row(item.component.title, Text(state, style=style), urls, key=item.id)
        for cid in sorted(run.plan.installed):
            table.add_row(
                catalog[cid].title,
                Text("installed before", style="green"),
                ", ".join(catalog[cid].urls(spec.cluster.domain)) or "-",
                key=cid,
            )
        failed = [c for c in run.plan.ids if states.get(c) == "failed"]
        blocked = [c for c in run.plan.ids if states.get(c) == "blocked"]
        done = [c for c in run.plan.ids if states.get(c) == "done"]
        head = f"[b]{len(done)} of {len(run.plan)} components installed[/b]"
        if result is not None and result.cancelled:
            head += " — the install was cancelled"
        self.query_one("#summary-head", Static).update(head)
        notes = Text()
        for line in credentials_note(spec, wizard.saved_secrets, run.state_dir):
            notes.append(f"• {line}\n")
        notes.append(f"• Full log: {run.log_path}\n")
        if failed or blocked:
            notes.append("\nNot installed:\n", "bold red")
            for cid in failed:
                error = run.journal.components[cid].error if cid in run.journal.components else ""
                notes.append(f"  {cid}: failed — {error}\n")
            for cid in blocked:
                notes.append(f"  {cid}: waits for a component that failed\n")
            again, headless = wizard_retry_commands(
                run.state_dir,
                state_base=wizard.state_base,
                known_hosts=wizard.session.known_hosts,
                secrets=wizard.saved_secrets,
            )
            notes.append(
                f"\nTo retry: run {again} and choose [Retry failed] on the Welcome screen "
                f"(or headless: {headless}). Finished steps are not repeated.\n"
            )
        self.query_one("#summary-notes", Static).update(notes)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "quit":
            event.stop()
            self.app.call_later(self.app.run_action, "quit")

    def action_next(self) -> None:
        pass

    def action_back(self) -> None:
        pass
