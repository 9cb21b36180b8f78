"""Pilot tests for the Sync log and numbers, and the Runs step's names, emails and rows."""

from __future__ import annotations

from textual.widgets import DataTable, Log

from dynsync_tui.tui.screens.sync import rate_text
from tests.tui.flows import run_syncs, settle, text_of


def test_rate_is_records_checked_over_wall_time() -> None:
    assert rate_text(3656, 1.2) == "3,656 records checked in 1.2 s (3,047 records/s)"


async def test_each_run_starts_a_fresh_log_at_its_newest_line(tui_app) -> None:
    app = tui_app(engine_kw={"n": 400})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f6")
        await settle(app, pilot)
        await run_syncs(app, pilot, 2)
        log = app.screen.query_one("#log", Log)
        assert sum(1 for line in log.lines if line.startswith("Sync started")) == 1
        assert log.scroll_y == log.max_scroll_y and log.max_scroll_y > 0
        assert "records checked in" in text_of(app, "#throughput")
        assert "--:--" not in str(app.screen.query_one("#bar").render())


async def test_runs_show_names_and_emails_and_several_rows_at_80x24(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f5")
        await settle(app, pilot)
        await pilot.press("f6")
        await settle(app, pilot)
        await run_syncs(app, pilot, 4)
        await pilot.press("f7")
        await settle(app, pilot)
        runs = app.screen.query_one("#runs", DataTable)
        assert runs.row_count == 4 and runs.size.height - 1 >= 3, "more than 2 run rows in view"
        records = app.screen.query_one("#records", DataTable)
        row = [str(c) for c in records.get_row_at(records.row_count - 1)]
        assert row[1].startswith("Person ") and row[2].endswith("@example.com"), row


async def test_no_stray_scrollbar_glyphs_at_80x24(tui_app) -> None:
    """A horizontal scrollbar thumb under a table or the log showed as ▍/▏/▋ mid-screen."""
    from textual.widgets import DataTable as Table

    app = tui_app()
    async with app.run_test(size=(80, 24)) as pilot:
        for key in ("f3", "f4", "f6", "f7"):
            await pilot.press(key)
            await settle(app, pilot)
            for widget in (*app.screen.query(Table), *app.screen.query(Log)):
                assert widget.scrollbar_size_horizontal == 0, f"{key}: {widget.id}"
        await pilot.press("f3")
        await settle(app, pilot)
        row = [str(c) for c in app.screen.query_one("#mappings", Table).get_row_at(0)]
        assert row[-1] == "from CRM"


def test_log_lines_name_what_is_being_read() -> None:
    from dynsync_tui.tui.screens.sync import log_text

    assert log_text("reading", "contacts") == "Reading contacts from Dynamics…"
    assert log_text("sending", "throttled, resuming in 5 s") == "throttled, resuming in 5 s"
    assert log_text("done", "ok") == "" and log_text("reading", "") == ""
