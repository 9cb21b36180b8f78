"""Pilot tests for text that must be whole at 100 and 80 columns: the footer's Next hint, the
Lists 'Why not' reasons, the Sync log, the Preview reason sentences; and the field picker's
type-to-search."""

from __future__ import annotations

from typing import Any

from textual.widgets import Footer

from tests.tui.flows import open_lists, settle

SMALL = (80, 24)


def footer_keys(app: Any) -> dict[str, Any]:
    return {k.key: k for k in app.screen.query_one(Footer).children}


def next_hint_in_view(app: Any) -> bool:
    keys = footer_keys(app)
    nxt, palette = keys.get("ctrl+n"), keys.get("ctrl+p")
    return nxt is not None and palette is not None and nxt.region.right <= palette.region.x


async def test_next_hint_stays_in_the_footer_at_80x24(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        for key in ("f1", "f2", "f3", "f5", "f6"):
            await pilot.press(key)
            await settle(app, pilot, 0.05)
            assert next_hint_in_view(app), f"^n Next cut from the footer on {key}"
        await pilot.press("f5")
        await settle(app, pilot)
        await pilot.press("d")  # the detail pane adds "esc Close"
        await settle(app, pilot)
        assert next_hint_in_view(app), "^n Next cut from the footer on the Preview with its detail"
        await open_lists(app, pilot)  # lists mode adds Pick and Map
        await pilot.pause()
        assert next_hint_in_view(app), "^n Next cut from the footer on Lists"
        assert "question_mark" in footer_keys(app)
