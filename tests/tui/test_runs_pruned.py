"""The Runs step on a run whose per-record rows the state pruned: it says so in words."""

from __future__ import annotations

from textual.widgets import DataTable

from dynsync_tui.sync.state import KEEP_RUN_RECORDS
from tests.tui.flows import run_syncs, settle, text_of


async def test_a_pruned_run_says_its_records_are_no_longer_kept(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f6")
        await settle(app, pilot)
        await run_syncs(app, pilot, 2)
        state = app.services().state
        state.runs_list[0].records_pruned = True  # run 1, as the state leaves an old run
        state.records[1] = []
        await pilot.press("f7")
        await settle(app, pilot)
        assert "Run 2:" in text_of(app, "#status")  # the newest run, with its records
        runs = app.screen.query_one("#runs", DataTable)
        runs.move_cursor(row=1)
        app.screen.open_run(1)
        await settle(app, pilot)
        status = text_of(app, "#status")
        assert "Run 1:" in status and "no longer kept" in status and f"last {KEEP_RUN_RECORDS} runs" in status
        assert app.screen.query_one("#records", DataTable).row_count == 0
