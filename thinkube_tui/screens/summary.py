"""Step 8: the handover — what was installed and where it answers, who signs in and the command
that prints each password, Vault's keys, the DNS records, kubeconfig, the log and the journal.

The text is the one headless prints (`summary.render`); `e` saves it as Markdown beside the
cluster's state.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Footer, Static

from ..files import write_atomic
from ..install_log import shown_path
from ..rerun import wizard_retry_commands
from ..summary import Handover, build_handover, export_path, render, vault_keys_file
from .base import StepBar, WizardHeader, WizardScreen


class SummaryScreen(WizardScreen):
    STEP = "Summary"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "export", "Export (Markdown)"),
    ]

    def compose(self) -> ComposeResult:
        yield WizardHeader()
        yield StepBar(self.STEP)
        with VerticalScroll(classes="main", id="summary-scroll"):
            yield Static("", id="summary-text")
        with Horizontal(classes="button-bar"):
            yield Static("", id="summary-export", classes="spacer")
            yield Button("Export", id="export", compact=True)
            yield Button("Quit", id="quit", variant="primary", compact=True)
        yield Footer()

    def handover(self) -> Handover:
        run = self.wizard.install
        assert run is not None
        states = {cid: str(state) for cid, state in run.engine.state.items()}
        states.update({cid: "installed" for cid in run.plan.installed})
        order = [*sorted(run.plan.installed), *run.plan.ids]
        errors = {cid: rec.error or "" for cid, rec in run.journal.components.items() if rec.error}
        wizard = self.wizard
        again, headless = wizard_retry_commands(
            run.state_dir,
            state_base=wizard.state_base,
            known_hosts=wizard.session.known_hosts,
            secrets=wizard.saved_secrets,
        )
        return build_handover(
            run.spec,
            self.model.catalog,
            order,
            states,
            state_dir=run.state_dir,
            log_path=run.log_path,
            journal_path=run.state_dir / "journal.json",
            errors=errors,
            secrets_path=wizard.saved_secrets,
            vault_keys=vault_keys_file(run.spec, run.state_dir, states),
            retry=(f"{again}   (then Retry failed on the Welcome screen)", f"{headless}   (headless)"),
        )

    def on_mount(self) -> None:
        self.text = render(self.handover())
        self.query_one("#summary-text", Static).update(Text(self.text))  # data: never markup
        self.query_one("#summary-scroll").focus()

    def action_export(self) -> None:
        run = self.wizard.install
        assert run is not None
        path = export_path(run.state_dir, run.log_path)
        write_atomic(path, self.text)
        self.query_one("#summary-export", Static).update(Text(f"Saved: {shown_path(path)}"))
        self.notify(f"Summary saved to {path}", title="Exported", markup=False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "quit":
            self.app.call_later(self.app.run_action, "quit")
        elif event.button.id == "export":
            self.action_export()

    def action_next(self) -> None:
        pass

    def action_back(self) -> None:
        pass
