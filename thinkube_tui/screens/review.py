"""Step 6: the plan (by group and by wave), what runs on each node, preflight, and the answers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Button, Static, TabbedContent, TabPane, Tree

from ..spec import AnswersError, dump_spec
from ..wording import plural
from .base import WizardScreen
from .dialogs import ConfirmDialog, SaveAnswersDialog

if TYPE_CHECKING:
    from ..plan import Plan
    from ..spec import Spec


class ReviewScreen(WizardScreen):
    STEP = "Review"
    NEXT_LABEL = "Install"
    HELP = (
        "Step 6: what will happen, before anything happens. Plan: the components by group, with why each "
        "is included and what it needs. Waves: what can run together. Per node: the commands each node "
        "will run. Preflight: what discovery found. Answers: the file that replays this install headless. "
        "Install asks once more, with the count of components, nodes and the expected time."
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("s", "save_answers", "Save answers")]

    def body(self) -> ComposeResult:
        self.spec = self.model.build_spec()
        self.plan = self.model.plan(self.spec)
        with TabbedContent(id="review", classes="main"):
            with TabPane("Plan", id="tab-plan"):
                yield Tree("plan", id="plan-tree")
            with TabPane("Waves", id="tab-waves"), VerticalScroll():
                yield Static(self._waves(), id="waves")
            with TabPane("Per node", id="tab-nodes"), VerticalScroll():
                yield Static("Working out what each node will run…", id="per-node")
            with TabPane("Preflight", id="tab-preflight"), VerticalScroll():
                yield Static(self._preflight(), id="preflight")
            with TabPane("Answers", id="tab-answers"), VerticalScroll():
                yield Static(Text(dump_spec(self.spec)), id="answers-preview")

    def buttons(self) -> ComposeResult:
        yield Button("Save answers", id="save", compact=True)

    def on_mount(self) -> None:
        tree = self.query_one("#plan-tree", Tree)
        tree.show_root = False
        plan = self.plan
        catalog = self.model.catalog
        head = (
            f"{plural(len(plan), 'component')} to install, about {plan.critical_path_s / 60:.0f} min "
            f"(longest chain: {' → '.join(plan.critical_path)})"
        )
        if plan.installed:
            head += f"; {len(plan.installed)} installed already"
        self.query_one("#plan-tree", Tree).root.add_leaf(Text(head))
        for group_id, members in plan.by_group(catalog):
            group = tree.root.add(f"{group_id} {catalog.group(group_id).title}", expand=True)
            for item in members:
                needs = f" · needs {', '.join(item.deps)}" if item.deps else ""
                group.add_leaf(
                    Text.assemble(
                        (item.component.title, "bold"), f"  wave {item.wave + 1}", (f" · {item.reason}{needs}", "dim")
                    )
                )
        self.dry_run()

    def _waves(self) -> Text:
        text = Text()
        for wave, ids in enumerate(self.plan.waves, 1):
            text.append(f"wave {wave}: ", "bold")
            text.append(", ".join(ids) + "\n")
        text.append(
            "\nComponents start as soon as what they need is done, not wave by wave; waves show what can run together.",
            "dim",
        )
        return text

    def _preflight(self) -> Text:
        findings = self.model.findings
        text = Text()
        counts = {s: sum(1 for f in findings if f.severity == s) for s in ("error", "warning", "info")}
        text.append(f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} notes\n\n", "bold")
        for f in findings:
            style = {"error": "bold red", "warning": "yellow"}.get(f.severity, "cyan")
            text.append(f"{f.severity:<8}", style)
            text.append(f"{f.node or 'all'}: {f.message}\n")
            text.append(f"        what to do: {f.fix}\n", "dim")
        return text

    @work(exclusive=True, group="dry-run")
    async def dry_run(self) -> None:
        from ..dryrun import dry_run

        transcript = await dry_run(self.spec, self.model.catalog)
        text = Text()
        for where in [n.name for n in self.spec.nodes] + ["kubernetes API", "not installed"]:
            lines = transcript.lines.get(where)
            if lines:
                text.append(f"{where}\n", "bold underline")
                for line in lines:
                    text.append(f"  {line}\n")
        if not text:
            text.append("Nothing to run.")
        self.query_one("#per-node", Static).update(text)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            event.stop()
            self.action_save_answers()

    def action_save_answers(self) -> None:
        default = self.wizard.answers_dir / f"{self.spec.cluster.name}-answers.yaml"

        def chosen(result: object) -> None:
            if isinstance(result, tuple):
                path, as_env = result
                self.save(path, as_env)

        self.app.push_screen(SaveAnswersDialog(default, bool(self.model.secret_values())), chosen)

    def save(self, path: Path, secrets_as_env: bool) -> None:
        try:
            exported = self.model.export(path, secrets_as_env=secrets_as_env)
        except (AnswersError, OSError) as exc:
            self.notify(str(exc), title="Not saved", severity="error", timeout=10, markup=False)
            return
        self.wizard.saved_secrets = exported.secrets
        where = f" and secrets to {exported.secrets} (mode 0600)" if exported.secrets else ""
        self.notify(f"Answers saved to {exported.answers}{where}; they re-validate.", title="Saved", markup=False)
        if exported.warning:
            self.notify(exported.warning, title="Inside a git repository", severity="warning", timeout=20, markup=False)

    def ready(self) -> str | None:
        if not self.plan.items:
            return "Everything selected is installed already: go back and tick something to add."
        return None

    def action_next(self) -> None:
        """Install asks first: what will be installed where, and for about how long."""
        if not self.is_active:  # a second click or key while the question is already open
            return
        problem = self.ready()
        if problem:
            self.notify(problem, title="Not yet", severity="warning")
            return
        self.leave()

        def answered(yes: object) -> None:
            if yes:
                self.request(self.Next(self))

        self.app.push_screen(
            ConfirmDialog(install_question(self.spec, self.plan), "Install", "Not yet", title="Start the install?"),
            answered,
        )


def install_question(spec: Spec, plan: Plan) -> Text:
    """What Install asks before anything changes on the nodes: what, where, for how long."""
    minutes = max(1, round(plan.critical_path_s / 60))
    nodes = [n.name for n in spec.nodes]
    text = Text()
    text.append(f"{counted(len(plan), 'component')} on {counted(len(nodes), 'node')}", "bold")
    text.append(f" ({', '.join(nodes)}), about {minutes} min from the catalog's estimates.\n\n")
    text.append(
        "The nodes are changed from here on: packages, MicroK8s, and the components. Every finished "
        "step is recorded, so an interrupted install resumes where it stopped."
    )
    return text


def counted(count: int, noun: str) -> str:
    """`1 component`, `3 components`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
