"""Step 7: the install, live: the dependency graph coloured by state, progress, each component's log."""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Footer, Header, ProgressBar, Static

from ..events import (
    ComponentBlocked,
    ComponentDone,
    ComponentFailed,
    ComponentSkipped,
    ComponentStarted,
    Event,
    EventBus,
    LogLines,
    RunFinished,
    StepStarted,
)
from ..printer import describe
from ..widgets import InstallGraph, LogPanel
from ..wizard import InstallRun
from .base import StepBar, WizardScreen


class EngineEvent(Message):
    """An install event, carried from the event bus onto the screen's message queue."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class InstallScreen(WizardScreen):
    STEP = "Install"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "retry", "Retry failed"),
        Binding("s", "skip", "Skip failed"),
        Binding("c", "cancel", "Cancel install"),
        Binding("n", "summary", "Summary"),
    ]

    def compose(self) -> ComposeResult:
        model = self.model
        self.spec = model.build_spec()
        self.plan = model.plan(self.spec)
        self.skipped: set[str] = set()
        self.finished: RunFinished | None = None
        yield Header()
        yield StepBar(self.STEP)
        with Horizontal(classes="install-top"):
            yield ProgressBar(total=max(len(self.plan), 1), show_eta=False, id="progress")
            yield Static("", id="elapsed")
        with Horizontal(classes="main"):
            yield InstallGraph(self.plan, model.installed, id="graph")
            with Vertical(id="log-side"):
                yield Static("", id="log-title")
                yield LogPanel(id="log")
        yield Static("Installing…", id="install-status", classes="status-line")
        yield Footer()

    def on_mount(self) -> None:
        wizard = self.wizard
        state_dir = wizard.state_dir
        self.model.save_for_reentry(self.spec, state_dir)
        bus = EventBus()
        bus.subscribe(lambda event: self.post_message(EngineEvent(event)))
        self.install_run = InstallRun(
            self.spec,
            self.model,
            self.plan,
            wizard.session.transports,
            wizard.installers,
            state_dir=state_dir,
            bus=bus,
            settings=wizard.engine_settings,
            mirror=wizard.mirror_to_cluster,
        )
        wizard.install = self.install_run
        self.started = time.monotonic()
        self.set_interval(1.0, self.tick)
        self.tick()
        graph = self.query_one(InstallGraph)
        graph.focus()
        if self.plan.items:
            graph.select(self.plan.items[0].id)
        self.start(None)

    def tick(self) -> None:
        if self.finished is None or self.wizard.install_running:
            elapsed = int(time.monotonic() - self.started)
            self.query_one("#elapsed", Static).update(f"{elapsed // 60:02d}:{elapsed % 60:02d}")

    @work(exclusive=True, group="install")
    async def start(self, retry: str | None) -> None:
        self.wizard.install_running = True
        self.finished = None
        try:
            if retry is None:
                await self.install_run.run()
            else:
                await self.install_run.retry(retry)
        finally:
            self.wizard.install_running = False

    # ------------------------------------------------------------ events

    def on_engine_event(self, message: EngineEvent) -> None:
        event = message.event
        graph = self.query_one(InstallGraph)
        log = self.query_one(LogPanel)
        cid = event.component
        if isinstance(event, LogLines):
            log.append(cid, event.lines)
            return
        if cid and not isinstance(event, RunFinished):
            log.append(cid, describe(event))
        if isinstance(event, ComponentStarted):
            graph.set_state(cid, "running")
            if graph.selected is None or graph.state_of(graph.selected) in ("waiting", "done"):
                graph.select(cid)
        elif isinstance(event, StepStarted):
            pass
        elif isinstance(event, ComponentDone):
            graph.set_state(cid, "done")
        elif isinstance(event, ComponentFailed):
            graph.set_state(cid, "failed")
            graph.select(cid)
        elif isinstance(event, ComponentBlocked):
            graph.set_state(cid, "blocked")
        elif isinstance(event, ComponentSkipped):
            if cid in graph.states:
                graph.set_state(cid, "installed")
        elif isinstance(event, RunFinished):
            self.finished = event
        self._progress()

    def _progress(self) -> None:
        states = self.query_one(InstallGraph).states
        settled = sum(1 for cid in self.plan.ids if states.get(cid) in ("done", "failed", "blocked", "skipped"))
        self.query_one(ProgressBar).update(progress=settled)
        status = self.query_one("#install-status", Static)
        if self.finished is None:
            running = [cid for cid in self.plan.ids if states.get(cid) == "running"]
            status.update(f"Installing: {settled}/{len(self.plan)} settled; running {', '.join(running) or '-'}")
        elif self.finished.error:  # e.g. another install holds the cluster's lock: it names the holder
            status.update(Text.assemble(("Stopped: ", "red"), self.finished.error, " n: summary"))
        elif self.finished.cancelled:
            status.update(
                "[yellow]Cancelled.[/] Finished steps are kept: run thinkube-tui again to resume. [b]n[/b]: summary"
            )
        elif self.finished.failed and not set(self.finished.failed) <= self.skipped:
            status.update(
                f"[red]Failed: {', '.join(c for c in self.finished.failed if c not in self.skipped)}[/]. "
                "[b]r[/b] retry the selected one, [b]s[/b] skip it, [b]n[/b] summary"
            )
        else:
            status.update(
                "[green]Install finished.[/] [b]n[/b]: summary"
                if self.finished.ok
                else "Finished; skipped components stay missing. [b]n[/b]: summary"
            )
            if self.finished.ok:
                self.notify("Every component is installed.", title="Done")

    def on_install_graph_selected(self, event: InstallGraph.Selected) -> None:
        self.query_one(LogPanel).show(event.component_id)
        self.query_one("#log-title", Static).update(f"[b]{event.component_id}[/b] log")

    # ------------------------------------------------------------ keys

    def _selected_failed(self) -> str | None:
        graph = self.query_one(InstallGraph)
        selected = graph.selected
        if selected is not None and graph.state_of(selected) == "failed":
            return selected
        return next((cid for cid in self.plan.ids if graph.states.get(cid) == "failed"), None)

    def action_retry(self) -> None:
        if self.wizard.install_running:
            self.notify("Wait until the running components finish (or cancel).", severity="warning")
            return
        cid = self._selected_failed()
        if cid is None:
            self.notify("Nothing has failed.")
            return
        graph = self.query_one(InstallGraph)
        graph.set_state(cid, "waiting")
        for dependent in self.plan.ids:
            if graph.states.get(dependent) == "blocked":
                graph.set_state(dependent, "waiting")
        self.skipped.discard(cid)
        self.start(cid)

    def action_skip(self) -> None:
        cid = self._selected_failed()
        if cid is None:
            self.notify("Nothing has failed.")
            return
        self.skipped.add(cid)
        self.query_one(InstallGraph).set_state(cid, "skipped")
        self.notify(f"{cid} skipped: what needs it stays blocked. Retry later with re-entry.")
        self._progress()

    def action_cancel(self) -> None:
        if self.wizard.install_running:
            self.install_run.cancel()
            self.notify("Cancelling: running installers are stopped; finished steps are kept.")

    def action_summary(self) -> None:
        if self.wizard.install_running:
            self.notify("The install is still running (c cancels it).", severity="warning")
            return
        self.wizard.next_step(self)

    def action_next(self) -> None:
        self.action_summary()

    def action_back(self) -> None:
        self.notify("The install has started: there is no going back (c cancels it).", severity="warning")
