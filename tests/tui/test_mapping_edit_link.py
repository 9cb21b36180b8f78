"""Editing a linked mapping keeps its link (a lookup without one cannot be read)."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Select

from tests.tui.flows import open_add_mapping, settle


async def test_editing_a_linked_mapping_keeps_its_link(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=(120, 40)) as pilot:
        modal = await open_add_mapping(app, pilot)
        modal.query_one("#link", Select).value = "parentcustomerid|account|parentcustomerid_account"
        await settle(app, pilot)
        linked = modal.query_one("#linked-field", Select)
        linked.value = linked._options[-1][1]  # a field of the account
        modal.query_one("#label", Input).value = "COMPANY"
        await settle(app, pilot)
        modal.action_ok()
        await settle(app, pilot)
        added = next(m for m in app.config.mappings if m.label == "COMPANY")
        assert (added.field, added.linked_entity, added.linked_field) == ("parentcustomerid", "account", linked.value)
        table = app.screen.query_one("#mappings", DataTable)
        table.move_cursor(row=app.config.mappings.index(added))
        await pilot.press("e")
        await settle(app, pilot)
        modal = app.screen
        modal.action_ok()
        await settle(app, pilot)
        again = next(m for m in app.config.mappings if m.label == "COMPANY")
        assert again == added
