"""Countries for the default-country picker: name, ISO code, calling code."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import geocoder


@dataclass(frozen=True, slots=True)
class Country:
    iso: str
    name: str
    calling_code: int


_MISSING_NAMES = {"AC": "Ascension Island", "TA": "Tristan da Cunha", "XK": "Kosovo"}
"""Regions phonenumbers knows but its geocoder has no English name for."""


@lru_cache(maxsize=1)
def all_countries() -> tuple[Country, ...]:
    out = []
    for iso in phonenumbers.SUPPORTED_REGIONS:
        if iso == "001":
            continue
        name = _MISSING_NAMES.get(iso) or geocoder._region_display_name(iso, "en") or iso
        out.append(Country(iso, name, phonenumbers.country_code_for_region(iso)))
    return tuple(sorted(out, key=lambda c: c.name))


def is_known_region(code: str) -> bool:
    return code.upper() in phonenumbers.SUPPORTED_REGIONS and code.upper() != "001"
