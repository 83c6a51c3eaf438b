"""Every setting a component schema offers is read by an installer, and nothing restates a default.

A static check over the sources: a schema property counts as read when its name is used as a key
(`config["name"]`, `x.get("name")`) in the component's installer module or in a module of
`thinkube_tui.installers` that it imports (helpers, or another component's constants). A setting
that nothing reads is a promise the install does not keep: use it or take it out of the schema.
"""

from __future__ import annotations

import ast
import importlib.util
import json
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


def keys_read(source: str) -> set[str]:
    """String constants used as a mapping key: `x["k"]`, `x.get("k", ...)`, or handed to a function
    of the module itself that reads it (`need("project")`)."""
    tree = ast.parse(source)
    local = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            out.add(str(node.slice.value))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in local:
            out.update(str(a.value) for a in node.args if isinstance(a, ast.Constant))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            out.add(str(node.args[0].value))
    return out


CATALOG = load_catalog()


@pytest.mark.parametrize("component_id", CATALOG.ids)
def test_every_schema_setting_is_read_by_an_installer(component_id):
    read = set().union(*(keys_read(s) for s in sources_of(component_id)))
    unread = [
        key
        for key in schema_keys(CATALOG.schema(component_id))
        if key.rpartition(".")[2].removesuffix("[]") not in read and (component_id, key) not in READ_ELSEWHERE
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
    schema = json.loads('{"properties": {"used": {}, "nested": {"properties": {"inner": {}}}}}')
    assert list(schema_keys(schema)) == ["used", "nested", "nested.inner"]
