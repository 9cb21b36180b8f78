"""Pilot tests for the Lists step: the 'Activated for Email' column, eligibility, counts, radios."""

from __future__ import annotations

from types import SimpleNamespace

from textual.widgets import DataTable, RadioSet, Select

from tests.tui.fakes import fake_services
from tests.tui.flows import open_lists, settle, text_of

SIZE = (100, 32)


def cells(app, row: int) -> list[str]:
    return [str(c) for c in app.screen.query_one("#lists", DataTable).get_row_at(row)]


async def test_the_only_activation_column_is_picked_and_kept(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_lists(app, pilot)
        assert app.config.dynamics.activation_column == "esc_activatedforemail"
        assert app.screen.query_one("#activation", Select).value == "esc_activatedforemail"
        row = cells(app, 0)
        assert row[4] == "yes" and row[3] == "—", "dynamic list: activated, member count unknown"


async def test_lists_are_not_pickable_until_the_column_is_chosen(tui_app) -> None:
    svc = fake_services()
    cols = [SimpleNamespace(logical_name=n, display_name="", type="Boolean") for n in ("esc_a", "esc_b")]
    svc.dataverse.activation_columns = lambda: cols
    app = tui_app(services=svc)
    async with app.run_test(size=SIZE) as pilot:
        await open_lists(app, pilot)
        assert app.config.dynamics.activation_column == ""
        assert "Choose the 'Activated for Email' column" in text_of(app, "#empty")
        assert cells(app, 0)[0] == " - " and cells(app, 0)[6] == "Not known"
        assert "choose the 'Activated for Email' column" in text_of(app, "#why")
        await pilot.press("space")
        await settle(app, pilot)
        assert app.config.consent.lists == [] and "Activated for Email" in text_of(app, "#status")
        app.screen.query_one("#activation", Select).value = "esc_b"
        await settle(app, pilot)
        assert app.config.dynamics.activation_column == "esc_b"
        app.screen.query_one("#lists", DataTable).focus()
        await pilot.press("space")
        await settle(app, pilot)
        assert [s.dynamics_list_id for s in app.config.consent.lists] == ["list-1"]


async def test_static_list_is_greyed_and_refused(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_lists(app, pilot)
        app.screen.query_one("#lists", DataTable).move_cursor(row=2)
        await pilot.press("space")
        await settle(app, pilot)
        assert app.config.consent.lists == [] and "Static list" in text_of(app, "#status")


async def test_radio_state_reads_in_plain_text(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_lists(app, pilot)
        radios = app.screen.query_one("#mode", RadioSet)
        texts = {b.id: str(b.render()) for b in radios.query("RadioButton")}
        assert "●" in texts["mode-lists"] and "○" in texts["mode-none"] and "●" not in texts["mode-none"]


async def test_dotdigital_list_column_fits_at_100_and_80(tui_app) -> None:
    for width in (100, 80):
        app = tui_app()
        async with app.run_test(size=(width, 24)) as pilot:
            await open_lists(app, pilot)
            await pilot.press("space")
            await settle(app, pilot)
            table = app.screen.query_one("#lists", DataTable)
            left = sum(c.get_render_width(table) for c in list(table.columns.values())[:6])
            assert left <= table.size.width, f"Dotdigital list column cut at {width} columns"


async def test_a_list_of_an_entity_without_mappings_cannot_be_picked(tui_app) -> None:
    svc = fake_services()
    extra = SimpleNamespace(id="list-9", name="Key accounts (dynamic)", dynamic=True, member_type="account",
                            member_count=0, activated=True, eligible=True, why="")
    svc.dataverse._lists = [*svc.dataverse._lists, extra]
    app = tui_app(services=svc)
    async with app.run_test(size=SIZE) as pilot:
        await open_lists(app, pilot)
        table = app.screen.query_one("#lists", DataTable)
        row = table.get_row_index("list-9")
        assert cells(app, row)[-1] == "Not mapped"
        table.move_cursor(row=row)
        await pilot.pause()
        assert "which have no mappings" in text_of(app, "#why")
        await pilot.press("space")
        await settle(app, pilot)
        assert "which have no mappings" in text_of(app, "#status")
        assert not any(s.dynamics_list_id == "list-9" for s in app.config.consent.lists)
