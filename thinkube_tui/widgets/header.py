"""The screens' header: Textual's Header, safe when screens change within one refresh."""

from __future__ import annotations

import contextlib

from textual.css.query import NoMatches
from textual.events import Mount
from textual.widgets import Header
from textual.widgets._header import HeaderTitle


class WizardHeader(Header):
    """Textual's Header updates its title from a watcher that can run after the screen under
    it was removed (a screen pushed and popped, or replaced, within one refresh — as when the
    install starts and the wizard's stack is replaced). Textual's own watcher then raises
    NoMatches and the app dies; here there is simply nothing left to update."""

    def _on_mount(self, event: Mount) -> None:
        event.prevent_default()  # instead of Header._on_mount, not besides it

        async def set_title() -> None:
            with contextlib.suppress(NoMatches):  # already taken down with its screen
                self.query_one(HeaderTitle).update(self.format_title())

        self.watch(self.app, "title", set_title)
        self.watch(self.app, "sub_title", set_title)
        self.watch(self.screen, "title", set_title)
        self.watch(self.screen, "sub_title", set_title)
