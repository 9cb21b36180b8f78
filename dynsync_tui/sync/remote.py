"""Dotdigital setup before a run: the mapped data fields exist, the consent lists have ids.

Each function returns the fewest calls the work could have taken (reads + creates), which the
engine adds up as ``setup_minimum`` for bench/sync.py's calls ratio.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from dynsync_tui.core.config import Config
from dynsync_tui.core.mappings import IDENTIFIER_LABELS


def ensure_fields(dd: Any, config: Config) -> int:
    """Create the mapped data fields Dotdigital lacks; returns the calls that took."""
    labels: list[str] = []
    for m in config.mappings:
        if m.label not in IDENTIFIER_LABELS and m.label.upper() not in (x.upper() for x in labels):
            labels.append(m.label)
    if not labels:
        return 0
    have = {str(f.get("name", "")).upper() for f in dd.data_fields()}
    missing = [label for label in labels if label.upper() not in have]
    for label in missing:
        dd.create_data_field(label, "String")
    return 1 + len(missing)


def resolve_lists(dd: Any, config: Config, create: bool) -> tuple[Config, dict[str, int], int]:
    """The config with each consent list's Dotdigital id filled in (looked up by name, created
    when ``create``), the Dynamics list id → Dotdigital list id map, and the calls that took."""
    list_ids: dict[str, int] = {}
    minimum = 0
    if config.consent.mode != "lists" or not config.consent.lists:
        return config, list_ids, minimum
    books: dict[str, Any] | None = None
    resolved = []
    for sel in config.consent.lists:
        dd_id = sel.dotdigital_list_id
        if dd_id is None:
            name = sel.dotdigital_list_name or sel.name or f"Dynamics {sel.dynamics_list_id}"
            if books is None:
                books = {str(b.get("name", "")).lower(): b for b in dd.address_books()}
                minimum += 1
            book = books.get(name.lower())
            if book is None and create:
                book = books[name.lower()] = dd.create_address_book(name)
                minimum += 1
            dd_id = int(book["id"]) if book else None
        if dd_id is not None:
            list_ids[sel.dynamics_list_id] = dd_id
        resolved.append(dataclasses.replace(sel, dotdigital_list_id=dd_id))
    cfg = dataclasses.replace(config, consent=dataclasses.replace(config.consent, lists=resolved))
    return cfg, list_ids, minimum


__all__ = ["ensure_fields", "resolve_lists"]
