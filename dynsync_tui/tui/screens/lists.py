"""Step 4, "Manage Dynamics list members": everyone, marketing-list members, or a consent field."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input, RadioButton, RadioSet, Static

from dynsync_tui.core.config import ListSelection
from dynsync_tui.tui.messages import ListsLoaded, get
from dynsync_tui.tui.screens.base import WizardScreen
from dynsync_tui.tui.widgets.picker import PickerScreen

MODES = (("none", "All active records of the mapped entities"), ("lists", "Members of marketing lists"),
         ("field", "Records with a consent field set"))
COLUMNS = ("Pick", "Name", "Type", "Member type", "Members", "Activated for email", "Dotdigital list", "Why not")
NEW = "__new__"
LOGICAL = re.compile(r"^[a-z][a-z0-9_]*$")


def target_text(sel: ListSelection | None) -> str:
    if sel is None:
        return ""
    if sel.dotdigital_list_id is not None:
        return sel.dotdigital_list_name or f"#{sel.dotdigital_list_id}"
    return f"new: {sel.dotdigital_list_name or sel.name}"


def list_row(ml: Any, sel: ListSelection | None) -> list[Text]:
    picked = sel is not None
    eligible = bool(get(ml, "eligible", True))
    style = "" if eligible else "dim"
    cells = ["[x]" if picked else ("[ ]" if eligible else " - "), str(get(ml, "name", "")),
             "dynamic" if get(ml, "dynamic") else "static", str(get(ml, "member_type", "")),
             f"{get(ml, 'member_count', 0) or 0:,}", "yes" if get(ml, "activated") else "no",
             target_text(sel), "" if eligible else str(get(ml, "why", "") or "not eligible")]
    return [Text(c, style=style) for c in cells]


class ListsScreen(WizardScreen):
    STEP = "lists"
    AUTO_FOCUS = "#lists"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle", "Pick", id="lists.toggle", tooltip="Pick or unpick the list"),
        Binding("m", "map", "Map to Dotdigital list", id="lists.map",
                tooltip="Choose the Dotdigital list (address book) the picked list syncs to"),
        Binding("r", "reload", "Reload", id="lists.reload", tooltip="Read the lists again"),
    ]
    PALETTE: ClassVar[list[tuple[str, str, str]]] = [
        ("reload lists", "Read the marketing lists again", "reload"),
        ("map to Dotdigital list", "Choose the Dotdigital list for the highlighted pick", "map"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.lists: list[Any] = []
        self._loaded_for = -1  # app.generation the lists were read for
        self._have_lists = False
        self.address_books: list[Any] = []

    def compose_body(self) -> ComposeResult:
        consent = self.dapp.config.consent
        yield Static("Manage Dynamics list members", classes="title")
        with RadioSet(id="mode"):
            for value, text in MODES:
                yield RadioButton(text, value=consent.mode == value, id=f"mode-{value}")
        table: DataTable[Text] = DataTable(id="lists", cursor_type="row")
        table.add_columns(*COLUMNS)
        yield table
        yield Static("", id="empty", classes="hint")
        yield Input(consent.field, placeholder="Boolean CRM column, e.g. dd_smsconsent", id="consent-field",
                    compact=True)

    def on_mount(self) -> None:
        self._apply_mode()

    def on_screen_resume(self) -> None:
        if self._loaded_for != self.dapp.generation:
            self._loaded_for = self.dapp.generation
            self.action_reload()

    @property
    def mode(self) -> str:
        return self.dapp.config.consent.mode

    def action_reload(self) -> None:
        self.query_one("#empty", Static).update("Reading marketing lists…")
        column = self.dapp.config.dynamics.activation_column

        def work() -> None:
            svc = self.dapp.services()
            lists = list(svc.dataverse.lists(column))
            self.post_message(ListsLoaded(lists, list(svc.dotdigital.address_books())))

        self.run_io(work, group="lists", description="Reading marketing lists failed")

    def on_lists_loaded(self, message: ListsLoaded) -> None:
        self.lists = message.lists
        self.address_books = message.address_books
        self._have_lists = True
        eligible = {str(get(m, "id")) for m in self.lists if get(m, "eligible", True)}
        consent = self.dapp.config.consent
        consent.lists = [s for s in consent.lists if s.dynamics_list_id in eligible]
        self.refresh_table()

    def _picked_ids(self) -> set[str]:
        return {s.dynamics_list_id for s in self.dapp.config.consent.lists}

    def _selection(self, list_id: str) -> ListSelection | None:
        return next((s for s in self.dapp.config.consent.lists if s.dynamics_list_id == list_id), None)

    def refresh_table(self) -> None:
        table = self.query_one("#lists", DataTable)
        row = table.cursor_row
        table.clear()
        for ml in self.lists:
            table.add_row(*list_row(ml, self._selection(str(get(ml, "id")))), key=str(get(ml, "id")))
        if self.lists:
            table.move_cursor(row=min(row, len(self.lists) - 1))
        self._apply_mode()

    @on(RadioSet.Changed, "#mode")
    def _mode_changed(self, event: RadioSet.Changed) -> None:
        self.dapp.config.consent.mode = MODES[event.index][0]
        self._apply_mode()

    def _apply_mode(self) -> None:
        mode = self.mode
        table = self.query_one("#lists", DataTable)
        table.display = mode == "lists"
        self.query_one("#consent-field", Input).display = mode == "field"
        qualifying = [m for m in self.lists if get(m, "eligible", True)]
        empty = self.query_one("#empty", Static)
        ok = True
        if mode == "lists":
            if self._have_lists and not qualifying:
                empty.update("No marketing list qualifies (see 'Why not'). Choose another option above.")
                table.display = bool(self.lists)
                ok = False
            elif not self.dapp.config.consent.lists:
                empty.update("Pick at least one list with space.")
                ok = False
            else:
                n = len(self.dapp.config.consent.lists)
                empty.update(f"{n} list{'s' if n != 1 else ''} picked. m maps the highlighted one to an existing "
                             "Dotdigital list; otherwise a new list of the same name is made.")
        elif mode == "field":
            empty.update("Only records whose consent field is true are in scope.")
            ok = bool(self.dapp.config.consent.field)
        else:
            empty.update("Every active record of the mapped entities is in scope.")
        self.set_next_enabled(ok)

    def action_toggle(self) -> None:
        if self.mode != "lists" or not self.lists:
            return
        table = self.query_one("#lists", DataTable)
        ml = self.lists[table.cursor_row]
        if not get(ml, "eligible", True):
            self.set_status(f"{get(ml, 'name')}: {get(ml, 'why') or 'not eligible'}", error=True)
            return
        lid = str(get(ml, "id"))
        consent = self.dapp.config.consent
        if lid in self._picked_ids():
            consent.lists = [s for s in consent.lists if s.dynamics_list_id != lid]
        else:
            name = str(get(ml, "name", ""))
            consent.lists.append(ListSelection(lid, name=name, dotdigital_list_name=name))
        self.set_status("")
        self.refresh_table()

    def action_map(self) -> None:
        if self.mode != "lists" or not self.lists:
            return
        ml = self.lists[self.query_one("#lists", DataTable).cursor_row]
        sel = self._selection(str(get(ml, "id")))
        if sel is None:
            self.set_status("Pick the list first (space), then map it.", error=True)
            return
        options = [(NEW, f"New list: {sel.name}")]
        options += [(str(get(b, "id")), f"{get(b, 'name')} (#{get(b, 'id')})") for b in self.address_books]

        def chosen(key: str | None) -> None:
            if key is None:
                return
            if key == NEW:
                sel.dotdigital_list_id, sel.dotdigital_list_name = None, sel.name
            else:
                book = next(b for b in self.address_books if str(get(b, "id")) == key)
                sel.dotdigital_list_id, sel.dotdigital_list_name = int(get(book, "id")), str(get(book, "name"))
            self.refresh_table()

        self.app.push_screen(PickerScreen(f"Dotdigital list for {sel.name}", options), chosen)

    @on(DataTable.RowHighlighted, "#lists")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self.lists):
            ml = self.lists[event.cursor_row]
            if not get(ml, "eligible", True):
                self.set_status(f"{get(ml, 'name')}: {get(ml, 'why') or 'not eligible'}")
            else:
                self.set_status("")

    @on(DataTable.RowSelected, "#lists")
    def _row_chosen(self) -> None:
        self.action_toggle()

    @on(Input.Changed, "#consent-field")
    def _field_changed(self, event: Input.Changed) -> None:
        value = event.value.strip()
        if value and not LOGICAL.match(value):
            self.set_status("Consent field: use a CRM logical name such as dd_smsconsent", error=True)
            value = ""
        else:
            self.set_status("")
        self.dapp.config.consent.field = value
        self._apply_mode()
