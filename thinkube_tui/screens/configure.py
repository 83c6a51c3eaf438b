"""Step 5: cluster settings, then one form per selected component that has settings."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ContentSwitcher, ListItem, ListView, Static

from ..messages import MISSING_REQUIRED
from ..schema import Schema, answers_schema
from ..spec import AnswersError
from ..widgets.schema_form import SchemaForm
from .base import WizardScreen

CLUSTER = "cluster"


def form_id(section: str) -> str:
    return f"form-{section}"


def settings_schema(schema: Schema) -> dict[str, Any]:
    """A component's schema without `enabled`: what is installed is chosen on Components only,
    so Configure cannot show (or change) a second, contradicting copy of it."""
    properties = {k: v for k, v in schema.get("properties", {}).items() if k != "enabled"}
    return {**schema, "properties": properties}


class ConfigureScreen(WizardScreen):
    STEP = "Configure"

    def body(self) -> ComposeResult:
        self.sections = [CLUSTER, *self.model.configurable()]
        schema = answers_schema()
        with Horizontal(classes="main"):
            with ListView(id="sections"):
                for section in self.sections:
                    title = "Cluster" if section == CLUSTER else self.model.catalog[section].title
                    yield ListItem(Static(title, classes="section-label"), id=f"item-{section}")
            with ContentSwitcher(initial=form_id(CLUSTER), id="forms"):
                yield SchemaForm(schema["$defs"]["cluster"], root=schema, path=("cluster",), id=form_id(CLUSTER))
                for cid in self.sections[1:]:
                    yield SchemaForm(
                        settings_schema(self.model.component_schema(cid)),
                        root=schema,
                        path=("components", cid),
                        secret_prefix=cid,
                        id=form_id(cid),
                    )
        yield Static("", id="configure-status", classes="status-line")

    def on_mount(self) -> None:
        self.form(CLUSTER).set_value(self.model.cluster)
        for cid in self.sections[1:]:
            self.form(cid).set_value(self.model.component_config.get(cid, {}))

    def form(self, section: str) -> SchemaForm:
        return self.query_one(f"#{form_id(section)}", SchemaForm)

    def on_list_view_highlighted(self, event: ListView.Highlighted) -> None:
        if event.item is not None and event.item.id:
            self.query_one(ContentSwitcher).current = form_id(event.item.id.removeprefix("item-"))

    def on_schema_form_changed(self, event: SchemaForm.Changed) -> None:
        self.leave()
        self.check(show_missing=False)

    def leave(self) -> None:
        self.model.set_cluster_settings(self.form(CLUSTER).value())
        for cid in self.sections[1:]:
            form = self.form(cid)
            self.model.set_component_settings(cid, form.value(), form.secrets_file_entries())

    def check(self, show_missing: bool = True) -> int:
        """Show the whole answers' problems on their forms; the number of problems."""
        errors: dict[str, dict[str, str]] = defaultdict(dict)
        problems = self.model.problems()
        for problem in problems:
            path = problem.path
            if not show_missing and problem.message.startswith(MISSING_REQUIRED):
                continue
            section = (
                CLUSTER
                if path[:1] == ("cluster",)
                else (str(path[1]) if path[:1] == ("components",) and len(path) > 1 else None)
            )
            if section in self.sections:
                errors[section][problem.json_path] = problem.message
        for section in self.sections:
            self.form(section).show_errors(errors.get(section, {}))
        for section in self.sections:
            item = self.query_one(f"#item-{section}", ListItem)
            item.set_class(bool(errors.get(section) or self.form(section).errors()), "-invalid")
        status = self.query_one("#configure-status", Static)
        warnings = {where: text for section in self.sections for where, text in self.form(section).warnings().items()}
        if problems:
            status.update(f"[red]{len(problems)} problem(s)[/]: the sections marked red show where.")
        elif warnings:
            where, text = next(iter(warnings.items()))
            more = f" (and {len(warnings) - 1} more)" if len(warnings) > 1 else ""
            status.update(Text.assemble("All settings are valid; ", (f"{where}: {text}{more}", "yellow")))
        else:
            status.update("All settings are valid.")
        return len(problems)

    def show_first_problem(self) -> None:
        """Bring the first section with a problem forward, scrolled to the field."""
        for section in self.sections:
            form = self.form(section)
            errors = form.errors()
            if not errors:
                continue
            self.query_one(ContentSwitcher).current = form_id(section)
            prefix = ".".join(map(str, form.path)) + "."
            for path in errors:
                relative = path.removeprefix(prefix)
                if relative in form.fields:
                    form.fields[relative].scroll_visible(animate=False, top=True)
                    break
            return

    def ready(self) -> str | None:
        self.leave()
        invalid = [s for s in self.sections if self.form(s).errors()]
        if self.check() or invalid:
            self.show_first_problem()
            return "Some settings are missing or invalid: see the fields marked red."
        try:
            self.model.build_spec()
        except AnswersError as exc:
            return exc.problems[0].json_path + ": " + exc.problems[0].message
        return None
