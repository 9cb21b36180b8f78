"""Step 2, "Default country": for numbers written without a country code, or Off."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

import phonenumbers
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from dynsync_tui.core.countries import all_countries
from dynsync_tui.tui.screens.base import WizardScreen

OFF = "off"
ENTITY_SETS = {"contact": "contacts", "lead": "leads", "account": "accounts"}
SAMPLE = 500


@dataclass
class SampleLoaded(Message):
    mobiles: list[str]


def calling_code(iso: str | None) -> int | None:
    return next((c.calling_code for c in all_countries() if c.iso == iso), None)


def foreign_share(mobiles: list[str], home_code: int | None) -> tuple[float, list[str], int]:
    """Share of non-empty numbers written with another country code, the commonest codes, and
    how many non-empty numbers were looked at."""
    values = [m.strip() for m in mobiles if m and m.strip()]
    if not values:
        return 0.0, [], 0
    codes: Counter[str] = Counter()
    for raw in values:
        if raw.startswith("+") or raw.startswith("00"):
            digits = "".join(ch for ch in raw.removeprefix("+").removeprefix("00") if ch.isdigit())
            try:
                code = phonenumbers.parse("+" + digits).country_code
            except phonenumbers.NumberParseException:
                continue
            if code != home_code:
                codes[f"+{code}"] += 1
    return sum(codes.values()) / len(values), [c for c, _ in codes.most_common(3)], len(values)


def country_options(query: str) -> list[Option]:
    """'Off' plus every country as 'Name (ISO) +code', filtered by name, ISO or calling code."""
    q = query.strip().lower().lstrip("+")
    out = []
    if not q or q in "off (no validation)":
        out.append(Option("Off — no validation, numbers must carry their country code", id=OFF))
    for c in all_countries():
        if not q or q in c.name.lower() or q == c.iso.lower() or q == str(c.calling_code):
            out.append(Option(f"{c.name} ({c.iso}) +{c.calling_code}", id=c.iso))
    return out


def country_text(code: str | None) -> str:
    if code is None:
        return "Off"
    for c in all_countries():
        if c.iso == code:
            return f"{c.name} ({c.iso}) +{c.calling_code}"
    return code


class CountryScreen(WizardScreen):
    STEP = "country"
    AUTO_FOCUS = "#search"  # typing searches at once (F-keys still change step)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "to_list", "To the list", show=False, id="country.to_list",
                tooltip="From the search box, move into the list"),
    ]
    PALETTE: ClassVar[list[tuple[str, str, str]]] = [("search countries", "Focus the search box", "search")]

    def compose_body(self) -> ComposeResult:
        yield Static("Default country", classes="title")
        yield Static("", id="current")
        yield Input(placeholder="Search by name, ISO code or calling code (↓ to the list, enter picks)",
                    id="search")
        yield OptionList(*country_options(""), id="countries")
        yield Static("", id="no-match", classes="hint")
        yield Static("", id="multi-country", classes="hint")
        yield Label("Per-record country field (optional, e.g. address1_country; blank: not used)")
        yield Input(self.dapp.config.validation.record_country_field, id="record-country",
                    placeholder="CRM column holding each record's country", compact=True)

    def on_mount(self) -> None:
        self._show_current()
        self._sample: list[str] = []
        self._sampled_for = -1

    def on_screen_resume(self) -> None:
        if self._sampled_for != self.dapp.generation:
            self._sampled_for = self.dapp.generation
            self.load_sample()

    def load_sample(self) -> None:
        """Read one page of mobile numbers to hint when the data looks multi-country."""
        mobile = [m for m in self.dapp.config.mappings if m.is_mobile and not m.is_linked]

        def work() -> None:
            svc = self.dapp.services()
            values: list[str] = []
            for m in mobile[:2]:
                pages = svc.dataverse.iter_pages(ENTITY_SETS.get(m.entity, m.entity + "s"), select=[m.field],
                                                 page_size=SAMPLE)
                values += [str(row.get(m.field) or "") for row in next(iter(pages), [])]
            self.post_message(SampleLoaded(values))

        self.run_io(work, group="sample", description="Reading a sample of numbers failed")

    def on_sample_loaded(self, message: SampleLoaded) -> None:
        self._sample = message.mobiles
        self._hint()

    def _hint(self) -> None:
        code = self.dapp.config.validation.default_country
        share, codes, n = foreign_share(self._sample, calling_code(code))
        text = ""
        if share >= 0.05:
            text = (f"{share:.0%} of {n:,} sampled numbers carry another country code "
                    f"({', '.join(codes)}…): the data looks multi-country. Numbers with a code are read "
                    "as written; for the rest, consider the per-record country field below.")
        self.query_one("#multi-country", Static).update(text)

    def _show_current(self) -> None:
        code = self.dapp.config.validation.default_country
        self.query_one("#current", Static).update(f"Current: [b]{country_text(code)}[/b]")
        ol = self.query_one("#countries", OptionList)
        try:
            ol.highlighted = ol.get_option_index(code or OFF)
            self.call_after_refresh(ol.scroll_to_highlight, top=True)
        except Exception:  # noqa: BLE001 - not in the filtered view
            pass

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    @on(Input.Changed, "#search")
    def _search(self, event: Input.Changed) -> None:
        ol = self.query_one("#countries", OptionList)
        options = country_options(event.value)
        ol.set_options(options)
        self.query_one("#no-match", Static).update("" if options else f"No country matches {event.value!r}.")
        if options:
            ol.highlighted = 0

    def action_to_list(self) -> None:
        """Down in the search box moves into the list, on the highlighted (top) match."""
        if self.focused is self.query_one("#search", Input):
            ol = self.query_one("#countries", OptionList)
            if ol.option_count and ol.highlighted is None:
                ol.highlighted = 0
            self.set_focus(ol)  # at once (focus() waits a turn): keys typed fast reach the list

    @on(Input.Submitted, "#search")
    def _pick_top(self) -> None:
        ol = self.query_one("#countries", OptionList)
        if ol.option_count:
            self._choose(ol.get_option_at_index(ol.highlighted or 0).id)

    @on(OptionList.OptionSelected, "#countries")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    def _choose(self, code: str | None) -> None:
        self.dapp.config.validation.default_country = None if code in (None, OFF) else code
        self._show_current()
        self._hint()
        self.set_status(f"Default country: {country_text(self.dapp.config.validation.default_country)}")

    @on(Input.Changed, "#record-country")
    def _record_country(self, event: Input.Changed) -> None:
        value = event.value.strip()
        if value and not value.replace("_", "").isalnum():
            self.set_status("Per-record country field: use a CRM logical name such as address1_country",
                            error=True)
            return
        self.dapp.config.validation.record_country_field = value
        self.set_status("")
