"""Step 7: the install, live: the dependency graph coloured by state, progress and time left,
each component's log (l: whole and searchable, w: saved beside the install log).

r retries the selected failed component at once, even while others still run (what it blocked
waits for it); s skips it; c cancels the install after asking; b writes a support bundle
(every node's microk8s inspect, the cluster's failing workloads, the logs; secrets masked).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, ProgressBar, Static

from ..eta import describe_remaining, remaining_s
from ..events import Event, RunFinished
from ..printer import describe
from ..run_state import RunState
from ..widgets import InstallGraph, LogPanel
from ..widgets.static_text import show_text
from . import install_messages as msg
from .base import StepBar, WizardHeader, WizardScreen
from .dialogs import ConfirmDialog


class InstallScreen(WizardScreen):
    STEP = "Install"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "retry", "Retry failed"),
        Binding("s", "skip", "Skip failed"),
        Binding("c", "cancel", "Cancel install"),
        Binding("l", "full_log", "Full log"),
        Binding("w", "save_log", "Save log"),
        Binding("n", "summary", "Summary"),
        Binding("b", "support_bundle", "Support bundle", show=False),  # offered on a failure's status line
    ]
    # Elapsed time and time left are read from this clock: tests fix it, so that what the screen
    # shows never depends on how fast the machine ran the test.
    clock: ClassVar[Callable[[], float]] = staticmethod(time.monotonic)
    _bundling = False  # a support bundle is being collected (one at a time)

    def compose(self) -> ComposeResult:
        model = self.model
        # The app prepared the install when it was asked for; the screen shows it and starts it.
        self.install_run = self.wizard.install or self.wizard.prepare_install()
        self.spec, self.plan = self.install_run.spec, self.install_run.plan
        self.run_state = RunState(self.plan, model.installed, clock=self.clock)
        yield WizardHeader()
        yield StepBar(self.STEP)
        with Horizontal(classes="install-top"):
            yield ProgressBar(total=max(len(self.plan), 1), show_eta=False, id="progress")
            yield Static("", id="elapsed")
        with Horizontal(classes="main"):
            yield InstallGraph(self.plan, model.installed, states=self.run_state.states, id="graph")
            with Vertical(id="log-side"):
                yield Static("", id="log-title")
                yield LogPanel(id="log")
                yield Static("", id="log-path")
        yield Static("Installing…", id="install-status", classes="status-line")
        yield Footer()

    @property
    def finished(self) -> RunFinished | None:
        return self.run_state.finished

    def on_mount(self) -> None:
        self.install_run.bus.subscribe(msg.poster(self))  # each event arrives as its own message
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
            run = self.run_state
            left = describe_remaining(remaining_s(self.plan, run.states, run.running_for(now), run.durations))
            show_text(self.query_one("#elapsed", Static), f"{elapsed // 60:02d}:{elapsed % 60:02d} · {left}")

    @work(group="retry")
    async def join_retry(self, component: str) -> None:
        """Retry `component` within the run in progress: it starts now, not after the run."""
        await self.install_run.retry(component)

    @work(exclusive=True, group="install")
    async def start(self, retry: str | None) -> None:
        self.wizard.install_running = True
        self.run_state.finished = None
        # Drawing an install allocates many short-lived objects, and each full collection they
        # set off would walk every object the wizard holds already (screens, catalog, modules):
        # those are left out of collections while the install runs.
        gc.freeze()
        try:
            if retry is None:
                await self.install_run.run()
            else:
                await self.install_run.retry(retry)
        finally:
            gc.unfreeze()
            self.wizard.install_running = False
            if self.is_attached:  # "finished" only now: the run has closed its journal and lock
                self._progress()

    # ------------------------------------------------------------ events, one message each

    def _take(self, event: Event) -> None:
        """The event into the run's state, the graph and the component's log."""
        if self.run_state.apply(event) is not None:
            self.query_one(InstallGraph).show_state(event.component)
        if event.component:
            self.query_one(LogPanel).append(event.component, describe(event))
        self._progress()

    def on_install_log_lines(self, message: msg.LogLines) -> None:
        self.query_one(LogPanel).append(message.component, message.lines)  # coalesced: every line kept

    def on_install_component_started(self, message: msg.ComponentStarted) -> None:
        self._take(message.event)
        graph = self.query_one(InstallGraph)
        if graph.selected is None or graph.state_of(graph.selected) in ("waiting", "done"):
            graph.select(message.component)
        self.tick()  # time left changes with what starts and finishes, not only each second

    def on_install_component_done(self, message: msg.ComponentDone) -> None:
        self._take(message.event)
        self.tick()

    def on_install_component_failed(self, message: msg.ComponentFailed) -> None:
        self._take(message.event)
        self.query_one(InstallGraph).select(message.component)

    def on_install_run_finished(self, message: msg.RunFinished) -> None:
        self.run_state.apply(message.event)
        self._progress()
        self.tick()

    @on(msg.StepStarted)
    @on(msg.StepDone)
    @on(msg.Progress)
    @on(msg.ComponentBlocked)
    @on(msg.ComponentRetried)
    @on(msg.ComponentUnblocked)
    @on(msg.ComponentSkipped)
    def _just_take(self, message: msg.InstallMessage[Event]) -> None:
        self._take(message.event)

    def _progress(self) -> None:
        run = self.run_state
        bar = self.query_one(ProgressBar)
        if bar.progress != run.settled:
            bar.update(progress=run.settled)
        status = self.query_one("#install-status", Static)
        finished = run.finished
        if finished is None:
            running = run.in_state("running")
            show_text(
                status, f"Installing: {run.settled}/{len(self.plan)} settled; running {', '.join(running) or '-'}"
            )
        elif self.wizard.install_running:  # the engine is done; the run still closes its journal and lock
            show_text(status, "Finishing: saving the journal and releasing the cluster's lock…")
        elif finished.error:  # e.g. another install holds the cluster's lock: it names the holder
            show_text(status, Text.assemble(("Stopped: ", "red"), finished.error, " n: summary"))
        elif finished.cancelled:
            show_text(
                status,
                "[yellow]Cancelled.[/] Finished steps are kept: run thinkube-tui again to resume. [b]n[/b]: summary",
            )
        elif run.unresolved_failures:
            show_text(
                status,
                f"[red]Failed: {escape(', '.join(run.unresolved_failures))}[/]. "
                "[b]r[/b] retry the selected one, [b]s[/b] skip it, [b]b[/b] support bundle, [b]n[/b] summary",
            )
        else:
            show_text(
                status,
                "[green]Install finished.[/] [b]n[/b]: summary"
                if finished.ok
                else "Finished; skipped components stay missing. [b]n[/b]: summary",
            )
            if finished.ok:
                self.notify("Every component is installed.", title="Done")

    def on_install_graph_selected(self, event: InstallGraph.Selected) -> None:
        self.query_one(LogPanel).show(event.component_id)
        show_text(self.query_one("#log-title", Static), f"[b]{escape(event.component_id)}[/b] log")

    # ------------------------------------------------------------ keys

    def _selected_failed(self) -> str | None:
        graph = self.query_one(InstallGraph)
        selected = graph.selected
        if selected is not None and graph.state_of(selected) == "failed":
            return selected
        return next(iter(self.run_state.in_state("failed")), None)

    def action_retry(self) -> None:
        cid = self._selected_failed()
        if cid is None:
            self.notify("Nothing has failed.")
            return
        # The engine says what waits again (ComponentRetried, ComponentUnblocked): only what
        # this component blocked, not every blocked component.
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
        self.run_state.skip(cid)
        self.query_one(InstallGraph).show_state(cid)
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

        running = self.run_state.in_state("running")
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

    def action_support_bundle(self) -> None:
        if self._bundling:
            self.notify("A support bundle is being collected.")
            return
        self._bundling = True
        self.notify("Collecting a support bundle from every node (microk8s inspect takes a while)…")
        self._write_support_bundle()

    @work(exclusive=True, group="support-bundle")
    async def _write_support_bundle(self) -> None:
        try:
            result = await self.install_run.support_bundle()
        except OSError as exc:
            self.notify(f"The support bundle could not be written: {exc}", severity="error", markup=False)
            return
        finally:
            self._bundling = False
        missing = f"; not collected: {len(result.gaps)} (listed in its README.txt)" if result.gaps else ""
        self.notify(
            f"{result.path} ({result.files} files, secrets masked){missing}", title="Support bundle", markup=False
        )

    def action_summary(self) -> None:
        if self.wizard.install_running:
            self.notify("The install is still running (c cancels it).", severity="warning")
            return
        self.request(self.Next(self))

    def action_next(self) -> None:
        self.action_summary()

    def action_back(self) -> None:
        self.notify("The install has started: there is no going back (c cancels it).", severity="warning")
