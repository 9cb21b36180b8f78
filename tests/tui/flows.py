"""Reusable Pilot flows: the lead's real-sandbox test calls ``drive_full_flow`` with an app
built on the real ``connect``."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from dynsync_tui.tui.widgets.verdict_table import VerdictTable


async def settle(app: Any, pilot: Any, delay: float = 0.0) -> None:
    await pilot.pause(delay)
    await app.workers.wait_for_complete()
    await pilot.pause()


async def run_syncs(app: Any, pilot: Any, n: int) -> None:
    """From the Sync step: ``n`` syncs one after the other, each past its confirmation."""
    for _ in range(n):
        app.screen.run_sync(False)
        await settle(app, pilot, 0.1)


async def open_add_mapping(app: Any, pilot: Any) -> Any:
    """Step 3, then the Add mapping modal; returns the modal."""
    await pilot.press("f3")
    await settle(app, pilot)
    await pilot.press("a")
    await settle(app, pilot)
    return app.screen


def text_of(app: Any, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def confirm_sync(app: Any, pilot: Any, *, start: bool = True) -> str:
    """Start a sync (unless ``start`` is False: already asked) and answer Sync in the
    confirmation; returns the question's text."""
    if start:
        app.screen.action_start()
    await pilot.pause(0.05)
    assert type(app.screen).__name__ == "ConfirmScreen", type(app.screen).__name__
    assert app.screen.focused is app.screen.query_one("#no"), "Cancel has the focus"
    question = str(app.screen.query_one("#question", Static).render())
    await pilot.click("#yes")
    await pilot.pause()
    return question


async def drive_full_flow(app: Any, pilot: Any) -> str:
    """Connect → country → mappings → lists → preview → sync; returns the summary text."""
    assert type(app.screen).__name__ == "ConnectScreen"
    await pilot.click("#test")
    await settle(app, pilot)
    result = text_of(app, "#result")
    assert "✓" in result and "Active records" in result, result
    for expected in ("CountryScreen", "MappingsScreen", "ListsScreen", "PreviewScreen"):
        await pilot.press("ctrl+n")
        await settle(app, pilot)
        assert type(app.screen).__name__ == expected
    table = app.screen.query_one(VerdictTable)
    assert table.rows, "preview has no rows"
    await pilot.press("ctrl+n")
    await settle(app, pilot)
    assert type(app.screen).__name__ == "SyncScreen"
    await confirm_sync(app, pilot)
    for _ in range(600):
        await settle(app, pilot, 0.05)
        if not app.screen.running:
            break
    summary = text_of(app, "#summary")
    assert summary.startswith("Sync finished"), summary + text_of(app, "#status")
    return summary


async def open_lists(app: Any, pilot: Any, *, focus_table: bool = True) -> None:
    """Go to the Lists step in "members of marketing lists" mode (the table focused)."""
    await pilot.press("f4")
    await settle(app, pilot)
    app.screen.query_one("#mode-lists").value = True
    await settle(app, pilot)
    if focus_table:
        app.screen.query_one("#lists").focus()
