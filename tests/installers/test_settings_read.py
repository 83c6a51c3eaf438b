"""Every setting a component schema offers is read by an installer, and nothing restates a default.

A static check over the sources of the component's installer module and of every module of
`thinkube_tui.installers` it imports (helpers, or another component's): a top-level setting counts
as read when its name is a key read from a component's settings (`ctx.config["name"]`,
`spec.components[...].config["name"]`, `c.get("name")` after `c = ctx.config`); a nested one
when its name is read as a key anywhere there. A setting that nothing reads is a promise the
install does not keep: use it or take it out of the schema.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from thinkube_tui.catalog import load_catalog
from thinkube_tui.installers import module_name

PACKAGE = "thinkube_tui.installers"

#: Settings consumed outside the installers, each with where and why.
READ_ELSEWHERE: dict[tuple[str, str], str] = {}


def schema_keys(schema: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted names of every property, through nested objects and arrays of objects."""
    for name, sub in schema.get("properties", {}).items():
        yield f"{prefix}{name}"
        yield from schema_keys(sub, f"{prefix}{name}.")
        if isinstance(sub.get("items"), dict):
            yield from schema_keys(sub["items"], f"{prefix}{name}[].")


@cache
def module_source(name: str) -> tuple[str, tuple[str, ...]]:
    """(source, modules of the installers package it imports) of module `name`."""
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin is not None, name
    source = Path(spec.origin).read_text()
    package = name if spec.origin.endswith("__init__.py") else name.rpartition(".")[0]
    imported = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
            if base.startswith(PACKAGE):
                imported.append(base)
    return source, tuple(imported)


def sources_of(component_id: str) -> list[str]:
    """The component's installer module and every installers module it imports, transitively."""
    seen: dict[str, str] = {}
    todo = [module_name(component_id)]
    while todo:
        name = todo.pop()
        if name in seen or name == PACKAGE:
            continue
        seen[name], imported = module_source(name)
        todo.extend(imported)
    return list(seen.values())


CONFIG = re.compile(r"(^|\.)config$")  # ctx.config, spec.components[...].config, config


def keys_read(source: str, *, from_config: bool = False) -> set[str]:
    """String constants used as a mapping key: `x["k"]`, `x.get("k", ...)`, or handed to a function
    of the module itself that reads it (`need("project")`).

    With `from_config`, only keys read from a component's settings count: from an expression
    ending in `.config` or from a name assigned one (`c = ctx.config`).
    """
    tree = ast.parse(source)
    local = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    aliases = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and CONFIG.search(ast.unparse(node.value))
        for target in node.targets
        if isinstance(target, ast.Name)
    }

    def settings(receiver: ast.expr) -> bool:
        text = ast.unparse(receiver)
        return not from_config or bool(CONFIG.search(text)) or text in aliases

    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and settings(node.value):
            out.add(str(node.slice.value))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in local:
            if not from_config:
                out.update(str(a.value) for a in node.args if isinstance(a, ast.Constant))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and settings(node.func.value)
        ):
            out.add(str(node.args[0].value))
    return out


CATALOG = load_catalog()


@pytest.mark.parametrize("component_id", CATALOG.ids)
def test_every_schema_setting_is_read_by_an_installer(component_id):
    sources = sources_of(component_id)
    top = set().union(*(keys_read(s, from_config=True) for s in sources))  # ctx.config["k"]
    nested = set().union(*(keys_read(s) for s in sources))  # ts["replicas"], need("project")
    unread = [
        key
        for key in schema_keys(CATALOG.schema(component_id))
        if key.rpartition(".")[2].removesuffix("[]") not in (nested if "." in key else top)
        and (component_id, key) not in READ_ELSEWHERE
    ]
    assert not unread, f"{component_id}: settings no installer reads: {', '.join(unread)}"


def test_allowlist_names_real_settings():
    for component_id, key in READ_ELSEWHERE:
        assert key in set(schema_keys(CATALOG.schema(component_id))), (component_id, key)


def test_keycloak_k8s_oidc_offers_no_client_id():
    # The client is always named after the component (support.keycloak.oidc_client_for).
    assert "clientId" not in CATALOG.schema("keycloak-k8s-oidc")["properties"]


def test_the_check_sees_an_unread_setting(tmp_path):
    source = (
        "def need(key):\n    return key\n"
        'def f(ctx):\n    return ctx.config["used"], ctx.config.get("alsoUsed", 1), need("viaHelper"), str("no")\n'
    )
    assert keys_read(source) == {"used", "alsoUsed", "viaHelper"}
    assert keys_read(source, from_config=True) == {"used", "alsoUsed"}
    elsewhere = 'def f(clients, ctx):\n    c = ctx.config\n    return [x.get("clientId") for x in clients], c["mine"]\n'
    assert keys_read(elsewhere, from_config=True) == {"mine"}
    schema = json.loads('{"properties": {"used": {}, "nested": {"properties": {"inner": {}}}}}')
    assert list(schema_keys(schema)) == ["used", "nested", "nested.inner"]


def restated_defaults(source: str, schema: dict[str, Any]) -> list[str]:
    """`ctx.config.get("k", default)` (or `.get("k")`) where the schema gives `k` a default the
    Spec has filled in already: read it as `ctx.config["k"]`."""
    defaulted = {k for k, sub in schema.get("properties", {}).items() if "default" in sub and "$ref" not in sub}
    tree = ast.parse(source)
    aliases = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and CONFIG.search(ast.unparse(node.value))
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in defaulted
            and (CONFIG.search(ast.unparse(node.func.value)) or ast.unparse(node.func.value) in aliases)
        ):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("component_id", CATALOG.ids)
def test_no_installer_restates_a_default_the_spec_applied(component_id):
    source, _ = module_source(module_name(component_id))
    assert restated_defaults(source, CATALOG.schema(component_id)) == []


def test_the_check_sees_a_restated_default():
    source = (
        'def f(ctx):\n    c = ctx.config\n    return ctx.config.get("a", 1), c.get("b"), c.get("free", 2), c["a"]\n'
    )
    schema = {"properties": {"a": {"default": 1}, "b": {"default": 2}, "free": {}}}
    assert restated_defaults(source, schema) == ["line 3: ctx.config.get('a', 1)", "line 3: c.get('b')"]
