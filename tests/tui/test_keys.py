"""Pilot tests: keys and focus (a focused text box keeps its letters; modals focus their first
field; Country's search → list; Mappings' delete asks; Home/End; Esc closes the detail pane)."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Select

from tests.tui.flows import open_add_mapping, settle, text_of

SIZE = (100, 32)


def shown(app) -> list[str]:
    return [ab.binding.description for ab in app.screen.active_bindings.values()
            if ab.enabled and ab.binding.show]


async def test_connect_keys_do_not_type_into_the_url(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        url = app.screen.query_one("#env", Input)
        url.focus()
        await pilot.press("t")
        await settle(app, pilot)
        assert url.value == "t" and "Not tested yet" in text_of(app, "#result")
        url.value = ""
        assert "Test connection" in shown(app)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert "✓" in text_of(app, "#result")


async def test_letter_keys_hide_while_a_text_box_has_focus(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await settle(app, pilot)
        assert "Detail" in shown(app)
        app.screen.query_one("#search", Input).focus()
        await pilot.pause()
        assert "Detail" not in shown(app) and "Help" not in [
            ab.binding.description for ab in app.screen.active_bindings.values() if ab.enabled]


async def test_country_down_into_the_list_then_enter(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await settle(app, pilot)
        app.screen.query_one("#search", Input).focus()
        await pilot.press("plus", "4", "4")
        await settle(app, pilot)
        await pilot.press("down", "down", "down", "down", "enter")  # Guernsey, Isle of Man, Jersey, UK
        await settle(app, pilot)
        assert app.config.validation.default_country == "GB"


async def test_country_opens_with_the_search_focused_so_typing_searches(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await settle(app, pilot)
        assert app.screen.focused is app.screen.query_one("#search", Input)
        await pilot.press("i", "r", "e", "l")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.config.validation.default_country == "IE"


async def test_mapping_modal_focus_enter_and_tab_order(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=(120, 40)) as pilot:
        modal = await open_add_mapping(app, pilot)
        assert modal.focused is modal.query_one("#label", Input)
        chain = [w.id for w in modal.focus_chain]
        modal.query_one("#link", Select).value = "parentcustomerid|account|parentcustomerid_account"
        await settle(app, pilot)
        assert [w.id for w in modal.focus_chain] == chain, "the tab order does not change with the link"
        modal.query_one("#link", Select).clear()
        await settle(app, pilot)
        modal.query_one("#field", Select).value = "firstname"
        await pilot.press(*"FIRSTNAME", "enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "MappingsScreen"
        assert any(m.label == "FIRSTNAME" for m in app.config.mappings)


async def test_mappings_delete_asks_and_home_end(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await settle(app, pilot)
        table = app.screen.query_one("#mappings", DataTable)
        await pilot.press("end")
        assert table.cursor_row == len(app.config.mappings) - 1
        await pilot.press("home")
        assert table.cursor_row == 0
        n = len(app.config.mappings)
        await pilot.press("delete")
        await pilot.pause(0.1)
        assert type(app.screen).__name__ == "ConfirmScreen"
        await pilot.press("n")
        await pilot.pause(0.1)
        assert len(app.config.mappings) == n
        await pilot.press("delete")
        await pilot.pause(0.1)
        await pilot.press("y")
        await pilot.pause(0.1)
        assert len(app.config.mappings) == n - 1


async def test_preview_escape_closes_the_detail(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await settle(app, pilot)
        await pilot.press("d")
        assert app.screen.query_one("#detail-pane").display
        await pilot.press("escape")
        await pilot.pause()
        assert not app.screen.query_one("#detail-pane").display
