"""Words for counts, shared by every screen and command (no `1 components`)."""

from __future__ import annotations


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """`1 component`, `2 components`; `plural_form` for nouns that do not just take an s."""
    return f"{count} {noun if count == 1 else plural_form or noun + 's'}"
