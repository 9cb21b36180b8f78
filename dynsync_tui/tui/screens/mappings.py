"""Step 3, "Email data mappings": which CRM field feeds each Dotdigital data label."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Button, DataTable, Static

from dynsync_tui.core.mappings import (
    ENTITIES,
    Mapping,
    MappingError,
    validate_mappings,
)
from dynsync_tui.tui.messages import MetadataLoaded, get, one_line
from dynsync_tui.tui.screens.base import WizardScreen
from dynsync_tui.tui.screens.mapping_edit import MappingEditScreen
from dynsync_tui.tui.widgets.confirm import ConfirmScreen
from dynsync_tui.tui.widgets.row_table import RowTable

COLUMNS = ("Email data label", "Entity", "Primary CRM field", "Linked CRM field", "Direction")
SHORT_DIRECTION = {"from_crm": "from CRM", "to_crm": "to CRM", "both": "both ways"}


def mapping_row(m: Mapping) -> list[Text]:
    linked = f"{m.linked_entity}.{m.linked_field}" if m.is_linked else ""
    return [Text(x) for x in (m.label, m.entity, m.field, linked, SHORT_DIRECTION.get(m.direction, m.direction))]


class MappingsScreen(WizardScreen):
    STEP = "mappings"
    AUTO_FOCUS = "#mappings"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "Add", id="mappings.add", tooltip="Add a mapping"),
        Binding("e", "edit", "Edit", id="mappings.edit", tooltip="Edit the selected mapping"),
        Binding("delete", "delete", "Delete", id="mappings.delete", tooltip="Delete the selected mapping"),
        Binding("ctrl+s", "save", "Save", id="mappings.save", tooltip="Save the config file"),
    ]
    PALETTE: ClassVar[list[tuple[str, str, str]]] = [
        ("add mapping", "Add an email data mapping", "add"),
        ("edit mapping", "Edit the selected mapping", "edit"),
        ("save mappings", "Write the config file", "save"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.attributes: dict[str, list[Any]] = {}
        self.relationships: dict[str, list[Any]] = {}
        self.data_fields: list[str] = []
        self._metadata_for = -1  # app.generation the metadata was read for

    def compose_body(self) -> ComposeResult:
        yield Static("Email data mappings", classes="title")
        yield RowTable(*COLUMNS, id="mappings", zebra_stripes=True)
        with Horizontal(id="mapping-actions"):
            yield Button("Add", id="add", tooltip="Add a mapping (a)", compact=True)
            yield Button("Edit", id="edit", tooltip="Edit the selected mapping (e)", compact=True)
            yield Button("Delete", id="delete", variant="error", tooltip="Delete the selected mapping (delete)",
                         compact=True)
            yield Button("Save", id="save", variant="success", tooltip="Write the config file (ctrl+s)", compact=True)

    def on_mount(self) -> None:
        self.refresh_table()

    def on_screen_resume(self) -> None:
        if self._metadata_for != self.dapp.generation:
            self._metadata_for = self.dapp.generation
            self.load_metadata()

    def load_metadata(self) -> None:
        def work() -> None:
            svc = self.dapp.services()
            attrs = {e: list(svc.dataverse.attributes(e)) for e in ENTITIES}
            rels = {e: list(svc.dataverse.relationships(e)) for e in ENTITIES}
            fields = [str(get(f, "name")) for f in svc.dotdigital.data_fields()]
            self.post_message(MetadataLoaded(attrs, fields, rels))

        self.run_io(work, group="metadata", description="Loading field metadata failed")

    def on_metadata_loaded(self, message: MetadataLoaded) -> None:
        self.attributes = message.attributes
        self.relationships = message.relationships or self.relationships
        self.data_fields = message.data_fields
        self.set_status(f"Metadata loaded: {sum(len(v) for v in self.attributes.values())} CRM fields, "
                        f"{len(self.data_fields)} Dotdigital data fields.")

    def refresh_table(self) -> None:
        table = self.query_one("#mappings", DataTable)
        row = table.cursor_row
        table.clear()
        for i, m in enumerate(self.dapp.config.mappings):
            table.add_row(*mapping_row(m), key=str(i))
        if self.dapp.config.mappings:
            table.move_cursor(row=min(row, len(self.dapp.config.mappings) - 1))
        self.validate()

    def validate(self) -> bool:
        try:
            validate_mappings(self.dapp.config.mappings)
        except MappingError as exc:
            self.set_status(one_line(exc), error=True)
            return False
        self.set_status("")
        return True

    def _selected(self) -> int | None:
        table = self.query_one("#mappings", DataTable)
        return table.cursor_row if self.dapp.config.mappings else None

    def _open(self, index: int | None) -> None:
        mapping = self.dapp.config.mappings[index] if index is not None else None
        screen = MappingEditScreen(mapping, attributes=self.attributes, relationships=self.relationships,
                                   data_fields=self.data_fields)

        def done(result: Mapping | None) -> None:
            if result is None:
                return
            if index is None:
                self.dapp.config.mappings.append(result)
            else:
                self.dapp.config.mappings[index] = result
            self.refresh_table()

        self.app.push_screen(screen, done)

    @on(Button.Pressed, "#add")
    def action_add(self) -> None:
        self._open(None)

    @on(Button.Pressed, "#edit")
    def action_edit(self) -> None:
        index = self._selected()
        if index is not None:
            self._open(index)

    @on(DataTable.RowSelected, "#mappings")
    def _row_chosen(self) -> None:
        self.action_edit()

    @on(Button.Pressed, "#delete")
    def action_delete(self) -> None:
        index = self._selected()
        if index is None:
            return
        m = self.dapp.config.mappings[index]

        def answer(yes: bool | None) -> None:
            if yes and index < len(self.dapp.config.mappings) and self.dapp.config.mappings[index] is m:
                del self.dapp.config.mappings[index]
                self.refresh_table()

        self.app.push_screen(ConfirmScreen(Text(f"Delete the mapping {m.label} ← {m.entity}.{m.field}?"),
                                           yes="Delete", no="Keep"), answer)

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        if not self.validate():
            return
        new = [m.label for m in self.dapp.config.mappings
               if not m.is_email and not m.is_mobile and m.label not in self.data_fields]
        try:
            self.dapp.save_config()
        except OSError as exc:
            self.set_status(f"Saving {self.dapp.config_path} failed: {one_line(exc)}", error=True)
            return
        self.set_status(f"Saved {self.dapp.config_path}.")
        if new and self.attributes:
            self._create_fields(sorted(set(new)))

    def _create_fields(self, names: list[str]) -> None:
        def work() -> None:
            svc = self.dapp.services()
            for name in names:
                svc.dotdigital.create_data_field(name, "String")
            self.post_message(MetadataLoaded(self.attributes, [*self.data_fields, *names]))

        self.run_io(work, group="datafields", description="Creating Dotdigital data fields failed")

    def before_next(self) -> bool:
        return self.validate()  # a step key may still leave an invalid set (to fix it later)
