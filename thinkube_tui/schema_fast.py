"""A fast yes for the common case: schemas compiled into plain predicates that say "valid".

jsonschema spends most of `validate`'s time on a large answers file walking a thousand nodes
keyword by keyword, though nearly all of them are fine. `compile_check` turns a schema made of
the simple keywords the answers schema uses into a predicate; `schema.validator_for` asks it
first at every `$ref` and lets jsonschema validate (and explain) only what it does not accept.

The one rule that keeps this sound: a predicate returns True only when jsonschema would find
nothing wrong. Where it is unsure (a float where an integer is asked, a keyword it does not
know) it says False and jsonschema decides, so results and messages never change, only time.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]
Schema = Mapping[str, Any]

# Keywords that assert nothing (annotations) -- and vendor extensions (`x-...`).
ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "$defs", "title", "description", "default", "examples", "deprecated", "readOnly"}
    | {"writeOnly"}
)


class Unsupported(Exception):
    """The schema uses something this compiler does not decide: no fast check for it."""


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: object) -> bool:
    return _is_int(x) or (isinstance(x, float) and x == x and x not in (float("inf"), float("-inf")))


_TYPES: dict[str, Check] = {
    "string": lambda x: isinstance(x, str),
    "integer": _is_int,  # a float such as 1.0 is left to jsonschema
    "number": _is_number,
    "boolean": lambda x: isinstance(x, bool),
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "null": lambda x: x is None,
}


class Compiler:
    """Compiles the subschemas of one root document (where its local `$ref`s point)."""

    def __init__(self, root: Schema, pattern: Callable[[str], re.Pattern[str]]) -> None:
        self.root, self.pattern = root, pattern
        self._refs: dict[str, Check | None] = {}

    def for_ref(self, ref: str) -> Check | None:
        """The check of the local `$ref` target, or None when it cannot be compiled."""
        if ref not in self._refs:
            self._refs[ref] = None  # a reference to itself while compiling: not decided here
            with contextlib.suppress(Unsupported):
                self._refs[ref] = self.compile(self._target(ref))
        return self._refs[ref]

    def _target(self, ref: str) -> Schema:
        if not ref.startswith("#/"):
            raise Unsupported(ref)
        node: Any = self.root
        for part in ref[2:].split("/"):
            if not isinstance(node, Mapping) or part not in node:
                raise Unsupported(ref)
            node = node[part]
        if not isinstance(node, Mapping):
            raise Unsupported(ref)
        return node

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return lambda _x: True
        if not isinstance(schema, Mapping):
            raise Unsupported(repr(schema))
        checks: list[Check] = []
        for key, value in schema.items():
            if key in ANNOTATIONS or key.startswith("x-"):
                continue
            make = getattr(self, "_kw_" + key.lstrip("$"), None)
            if make is None or key in ("then", "else"):  # if/then/else are compiled together
                if key in ("then", "else") and "if" in schema:
                    continue
                raise Unsupported(key)
            checks.append(make(value, schema))
        if not checks:
            return lambda _x: True
        if len(checks) == 1:
            return checks[0]
        every = tuple(checks)

        def check_all(x: object) -> bool:
            for check in every:  # noqa: SIM110 -- a plain loop: all() over a generator costs twice as much
                if not check(x):
                    return False
            return True

        return check_all

    # ---------------------------------------------------------------- keywords

    def _kw_ref(self, ref: str, _schema: Schema) -> Check:
        self._target(ref)  # unsupported at once if it points nowhere we can read
        compiler = self

        resolved: list[Check] = []

        def check(x: object) -> bool:
            if not resolved:  # compiled on first use: a schema may refer to itself
                target = compiler.for_ref(ref)
                if target is None:
                    return False
                resolved.append(target)
            return resolved[0](x)

        return check

    def _kw_type(self, value: Any, _schema: Schema) -> Check:
        names = [value] if isinstance(value, str) else list(value)
        try:
            tests = [_TYPES[n] for n in names]
        except (KeyError, TypeError):
            raise Unsupported(f"type {value!r}") from None
        if len(tests) == 1:
            return tests[0]
        return lambda x: any(t(x) for t in tests)

    def _kw_enum(self, values: Any, _schema: Schema) -> Check:
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise Unsupported("enum of other than strings")  # jsonschema's equality of 1/True/1.0
        allowed = frozenset(values)
        return lambda x: isinstance(x, str) and x in allowed

    def _kw_const(self, value: Any, _schema: Schema) -> Check:
        if not isinstance(value, str):
            raise Unsupported("const of other than a string")
        return lambda x: isinstance(x, str) and x == value

    def _kw_pattern(self, pattern: str, _schema: Schema) -> Check:
        search = self.pattern(pattern).search
        return lambda x: not isinstance(x, str) or search(x) is not None

    def _kw_minLength(self, n: int, _schema: Schema) -> Check:
        return lambda x: not isinstance(x, str) or len(x) >= n

    def _kw_maxLength(self, n: int, _schema: Schema) -> Check:
        return lambda x: not isinstance(x, str) or len(x) <= n

    def _bound(self, holds: Callable[[float], bool]) -> Check:
        # Bounds apply to numbers only (a bool is not one); NaN and the infinities go to jsonschema.
        return lambda x: holds(x) if _is_number(x) else not isinstance(x, float)

    def _kw_minimum(self, n: float, _schema: Schema) -> Check:
        return self._bound(lambda x: x >= n)

    def _kw_maximum(self, n: float, _schema: Schema) -> Check:
        return self._bound(lambda x: x <= n)

    def _kw_exclusiveMinimum(self, n: float, _schema: Schema) -> Check:
        return self._bound(lambda x: x > n)

    def _kw_exclusiveMaximum(self, n: float, _schema: Schema) -> Check:
        return self._bound(lambda x: x < n)

    def _kw_required(self, names: list[str], _schema: Schema) -> Check:
        wanted = frozenset(names)
        return lambda x: not isinstance(x, dict) or x.keys() >= wanted

    def _kw_properties(self, props: Mapping[str, Any], _schema: Schema) -> Check:
        compiled = {name: self.compile(sub) for name, sub in props.items()}

        def check(x: object) -> bool:
            if not isinstance(x, dict):
                return True
            for name, value in x.items():
                sub = compiled.get(name)
                if sub is not None and not sub(value):
                    return False
            return True

        return check

    def _kw_additionalProperties(self, extra: Any, schema: Schema) -> Check:
        if "patternProperties" in schema:
            raise Unsupported("patternProperties")
        known = frozenset(schema.get("properties", {}))
        if extra is False:
            return lambda x: not isinstance(x, dict) or known.issuperset(x)
        sub = self.compile(extra)
        return lambda x: not isinstance(x, dict) or all(k in known or sub(v) for k, v in x.items())

    def _kw_propertyNames(self, names: Any, _schema: Schema) -> Check:
        sub = self.compile(names)
        return lambda x: not isinstance(x, dict) or all(sub(k) for k in x)

    def _kw_items(self, items: Any, schema: Schema) -> Check:
        if "prefixItems" in schema or not isinstance(items, Mapping | bool):
            raise Unsupported("prefixItems")
        sub = self.compile(items)

        def check(x: object) -> bool:
            if isinstance(x, list):
                for item in x:
                    if not sub(item):
                        return False
            return True

        return check

    def _kw_minProperties(self, n: int, _schema: Schema) -> Check:
        return lambda x: not isinstance(x, dict) or len(x) >= n

    def _kw_maxProperties(self, n: int, _schema: Schema) -> Check:
        return lambda x: not isinstance(x, dict) or len(x) <= n

    def _kw_minItems(self, n: int, _schema: Schema) -> Check:
        return lambda x: not isinstance(x, list) or len(x) >= n

    def _kw_maxItems(self, n: int, _schema: Schema) -> Check:
        return lambda x: not isinstance(x, list) or len(x) <= n

    def _kw_allOf(self, subs: list[Any], _schema: Schema) -> Check:
        compiled = [self.compile(s) for s in subs]
        return lambda x: all(c(x) for c in compiled)

    def _kw_if(self, condition: Any, schema: Schema) -> Check:
        # `if` decides which branch applies: it must be exact both ways, so only a condition
        # that is a `properties` of `const`/`enum` strings (and `required`) is compiled.
        test = self._exact_condition(condition)
        then = self.compile(schema.get("then", True))
        otherwise = self.compile(schema.get("else", True))
        return lambda x: then(x) if test(x) else otherwise(x)

    def _exact_condition(self, condition: Any) -> Check:
        if not isinstance(condition, Mapping) or set(condition) - {"properties", "required"} - ANNOTATIONS:
            raise Unsupported("if")
        props = condition.get("properties", {})
        for sub in props.values():
            if not isinstance(sub, Mapping) or set(sub) - {"const", "enum"} - ANNOTATIONS:
                raise Unsupported("if")
        # const/enum of strings, required and properties are exact both ways (True iff valid).
        return self.compile(condition)
