"""Step 1: a new install, or back to a cluster this machine installed: resume an interrupted
install, retry what failed (both straight to the install, after reconnecting to the nodes),
add components or nodes (through the wizard's steps), remove components, upgrade (both on an
operation screen, as `thinkube-tui remove` / `upgrade` run them), or write a support bundle."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, DataTable, Static

from ..journal import Journal, JournalError
from ..wizard import ClusterRecord, WizardModel, known_clusters
from ..wording import plural
from .base import WizardScreen
from .dialogs import ConfirmDialog

if TYPE_CHECKING:
    from ..events import Event, RunFinished
    from ..operation import Operation

INTRO = (
    "[b]Install the Thinkube platform[/b] — MicroK8s and its services — onto your Ubuntu machines over SSH.\n\n"
    "The wizard asks for the machines, finds out what they have, lets you choose the components and their "
    "settings, shows the plan, and installs. Nothing is changed on any machine before you confirm "
    "[b]Install[/b] on the Review screen. What you enter can be saved as an answers file and replayed with "
    "[b]thinkube-tui --answers FILE[/b]."
)


def interrupted(record: ClusterRecord) -> frozenset[str]:
    """Components the journal shows as still running: the install stopped in the middle of them."""
    try:
        journal = Journal.open(record.state_dir / "journal.json")
    except JournalError:
        return frozenset()
    return frozenset(cid for cid, rec in journal.components.items() if rec.status == "running")


def record_state(record: ClusterRecord, stopped: frozenset[str]) -> Text:
    if record.error is not None:
        return Text("journal unreadable", style="bold red")
    if stopped:
        return Text(f"interrupted in {', '.join(sorted(stopped))}", style="bold yellow")
    if record.failed:
        return Text(f"failed: {', '.join(sorted(record.failed))}", style="red")
    return Text("complete", style="green")


BUTTONS = {"support_bundle": "bundle"}  # action -> the id of the button it stands for


class WelcomeScreen(WizardScreen):
    STEP = "Welcome"
    NEXT_LABEL = "New install"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f5", "resume", "Resume", show=False),
        Binding("f6", "retry", "Retry failed", show=False),
        Binding("f7", "add", "Add components", show=False),
        Binding("f4", "support_bundle", "Support bundle", show=False),
    ]

    _busy = False  # coming back to a cluster is under way

    def body(self) -> ComposeResult:
        with VerticalScroll(classes="main"):
            if self.wizard.demo:
                yield Static(
                    "[b]DEMO[/b]: the nodes below are a SIMULATED lab running on this machine; "
                    "nothing real is installed.",
                    classes="demo-banner",
                )
            yield Static(INTRO, id="intro")
            self.records = known_clusters(self.wizard.state_base)
            self.stopped = {record.name: interrupted(record) for record in self.records}
            if self.records:
                yield Static(
                    "[b]Clusters installed from this machine[/b] (choose one to come back to it):",
                    classes="section-title",
                )
                yield DataTable(id="clusters", cursor_type="row", zebra_stripes=True)
                with Horizontal(classes="button-bar day-two"):  # day two: below the cluster they act on
                    yield Button("Add components or nodes", id="add", compact=True)
                    yield Button("Remove components", id="remove", compact=True)
                    yield Button("Upgrade", id="upgrade", compact=True)
                    yield Button("Support bundle", id="bundle", compact=True)
            yield Static("", id="welcome-status", classes="status-line")

    def buttons(self) -> ComposeResult:
        if self.records:
            yield Button("Resume", id="resume", variant="success", compact=True)
            yield Button("Retry failed", id="retry", compact=True)

    def on_mount(self) -> None:
        if self.records:
            table = self.query_one("#clusters", DataTable)
            table.add_columns("Cluster", "Installed", "State", "Answers saved")
            for record in self.records:
                table.add_row(
                    Text(record.name),
                    str(len(record.installed)),
                    record_state(record, self.stopped[record.name]),
                    "yes" if record.answers else "no",
                    key=record.name,
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
        usable = record is not None and record.error is None
        resumable = usable and record is not None and record.answers is not None
        self.query_one("#add", Button).disabled = not usable
        self.query_one("#bundle", Button).disabled = not resumable
        self.query_one("#remove", Button).disabled = not resumable
        self.query_one("#upgrade", Button).disabled = not resumable
        self.query_one("#resume", Button).disabled = not (resumable and record and self.stopped[record.name])
        self.query_one("#retry", Button).disabled = not (resumable and record and record.failed)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("resume", "retry", "add", "support_bundle", "remove", "upgrade"):
            buttons = self.query(f"#{BUTTONS.get(action, action)}").results(Button)
            return any(not b.disabled for b in buttons)
        return super().check_action(action, parameters)

    # ------------------------------------------------------------ coming back to a cluster

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {
            "add": self.action_add,
            "retry": self.action_retry,
            "resume": self.action_resume,
            "bundle": self.action_support_bundle,
            "remove": self.action_remove,
            "upgrade": self.action_upgrade,
        }
        action = actions.get(event.button.id or "")
        if action is not None:
            event.stop()
            action()

    def action_add(self) -> None:
        self.come_back("add")

    def action_retry(self) -> None:
        self.come_back("retry what failed")

    def action_resume(self) -> None:
        self.come_back("resume")

    def action_support_bundle(self) -> None:
        self.come_back("write a support bundle")

    def action_remove(self) -> None:
        self.come_back("remove components")

    def action_upgrade(self) -> None:
        self.come_back("upgrade")

    def come_back(self, what: str) -> None:
        record = self.selected_record()
        if record is None or not self.is_active or self._busy:
            return  # nothing chosen, or a second request while the first is under way
        self._busy = True
        self.reenter(record, what)

    @work(exclusive=True, group="reentry")
    async def reenter(self, record: ClusterRecord, what: str) -> None:
        try:
            await self.wizard.model_ready()  # the demo lab first, if it is still starting
            self.wizard.model = WizardModel.for_reentry(record, self.model.catalog, self.model)
            if what == "write a support bundle":
                await self.write_support_bundle(record)
            elif what in ("remove components", "upgrade"):
                if await self.reconnected(what):
                    await (self.remove_components(record) if what == "remove components" else self.upgrade(record))
            elif what == "add":
                self.notify(
                    f"{record.name}: {plural(len(record.installed), 'component')} installed; choose what to add.",
                    title="Re-entry",
                    markup=False,  # the cluster's name is a directory's name
                )
                self.request(self.Next(self))
            else:
                await self.continue_install(what)
        finally:
            self._busy = False

    async def write_support_bundle(self, record: ClusterRecord) -> None:
        """Reconnect and discover (nodes that do not answer are named in the bundle), then
        collect; a bundle is most wanted when something is broken, so problems do not stop it."""
        model = self.model
        status = await self.rediscover("write a support bundle")
        status.update("Support bundle: collecting from every node (microk8s inspect takes a while)…")
        from ..wizard_run import reentry_support_bundle

        try:
            result = await reentry_support_bundle(model, self.wizard.session.transports, record.state_dir)
        except Exception as exc:  # an unwritable directory, a full disk: say so, stay here
            status.update("")
            self.notify(f"The support bundle could not be written: {exc}", severity="error", markup=False)
            return
        status.update("")
        missing = f"; not collected: {len(result.gaps)} (see its README.txt)" if result.gaps else ""
        self.notify(
            f"{result.path} ({result.files} files, secrets masked){missing}",
            title="Support bundle",
            markup=False,
            timeout=30,
        )

    async def rediscover(self, what: str) -> Static:
        """Reconnect to the saved nodes and discover them, saying so on the status line (returned)."""
        model = self.model
        status = self.query_one("#welcome-status", Static)
        status.update(f"To {what}: connecting to {len(model.nodes)} nodes and discovering them…")
        async for result in self.wizard.session.discover(list(model.nodes)):
            model.record_discovery(result)
        return status

    async def reconnected(self, what: str) -> bool:
        """Reconnect to the nodes and discover them (the operation runs on them); False, saying
        why, when one does not answer."""
        model = self.model
        (await self.rediscover(what)).update("")
        if model.discovery_errors:
            nodes = ", ".join(sorted(model.discovery_errors))
            self.notify(f"{nodes} did not answer: every node must, to {what}.", severity="error", markup=False)
            return False
        return True

    def run_operation(
        self, record: ClusterRecord, title: str, name: str, build: Callable[[Journal], Operation]
    ) -> None:
        """The operation on its own screen; back here, the clusters' table says what changed."""
        from ..wizard_run import reentry_operation
        from .operation import OperationScreen

        transports = self.wizard.session.transports

        async def runner(subscribe: Callable[[Event], None], say: Callable[[str], None]) -> RunFinished:
            return await reentry_operation(self.model, transports, record.state_dir, build, subscribe, say)

        self.app.push_screen(OperationScreen(title, name, runner), lambda _result: self.refresh(recompose=True))

    async def remove_components(self, record: ClusterRecord) -> None:
        from ..commands.remove import decide, operation
        from ..installers import uninstaller
        from .operation import RemoveDialog

        catalog = self.model.catalog
        candidates = [
            (cid, catalog[cid].title)
            for cid in catalog.ids
            if cid in record.installed and not catalog[cid].core and uninstaller(cid) is not None
        ]
        if not candidates:
            self.notify("No installed component can be removed here (core ones go with `reset`).", markup=False)
            return

        def build(journal: Journal) -> Operation:
            decision = decide(catalog, chosen, journal.installed, frozenset())
            if decision.refusals:
                raise ValueError("; ".join(decision.refusals))
            return operation(catalog, decision, journal, purge=False)

        chosen: list[str] = []

        def answered(result: object) -> None:
            if not isinstance(result, list) or not result:
                return
            chosen.extend(str(cid) for cid in result)
            decision = decide(catalog, chosen, record.installed, frozenset())
            if decision.refusals:
                self.notify(
                    "\n".join(decision.refusals), title="Not removed", severity="error", markup=False, timeout=15
                )
                return
            self.run_operation(record, f"Remove {', '.join(chosen)} from {record.name}", "remove", build)

        self.app.push_screen(RemoveDialog(candidates), answered)

    async def upgrade(self, record: ClusterRecord) -> None:
        from ..commands.upgrade import decide, describe, operation

        catalog, channel = self.model.catalog, self.model.cluster.get("microk8sChannel", "1.33/stable")
        pins = {c.id: c.pinned_version(channel) for c in catalog.components}

        def build(journal: Journal) -> Operation:
            decision = decide(catalog, journal, pins, ())
            if not decision.upgrading:
                raise ValueError("nothing is out of date any more")
            return operation(catalog, decision, journal)

        try:
            journal = Journal.open(record.state_dir / "journal.json")
        except JournalError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        decision = decide(catalog, journal, pins, ())
        if not decision.upgrading:
            self.notify("Every installed component is at the version this release pins.", title="Up to date")
            return
        plan = describe(catalog, operation(catalog, decision, journal), decision)

        def answered(yes: object) -> None:
            if yes:
                self.run_operation(record, f"Upgrade {record.name}", "upgrade", build)

        self.app.push_screen(ConfirmDialog(Text(plan), "Upgrade", "Not yet", title="Upgrade?"), answered)

    async def continue_install(self, what: str) -> None:
        """Straight to the install: reconnect to the nodes and find out what they have (the
        installers need it), then ask. Problems lead to the Nodes screen instead."""
        model = self.model
        status = await self.rediscover(what)
        model.findings = await self.wizard.session.preflight(model, self.wizard.skip_checks)
        status.update("")
        if model.discovery_errors or model.blocking_findings:
            self.notify(
                "Some nodes could not be reached or have problems: fix them here, then go on.",
                title=f"Cannot {what} yet",
                severity="warning",
                timeout=10,
            )
            self.request(self.Next(self))  # the Nodes screen shows what is wrong
            return
        from .review import install_question  # the Review screen's module: not needed for the first paint

        spec = model.build_spec()
        plan = model.plan(spec)
        if not plan.items:
            self.notify("Nothing is left to install.", title="Up to date")
            return

        def answered(yes: object) -> None:
            if yes:
                self.request(self.StartInstall())

        self.app.push_screen(
            ConfirmDialog(install_question(spec, plan), "Install", "Not yet", title=f"{what.capitalize()}?"),
            answered,
        )

    def action_next(self) -> None:
        if self.is_active and self.model.reentry:  # back here from a re-entry: a new install starts afresh
            self.wizard.model = WizardModel(self.model.catalog)
        super().action_next()
