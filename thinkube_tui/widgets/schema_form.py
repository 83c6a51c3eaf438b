"""A form generated from a JSON Schema object (Draft 2020-12), validated as the operator types.

One field per property: strings, integers and numbers are Inputs, booleans Switches, enums
Selects, arrays of scalars a comma-separated Input, nested objects a titled sub-group, and
anything else (arrays of objects) a one-line YAML Input validated against its schema.

Defaults are never typed into the answers: an empty Input means "the default", and the
placeholder says which ("default: 10Gi"). Secret references (`$ref: #/$defs/secretRef`) are
masked Inputs; a value typed there is handed out by `secret_values()` only, and `value()`
holds a `{"secret": KEY}` reference to it instead, so the answers data never carries it.

Paths: `value()` / `set_value()` take data relative to the form (a component's config);
`errors()`, `secret_values()` and `show_errors()` use full JSON paths in
`format_path` style (`components.grafana.adminPassword`), the form's `path` in front.

Everything about the schema (kinds, words, defaults, secrets, validation and its messages)
comes from the schema reader (`thinkube_tui.schema`), the one `validate` uses: a field says
what `validate` would say about the same value. This module only builds and reads widgets.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Literal

import yaml
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static, Switch
from textual.widgets.select import NoSelection

from ..schema import UNSET, SchemaReader, Setting
from ..secrets import generate_password
from ..yamlpos import format_path

RelPath = tuple[str, ...]


class FieldValueError(ValueError):
    """What the operator typed cannot even be read as the field's type (the message says why,
    in `validate`'s words for the same text)."""


def show_value(value: object) -> str:
    """A value as the operator would type it back."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(show_value(v) for v in value) if value else "[]"
    if isinstance(value, dict):
        return yaml.safe_dump(value, default_flow_style=True, width=1_000_000).strip()
    return str(value)


def _dom_id(path: RelPath) -> str:
    """A DOM id for a field, so screens and tests can find it (`#field-timeSlicing-replicas`)."""
    return "field-" + "-".join(re.sub(r"[^A-Za-z0-9_-]", "_", p) for p in path)


# ---------------------------------------------------------------- fields


class SchemaField(Vertical):
    """One property: a name, a control, its description, and the error under it."""

    kind: ClassVar[str] = "string"

    def __init__(self, form: SchemaForm, setting: Setting) -> None:
        super().__init__(id=_dom_id(setting.path), classes=f"schema-field schema-field--{self.kind}")
        self.form = form
        self.setting = setting
        self.path = setting.path
        self.schema = setting.schema
        self.required = setting.required
        self.schema_default: object = setting.default
        # What an untouched field stands for: the schema's default, or an answered value shown as one.
        self.baseline: object = self.schema_default
        self.external_error: str | None = None
        # The control's state when last reported: controls also post Changed when mounted or
        # filled, which is not the operator editing.
        self._last_seen: object = None
        self.touched = False  # "required" is not shouted at an operator who has not got there yet

    @property
    def json_path(self) -> str:
        return format_path((*self.form.path, *self.path))

    def compose(self) -> ComposeResult:
        with Horizontal(classes="schema-field--row"):
            yield Label(self.path[-1] + (" *" if self.required else ""), classes="schema-field--name")
            yield from self.compose_control()
        yield Static(self.help_text(), classes="schema-field--help", markup=False)
        yield Static("", classes="schema-field--error", markup=False)

    def compose_control(self) -> ComposeResult:
        raise NotImplementedError

    def control_value(self) -> object:
        """The raw state of the control (text, switch position, option index)."""
        raise NotImplementedError

    def settle(self) -> None:
        """Take the control's present state as not edited."""
        self._last_seen = self.control_value()

    def help_text(self) -> str:
        return self.setting.description

    # The three things a kind of field must say: what it holds, how to show a value, how to clear it.
    def read(self) -> object:
        """The value as typed, UNSET when empty; FieldValueError when it is not even the right type."""
        raise NotImplementedError

    def fill(self, value: object) -> None:
        raise NotImplementedError

    def show_baseline(self) -> None:
        """Show the field untouched: empty Inputs say what the baseline is."""
        raise NotImplementedError

    def effective(self) -> object:
        typed = self.read()
        return self.baseline if typed is UNSET else typed

    def validate(self) -> str | None:
        try:
            value = self.effective()
        except FieldValueError as exc:
            return str(exc)
        if value is UNSET:
            return self.setting.missing() if self.required else None
        return self.setting.problem(value)

    def missing(self) -> bool:
        """Required and left empty."""
        try:
            return self.required and self.effective() is UNSET
        except FieldValueError:
            return False

    def refresh_error(self) -> str | None:
        message = self.validate() or self.external_error
        if message is not None and self.missing() and not (self.touched or self.form.required_shown):
            message = None
        warning = None if message else self.warning()
        self.query_one(".schema-field--error", Static).update(message or warning or "")
        self.set_class(message is not None, "-invalid")
        self.set_class(warning is not None, "-warning")
        return message

    def warning(self) -> str | None:
        """Something to know before the install that does not stop it (a weak password)."""
        return None

    def edited(self) -> None:
        if self.control_value() == self._last_seen:
            return
        self._last_seen = self.control_value()
        self.touched = True
        self.external_error = None  # the core re-computes its cross-field errors on Changed
        self.refresh_error()
        self.form.field_changed(self)


class _InputField(SchemaField):
    """Any field edited as text in one Input."""

    input_type: Literal["integer", "number", "text"] = "text"

    def compose_control(self) -> ComposeResult:
        self._last_seen = ""
        yield Input(
            placeholder=self.placeholder(),
            type=self.input_type,
            compact=True,
            classes="schema-field--control",
        )

    def control_value(self) -> object:
        return self.input.value

    @property
    def input(self) -> Input:
        return self.query_one(".schema-field--control", Input)

    def placeholder(self) -> str:
        if self.baseline is not UNSET:
            return f"default: {show_value(self.baseline)}"
        return "required" if self.required else "not set"

    def text(self) -> str:
        return self.input.value.strip()

    def show_baseline(self) -> None:
        self.input.value = ""
        self.input.placeholder = self.placeholder()

    def fill(self, value: object) -> None:
        self.input.value = show_value(value)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.edited()


class StringField(_InputField):
    kind = "string"

    def read(self) -> object:
        return self.text() or UNSET


class NumberField(_InputField):
    kind = "number"

    def __init__(self, form: SchemaForm, setting: Setting) -> None:
        super().__init__(form, setting)
        self.input_type = "integer" if setting.kind == "integer" else "number"

    def read(self) -> object:
        text = self.text()
        if not text:
            return UNSET
        try:
            return int(text) if self.input_type == "integer" else _number(text)
        except ValueError:
            raise FieldValueError(self.setting.unreadable(text)) from None


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


class ListField(_InputField):
    """An array of scalars typed as `a, b, c`; `[]` for an empty list."""

    kind = "list"

    def help_text(self) -> str:
        return f"{self.setting.description} Comma-separated.".strip()

    def read(self) -> object:
        text = self.text()
        if not text:
            return UNSET
        if text == "[]":
            return []
        item_type = self.setting.item_type
        items = [part.strip() for part in text.split(",") if part.strip()]
        if item_type == "string":
            return items
        try:
            return [int(v) if item_type == "integer" else _number(v) for v in items]
        except ValueError:
            raise FieldValueError(self.setting.unreadable(text)) from None


class YamlField(_InputField):
    """Anything without a dedicated control (arrays of objects): one line of YAML."""

    kind = "yaml"

    def help_text(self) -> str:
        example = self.setting.yaml_example()
        hint = f" YAML, e.g. {example}" if example else " YAML."
        return f"{self.setting.description}{hint}"

    def read(self) -> object:
        text = self.text()
        if not text:
            return UNSET
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" at column {mark.column + 1}" if mark is not None else ""
            raise FieldValueError(f"not valid YAML{at}") from None


class BooleanField(SchemaField):
    kind = "boolean"

    def compose_control(self) -> ComposeResult:
        self._last_seen = self.baseline is True
        yield Switch(value=self.baseline is True, classes="schema-field--control")
        # Spelled out too: a switch's position alone is hard to read without colour.
        yield Label(self._word(self.baseline is True), classes="schema-field--switch-state")

    @staticmethod
    def _word(on: bool) -> str:
        return "on" if on else "off"

    def help_text(self) -> str:
        default = f" (default: {show_value(self.schema_default)})" if self.schema_default is not UNSET else ""
        return f"{self.setting.description}{default}"

    @property
    def switch(self) -> Switch:
        return self.query_one(".schema-field--control", Switch)

    def control_value(self) -> object:
        return self.switch.value

    def read(self) -> object:
        return self.switch.value

    def fill(self, value: object) -> None:
        self.switch.value = bool(value)
        self._show_word(bool(value))  # Changed is held back while the form is being filled

    def show_baseline(self) -> None:
        self.fill(self.baseline is True)

    def _show_word(self, on: bool) -> None:
        self.query_one(".schema-field--switch-state", Label).update(self._word(on))

    def on_switch_changed(self, event: Switch.Changed) -> None:
        event.stop()
        self._show_word(event.value)
        self.edited()


class EnumField(SchemaField):
    kind = "enum"

    def compose_control(self) -> ComposeResult:
        options = [(show_value(v), i) for i, v in enumerate(self.setting.choices)]
        self._last_seen = self._index(self.baseline)
        # Option values are indexes: enums mix types (true, false, "auto") and Select needs hashables.
        yield Select(
            options,
            value=self._index(self.baseline),
            allow_blank=self.schema_default is UNSET,
            prompt="not set",
            compact=True,
            classes="schema-field--control",
        )

    def help_text(self) -> str:
        default = f" (default: {show_value(self.schema_default)})" if self.schema_default is not UNSET else ""
        return f"{self.setting.description}{default}"

    @property
    def select(self) -> Select[int]:
        return self.query_one(".schema-field--control", Select)

    def control_value(self) -> object:
        return self.select.value

    def _index(self, value: object) -> int | NoSelection:
        for i, v in enumerate(self.setting.choices):
            if v == value and type(v) is type(value):
                return i
        return Select.NULL

    def read(self) -> object:
        index = self.select.value
        return UNSET if isinstance(index, NoSelection) else self.setting.choices[index]

    def fill(self, value: object) -> None:
        index = self._index(value)
        if index is Select.NULL and not self.select._allow_blank:
            raise ValueError(f"{value!r} is not one of the choices of {self.json_path}")
        self.select.value = index

    def show_baseline(self) -> None:
        if self.baseline is UNSET:
            self.select.clear()
        else:
            self.fill(self.baseline)

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self.edited()


class ConstField(SchemaField):
    """A fixed value (e.g. `enabled` of a core component): shown, not editable."""

    kind = "const"

    def compose_control(self) -> ComposeResult:
        yield Label(show_value(self.setting.default), classes="schema-field--control")

    def control_value(self) -> object:
        return self.setting.default

    def read(self) -> object:
        return UNSET

    def fill(self, value: object) -> None:
        pass

    def show_baseline(self) -> None:
        pass


class SecretField(SchemaField):
    """A masked Input with a generate button; its value goes to the secrets file, never the answers."""

    kind = "secret"

    def __init__(self, form: SchemaForm, setting: Setting) -> None:
        super().__init__(form, setting)
        self.existing_ref: dict[str, str] | None = None  # e.g. {"env": "X"} from the answers file

    @property
    def secret_key(self) -> str:
        return "-".join((self.form.secret_prefix, *self.path))

    def control_value(self) -> object:
        return self.input.value

    def compose_control(self) -> ComposeResult:
        self._last_seen = ""
        yield Input(password=True, placeholder=self.placeholder(), compact=True, classes="schema-field--control")
        yield Button("generate", compact=True, classes="schema-field--generate")

    @property
    def input(self) -> Input:
        return self.query_one(".schema-field--control", Input)

    def placeholder(self) -> str:
        ref = self.existing_ref
        if ref and "env" in ref:
            return f"from ${ref['env']}"
        if ref and "secret" in ref:
            return f"from secrets file: {ref['secret']}"
        # Only some secrets are generated when left out (passwords); an API token is not.
        if self.setting.generated_when_empty:
            return "empty: the installer generates it"
        return "required" if self.required else "not set"

    def typed(self) -> str:
        return self.input.value

    def read(self) -> object:
        if self.typed():
            return {"secret": self.secret_key}
        return dict(self.existing_ref) if self.existing_ref else UNSET

    def validate(self) -> str | None:
        # The value is free text, and messages must not echo it; only the reference is data.
        value = self.typed()
        if value and value != value.strip():
            return "starts or ends with a space"
        return self.setting.password_problem(value, self.sibling_settings()) if value else None

    def warning(self) -> str | None:
        value = self.typed()
        return self.setting.password_warning(value) if value else None

    def sibling_settings(self) -> Mapping[str, Any]:
        """The settings next to this secret (a password policy, a user name), defaults included."""
        settings: Any = self.form.value(include_defaults=True)
        for part in self.path[:-1]:
            settings = settings.get(part, {}) if isinstance(settings, Mapping) else {}
        return settings if isinstance(settings, Mapping) else {}

    def fill(self, value: object) -> None:
        if isinstance(value, Mapping) and len(value) == 1 and set(value) <= {"env", "secret"}:
            self.existing_ref = dict(value)
            self.show_baseline()
        else:
            raise ValueError(f"{self.json_path}: a secret reference ({{env: NAME}} or {{secret: KEY}}) was expected")

    def show_baseline(self) -> None:
        self.input.value = ""
        self.input.placeholder = self.placeholder()

    def clear_ref(self) -> None:
        self.existing_ref = None

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.edited()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.input.value = generate_password()


class SchemaGroup(Vertical):
    """A nested object: its properties under a title."""

    def __init__(self, setting: Setting, children: list[Widget]) -> None:
        description = setting.description
        help_text = [Static(description, classes="schema-group--help", markup=False)] if description else []
        super().__init__(*help_text, *children, id=_dom_id(setting.path), classes="schema-group")
        self.setting = setting
        self.path = setting.path
        self.schema = setting.schema
        self.border_title = setting.key


_FIELD_CLASSES: dict[str, type[SchemaField]] = {
    "string": StringField,
    "integer": NumberField,
    "number": NumberField,
    "list": ListField,
    "yaml": YamlField,
    "boolean": BooleanField,
    "enum": EnumField,
    "const": ConstField,
    "secret": SecretField,
}


# ---------------------------------------------------------------- the form


class SchemaForm(VerticalScroll):
    """Fields for every property of an object schema; see the module docstring for paths."""

    class Changed(Message):
        """A field's value changed (typed, toggled, chosen or generated)."""

        def __init__(self, form: SchemaForm, path: str) -> None:
            super().__init__()
            self.form = form
            self.path = path  # the field's full JSON path

        @property
        def control(self) -> SchemaForm:
            return self.form

    def __init__(
        self,
        schema: Mapping[str, Any],
        *,
        root: Mapping[str, Any] | None = None,
        path: tuple[str | int, ...] = (),
        secret_prefix: str | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """`root` resolves `$ref`s (the answers schema for `$defs/cluster`); `path` is where the
        form's data lives in the answers (`("components", "grafana")`); `secret_prefix` names
        the secrets-file keys (`grafana` -> `grafana-adminPassword`, the path's last part by default)."""
        super().__init__(name=name, id=id, classes=classes)
        self.root: Mapping[str, Any] = root if root is not None else schema
        self.reader = SchemaReader(self.root)
        self.schema = self.reader.resolve(schema)
        self.path = path
        last = next((p for p in reversed(path) if isinstance(p, str)), None)
        self.secret_prefix = secret_prefix or last or "secret"
        self._fields: dict[RelPath, SchemaField] = {}
        # Built now, not in compose, so every field is known (and can be filled) before mounting.
        self._tree = self._build(self.reader.settings(self.schema))
        self._extra: dict[str, Any] = {}  # keys the schema does not know, kept so set_value/value round-trip
        self._general_errors: dict[str, str] = {}
        self.required_shown = False

    # -------------------------------------------------- building

    def compose(self) -> ComposeResult:
        yield Static("", classes="schema-form--errors", markup=False)
        if self.schema.get("description"):
            yield Static(self.schema["description"], classes="schema-form--help", markup=False)
        yield from self._tree

    def _build(self, settings: tuple[Setting, ...]) -> list[Widget]:
        widgets: list[Widget] = []
        for setting in settings:
            if setting.kind == "object":
                widgets.append(SchemaGroup(setting, self._build(setting.children())))
            else:
                field = _FIELD_CLASSES[setting.kind](self, setting)
                self._fields[setting.path] = field
                widgets.append(field)
        return widgets

    # -------------------------------------------------- reading

    def field(self, path: str) -> SchemaField:
        """The field at a path relative to the form: `"timeSlicing.replicas"`."""
        return self._fields[tuple(path.split("."))]

    @property
    def fields(self) -> dict[str, SchemaField]:
        return {".".join(p): f for p, f in self._fields.items()}

    def value(self, include_defaults: bool = False) -> dict[str, Any]:
        """The form's data; by default only what differs from the schema's defaults (what an answers
        file needs), with `include_defaults` every value. Secrets appear as `{"secret": KEY}`."""
        out: dict[str, Any] = copy.deepcopy(self._extra)
        for path, field in self._fields.items():
            try:
                value = field.effective()
            except FieldValueError:
                continue  # unreadable input is reported by errors(), not guessed at
            if value is UNSET or (
                not include_defaults and value == field.schema_default and type(value) is type(field.schema_default)
            ):
                continue
            _put(out, path, copy.deepcopy(value))
        return out

    def secret_values(self) -> dict[str, str]:
        """Typed or generated secrets by full JSON path (for the 0600 secrets file, never the answers)."""
        return {f.json_path: f.typed() for f in self._secret_fields() if f.typed()}

    def secrets_file_entries(self) -> dict[str, str]:
        """The same secrets keyed as `value()` refers to them: what goes into the secrets file."""
        return {f.secret_key: f.typed() for f in self._secret_fields() if f.typed()}

    def errors(self) -> dict[str, str]:
        """Every problem by full JSON path: the fields' own and those shown with `show_errors`."""
        out = dict(self._general_errors)
        for field in self._fields.values():
            message = field.validate() or field.external_error
            if message:
                out[field.json_path] = message
        return out

    def _secret_fields(self) -> Iterator[SecretField]:
        return (f for f in self._fields.values() if isinstance(f, SecretField))

    # -------------------------------------------------- writing

    def set_value(self, data: Mapping[str, Any], *, as_defaults: bool = False) -> None:
        """Fill the form from `data` (relative to the form); fields it leaves out go back to their
        defaults. With `as_defaults` the values are shown as defaults (placeholders, the answers
        file in interactive mode) rather than typed in; `value()` still returns them."""
        if not self._composed():
            self.call_after_refresh(self.set_value, data, as_defaults=as_defaults)  # called before mount
            return
        # Filling is not editing: no Changed messages from the controls while we do it.
        with self.prevent(Input.Changed, Switch.Changed, Select.Changed):
            self._extra = {}
            self._collect_extra(data, (), self.reader.settings(self.schema))
            for path, field in self._fields.items():
                given = _get(data, path)
                field.external_error = None
                if isinstance(field, SecretField):
                    field.clear_ref()
                    if given is not UNSET:
                        field.fill(given)
                    else:
                        field.show_baseline()
                    continue
                field.baseline = given if as_defaults and given is not UNSET else field.schema_default
                field.show_baseline()
                if given is not UNSET and not as_defaults:
                    field.fill(given)
            for field in self._fields.values():
                field.settle()
        self._refresh_all_errors()

    def _composed(self) -> bool:
        return all(field.children for field in self._fields.values()) and bool(self.children)

    def _collect_extra(self, data: Mapping[str, Any], parent: RelPath, settings: tuple[Setting, ...]) -> None:
        known = {setting.key: setting for setting in settings}
        for key, value in data.items():
            setting = known.get(key)
            if setting is None:
                _put(self._extra, (*parent, key), copy.deepcopy(value))
            elif setting.kind == "object" and isinstance(value, Mapping):
                self._collect_extra(value, setting.path, setting.children())

    def show_errors(self, errors: Mapping[str, str]) -> None:
        """Show problems found outside the form (cross-field rules), each under its field; replaces
        the previous ones. Paths are full JSON paths; those matching no field show at the top."""
        by_path = {f.json_path: f for f in self._fields.values()}
        self._general_errors = {}
        for field in self._fields.values():
            field.external_error = None
        for path, message in errors.items():
            if path in by_path:
                by_path[path].external_error = message
            else:
                self._general_errors[path] = message
        general = self.query_one(".schema-form--errors", Static)
        general.update("\n".join(f"{p}: {m}" for p, m in self._general_errors.items()))
        general.set_class(bool(self._general_errors), "-invalid")
        self._refresh_all_errors()

    def show_required(self) -> None:
        """Mark empty required fields too (they are only marked once edited, until this is called)."""
        self.required_shown = True
        self._refresh_all_errors()

    def _refresh_all_errors(self) -> None:
        for field in self._fields.values():
            field.refresh_error()

    def field_changed(self, field: SchemaField) -> None:
        for secret in self._secret_fields():  # their rules may come from other settings (a policy)
            if secret is not field:
                secret.refresh_error()
        self.post_message(self.Changed(self, field.json_path))

    def warnings(self) -> dict[str, str]:
        """What does not stop the install but should be known first (weak passwords), by full JSON path."""
        return {f.json_path: w for f in self._fields.values() if not f.validate() and (w := f.warning())}


def _get(data: Mapping[str, Any], path: RelPath) -> object:
    node: object = data
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return UNSET
        node = node[part]
    return node


def _put(data: dict[str, Any], path: RelPath, value: object) -> None:
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
