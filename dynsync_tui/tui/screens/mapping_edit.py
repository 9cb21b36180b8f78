"""The add/edit modal for one email data mapping, in the official connector's words."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Select, Static

from dynsync_tui.core.mappings import (
    DIRECTION_FROM_CRM,
    DIRECTION_TEXT,
    DIRECTIONS,
    ENTITIES,
    IDENTIFIER_LABELS,
    MOBILE_LABEL,
    Mapping,
    MappingError,
    check_mapping,
)
from dynsync_tui.tui.messages import get
from dynsync_tui.tui.widgets.search_select import SearchSelect

MOBILE_LOCK_REASON = "Mobile numbers flow one way only, Dynamics → Dotdigital."
FALLBACK_FIELDS = ("mobilephone", "telephone1", "telephone2", "emailaddress1", "firstname", "lastname",
                   "fullname", "parentcustomerid", "address1_country")


def phone_first(attributes: list[Any]) -> list[tuple[str, str]]:
    """(prompt, logical name) for a Select: phone-like fields first, then by name."""
    def is_phone(a: Any) -> bool:
        text = f"{get(a, 'logical_name', '')} {get(a, 'type', '')} {get(a, 'display_name', '')}".lower()
        return any(w in text for w in ("phone", "mobile"))

    ordered = sorted(attributes, key=lambda a: (not is_phone(a), str(get(a, "logical_name", ""))))
    out = []
    for a in ordered:
        name = str(get(a, "logical_name", ""))
        shown = get(a, "display_name") or ""
        out.append((f"{'☎ ' if is_phone(a) else ''}{name}" + (f" — {shown}" if shown else ""), name))
    return out


class MappingEditScreen(ModalScreen[Mapping | None]):
    """Dismisses with the new Mapping, or None on cancel."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="mapping.cancel", tooltip="Close without changes"),
    ]

    def __init__(self, mapping: Mapping | None, *, attributes: dict[str, list[Any]],
                 relationships: dict[str, list[Any]], data_fields: list[str]) -> None:
        super().__init__()
        self.mapping = mapping or Mapping("", "contact", "")
        self.attributes = attributes
        self.relationships = relationships
        self.data_fields = data_fields

    def _field_options(self, entity: str, current: str) -> list[tuple[str, str]]:
        attrs = self.attributes.get(entity)
        opts = phone_first(attrs) if attrs else [(f, f) for f in FALLBACK_FIELDS]
        if current and current not in {v for _, v in opts}:
            opts.insert(0, (current, current))
        return opts

    def _link_options(self, entity: str) -> list[tuple[str, str]]:
        rels = self.relationships.get(entity) or []
        opts = [(f"{get(r, 'lookup')} → {get(r, 'target')}",
                 f"{get(r, 'lookup')}|{get(r, 'target')}|{get(r, 'nav', '')}") for r in rels]
        m = self.mapping
        if m.is_linked and m.entity == entity:
            key = f"{m.field}|{m.linked_entity}|{m.linked_nav}"
            if key not in {v for _, v in opts}:
                opts.insert(0, (f"{m.field} → {m.linked_entity}", key))
        return opts

    def compose(self) -> ComposeResult:
        m = self.mapping
        labels = [*IDENTIFIER_LABELS, *self.data_fields]
        with VerticalScroll(id="dialog"):
            yield Static("Edit email data mapping" if m.label else "Add email data mapping", classes="title")
            with Grid(id="form"):
                yield Label("Email data label")
                yield Input(m.label, id="label", placeholder="email, mobileNumber or a data field",
                            suggester=SuggestFromList(labels, case_sensitive=False), compact=True)
                yield Label("Mapped entity")
                yield Select([(e, e) for e in ENTITIES], value=m.entity, allow_blank=False, id="entity", compact=True)
                yield Label("Linked via (optional)")
                yield Select(self._link_options(m.entity), prompt="No link: a field of the entity itself",
                             value=f"{m.field}|{m.linked_entity}|{m.linked_nav}" if m.is_linked else Select.NULL,
                             id="link", compact=True)
                yield Label("Primary CRM field")
                yield SearchSelect(self._field_options(m.entity, m.field), value=m.field or Select.NULL,
                             prompt="Choose a field (type to search)", id="field", compact=True)
                yield Label("Linked CRM field")
                yield SearchSelect(self._field_options(m.linked_entity, m.linked_field) if m.is_linked else [],
                             value=m.linked_field or Select.NULL, prompt="— (choose a link first)", id="linked-field",
                             compact=True)
                yield Label("Mapping direction")
                yield Select([(DIRECTION_TEXT[d], d) for d in DIRECTIONS], value=m.direction,
                             allow_blank=False, id="direction", compact=True)
            yield Static("", id="lock", classes="hint")
            yield Static("", id="label-hint", classes="hint")
            yield Static("", id="error")
            with Horizontal(id="buttons"):
                yield Button("OK", id="ok", variant="primary", tooltip="Keep this mapping", compact=True)
                yield Button("Cancel", id="cancel", tooltip="Close without changes (escape)", compact=True)

    def on_mount(self) -> None:
        self._sync_lock(self.mapping.label)
        self._sync_link()
        self.query_one("#label", Input).focus()

    @on(Input.Submitted, "#label")
    def _submitted(self) -> None:
        self.action_ok()  # enter in the text box: OK when the mapping is valid, else the error shows

    @on(Input.Changed, "#label")
    def _label_changed(self, event: Input.Changed) -> None:
        self._sync_lock(event.value.strip())

    def _sync_lock(self, label: str) -> None:
        direction = self.query_one("#direction", Select)
        mobile = label == MOBILE_LABEL
        if mobile != direction.has_class("-locked"):  # locked: one choice; never disabled (tab order stays)
            keep = direction.value
            choices = [DIRECTION_FROM_CRM] if mobile else list(DIRECTIONS)
            direction.set_options([(DIRECTION_TEXT[d], d) for d in choices])
            direction.value = DIRECTION_FROM_CRM if mobile or keep not in choices else keep
            direction.set_class(mobile, "-locked")
        self.query_one("#lock", Static).update(
            f"Mapping direction: {DIRECTION_TEXT[DIRECTION_FROM_CRM]} (locked). {MOBILE_LOCK_REASON}" if mobile else "")
        new = label and label not in IDENTIFIER_LABELS and label not in self.data_fields
        self.query_one("#label-hint", Static).update(
            f"{label!r} is not a Dotdigital data field yet: it is created when you save." if new else "")

    @on(Select.Changed, "#entity")
    def _entity_changed(self, event: Select.Changed) -> None:
        entity = str(event.value)
        link = self.query_one("#link", Select)
        keep, options = link.value, self._link_options(entity)
        link.set_options(options)  # (Select posts Changed on mount too: the link must survive it)
        if keep is not Select.NULL and keep in {v for _, v in options}:
            link.value = keep
        self._sync_link()

    @on(Select.Changed, "#link")
    def _link_changed(self) -> None:
        self._sync_link()

    def _sync_link(self) -> None:
        link = self.query_one("#link", Select).value
        field = self.query_one("#field", Select)
        linked = self.query_one("#linked-field", Select)
        entity = str(self.query_one("#entity", Select).value)
        if link is Select.NULL or not link:  # nothing is disabled: the tab order never changes
            linked.set_options([])
            keep = "" if field.value is Select.NULL else str(field.value)
            field.set_options(self._field_options(entity, keep))  # this entity's fields (after a link: all again)
            if keep:
                field.value = keep
            return
        lookup, target, _nav = str(link).split("|")
        field.set_options([(lookup, lookup)])
        field.value = lookup
        keep = self.mapping.linked_field if self.mapping.linked_entity == target else ""
        linked.set_options(self._field_options(target, keep))
        if keep:
            linked.value = keep

    def build(self) -> Mapping:
        link = self.query_one("#link", Select).value
        field = self.query_one("#field", Select).value
        linked = self.query_one("#linked-field", Select).value
        lookup, target, nav = str(link).split("|") if link is not Select.NULL and link else ("", "", "")
        return Mapping(
            label=self.query_one("#label", Input).value.strip(),
            entity=str(self.query_one("#entity", Select).value),
            field=lookup or ("" if field is Select.NULL else str(field)),
            linked_entity=target,
            linked_field="" if not lookup or linked is Select.NULL else str(linked),
            linked_nav=nav,
            direction=str(self.query_one("#direction", Select).value),
            clear_when_empty=self.mapping.clear_when_empty,
        )

    @on(Button.Pressed, "#ok")
    def action_ok(self) -> None:
        m = self.build()
        try:
            check_mapping(m, where=m.label or "Email data label")
        except MappingError as exc:
            self.query_one("#error", Static).update(str(exc))
            return
        self.dismiss(m)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
