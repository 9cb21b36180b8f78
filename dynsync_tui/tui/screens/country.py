"""Step 2, "Default country": for numbers written without a country code, or Off."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from dynsync_tui.core.countries import all_countries
from dynsync_tui.tui.screens.base import WizardScreen

OFF = "off"


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
    CSS_PATH = "country.tcss"
    AUTO_FOCUS = "#countries"
    PALETTE: ClassVar[list[tuple[str, str, str]]] = [("search countries", "Focus the search box", "search")]

    def compose_body(self) -> ComposeResult:
        yield Static("Default country", classes="title")
        yield Static("", id="current")
        yield Input(placeholder="Search by name, ISO code or calling code", id="search", compact=True)
        yield OptionList(*country_options(""), id="countries")
        yield Static("", id="no-match", classes="hint")
        yield Label("Per-record country field (optional, e.g. address1_country; blank: not used)")
        yield Input(self.dapp.config.validation.record_country_field, id="record-country",
                    placeholder="CRM column holding each record's country", compact=True)

    def on_mount(self) -> None:
        self._show_current()

    def _show_current(self) -> None:
        code = self.dapp.config.validation.default_country
        self.query_one("#current", Static).update(f"Current: [b]{country_text(code)}[/b]")
        ol = self.query_one("#countries", OptionList)
        try:
            ol.highlighted = ol.get_option_index(code or OFF)
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
