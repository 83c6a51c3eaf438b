"""`show_text`: a Static's new text, laid out again only when its box would change.

`Static.update` lays out the whole screen by default (every widget measured and redrawn),
because new text may need another width or height. Status lines and counters change many
times a second during an install while their box stays the same; this updates such a widget
with a repaint alone unless the new text measures differently, and not at all when the text
is what it shows already.
"""

from __future__ import annotations

from textual.visual import VisualType
from textual.widget import Widget
from textual.widgets import Static


def show_text(widget: Static, content: VisualType) -> bool:
    """Show `content` in `widget`; returns whether it changed."""
    if content == widget.content:
        return False
    if not widget.is_mounted or not widget.size:
        widget.update(content)  # not laid out yet
        return True
    before = _measure(widget)
    widget.update(content, layout=False)  # the repaint also drops the cached measurements
    if _measure(widget) != before:
        widget.refresh(layout=True)
    return True


def _measure(widget: Static) -> tuple[int | None, int | None]:
    """What the layout reads of a non-container widget's content: its natural width when its
    width is `auto`, its height at the current width when its height is `auto` (or unset)."""
    styles = widget.styles
    parent = widget.parent
    container = parent.content_region.size if isinstance(parent, Widget) else widget.app.size
    viewport = widget.app.size
    auto_width = styles.width is not None and styles.width.is_auto
    auto_height = styles.height is None or styles.height.is_auto
    return (
        widget.get_content_width(container, viewport) if auto_width else None,
        widget.get_content_height(container, viewport, widget.content_region.width) if auto_height else None,
    )
