"""The package's layers, read from its source with `ast` (no import is executed).

- No import circle between modules of `thinkube_tui` (the lab's own: tests/lab/test_layers.py).
- Screens and widgets never import the app: they get a context and post messages.
- Only the Textual face (`app.py`, `screens/`, `widgets/`) imports Textual.
- The product never imports the lab, except its one loader, and that only inside a function
  (the product must import and run without the lab installed).

Imports are read at module level and inside functions and classes: a function-level import is
still an arrow between two modules, it only hides a circle from Python. Imports under
`if TYPE_CHECKING:` never run, so they make no circle; they do count for the layer rules, since
a screen that needs the app's type depends on the app all the same.

Every violation is listed (file:line, and each circle with its chain), not only the first.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = "thinkube_tui"
LAB_PACKAGES = ("thinkube_lab", "thinkube_tui.lab")  # the lab, and where it was inside the product
TEXTUAL_FACE = ("thinkube_tui.app", "thinkube_tui.screens", "thinkube_tui.widgets")
SCREENS_AND_WIDGETS = ("thinkube_tui.screens", "thinkube_tui.widgets")

# The modules allowed to load the lab, each with why. They may import it only inside a function,
# so that the product imports without the lab installed (and says how to get it when asked for).
LAB_LOADERS = {
    # The one loader: `--demo` and `lab up|serve` get the simulated cluster through it.
    "thinkube_tui.lab_loader": "loads the demo lab lazily, naming it when absent",
}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # what is imported, absolute: a module, or a name in one (`textual.app.App` -> `textual.app`)
    file: str  # relative to the directory holding the package
    line: int
    type_only: bool  # under `if TYPE_CHECKING:`
    in_function: bool

    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Package:
    """A package's modules (dotted name -> file) and every import they make."""

    name: str
    root: Path  # the directory holding the package's directory
    modules: dict[str, Path]
    imports: tuple[Import, ...]

    def module_of(self, target: str) -> str | None:
        """The package's module `target` names (itself, or the module holding the name)."""
        parts = target.split(".")
        while parts:
            name = ".".join(parts)
            if name in self.modules:
                return name
            parts.pop()
        return None


def read_package(root: Path, name: str) -> Package:
    base = root / name.replace(".", "/")
    modules: dict[str, Path] = {}
    for path in sorted(base.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    imports: list[Import] = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        file = path.relative_to(root).as_posix()
        reader = _ImportReader(module, file, is_package=path.name == "__init__.py", modules=modules)
        reader.visit(tree)
        imports.extend(reader.imports)
    return Package(name, root, modules, tuple(imports))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _ImportReader(ast.NodeVisitor):
    def __init__(self, module: str, file: str, *, is_package: bool, modules: dict[str, Path]) -> None:
        self.module, self.file, self.modules = module, file, modules
        self.package = module if is_package else module.rpartition(".")[0]
        self.imports: list[Import] = []
        self._type_only = False
        self._functions = 0

    def _add(self, target: str, node: ast.stmt | ast.expr) -> None:
        self.imports.append(
            Import(self.module, target, self.file, node.lineno, self._type_only, in_function=self._functions > 0)
        )

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        saved, self._type_only = self._type_only, True
        for statement in node.body:
            self.visit(statement)
        self._type_only = saved
        for statement in node.orelse:
            self.visit(statement)

    def _in_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self._functions += 1
        self.generic_visit(node)
        self._functions -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _in_function

    def visit_Call(self, node: ast.Call) -> None:
        # `importlib.import_module("thinkube_lab.cluster")` is an import too (the lab's loader may use it).
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        first = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
        if name in ("import_module", "__import__") and isinstance(first, str) and not first.startswith("."):
            self._add(first, node)
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            parts = self.package.split(".")
            base = ".".join(parts[: len(parts) - (node.level - 1)])
            base = f"{base}.{node.module}" if node.module else base
        else:
            base = node.module or ""
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            # `from pkg import mod` imports the module `pkg.mod`; `from mod import name`, the module `mod`.
            self._add(submodule if alias.name != "*" and submodule in self.modules else base, node)


def _within(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


# ---------------------------------------------------------------- the rules


def circles(package: Package) -> list[str]:
    """Each group of modules that import each other (runtime imports), with its shortest chain and
    every import that holds it together."""
    edges: dict[str, dict[str, Import]] = {m: {} for m in package.modules}
    for imp in package.imports:
        target = package.module_of(imp.target)
        if target is not None and target != imp.source and not imp.type_only:
            edges[imp.source].setdefault(target, imp)
    found = []
    for group in _strongly_connected(edges):
        if len(group) < 2:
            continue
        members = set(group)
        start = min(group)
        chain = _shortest_cycle(start, members, edges)
        hops = " -> ".join(f"{a} ({edges[a][b].where()})" for a, b in pairwise(chain))
        held = sorted(
            f"    {imp.where()}: {src} -> {dst}{' (in a function)' if imp.in_function else ''}"
            for src in group
            for dst, imp in edges[src].items()
            if dst in members
        )
        found.append(
            f"circle of {len(group)} modules: {', '.join(sorted(group))}\n"
            f"  shortest chain: {hops} -> {start}\n  imports inside it:\n" + "\n".join(held)
        )
    return found


def _strongly_connected(edges: dict[str, dict[str, Import]]) -> Iterator[list[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                yield group


def _shortest_cycle(start: str, members: set[str], edges: dict[str, dict[str, Import]]) -> list[str]:
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(edges[node]):
            if nxt not in members:
                continue
            if nxt == start:
                chain = [node]
                while chain[-1] != start:
                    chain.append(came_from[chain[-1]])
                return [*reversed(chain), start]
            if nxt not in came_from:
                came_from[nxt] = node
                queue.append(nxt)
    raise AssertionError(f"{start} is in a circle but none leads back to it")


def screens_importing_the_app(package: Package) -> list[str]:
    return [
        f"{imp.where()}: {imp.source} imports {imp.target}: screens and widgets get a context and post messages"
        for imp in package.imports
        if _within(imp.source, SCREENS_AND_WIDGETS) and package.module_of(imp.target) == "thinkube_tui.app"
    ]


def textual_outside_the_face(package: Package) -> list[str]:
    return [
        f"{imp.where()}: {imp.source} imports {imp.target}: only app.py, screens/ and widgets/ use Textual"
        for imp in package.imports
        if _within(imp.target, ("textual",)) and not _within(imp.source, TEXTUAL_FACE)
    ]


def product_importing_the_lab(package: Package, loaders: dict[str, str] = LAB_LOADERS) -> list[str]:
    found = []
    for imp in package.imports:
        if _within(imp.source, LAB_PACKAGES) or not _within(imp.target, LAB_PACKAGES):
            continue
        if imp.source in loaders and imp.in_function:
            continue
        why = (
            "a loader imports the lab inside a function only" if imp.source in loaders else "the lab is no product code"
        )
        found.append(f"{imp.where()}: {imp.source} imports {imp.target}: {why}")
    return found


def _report(violations: list[str], rule: str) -> str:
    return f"{len(violations)} {rule}:\n" + "\n".join(violations)


# ---------------------------------------------------------------- the checks on this repository


@pytest.fixture(scope="module")
def product() -> Package:
    return read_package(ROOT, PRODUCT)


def test_no_import_circle_in_the_product(product: Package) -> None:
    found = circles(product)
    assert not found, _report(found, "import circle(s) in thinkube_tui")


def test_screens_and_widgets_never_import_the_app(product: Package) -> None:
    found = screens_importing_the_app(product)
    assert not found, _report(found, "upward import(s)")


def test_only_the_textual_face_imports_textual(product: Package) -> None:
    found = textual_outside_the_face(product)
    assert not found, _report(found, "Textual import(s) outside the face")


def test_the_product_never_imports_the_lab(product: Package) -> None:
    found = product_importing_the_lab(product)
    assert not found, _report(found, "lab import(s) in the product")


def test_every_lab_loader_exists(product: Package) -> None:
    """An allowlist entry for a module that is gone would let its successor pass unseen."""
    assert set(LAB_LOADERS) <= set(product.modules)


# ---------------------------------------------------------------- the checker itself


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_checker_finds_circles_through_function_level_imports(tmp_path: Path) -> None:
    package = read_package(
        _write(
            tmp_path,
            {
                "thinkube_tui/__init__.py": "",
                "thinkube_tui/a.py": "from .b import thing\n",
                "thinkube_tui/b.py": "def thing():\n    from . import c\n",
                "thinkube_tui/c.py": "import thinkube_tui.a\n",
                "thinkube_tui/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .e import E\n",
                "thinkube_tui/e.py": "from .d import D\n",  # d -> e is type-only: no circle
                "thinkube_tui/f.py": "from .g import x\n",
                "thinkube_tui/g.py": "from . import f\n",
            },
        ),
        "thinkube_tui",
    )
    found = circles(package)
    assert len(found) == 2, found
    assert "thinkube_tui.a, thinkube_tui.b, thinkube_tui.c" in found[0] + found[1]
    assert "thinkube_tui/b.py:2: thinkube_tui.b -> thinkube_tui.c (in a function)" in "".join(found)
    assert "thinkube_tui.f (thinkube_tui/f.py:1) -> thinkube_tui.g (thinkube_tui/g.py:1) -> thinkube_tui.f" in "".join(
        found
    )
    assert not any("thinkube_tui.d" in text for text in found)


def test_the_checker_finds_every_upward_import(tmp_path: Path) -> None:
    package = read_package(
        _write(
            tmp_path,
            {
                "thinkube_tui/__init__.py": "",
                "thinkube_tui/app.py": "from textual.app import App\n",
                "thinkube_tui/screens/__init__.py": "",
                "thinkube_tui/screens/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..app import X\n",
                "thinkube_tui/screens/b.py": "def f():\n    from .. import app\n",
                "thinkube_tui/widgets/__init__.py": "from textual.widget import Widget\n",
                "thinkube_tui/engine.py": "import textual\ndef f():\n    from textual.message import Message\n",
                "thinkube_tui/lab/__init__.py": "",
                "thinkube_tui/lab/cluster.py": "",
                "thinkube_tui/loader.py": "from .lab.cluster import Lab\ndef f():\n    import thinkube_lab\n",
                "thinkube_tui/other.py": "def f():\n    from .lab import cluster\n",
                "thinkube_tui/sneaky.py": "import importlib\nLAB = importlib.import_module('thinkube_lab.nodes')\n",
            },
        ),
        "thinkube_tui",
    )
    assert [v.split(":")[0:2] for v in screens_importing_the_app(package)] == [
        ["thinkube_tui/screens/a.py", "3"],
        ["thinkube_tui/screens/b.py", "2"],
    ]
    assert [v.split(":")[0:2] for v in textual_outside_the_face(package)] == [
        ["thinkube_tui/engine.py", "1"],
        ["thinkube_tui/engine.py", "3"],
    ]
    lab = product_importing_the_lab(package, loaders={"thinkube_tui.loader": "test"})
    assert [v.split(":")[0:2] for v in lab] == [
        ["thinkube_tui/loader.py", "1"],
        ["thinkube_tui/other.py", "2"],
        ["thinkube_tui/sneaky.py", "2"],
    ]
