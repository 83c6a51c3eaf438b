"""The position-keeping YAML loader: marks, strictness, bombs."""

import pytest

from thinkube_tui import yamlpos
from thinkube_tui.yamlpos import Mark, YamlLoadError


def test_marks_point_at_values_and_keys():
    doc = yamlpos.load("a: 1\nnodes:\n  - name: x\n    port: 22\n")
    assert doc.data == {"a": 1, "nodes": [{"name": "x", "port": 22}]}
    assert doc.values[("nodes", 0, "port")] == Mark(4, 11)
    assert doc.keys[("nodes", 0, "port")] == Mark(4, 5)
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
