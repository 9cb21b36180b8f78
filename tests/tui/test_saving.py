"""Pilot tests: choices reach config.toml (Next, preview, sync, quit), syncs ask first, cancel
really cancels, and the pre-flight check shows inline."""

from __future__ import annotations

import threading

from textual.widgets import Input

from dynsync_tui.core.config import load
from dynsync_tui.core.mappings import Mapping
from tests.tui.flows import confirm_sync, open_lists, settle, text_of

SIZE = (100, 32)


async def pick_first_list(app, pilot) -> None:
    await open_lists(app, pilot)
    await pilot.press("space")
    await settle(app, pilot)


async def test_next_saves_the_config(tui_app, tmp_path) -> None:
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        await pick_first_list(app, pilot)
        assert "unsaved changes" in app.sub_title
        await pilot.press("ctrl+n")
        await settle(app, pilot)
        saved = load(tmp_path / "config.toml")
        assert saved.consent.mode == "lists" and [s.dynamics_list_id for s in saved.consent.lists] == ["list-1"]
        assert "(saved)" in app.sub_title


async def test_preview_runs_what_is_on_disk(tui_app, tmp_path) -> None:
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        await pick_first_list(app, pilot)
        await pilot.press("f5")  # not Next: the preview still saves first
        await settle(app, pilot)
        assert load(tmp_path / "config.toml").consent.lists[0].dynamics_list_id == "list-1"


async def test_quit_with_unsaved_changes_asks(tui_app, tmp_path) -> None:
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        app.screen.query_one("#env", Input).value = "https://org.crm.dynamics.com"
        await pilot.press("ctrl+q")
        await pilot.pause(0.1)
        assert type(app.screen).__name__ == "ChoiceScreen"
        assert app.screen.focused is app.screen.query_one("#cancel")
        await pilot.press("escape")  # Cancel: stay
        await pilot.pause(0.1)
        assert type(app.screen).__name__ == "ConnectScreen" and app.is_running
        await pilot.press("ctrl+q")
        await pilot.pause(0.1)
        await pilot.press("s")
        await pilot.pause(0.1)
    assert load(tmp_path / "config.toml").dynamics.environment_url == "https://org.crm.dynamics.com"


async def test_quit_discard_leaves_the_file(tui_app, tmp_path) -> None:
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        app.screen.query_one("#env", Input).value = "https://org.crm.dynamics.com"
        await pilot.press("ctrl+q")
        await pilot.pause(0.1)
        await pilot.press("d")
        await pilot.pause(0.1)
    assert not (tmp_path / "config.toml").exists()


async def test_quit_without_changes_does_not_ask(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+q")
        await pilot.pause(0.1)
        assert type(app.screen).__name__ != "ChoiceScreen"


async def test_sync_asks_first_with_the_preview_counts(tui_app, tmp_path) -> None:
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await settle(app, pilot)
        await pilot.press("ctrl+n")  # Preview → Next lands on Sync, nothing starts
        await settle(app, pilot)
        assert type(app.screen).__name__ == "SyncScreen" and not app.screen.running
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert type(app.screen).__name__ == "ConfirmScreen"
        question = str(app.screen.query_one("#question").render())
        assert "100 to create, 20 to update" in question and "Full sync: no" in question
        await pilot.press("enter")  # focus is on Cancel
        await settle(app, pilot)
        assert type(app.screen).__name__ == "SyncScreen"
        assert not app.screen.running and text_of(app, "#summary") == ""
        assert (tmp_path / "config.toml").exists(), "saved before the sync"


async def test_after_a_sync_the_question_does_not_repeat_the_old_preview(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await settle(app, pilot)
        await pilot.press("f6")
        await settle(app, pilot)
        assert "100 to create" in await confirm_sync(app, pilot)
        await settle(app, pilot)
        assert "Sync finished" in text_of(app, "#summary")
        question = await confirm_sync(app, pilot)
        assert "older than the last sync" in question and "100 to create" not in question
        await settle(app, pilot)


async def test_a_cancel_that_came_too_late_says_so(tui_app) -> None:
    from dynsync_tui.tui.messages import SyncFinished
    from tests.tui.fakes import FakeRunSummary

    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f6")
        await settle(app, pilot)
        screen = app.screen
        screen.cancel_event.set()  # the admin said yes just as the run was ending
        screen.post_message(SyncFinished(FakeRunSummary(1, 5, 0, 0, 0, 0), cancelled=False))
        await settle(app, pilot)
        assert text_of(app, "#summary").startswith("Too late to cancel")


async def test_cancel_question_closes_when_the_run_ends(tui_app) -> None:
    gate = threading.Event()
    app = tui_app(engine_kw={"gate": gate})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f6")
        await settle(app, pilot)
        await confirm_sync(app, pilot)
        await pilot.pause(0.1)
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert type(app.screen).__name__ == "ConfirmScreen"
        gate.set()  # the run finishes while the question is up
        await settle(app, pilot, 0.2)
        assert type(app.screen).__name__ == "SyncScreen"
        assert text_of(app, "#summary").startswith("Sync finished")
        assert "records checked in" in text_of(app, "#throughput")
        shown = [ab.binding.description for ab in app.screen.active_bindings.values() if ab.enabled]
        assert "Cancel sync" not in shown, "esc Cancel sync is hidden when nothing runs"


async def test_preflight_problem_shows_inline(tui_app) -> None:
    app = tui_app()
    app.config.mappings.append(Mapping("FIRSTNAME", "contact", "nosuchfield"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await settle(app, pilot)
        status = text_of(app, "#status")
        assert "Pre-flight check" in status and "nosuchfield" in status and "F3 Mappings" in status
        await pilot.press("f6")
        await settle(app, pilot)
        await confirm_sync(app, pilot)
        await settle(app, pilot)
        assert "pre-flight check" in text_of(app, "#status") and not app.screen.running
