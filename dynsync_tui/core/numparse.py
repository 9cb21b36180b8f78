"""``phonenumbers.parse`` without its general-purpose front end, for the common plain shapes.

Most cleaned mobile values are plain ASCII digits in groups, maybe after a "+":
``07411 222333``, ``+44 7411 222333``. For those, most of the library's parse is spent
finding the number in free text (extensions, "tel:" URIs, letters, Unicode digits,
punctuation), none of which such a value has. ``parse_plain`` does only what parse does
for these shapes, calling the library's own steps for the parts that depend on the
country's rules (country code, national prefix and carrier code, possible lengths), and
gives up (``None``) on everything else, where the caller uses ``phonenumbers.parse``:

- an international prefix written in digits ("011 44 …", "00 44 …");
- national digits that start with the country's own calling code ("44 7411 …" with GB),
  which parse may read as "+44 7411 …";
- a national number that starts with "0" once parsed (Italian-style leading zeros);
- two digits or fewer, and anything parse would refuse (too short, too long, unknown
  country code).

Tests hold it to the library: for every region's example numbers of every type, written in
several ways and read from several countries, and for random digit strings, its answer
is parse's whenever it gives one.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneMetadata

try:
    from phonenumbers.phonenumberutil import (
        _MAX_LENGTH_FOR_NSN,
        _MIN_LENGTH_FOR_NSN,
        ValidationResult,
        _extract_country_code,
        _maybe_strip_national_prefix_carrier_code,
        _test_number_length,
    )

    _FITS = (ValidationResult.TOO_SHORT, ValidationResult.IS_POSSIBLE_LOCAL_ONLY, ValidationResult.INVALID_LENGTH)
    AVAILABLE = True
except ImportError:  # pragma: no cover - a phonenumbers that moved its steps: use parse
    AVAILABLE = False

_PLAIN = re.compile(r"\+?[0-9]+(?: [0-9]+)*")
_MAX_INPUT = 250  # parse refuses longer input


@lru_cache(maxsize=512)
def _region_rules(region: str) -> tuple[object, re.Pattern[str] | None, str] | None:
    """(metadata, international prefix pattern, own calling code) of a region, or None.
    None too for a code parse refuses as a default region: it checks the code as given
    ("gb" is refused, not read as "GB"), and raises for a number without a "+"."""
    if region not in phonenumbers.SUPPORTED_REGIONS:
        return None
    meta = PhoneMetadata.metadata_for_region(region, None)
    if meta is None:
        return None
    idd = re.compile(meta.international_prefix) if meta.international_prefix else None
    return meta, idd, str(meta.country_code)


def parse_plain(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    """``phonenumbers.parse(text, region)`` for a plain digits value, else None (the caller
    then asks the library). ``region`` is ignored for "+…" values, as parse does (except
    "001", which makes parse drop the non-geographic rules: left to the library)."""
    if not AVAILABLE or len(text) > _MAX_INPUT or region == "001" or not _PLAIN.fullmatch(text):
        return None
    digits = text.replace(" ", "")
    if len(digits.lstrip("+")) <= _MIN_LENGTH_FOR_NSN:  # parse's own rules for two digits differ
        return None
    if digits[0] == "+":
        digits = digits[1:]
        country_code, national = _extract_country_code(digits)
        if country_code == 0:
            return None
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[country_code]
        meta = PhoneMetadata.metadata_for_region_or_calling_code(country_code, regions[0])
    else:
        if region is None:
            return None
        rules = _region_rules(region)
        if rules is None:
            return None
        meta, idd, own_code = rules
        if digits.startswith(own_code) or (idd is not None and idd.match(digits)):
            return None
        country_code, national = meta.country_code, digits  # type: ignore[attr-defined]
    if len(national) < _MIN_LENGTH_FOR_NSN:
        return None
    if meta is not None:
        _, stripped, _ = _maybe_strip_national_prefix_carrier_code(national, meta)
        if _test_number_length(stripped, meta) not in _FITS:
            national = stripped
    if len(national) > _MAX_LENGTH_FOR_NSN or (len(national) > 1 and national[0] == "0"):
        return None
    return phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
