"""The lab stays beside the product: the wheel an operator installs has none of it, and the
commands that need it say how to get it when it is missing."""

from __future__ import annotations

import ast
import email
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Blocks the lab the way an install without it would, then runs the real entry point.
WITHOUT_LAB = """
import sys
sys.modules["thinkube_lab"] = None  # ImportError for thinkube_lab and everything under it
sys.argv = ["thinkube-tui", *sys.argv[1:]]
from thinkube_tui.cli import entry
entry()
"""


def run_without_lab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_LAB, *args], capture_output=True, text=True, timeout=60, cwd=ROOT
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The root wheel, built offline from a copy of the tree (a stale build/ left by an older
    layout would otherwise end up in it)."""
    tree, out = tmp_path_factory.mktemp("tree") / "thinkube-tui", tmp_path_factory.mktemp("wheel")
    skip = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache")
    shutil.copytree(ROOT, tree, ignore=skip)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        cwd=tree,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (found,) = out.glob("thinkube_tui-*.whl")
    return found


def test_the_wheel_holds_no_lab(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        metadata = email.message_from_bytes(whl.read(next(n for n in names if n.endswith(".dist-info/METADATA"))))
    assert any(n.startswith("thinkube_tui/") for n in names)
    lab = [n for n in names if n.startswith(("thinkube_lab/", "lab/", "thinkube_tui/lab/"))]
    assert lab == []
    requires = [r.split(";")[0].strip().lower() for r in metadata.get_all("Requires-Dist") or []]
    assert requires and not [r for r in requires if r.startswith("kubernetes-validate")]


@pytest.mark.parametrize(
    "args, what",
    [
        (["--demo"], "`thinkube-tui --demo`"),
        (["--demo", "--answers", "examples/answers-full.yaml"], "`thinkube-tui --demo`"),
        (["lab", "up"], "`thinkube-tui lab up`"),
        (["lab", "serve"], "`thinkube-tui lab serve`"),
    ],
)
def test_without_the_lab_the_demo_says_how_to_get_it(args: list[str], what: str, tmp_path: Path) -> None:
    out = run_without_lab(*args, "--state-dir", str(tmp_path / "state"))
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith(f"thinkube-tui: {what} needs the lab")
    assert "not installed here (no module `thinkube_lab`)" in out.stderr and "pip install -e ./lab" in out.stderr
    assert "make demo" in out.stderr and "Traceback" not in out.stderr and out.stdout == ""
    assert not (tmp_path / "state").exists()  # refused before anything was started or written


def test_without_the_lab_the_rest_works(tmp_path: Path) -> None:
    out = run_without_lab("validate", "examples/answers-full.yaml")
    assert out.returncode == 0, out.stderr
    out = run_without_lab("lab", "down", "--state-dir", str(tmp_path))
    assert out.returncode == 0 and "no lab runs" in out.stdout


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_the_product_never_imports_the_lab() -> None:
    """Only `lab_loader` names it, as a string for importlib, when a command needs it."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "thinkube_tui").rglob("*.py"))
        if any(name.split(".")[0] == "thinkube_lab" for name in _imports(path))
    ]
    assert offenders == []
    assert not (ROOT / "thinkube_tui" / "lab").exists()
    mentions = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "thinkube_tui").rglob("*.py"))
        if "thinkube_lab" in path.read_text()
    ]
    assert mentions == ["thinkube_tui/lab_loader.py"]
