"""Data is shown as text, never read as Rich markup.

A GPU model, an OS name, a host or label typed in the wizard, a path, an error quoting any of
them: `[link=file:///etc/passwd]` in such a value must show as typed, not as a link, a style or
a MarkupError from a stray `[/]`. Textual widgets, DataTable cells, Tree labels and Rich
consoles read a `str` as markup, so data goes to them as `rich.text.Text`:

    table.add_row(data(node.host), ...)                        # shown verbatim
    status.update(styled("[b]{name}[/b] failed", name=node.name))   # our markup, their text

Escaping (`rich.markup.escape`) is not enough: Textual's markup parser also reads `[$var]` and
`[B]` as tags, which Rich's escape leaves alone, and a trailing backslash comes out doubled.
"""

from __future__ import annotations

import re

from rich.text import Text

_FIELD = re.compile(r"\{(\w+)\}")
_HOLE = "\x00"  # stands for a field while the template's own markup is parsed


def data(value: object) -> Text:
    """`value` (from a node, a file, the user, an exception) as plain text; a Text is kept."""
    return value if isinstance(value, Text) else Text(str(value))


def styled(template: str, /, **values: object) -> Text:
    """Our own Rich markup `template` with each `{name}` filled by `values[name]` as plain text.

    Only the template is parsed as markup; the values go in afterwards, taking the styles the
    template has at their place, so nothing in a value is ever read as a tag.
    """
    names: list[str] = []

    def hole(match: re.Match[str]) -> str:
        names.append(match.group(1))
        return _HOLE

    shape = Text.from_markup(_FIELD.sub(hole, template))
    holes = [i for i, ch in enumerate(shape.plain) if ch == _HOLE]
    out = Text()
    start = 0
    for name, at in zip(names, holes, strict=True):
        out.append_text(shape[start:at])
        value = data(values[name]).copy()
        for span in reversed(shape[at : at + 1].spans):
            value.stylize_before(span.style)
        out.append_text(value)
        start = at + 1
    out.append_text(shape[start:])
    return out
