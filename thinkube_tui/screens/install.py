"""Step 7: the install, live: the dependency graph coloured by state, progress and time left,
each component's log (l: whole and searchable, w: saved beside the install log).

r retries the selected failed component at once, even while others still run (what it blocked
waits for it); s skips it; c cancels the install after asking.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Footer, Header, ProgressBar, Static

from ..eta import describe_remaining, remaining_s
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
from .dialogs import ConfirmDialog


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
        Binding("l", "full_log", "Full log"),
        Binding("w", "save_log", "Save log"),
        Binding("n", "summary", "Summary"),
    ]
    # Elapsed time and time left are read from this clock: tests fix it, so that what the screen
    # shows never depends on how fast the machine ran the test.
    clock: ClassVar[Callable[[], float]] = staticmethod(time.monotonic)

    def compose(self) -> ComposeResult:
        model = self.model
        self.spec = model.build_spec()
        self.plan = model.plan(self.spec)
        self.skipped: set[str] = set()
        self.finished: RunFinished | None = None
        self.started_at: dict[str, float] = {}  # by the screen's clock
        self.durations: dict[str, float] = {}
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
                yield Static("", id="log-path")
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
        from ..install_log import shown_path

        self.query_one("#log-path", Static).update(Text(f"Install log: {shown_path(self.install_run.log_path)}"))
        self.started = self.clock()
        self.set_interval(1.0, self.tick)
        self.tick()
        graph = self.query_one(InstallGraph)
        graph.focus()
        if self.plan.items:
            graph.select(self.plan.items[0].id)
        self.start(None)

    def tick(self) -> None:
        if self.finished is None or self.wizard.install_running:
            now = self.clock()
            elapsed = int(now - self.started)
            states = self.query_one(InstallGraph).states
            running_for = {cid: now - at for cid, at in self.started_at.items() if states.get(cid) == "running"}
            left = describe_remaining(remaining_s(self.plan, states, running_for, self.durations))
            self.query_one("#elapsed", Static).update(f"{elapsed // 60:02d}:{elapsed % 60:02d} · {left}")

    @work(group="retry")
    async def join_retry(self, component: str) -> None:
        """Retry `component` within the run in progress: it starts now, not after the run."""
        await self.install_run.retry(component)

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
            if self.is_attached:  # "finished" only now: the run has closed its journal and lock
                self._progress()

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
            self.started_at[cid] = self.clock()
            graph.set_state(cid, "running")
            if graph.selected is None or graph.state_of(graph.selected) in ("waiting", "done"):
                graph.select(cid)
        elif isinstance(event, StepStarted):
            pass
        elif isinstance(event, ComponentDone):
            self.durations[cid] = self.clock() - self.started_at.get(cid, self.clock())
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
        if isinstance(event, ComponentStarted | ComponentDone | RunFinished):
            self.tick()  # time left changes with what started and finished, not only each second

    def _progress(self) -> None:
        states = self.query_one(InstallGraph).states
        settled = sum(1 for cid in self.plan.ids if states.get(cid) in ("done", "failed", "blocked", "skipped"))
        self.query_one(ProgressBar).update(progress=settled)
        status = self.query_one("#install-status", Static)
        if self.finished is None:
            running = [cid for cid in self.plan.ids if states.get(cid) == "running"]
            status.update(f"Installing: {settled}/{len(self.plan)} settled; running {', '.join(running) or '-'}")
        elif self.wizard.install_running:  # the engine is done; the run still closes its journal and lock
            status.update("Finishing: saving the journal and releasing the cluster's lock…")
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
        if self.wizard.install_running:
            self.join_retry(cid)
            self.notify(f"Retrying {cid} now; what needs it waits for it.")
        else:
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
        if not self.wizard.install_running:
            self.notify("Nothing is running.")
            return

        def answered(cancel: bool | None) -> None:
            if cancel and self.wizard.install_running:  # it may have finished while we asked
                self.install_run.cancel()
                self.notify("Cancelling: running installers are stopped; finished steps are kept.")

        running = [cid for cid in self.plan.ids if self.query_one(InstallGraph).states.get(cid) == "running"]
        self.app.push_screen(
            ConfirmDialog(
                f"Cancel the install? Running installers ({', '.join(running) or 'none'}) are stopped; "
                "finished steps are kept, and running thinkube-tui again resumes from there.",
                "Cancel install",
                "Keep installing",
                title="Cancel the install",
            ),
            answered,
        )

    # ------------------------------------------------------------ logs

    def _shown_component(self) -> str | None:
        return self.query_one(InstallGraph).selected

    def action_full_log(self) -> None:
        from ..install_log import component_lines
        from .log_view import LogViewScreen

        cid = self._shown_component()
        if cid is None:
            self.notify("Select a component first (arrow keys or a click).")
            return
        lines = component_lines(self.install_run.log_path, cid)
        self.app.push_screen(LogViewScreen(cid, lines, lambda: self._save_log(cid)))

    def action_save_log(self) -> None:
        cid = self._shown_component()
        if cid is None:
            self.notify("Select a component first (arrow keys or a click).")
            return
        self._save_log(cid)

    def _save_log(self, component: str) -> Path:
        from ..install_log import save_component_log

        path, count = save_component_log(self.install_run.log_path, component)
        self.notify(f"{component}: {count} lines saved to {path}", title="Log saved", markup=False)
        return path

    def action_summary(self) -> None:
        if self.wizard.install_running:
            self.notify("The install is still running (c cancels it).", severity="warning")
            return
        self.request(self.Next(self))

    def action_next(self) -> None:
        self.action_summary()

    def action_back(self) -> None:
        self.notify("The install has started: there is no going back (c cancels it).", severity="warning")
