"""The lab's modules depend one way: no import circle, and no import hidden in a function to
dodge one. Annotation-only imports (under `if TYPE_CHECKING:`) are not run and not counted."""

from __future__ import annotations

import ast
from pathlib import Path

import thinkube_lab

PACKAGE = Path(thinkube_lab.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    if node.level == 0:
        base = node.module or ""
    else:
        parts = module.split(".") if is_package else module.split(".")[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join([*parts, node.module] if node.module else parts)
    # `from . import x` imports the submodule x when there is one
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in paths}
    hidden: list[str] = []
    for name, path in paths.items():
        tree = ast.parse(path.read_text(), str(path))
        parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            targets = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else _resolve(name, path.name == "__init__.py", node)
            )
            inside = {t for t in targets if t in paths and t != name}
            if not inside:
                continue
            above, in_function, for_types = parents.get(node), False, False
            while above is not None:
                in_function |= isinstance(above, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                for_types |= isinstance(above, ast.If) and _is_type_checking(above)
                above = parents.get(above)
            if in_function:
                hidden.append(f"{name}:{node.lineno} imports {sorted(inside)}")
            elif not for_types:
                graph[name] |= inside
    # a package's own __init__ is what importing a submodule runs first, not a dependency of it
    for name in graph:
        graph[name] -= {p for p in graph if name.startswith(p + ".")}
    return graph, hidden


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_circle_in_the_lab() -> None:
    graph, _ = _graph()
    assert len(graph) > 20 and graph["thinkube_lab.cluster"]  # the walk found the modules and their imports
    assert _cycle(graph) is None


def test_no_lab_import_hidden_in_a_function() -> None:
    _, hidden = _graph()
    assert hidden == []


def test_the_check_sees_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_one_module_per_simulated_operator() -> None:
    from thinkube_lab.controllers import OPERATORS

    modules = {reconcile.__module__ for _, reconcile in OPERATORS}
    assert len(modules) == len(OPERATORS) == 8
    assert all(m.startswith("thinkube_lab.operators.") for m in modules)
