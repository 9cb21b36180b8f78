"""Step 4, "Manage Dynamics list members": everyone, marketing-list members, or a consent field."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Label, RadioSet, Select, Static

from dynsync_tui.core.config import ListSelection
from dynsync_tui.tui.messages import ListsLoaded, get
from dynsync_tui.tui.screens.base import WizardScreen
from dynsync_tui.tui.widgets.picker import PickerScreen
from dynsync_tui.tui.widgets.row_table import RowTable
from dynsync_tui.tui.widgets.toggles import PlainRadio

MODES = (("none", "All active records of the mapped entities"), ("lists", "Members of marketing lists"),
         ("field", "Records with a consent field set"))
COLUMNS = ("Pick", "Name", "Kind", "Count", "Email on", "Dotdigital list", "Why not")
WIDE = 90  # below this many terminal columns, names are cut shorter so "Dotdigital list" stays in view,
# and the 'Why not' column (no room left for it) gives way to the sentence under the table
NO_COLUMN = "Not known: choose the 'Activated for Email' column above."
LABEL = 16  # the longest 'Why not' label in the table: the column stays whole at 100 columns
SHORT_HEADS = {"not activated for email": "Email off",  # the connector's sentences, by their head
               "its members are neither contacts, accounts nor leads": "Other members"}
NEW = "__new__"
LOGICAL = re.compile(r"^[a-z][a-z0-9_]*$")


def target_text(sel: ListSelection | None) -> str:
    if sel is None:
        return ""
    if sel.dotdigital_list_id is not None:
        return sel.dotdigital_list_name or f"#{sel.dotdigital_list_id}"
    return f"new: {sel.dotdigital_list_name or sel.name}"


def why_not(ml: Any, mapped: Any = None) -> str:
    """'' when the list can be picked: dynamic AND activated for email (known from the column)
    AND its members are of an entity that has mappings (``mapped``: the mapped entities)."""
    if not get(ml, "eligible", True):
        return str(get(ml, "why", "") or "not eligible")
    if get(ml, "activated") is None:
        return NO_COLUMN
    member = get(ml, "member_type")
    if mapped is not None and member and member not in mapped:
        return f"Not mapped: its members are {member}s, which have no mappings (add them on F3 Mappings)."
    return ""


def why_label(why: str) -> str:
    """The table's short 'Why not': the sentence's head ("Static list", "Not known"); the whole
    sentence of the highlighted list shows, wrapped, under the table."""
    head = why.split(":", 1)[0].rstrip(".")
    return short(SHORT_HEADS.get(head.lower(), head), LABEL)


def members_text(ml: Any) -> str:
    count = get(ml, "member_count")
    if get(ml, "dynamic") and not count:
        return "—"  # Dataverse does not keep a count for dynamic lists
    return "—" if count is None else f"{count:,}"


def short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def list_row(ml: Any, sel: ListSelection | None, wide: bool = True, mapped: Any = None) -> list[Text]:
    picked = sel is not None
    eligible = not why_not(ml, mapped)
    style = "" if eligible else "dim"
    activated = get(ml, "activated")
    kind = f"{'dyn.' if get(ml, 'dynamic') else 'static'} {get(ml, 'member_type', '') or '?'}"
    cells = ["[x]" if picked else ("[ ]" if eligible else " - "), short(str(get(ml, "name", "")), 28 if wide else 18),
             kind, members_text(ml), "?" if activated is None else ("yes" if activated else "no"),
             short(target_text(sel), 24 if wide else 18), why_label(why_not(ml, mapped))]
    return [Text(c, style=style) for c in cells[: len(columns(wide))]]


def columns(wide: bool) -> tuple[str, ...]:
    return COLUMNS if wide else COLUMNS[:-1]


class ListsScreen(WizardScreen):
    STEP = "lists"
    AUTO_FOCUS = "#mode"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle", "Pick", id="lists.toggle", tooltip="Pick or unpick the list"),
        Binding("m", "map", "Map list", id="lists.map",
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
        self._wide = True
        self._auto_note = ""

    def compose_body(self) -> ComposeResult:
        consent = self.dapp.config.consent
        yield Static("Manage Dynamics list members", classes="title")
        with RadioSet(id="mode"):
            for value, text in MODES:
                yield PlainRadio(text, value=consent.mode == value, id=f"mode-{value}")
        with Horizontal(id="activation-row"):
            yield Label("'Activated for Email' column ")
            column = self.dapp.config.dynamics.activation_column
            yield Select([(column, column)] if column else [], value=column or Select.NULL, id="activation",
                         prompt="choose the list column (esc_…)", compact=True,
                         tooltip="The Boolean list column the Dotdigital solution uses for 'Activated for Email'")
        yield RowTable(*COLUMNS, id="lists")
        yield Static("", id="why")
        yield Static("", id="empty", classes="hint")
        yield Input(consent.field, placeholder="Boolean CRM column, e.g. dd_smsconsent", id="consent-field",
                    compact=True)

    def on_mount(self) -> None:
        self._apply_mode()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("toggle", "map"):
            return self.mode == "lists"  # the footer offers them only in lists mode
        return super().check_action(action, parameters)

    def on_screen_resume(self) -> None:
        if self.mode == "lists" and self.lists:
            self.query_one("#lists", DataTable).focus()
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
            columns = list(svc.dataverse.activation_columns())
            names = [str(get(c, "logical_name")) for c in columns]
            chosen = column if column in names or not names else (names[0] if len(names) == 1 else "")
            lists = list(svc.dataverse.lists(chosen))
            self.post_message(ListsLoaded(lists, list(svc.dotdigital.address_books()), columns, chosen))

        self.run_io(work, group="lists", description="Reading marketing lists failed")

    def on_lists_loaded(self, message: ListsLoaded) -> None:
        self.lists = message.lists
        self.address_books = message.address_books
        self._have_lists = True
        self._show_columns(message.columns, message.column)
        dropped = {str(get(m, "id")) for m in self.lists if not get(m, "eligible", True)}
        consent = self.dapp.config.consent
        gone = [s.name for s in consent.lists if s.dynamics_list_id in dropped]
        consent.lists = [s for s in consent.lists if s.dynamics_list_id not in dropped]
        self.refresh_table()
        if gone:
            self.set_status(f"Unpicked (no longer eligible): {', '.join(gone)}", error=True)
        elif self._auto_note:
            self.set_status(self._auto_note)
        self._auto_note = ""

    def _show_columns(self, columns: list[Any], column: str) -> None:
        """The candidates for 'Activated for Email'; the one the lists were read with is chosen
        (and kept in the config: auto-picked when it is the only candidate)."""
        select = self.query_one("#activation", Select)
        options = [(f"{get(c, 'logical_name')}" + (f" — {get(c, 'display_name')}" if get(c, "display_name") else ""),
                    str(get(c, "logical_name"))) for c in columns]
        if column and column not in {v for _, v in options}:
            options.insert(0, (column, column))
        with self.prevent(Select.Changed):
            select.set_options(options)
            if column:
                select.value = column
        cfg = self.dapp.config.dynamics
        if column and cfg.activation_column != column:
            cfg.activation_column = column
            self._auto_note = f"'Activated for Email' column: {column} (the only candidate; saved with Next)."
        if not columns:
            select.prompt = "no esc_ Boolean column on marketing lists"

    @on(Select.Changed, "#activation")
    def _activation_changed(self, event: Select.Changed) -> None:
        value = "" if event.value is Select.NULL else str(event.value)
        if value != self.dapp.config.dynamics.activation_column:
            self.dapp.config.dynamics.activation_column = value
            self.action_reload()

    def _picked_ids(self) -> set[str]:
        return {s.dynamics_list_id for s in self.dapp.config.consent.lists}

    def _mapped(self) -> set[str]:
        return set(self.dapp.config.mapped_entities())

    def _selection(self, list_id: str) -> ListSelection | None:
        return next((s for s in self.dapp.config.consent.lists if s.dynamics_list_id == list_id), None)

    def on_resize(self) -> None:
        if (self.size.width >= WIDE) != self._wide:
            self.refresh_table()

    def refresh_table(self) -> None:
        wide = self.size.width >= WIDE
        table = self.query_one("#lists", DataTable)
        row = table.cursor_row
        table.clear(columns=wide != self._wide)
        if wide != self._wide:
            self._wide = wide
            table.add_columns(*columns(wide))
        for ml in self.lists:
            table.add_row(*list_row(ml, self._selection(str(get(ml, "id"))), self._wide, self._mapped()), key=str(get(ml, "id")))
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
        self.query_one("#activation-row").display = mode == "lists"
        if self.focused is table and not table.display:
            self.query_one("#mode", RadioSet).focus()
        self.refresh_bindings()
        self.query_one("#consent-field", Input).display = mode == "field"
        qualifying = [m for m in self.lists if not why_not(m, self._mapped())]
        empty = self.query_one("#empty", Static)
        ok = True
        if mode == "lists":
            if self._have_lists and not self.dapp.config.dynamics.activation_column:
                empty.update("Choose the 'Activated for Email' column above: until then no list can be picked.")
                ok = False
            elif self._have_lists and not qualifying:
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
        self._show_why()

    def action_toggle(self) -> None:
        if self.mode != "lists" or not self.lists:
            return
        table = self.query_one("#lists", DataTable)
        ml = self.lists[table.cursor_row]
        if why_not(ml, self._mapped()):
            self.set_status(f"{get(ml, 'name')}: {why_not(ml, self._mapped())}", error=True)
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
    def _row_highlighted(self) -> None:
        self._show_why()

    def _show_why(self) -> None:
        """The whole 'Why not' sentence of the highlighted list, wrapped under the table."""
        table = self.query_one("#lists", DataTable)
        row = table.cursor_row
        why = ""
        if self.mode == "lists" and table.display and 0 <= row < len(self.lists):
            ml = self.lists[row]
            if reason := why_not(ml, self._mapped()):
                why = f"Why not ({get(ml, 'name')}): {reason}"
        widget = self.query_one("#why", Static)
        widget.update(Text(why))
        widget.display = bool(why)

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
