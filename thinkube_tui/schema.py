"""THE reader of the JSON Schemas, asked by the Spec, the Configure form and `validate` alike.

It knows the answers schema (the base schema plus one fragment per catalog component), follows
`$ref`s, fills in defaults, tells secret references apart, builds the one kind of validator,
and turns every schema error into the operator's words through the table in `messages`. So a
setting reads, defaults and fails the same way wherever it is met. No Textual here: the form's
widgets ask `SchemaReader.settings()` what to show and `Setting.problem()` what is wrong.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

from . import messages
from .catalog import load_catalog
from .yamlpos import Path, format_path

if TYPE_CHECKING:  # jsonschema loads when a validator is first built: a faster start for every command
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

# A schema node as `json.loads` gives it: what a keyword holds is whatever the schema wrote.
Schema = Mapping[str, Any]

SECRET_REF = "#/$defs/secretRef"
AUTO = "auto"

FieldKind = Literal["string", "integer", "number", "list", "yaml", "boolean", "enum", "const", "secret", "object"]


class _Unset:
    """No value: a setting left empty with no default, so it is left out of the data."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        cls._instance = cls._instance or super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()


@dataclass(frozen=True)
class Issue:
    """One schema problem: the path of the value (relative to what was validated) and what is wrong.
    `at_key` says the problem is the key itself (an unknown key), so its position is the key's."""

    path: Path
    message: str
    at_key: bool = False


# ---------------------------------------------------------------- the answers schema


@cache
def answers_schema() -> dict[str, Any]:
    """The whole answers schema: base + one fragment per component (read-only; copy to change)."""
    base: dict[str, Any] = json.loads((resources.files("thinkube_tui") / "schemas" / "answers.schema.json").read_text())
    catalog = load_catalog()
    components: dict[str, Any] = {}
    for comp in catalog:
        fragment = copy.deepcopy(catalog.schema(comp.id))
        fragment.pop("$schema", None)
        enabled: dict[str, Any] = {"type": "boolean", "description": "Install this component."}
        if comp.core_when:
            enabled = {
                "enum": [True, False, AUTO],
                "default": AUTO,
                "description": f"Install this component; 'auto': when discovery finds an {comp.core_when}.",
            }
        elif comp.core:
            enabled = {"const": True, "description": "A core component: always installed."}
        fragment.setdefault("properties", {})
        fragment["properties"] = {"enabled": enabled, **fragment["properties"]}
        fragment.setdefault("title", comp.title)
        fragment.setdefault("description", comp.description)
        components[comp.id] = fragment
    base["properties"]["components"] = {
        **base["properties"]["components"],
        "properties": components,
        "additionalProperties": False,
    }
    return base


@cache
def answers() -> SchemaReader:
    """The reader of the answers schema (the one `validate`, the Spec and the wizard use)."""
    return SchemaReader(answers_schema())


# ---------------------------------------------------------------- validators and patterns


def validator_for(schema: Schema) -> Validator:
    """The one way a validator is built (answers, forms): Draft 2020-12, formats checked, and
    patterns anchored as JSON Schema means them. Python's `$` also matches before a final line
    break, so `user: "thinkube\\n"` would pass `^...$`; ECMA-262's `$` (no multiline) does not."""
    from jsonschema import Draft202012Validator, _keywords, validators

    from .schema_fast import Compiler

    fast = Compiler(schema, ecma_pattern)
    walk_ref: Any = _keywords.ref  # jsonschema's own `$ref` (untyped)

    def ref_keyword(validator: Validator, ref: str, instance: object, sub: Schema) -> Iterator[ValidationError]:
        # A value the compiled check calls valid has nothing to report: jsonschema walks only
        # the rest (schema_fast.py; a thousand nodes are checked in a fraction of the time).
        check = fast.for_ref(ref)
        if check is not None and check(instance):
            return
        yield from walk_ref(validator, ref, instance, sub)

    keywords = {"pattern": _pattern_keyword, "$ref": ref_keyword}
    strict = validators.extend(Draft202012Validator, keywords)  # type: ignore[no-untyped-call]
    made: Validator = strict(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return made


def _pattern_keyword(validator: Validator, pattern: str, instance: object, schema: Schema) -> Iterator[ValidationError]:
    from jsonschema.exceptions import ValidationError

    if isinstance(instance, str) and not ecma_pattern(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def ecma_pattern(pattern: str) -> re.Pattern[str]:
    """`pattern` compiled with every `$` outside a character class meaning the end of the text only."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":  # a leading "]" is a literal in the class
                out.append("[]")
                i += 2
                continue
        elif ch == "$":
            ch = r"\Z"
        out.append(ch)
        i += 1
    return re.compile("".join(out))


# ---------------------------------------------------------------- nodes


def is_secret(node: Schema | None) -> bool:
    """Whether a (property) schema is a secret reference: `{env: NAME}` or `{secret: KEY}`, never a value."""
    return node is not None and node.get("$ref") == SECRET_REF


def with_defaults(schema: Schema, value: Mapping[str, Any]) -> dict[str, Any]:
    """An object's settings with the schema's defaults filled in, recursively through nested
    objects (secrets have none). This is how a component's config gets its defaults: the Spec
    holds every setting the schema defaults, so installers read them without restating them."""
    out = dict(value)
    for key, sub in schema.get("properties", {}).items():
        if is_secret(sub):
            continue
        if key not in out and "default" in sub:
            out[key] = copy.deepcopy(sub["default"])
        if key in out and isinstance(out[key], dict):
            out[key] = with_defaults(sub, out[key])
    return out


def password_problem(rules: Mapping[str, Any] | None, value: str, settings: Mapping[str, object]) -> str | None:
    """Why a component would refuse `value` under a secret's `x-passwordRules` (None: no rules, or fine)."""
    return messages.password_problem(value, messages.password_rules(rules, settings)) if rules else None


class SchemaReader:
    """Questions about one schema document (`root`, where its `$ref`s point)."""

    def __init__(self, root: Schema) -> None:
        self.root = root

    @cached_property
    def validator(self) -> Validator:
        return validator_for(self.root)

    def resolve(self, node: Schema) -> dict[str, Any]:
        """`node` with local `$ref`s replaced by their targets (secret references stay as they are)."""
        out = dict(node)
        while "$ref" in out and not is_secret(out):
            target: Any = self.root
            for part in str(out["$ref"]).removeprefix("#/").split("/"):
                target = target[part]
            out = {**target, **{k: v for k, v in out.items() if k != "$ref"}}
        return out

    def _child(self, node: Schema, part: str | int) -> Schema | None:
        resolved = self.resolve(node)
        child = resolved.get("items") if isinstance(part, int) else resolved.get("properties", {}).get(part)
        return child if isinstance(child, Mapping) else None

    def at(self, path: Path, start: Schema | None = None) -> dict[str, Any] | None:
        """The (resolved) schema of the value at `path` below `start` (the root by default)."""
        node: Schema | None = self.root if start is None else start
        for part in path:
            if node is None or is_secret(node):
                return None
            node = self._child(node, part)
        return None if node is None else self.resolve(node)

    def under_secret(self, path: Path, start: Schema | None = None) -> bool:
        """Whether the value at `path` is (inside) a secret reference: its text is never repeated."""
        node: Schema | None = self.root if start is None else start
        for part in path:
            if node is None or is_secret(node):
                return node is not None
            node = self._child(node, part)
        return is_secret(node)

    # ------------------------------------------------------------ problems

    def problems(self, value: object) -> list[Issue]:
        """Every problem of a document against the root schema, in the operator's words."""
        document: Any = value  # whatever YAML held: checking its shape is the validator's job
        return [issue for error in self.validator.iter_errors(document) for issue in self.explain(error)]

    def explain(self, error: ValidationError, start: Schema | None = None) -> Iterator[Issue]:
        """One jsonschema error as the operator reads it; `start` is the schema that was
        validated (the root by default), used to know which values are secrets."""
        path: Path = tuple(error.absolute_path)
        kind = error.validator
        if kind == "additionalProperties" and isinstance(error.instance, dict):
            known = sorted(error.schema.get("properties", {})) if isinstance(error.schema, Mapping) else []
            for extra in sorted(set(error.instance) - set(known), key=str):
                yield Issue((*path, extra), messages.unknown_key(str(extra), known), at_key=True)
            return
        if kind in ("anyOf", "oneOf", "allOf") and error.context:
            # The sub-error that went deepest is the one closest to what the operator meant.
            yield from self.explain(max(error.context, key=lambda e: len(e.absolute_path)), start)
            return
        yield Issue(path, self.message(error, path, start))

    def message(self, error: ValidationError, path: Path, start: Schema | None = None) -> str:
        """The words for one error at `path`: the keyword table of `messages`, after the cases
        only the reader can tell (a secret written inline, a core component switched off)."""
        schema: Schema = error.schema if isinstance(error.schema, Mapping) else {}
        kind = error.validator
        if kind == "type" and (is_secret(schema) or schema.get("properties", {}).keys() >= {"env", "secret"}):
            return messages.SECRET_INLINE
        if kind == "const" and path and path[-1] == "enabled" and error.validator_value is True:
            return messages.CORE_ALWAYS_ON
        if kind in ("minProperties", "maxProperties") and is_secret(schema):
            return messages.SECRET_ONE_SOURCE
        secret = is_secret(schema) or self.under_secret(path, start)
        return messages.schema_error(error, secret=secret)

    # ------------------------------------------------------------ what a form shows

    def settings(self, schema: Schema, parent: tuple[str, ...] = ()) -> tuple[Setting, ...]:
        """The properties of an object schema, as a form shows them, in the schema's order."""
        resolved = self.resolve(schema)
        required = set(resolved.get("required", ()))
        return tuple(
            Setting(self, (*parent, key), self.resolve(raw), required=key in required)
            for key, raw in resolved.get("properties", {}).items()
        )


def field_kind(schema: Schema) -> FieldKind:
    """Which control edits a (resolved) property schema."""
    if is_secret(schema):
        return "secret"
    if "const" in schema:
        return "const"
    if "enum" in schema:
        return "enum"
    kind = schema.get("type")
    if kind == "object" and "properties" in schema:
        return "object"
    if kind == "array" and schema.get("items", {}).get("type") in ("string", "integer", "number"):
        return "list"
    if kind == "boolean":
        return "boolean"
    if kind == "integer":
        return "integer"
    if kind == "number":
        return "number"
    if kind == "string":
        return "string"
    return "yaml"


class Setting:
    """One property of an object schema as a form shows it: what it is, its words, its default,
    and the one validation `validate` does too (the same messages)."""

    def __init__(self, reader: SchemaReader, path: tuple[str, ...], schema: Schema, *, required: bool) -> None:
        self.reader = reader
        self.path = path
        self.schema: dict[str, Any] = dict(schema)
        self.required = required
        self.kind = field_kind(self.schema)

    @property
    def key(self) -> str:
        return self.path[-1]

    @property
    def description(self) -> str:
        return str(self.schema.get("description", ""))

    @property
    def default(self) -> object:
        """The schema's default (a fresh copy), or UNSET."""
        if self.kind == "const":
            return self.schema["const"]
        return copy.deepcopy(self.schema["default"]) if "default" in self.schema else UNSET

    @property
    def choices(self) -> tuple[object, ...]:
        return tuple(self.schema.get("enum", ()))

    @property
    def item_type(self) -> str:
        """The type of a list's items (string, integer, number)."""
        return str(self.schema.get("items", {}).get("type", "string"))

    @property
    def password_rules(self) -> Mapping[str, Any] | None:
        rules = self.schema.get("x-passwordRules")
        return rules if isinstance(rules, Mapping) else None

    @property
    def generated_when_empty(self) -> bool:
        """Whether the installer generates this secret when none is given (passwords; an API token not)."""
        return "generated" in self.description.lower()

    def password_problem(self, value: str, settings: Mapping[str, object]) -> str | None:
        """Why the component would refuse `value` as this secret (`x-passwordRules`), given the
        settings beside it (a password policy, a user name); `validate` asks the same."""
        return password_problem(self.password_rules, value, settings)

    @staticmethod
    def password_warning(value: str) -> str | None:
        """A weak typed password: said before the install, not refused."""
        return messages.password_warning(value)

    def yaml_example(self) -> str:
        """A one-line YAML shape for values without their own control (lists of objects)."""
        items = self.schema.get("items", {})
        if self.schema.get("type") == "array" and items.get("type") == "object":
            keys = items.get("required") or list(items.get("properties", {}))[:2]
            return "[{" + ", ".join(f"{k}: ..." for k in keys) + "}]"
        return ""

    def children(self) -> tuple[Setting, ...]:
        """The settings of a nested object."""
        return self.reader.settings(self.schema, self.path)

    @cached_property
    def _validator(self) -> Validator:
        return validator_for({**self.schema, "$defs": self.reader.root.get("$defs", {})})

    def missing(self) -> str:
        """What `validate` says when a required setting is left out."""
        return messages.missing_required(self.key)

    def problem(self, value: object) -> str | None:
        """What is wrong with `value` for this setting, as `validate` says it for the same value
        (a problem inside the value, such as a list item, is prefixed with where it is: `[1]: ...`)."""
        from jsonschema.exceptions import best_match

        typed: Any = value  # whatever was typed or read: checking its shape is the validator's job
        error = best_match(self._validator.iter_errors(typed))
        if error is None:
            return None
        issue = next(self.reader.explain(error, self.schema))
        where = format_path(issue.path) if issue.path else ""
        return f"{where}: {issue.message}" if where else issue.message

    def unreadable(self, text: str) -> str:
        """What is wrong with text that cannot be read as this setting's type: the message
        `validate` gives for the same text written in the answers file."""
        value: object = text
        if self.kind == "integer":
            value = _as_number(text, text)
        elif self.kind == "list":
            value = [_as_number(part.strip(), part.strip()) for part in text.split(",") if part.strip()]
        return self.problem(value) or messages.expected_type(self.schema.get("type"), value)


def _as_number(text: str, otherwise: object) -> object:
    """`text` as YAML reads a number (an integer or a float), else `otherwise`."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return otherwise
