"""Pilot tests: the preview keeps the search after `p`, cuts no detail label, and says where
exports went."""

from __future__ import annotations

from textual.widgets import Input

from dynsync_tui.tui.widgets.verdict_table import VerdictTable
from tests.tui.flows import settle, text_of


async def test_policy_keeps_the_search_and_detail_labels_are_whole(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("f5")
        await settle(app, pilot)
        app.screen.query_one("#search", Input).value = "person107"
        await settle(app, pilot, 0.1)
        table = app.screen.query_one(VerdictTable)
        table.focus()
        await pilot.press("p")
        await settle(app, pilot, 0.1)
        assert app.config.sync.on_email_change == "update"
        assert app.screen.query_one("#search", Input).value == "person107"
        assert [table.verdicts[i].record.name for i in table.rows] == ["Person 107"]
        table.focus()
        await pilot.press("d")
        await pilot.pause()
        assert "Field FIRSTNAME" in str(app.screen.query_one("#detail").render())


async def test_export_says_the_full_path(tui_app, tmp_path) -> None:
    app = tui_app()
    async with app.run_test(size=(100, 32), notifications=True) as pilot:
        await pilot.press("f5")
        await settle(app, pilot)
        await pilot.press("x")
        await settle(app, pilot, 0.1)
        path = str((tmp_path / "preview-export.csv").resolve())
        assert path in text_of(app, "#status")
        assert any(path in n.message for n in app._notifications)
