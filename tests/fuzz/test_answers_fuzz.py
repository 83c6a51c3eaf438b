"""Mutated answers files never crash validation: every problem has a path and a line.

500 cases in the normal suite; `TK_FUZZ_EXAMPLES=5000` (or more) for the long run.
"""

import os
import time
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thinkube_tui.spec import AnswersError, parse_answers

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PER_TEST = max(1, int(os.environ.get("TK_FUZZ_EXAMPLES", "500")) // 3)

FULL = yaml.safe_load((EXAMPLES / "answers-full.yaml").read_text())
FULL_TEXT = (EXAMPLES / "answers-full.yaml").read_text()

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.text(alphabet="ÄéΩ😀\u202e\x00\t", max_size=5),
    st.just("x" * 5000),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, (*prefix, i))
    return out


ALL_PATHS = paths(FULL)


def mutate(doc: Any, path: tuple, action: str, value: Any, key: str) -> Any:
    if not path:
        return value
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "replace":
        parent[last] = value
    elif action == "delete":
        del parent[last]
    elif action == "add" and isinstance(parent[last], dict):
        parent[last][key] = value
    elif action == "rename" and isinstance(parent, dict):
        parent[key + str(last)] = parent.pop(last)
    return doc


def check(text: str) -> None:
    began = time.monotonic()
    try:
        parse_answers(text, "fuzz.yaml")
    except AnswersError as exc:
        assert exc.problems
        for p in exc.problems:
            assert p.json_path, p
            assert p.mark is not None and p.mark.line >= 1, p
    finally:
        assert time.monotonic() - began < 5, "validation took too long"


@settings(max_examples=PER_TEST, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from(ALL_PATHS),
    action=st.sampled_from(["replace", "delete", "add", "rename"]),
    value=values,
    key=st.text(min_size=1, max_size=10),
)
def test_structural_mutations(path, action, value, key):
    import copy

    doc = mutate(copy.deepcopy(FULL), path, action, value, key)
    check(yaml.safe_dump(doc, allow_unicode=True))


@settings(max_examples=PER_TEST, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_text_mutations(data):
    text = FULL_TEXT
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 20))
        insert = data.draw(
            st.sampled_from(
                [
                    "",
                    ":",
                    "- ",
                    "\t",
                    "  ",
                    "{",
                    "]",
                    "&a",
                    "*a",
                    "!!python/name:os.system",
                    "\n",
                    "<<: *a\n",
                    "'",
                    '"',
                    "#",
                    "\x00",
                    "key: value\n",
                    "é",
                ]
            )
        )
        text = text[:at] + insert + text[at + cut :]
    check(text)


# YAML-level attacks and oddities: duplicate keys, anchors and alias bombs, tags, huge values.
yaml_tricks = st.sampled_from(
    [
        "cluster:\n  domain: a.lan\n  domain: b.lan\n",
        "x: &a [1, 2]\ny: *a\nz: *a\n",
        "x: !!python/object/apply:os.system ['true']\n",
        "x: !!binary aGVsbG8=\n",
        "x: !custom 1\n",
        "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n",
        "k: " + "9" * 5000 + "\n",
        'k: "' + "\\u00e9" * 3000 + '"\n',
        "[" * 500 + "]" * 500 + "\n",
        "<<: {apiVersion: x}\n",
        "? [complex, key]\n: value\n",
        "--- a\n--- b\n",
        "\ufeffapiVersion: thinkube.io/v1alpha1\n",
    ]
)


@settings(max_examples=PER_TEST, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trick=yaml_tricks, where=st.integers(0, 40))
def test_yaml_tricks_anywhere(trick, where):
    lines = FULL_TEXT.splitlines(keepends=True)
    at = min(where, len(lines))
    check("".join(lines[:at]) + trick + "".join(lines[at:]))
    check(trick)
