"""The position-keeping YAML loader: marks, strictness, bombs."""

import pytest

from thinkube_tui import yamlpos
from thinkube_tui.yamlpos import Mark, YamlLoadError


def test_marks_point_at_values_and_keys():
    doc = yamlpos.load("a: 1\nnodes:\n  - name: x\n    port: 22\n")
    assert doc.data == {"a": 1, "nodes": [{"name": "x", "port": 22}]}
    assert doc.mark(("nodes", 0, "port")) == Mark(4, 11)
    assert doc.mark(("nodes", 0, "port"), key=True) == Mark(4, 5)
    # A path that does not exist falls back to its nearest ancestor.
    assert doc.mark(("nodes", 0, "missing")) == Mark(3, 5)


def test_duplicate_keys_are_errors_with_both_lines():
    with pytest.raises(YamlLoadError) as err:
        yamlpos.load("a: 1\nb: 2\na: 3\n")
    (problem,) = err.value.problems
    assert "duplicate key 'a'" in problem.message and "line 1" in problem.message
    assert problem.mark == Mark(3, 1)


def test_python_tags_are_refused_not_executed():
    with pytest.raises(YamlLoadError) as err:
        yamlpos.load("x: !!python/object/apply:os.system ['echo pwned']\n")
    assert "unsupported YAML tag" in str(err.value)


def test_alias_bomb_is_bounded():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        bomb += f"{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
    with pytest.raises(YamlLoadError) as err:
        yamlpos.load(bomb)
    assert "expands to more than" in str(err.value)


def test_syntax_error_has_a_position():
    with pytest.raises(YamlLoadError) as err:
        yamlpos.load("a: [1, 2\nb: 3\n")
    (problem,) = err.value.problems
    assert problem.message.startswith("YAML syntax")
    assert problem.mark is not None and problem.mark.line >= 2


def test_merge_keys_and_anchors_work():
    doc = yamlpos.load("base: &b {user: tk, port: 22}\nnode:\n  <<: *b\n  port: 2222\n")
    assert doc.data["node"] == {"user": "tk", "port": 2222}


def test_dates_stay_text_and_empty_file_is_an_error():
    assert yamlpos.load("d: 2026-11-25\n").data == {"d": "2026-11-25"}
    with pytest.raises(YamlLoadError, match="empty"):
        yamlpos.load("# only a comment\n")


def test_a_huge_integer_is_an_error_not_a_crash():
    with pytest.raises(YamlLoadError) as err:
        yamlpos.load("port: " + "9" * 5000 + "\n")
    (problem,) = err.value.problems
    assert problem.mark == Mark(1, 7) and "cannot read this value" in problem.message


# ---------------------------------------------------------------- libyaml and the pure-Python composer

needs_libyaml = pytest.mark.skipif(yamlpos._LIBYAML_LOADER is None, reason="PyYAML without libyaml")

# Documents libyaml reads differently from the pure-Python composer (found by comparing both):
# each must come out exactly as the pure-Python composer reads it.
DIVERGENT = [
    "a:\t1\n",  # libyaml takes a tab as a separator; PyYAML refuses it
    "a\tb: 1\n",
    "a: 1\nb: x\ufeffy\n",  # a BOM inside the text: libyaml counts it as a column
    "\ufeff\ufeffa: 1\n",
    "a:\nb: 1\n",  # empty value: PyYAML marks it after the ':', libyaml at the next token
    "nodes:\n  - name: x\n    host:\n    port: 22\n",
    "? a\n? b\n",
    "---",
    "a: |-#c\n  x\n",  # block-scalar header: libyaml takes a comment without a space before it
    "a: >\n  x\n",
    "{a: b?c}\n",  # '?' in a flow plain scalar: PyYAML ends the scalar there
    "[a?]\n",
    "a: [1, 2\nb: 3\n",  # refused by both: the message is PyYAML's
    "a: &x 1\nb: *y\n",
    "[" * 1200,  # libyaml's own nesting limit: PyYAML's reading (and message) stands
]


def _read(text: str) -> object:
    try:
        doc = yamlpos.load(text)
    except YamlLoadError as exc:
        return [(p.message, p.mark) for p in exc.problems]
    values = {path: doc.mark(path) for path in doc.values}
    keys = {path: doc.mark(path, key=True) for path in doc.keys}
    return (doc.data, values, keys)


def _mutations(seed: int, count: int) -> list[str]:
    """Answers files with a few random edits: most stay YAML, with marks in odd places."""
    import random
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "examples"
    bases = [(examples / name).read_text() for name in ("answers-full.yaml", "answers-minimal.yaml")]
    pieces = [
        "a",
        ":",
        ": ",
        " ",
        "\n",
        "\n  ",
        "- ",
        "[",
        "]",
        "{",
        "}",
        ",",
        "'",
        '"',
        "#",
        " #",
        "&x ",
        "*x",
        "!!str ",
        "? ",
        "?",
        "|",
        ">",
        "\r\n",
        "1",
        "~",
        "é",
        "😀",
        "\x85",
        "...",
        "---",
        "<<: ",
        "\t",
        "\ufeff",
    ]
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        text = rng.choice(bases)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(text) + 1)
            if rng.random() < 0.6:
                text = text[:at] + rng.choice(pieces) + text[at:]
            else:
                text = text[:at] + text[at + rng.randint(1, 4) :]
        out.append(text)
    return out


@needs_libyaml
@pytest.mark.parametrize("text", DIVERGENT + _mutations(15, 300))
def test_libyaml_reading_equals_the_pure_python_one(text, monkeypatch):
    fast = _read(text)
    monkeypatch.setattr(yamlpos, "_LIBYAML_LOADER", None)
    assert fast == _read(text)


@needs_libyaml
def test_an_ordinary_answers_file_is_read_from_libyamls_events(monkeypatch):
    from pathlib import Path

    import yaml

    composed = []
    compose = yaml.compose

    def spy(text, Loader):  # PyYAML names it so
        composed.append(Loader)
        return compose(text, Loader=Loader)

    monkeypatch.setattr(yaml, "compose", spy)
    text = (Path(__file__).resolve().parents[2] / "examples" / "answers-full.yaml").read_text()
    located = yamlpos.load(text)
    assert composed == []  # the pure-Python composer was not needed
    assert located.mark(("cluster", "name")) is not None
