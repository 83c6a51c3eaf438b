"""The Configure form and `validate` read the schemas through one reader, so the same bad value
gets the same words in both: typed into the form's field, or written into an answers file."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from textual.widgets import Input

from thinkube_tui.schema import answers_schema
from thinkube_tui.screens.configure import settings_schema
from thinkube_tui.spec import AnswersError, parse_answers
from thinkube_tui.widgets import SchemaForm
from thinkube_tui.yamlpos import format_path

from .widget_harness import WidgetHarness

MINIMAL = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples" / "answers-minimal.yaml").read_text())
SIZE = (100, 40)
MISSING = object()


def validate_says(path: tuple[str | int, ...], value: object) -> dict[str, str]:
    """Every problem `validate` reports (json path -> message) for the minimal example with `value`
    written at `path` (MISSING: the key left out)."""
    data: Any = copy.deepcopy(MINIMAL)
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {}) if isinstance(part, str) else node[part]
    if value is MISSING:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    with pytest.raises(AnswersError) as err:
        parse_answers(yaml.safe_dump(data, sort_keys=False), "answers.yaml")
    return {p.json_path: p.message for p in err.value.problems}


def configure_form(section: tuple[str, ...]) -> SchemaForm:
    """The form Configure shows for `("cluster",)` or `("components", ID)`."""
    root = answers_schema()
    if section == ("cluster",):
        return SchemaForm(root["$defs"]["cluster"], root=root, path=section, id="form")
    fragment = root["properties"]["components"]["properties"][section[1]]
    return SchemaForm(settings_schema(fragment), root=root, path=section, secret_prefix=section[1], id="form")


async def form_says(section: tuple[str, ...], field: str, typed: str) -> dict[str, str]:
    app = WidgetHarness(lambda: configure_form(section))
    async with app.run_test(size=SIZE) as pilot:
        form = app.query_one(SchemaForm)
        form.set_value({})
        control = form.field(field).query_one(Input)
        control.focus()
        await pilot.press(*typed) if typed else None
        await pilot.pause()
        return form.errors()


# (section, field in the form, what is typed there, the same value in YAML, where validate puts it,
#  a fragment that shows the right keyword answered)
CASES = [
    ("minItems", ("cluster",), "dnsResolvers", "[]", [], (), "needs at least 1 item"),
    ("pattern", ("cluster",), "domain", "Not_A_Domain", "Not_A_Domain", (), "has the wrong form"),
    ("pattern in an item", ("cluster",), "dnsResolvers", "1.1.1.1, 9.9.9", ["1.1.1.1", "9.9.9"], (1,), "IPv4"),
    ("format ipv4", ("cluster",), "ingressIP", "300.1.1.1", "300.1.1.1", (), "is not an IPv4 address"),
    ("format email", ("components", "pgadmin"), "adminEmail", "nobody", "nobody", (), "is not an e-mail address"),
    (
        "type",
        ("components", "jupyterhub"),
        "extraProfiles",
        "[{displayName: x, image: y, gpus: two}]",
        [{"displayName": "x", "image": "y", "gpus": "two"}],
        (0, "gpus"),
        "expected an integer, got a string",
    ),
    (
        "type: a fraction",
        ("components", "jupyterhub"),
        "extraProfiles",
        "[{displayName: x, image: y, gpus: 1.5}]",
        [{"displayName": "x", "image": "y", "gpus": 1.5}],
        (0, "gpus"),
        "expected an integer, got a number",
    ),
    ("maximum", ("components", "gpu-operator"), "timeSlicing.replicas", "65", 65, (), "at most 64"),
    ("minimum", ("components", "gpu-operator"), "timeSlicing.replicas", "-1", -1, (), "at least 0"),
    (
        "exclusiveMinimum",
        ("components", "jupyterhub"),
        "extraProfiles",
        "[{displayName: x, image: y, cpu: 0}]",
        [{"displayName": "x", "image": "y", "cpu": 0}],
        (0, "cpu"),
        "more than 0",
    ),
    (
        "enum in an item",
        ("components", "model-serving"),
        "runtimes",
        "mlserver, nope",
        ["mlserver", "nope"],
        (1,),
        "expected mlserver, huggingface",
    ),
    ("uniqueItems", ("components", "grafana"), "plugins", "a, a", ["a", "a"], (), "unique"),
    (
        "minLength in a YAML value",
        ("components", "jupyterhub"),
        "extraProfiles",
        "[{displayName: '', image: x}]",
        [{"displayName": "", "image": "x"}],
        (0, "displayName"),
        "must not be empty",
    ),
    (
        "required in a YAML value",
        ("components", "jupyterhub"),
        "extraProfiles",
        "[{displayName: x}]",
        [{"displayName": "x"}],
        (0,),
        "missing required key 'image'",
    ),
]


@pytest.mark.parametrize(
    ("section", "field", "typed", "written", "inside", "fragment"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_the_form_and_validate_say_the_same(section, field, typed, written, inside, fragment) -> None:
    where = (*section, *field.split("."))
    told = validate_says(where, written)
    field_path = format_path(where)
    expected = told[format_path((*where, *inside))]
    in_form = (await form_says(section, field, typed))[field_path]
    prefix = f"{format_path(inside)}: " if inside else ""  # a problem inside the value says where
    assert in_form == prefix + expected
    assert fragment in expected


async def test_a_required_setting_left_empty_reads_as_validate_says() -> None:
    told = validate_says(("cluster", "domain"), MISSING)
    assert told["cluster"] == "missing required key 'domain'"
    assert (await form_says(("cluster",), "domain", ""))["cluster.domain"] == told["cluster"]


@pytest.mark.parametrize(("given", "got"), [("abc", "a string"), (1.5, "a number")])
async def test_an_answered_value_the_field_cannot_read_reads_as_validate_says(given: object, got: str) -> None:
    """An integer field filled from an answers file with something else: its Input cannot hold a
    number, and the field says what `validate` says about the same answers."""
    where = ("components", "gpu-operator", "timeSlicing", "replicas")
    told = validate_says(where, given)[format_path(where)]
    assert told == f"expected an integer, got {got}"
    app = WidgetHarness(lambda: configure_form(where[:2]))
    async with app.run_test(size=SIZE) as pilot:
        form = app.query_one(SchemaForm)
        form.set_value({"timeSlicing": {"replicas": given}})
        await pilot.pause()
        assert form.errors()[format_path(where)] == told
