"""The answers-file documentation stays true to the schema and the examples."""

from thinkube_tui.spec import answers_schema

from .conftest import EXAMPLES, ROOT

DOC = (ROOT / "docs" / "answers-file.md").read_text()


def test_examples_are_shown_verbatim():
    for name in ("answers-minimal.yaml", "answers-full.yaml"):
        assert (EXAMPLES / name).read_text() in DOC, f"docs/answers-file.md shows an outdated {name}"


def test_every_field_is_documented():
    schema = answers_schema()
    defs = schema["$defs"]
    fields = [
        *schema["properties"],
        *defs["cluster"]["properties"],
        *defs["node"]["properties"],
        *defs["auth"]["properties"],
    ]
    missing = [f for f in fields if f"`{f}`" not in DOC]
    assert not missing, f"docs/answers-file.md does not describe: {missing}"
