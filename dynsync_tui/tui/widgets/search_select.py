"""A Select that searches as soon as you type: a letter typed while it is closed opens the list
and starts its type-to-search with that letter (the stock Select needs enter first)."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.widgets import Select
from textual.widgets._select import SelectOverlay


class SearchSelect(Select[Any]):
    def check_consume_key(self, key: str, character: str | None = None) -> bool:
        return typed(character)  # the footer hides letter keys while this has focus

    async def _on_key(self, event: events.Key) -> None:
        if self.expanded or not typed(event.character):
            return  # enter/space/arrows open the list, tab moves on: as before
        event.stop()
        event.prevent_default()
        self.action_show_overlay()  # focuses the list
        self.query_one(SelectOverlay).post_message(events.Key(event.key, event.character))


def typed(character: str | None) -> bool:
    return character is not None and character.isprintable() and not character.isspace()
