"""Pilot tests for text that must be whole at 100 and 80 columns: the footer's Next hint, the
Lists 'Why not' reasons, the Sync log, the Preview reason sentences; and the field picker's
type-to-search."""

from __future__ import annotations

from typing import Any

from textual.widgets import Footer

from tests.tui.flows import open_add_mapping, open_lists, settle

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


def squash(text: str) -> str:
    return " ".join(text.split())


def widget_text(widget: Any) -> str:
    """What the widget shows now, line by line (Line-API widgets and Statics alike)."""
    return squash(" ".join(widget.render_line(y).text for y in range(widget.size.height)))


async def test_why_not_reads_whole_at_100_and_80(tui_app) -> None:
    from textual.widgets import DataTable

    from dynsync_tui.tui.screens.lists import why_not

    for width in (100, 80):
        app = tui_app()
        async with app.run_test(size=(width, 24)) as pilot:
            await open_lists(app, pilot)
            table = app.screen.query_one("#lists", DataTable)
            shown = sum(c.get_render_width(table) for c in table.columns.values())
            assert shown <= table.scrollable_content_region.width, f"a column is cut at {width} columns"
            row = next(i for i, ml in enumerate(app.screen.lists) if why_not(ml))
            table.move_cursor(row=row)
            await pilot.pause()
            why = app.screen.query_one("#why")
            assert squash(why_not(app.screen.lists[row])) in widget_text(why), f"why-not cut at {width}"


async def test_sync_log_lines_wrap_instead_of_being_cut(tui_app) -> None:
    from textual.widgets import Log

    long = "Dotdigital throttled the import (429): resuming in 30 s; " * 3
    app = tui_app()
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f6")
        await settle(app, pilot)
        log = app.screen.query_one("#log", Log)
        log.write_line(long.strip(), scroll_end=True)
        await pilot.pause()
        width = log.scrollable_content_region.width
        assert all(len(line) <= width for line in log.lines), "a log line runs past the right edge"
        assert squash(long) in widget_text(log)
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert log.scrollable_content_region.width > width
        assert all(len(line) <= log.scrollable_content_region.width for line in log.lines)
        assert squash(long) in widget_text(log), "re-wrapped after a resize"


async def test_preview_reason_sentences_read_whole(tui_app) -> None:
    from dynsync_tui.core.reasons import sentence
    from dynsync_tui.tui.widgets.reason_bars import ALL, ReasonBars

    for size in ((100, 32), SMALL):
        app = tui_app()
        async with app.run_test(size=size) as pilot:
            await pilot.press("f5")
            await settle(app, pilot)
            bars = app.screen.query_one(ReasonBars)
            codes = [o.id for o in bars.options if o.id and o.id != ALL]
            assert codes
            for index, code in enumerate(codes, start=1):
                bars.highlighted = index  # scrolls it into view
                await pilot.pause()
                assert squash(sentence(code)) in widget_text(bars), f"{code} cut at {size}"


async def test_field_picker_searches_as_soon_as_you_type(tui_app) -> None:
    from textual.widgets import Select

    app = tui_app()
    async with app.run_test(size=(100, 32)) as pilot:
        modal = await open_add_mapping(app, pilot)
        await pilot.pause(0.1)
        field = modal.query_one("#field", Select)
        field.focus()
        await pilot.pause()
        await pilot.press("l", "a", "s")  # no enter first
        await pilot.pause()
        assert field.expanded, "typing opened the field list"
        await pilot.press("enter")
        await pilot.pause()
        assert field.value == "lastname" and not field.expanded and app.screen.focused is field
        await pilot.press("tab")  # other keys still work: tab moves on, down opens the list
        await pilot.pause()
        assert app.screen.focused is app.screen.query_one("#linked-field")
        await pilot.press("shift+tab", "down")
        await pilot.pause()
        assert field.expanded
