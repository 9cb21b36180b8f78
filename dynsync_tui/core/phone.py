"""Mobile numbers: clean, resolve the country, validate, check the type, format as E.164.

Country resolution: the number's own country code (+CC or 00CC) → the record's country (only
when the admin turned it on and it names a known country) → the default country → none.
``default_country=None`` means validation is off: numbers carrying a country code are sent as
E.164 without a validity check (a *valid* number of a non-mobile type is still refused);
numbers without one are skipped as ``no_country_code``. The record's country is not used
when validation is off.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberFormat, PhoneNumberType

from dynsync_tui.core.cleaning import ARROW, clean
from dynsync_tui.core.reasons import Reason

PHONENUMBERS_VERSION: str = phonenumbers.__version__

MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_CACHE_LIMIT = 1 << 20
_MISSING_PLUS = re.compile(r"[1-9][0-9\s\-.]{7,}")
_NON_DIGITS = re.compile(r"[^0-9]")

_ALIASES = {
    "uk": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "northern ireland": "GB", "united kingdom of great britain and northern ireland": "GB",
    "usa": "US", "us": "US", "united states of america": "US", "america": "US",
    "holland": "NL", "the netherlands": "NL", "deutschland": "DE", "espana": "ES",
    "eire": "IE", "republic of ireland": "IE", "uae": "AE", "south korea": "KR", "korea": "KR",
    "russia": "RU", "czech republic": "CZ", "czechia": "CZ",
}


@dataclass(frozen=True, slots=True)
class PhoneResult:
    """The outcome for one raw value: ``e164`` when it will be sent, else ``reason``."""

    e164: str | None
    reason: str | None
    corrections: tuple[str, ...]
    region: str | None


def _key(name: str) -> str:
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = re.sub(r"[.'’]", "", text)
    text = re.sub(r"[\s,&_-]+", " ", text).strip()
    return text[4:] if text.startswith("the ") and text[4:] not in _ALIASES else text


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    from dynsync_tui.core.countries import all_countries

    names = {_key(c.name): c.iso for c in all_countries()}
    names.update({_key(k): v for k, v in _ALIASES.items()})
    return names


@lru_cache(maxsize=4096)
def resolve_country(value: str | None) -> str | None:
    """An ISO region code for a record's country field ("France", "fr", "UK"), else None."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) == 2 and text.isalpha():
        code = "GB" if text.upper() == "UK" else text.upper()
        if code in phonenumbers.SUPPORTED_REGIONS and code != "001":
            return code
    return _country_names().get(_key(text))


_cache: dict[tuple[str, str | None, str | None], PhoneResult] = {}


def clear_cache() -> None:
    """Forget memoised results (benchmarks measure cold runs)."""
    _cache.clear()


def normalise_mobile(
    raw: str | None, default_country: str | None, record_country: str | None = None
) -> PhoneResult:
    """Normalise one raw mobile value (memoised on the value and the settings)."""
    if raw is None:
        return _NO_MOBILE
    if not isinstance(raw, str):
        raw = str(raw)
    region = None
    if default_country is not None and record_country:
        region = resolve_country(record_country)
    key = (raw, default_country, region)
    hit = _cache.get(key)
    if hit is None:
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        hit = _cache[key] = _normalise(raw, default_country, region or default_country)
    return hit


_NO_MOBILE = PhoneResult(None, Reason.NO_MOBILE.value, (), None)


def _fail(reason: Reason, corrections: list[str]) -> PhoneResult:
    return PhoneResult(None, reason.value, tuple(corrections), None)


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None


try:  # the type without walking the number-type patterns twice (region, then type)
    from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE, _number_type_helper
except ImportError:  # pragma: no cover - a future phonenumbers without the helper
    _number_type_helper = None

_UNKNOWN = PhoneNumberType.UNKNOWN


def region_and_type(number: phonenumbers.PhoneNumber) -> tuple[str | None, int]:
    """``(region_code_for_number(n), number_type(n))`` in one walk. The library's
    ``is_valid_number`` is exactly "type is not UNKNOWN", so this answers validity too
    (property tests hold this function to the library's three answers)."""
    if _number_type_helper is None:  # pragma: no cover
        return phonenumbers.region_code_for_number(number), phonenumbers.number_type(number)
    regions = COUNTRY_CODE_TO_REGION_CODE.get(number.country_code)
    if not regions:
        return None, _UNKNOWN
    nsn = phonenumbers.national_significant_number(number)
    if len(regions) == 1:
        meta = PhoneMetadata.metadata_for_region_or_calling_code(number.country_code, regions[0])
        return regions[0], (_UNKNOWN if meta is None else _number_type_helper(nsn, meta))
    for region in regions:  # as region_code_for_number, keeping the type it computes
        meta = PhoneMetadata.metadata_for_region(region, None)
        if meta is None:
            continue
        if meta.leading_digits is not None:
            if re.match(meta.leading_digits, nsn):
                return region, _number_type_helper(nsn, meta)
        else:
            kind = _number_type_helper(nsn, meta)
            if kind != _UNKNOWN:
                return region, kind
    return None, _UNKNOWN


def _normalise(raw: str, default_country: str | None, region: str | None) -> PhoneResult:
    cleaned = clean(raw)
    corrections = cleaned.corrections
    if cleaned.placeholder:
        return PhoneResult(None, Reason.NO_MOBILE.value, tuple(corrections), None)
    if cleaned.refused:
        return _fail(Reason.INVALID_MOBILE, corrections)
    text = cleaned.value
    international = text.startswith("+")
    validate = default_country is not None
    if not international and not validate:
        return _fail(Reason.NO_COUNTRY_CODE, corrections)
    number = _parse(text, None if international else region)
    kind, region_code = PhoneNumberType.UNKNOWN, None
    if number is not None:
        region_code, kind = region_and_type(number)
    missing_plus = False
    if validate and not international and _MISSING_PLUS.fullmatch(text) and kind not in MOBILE_TYPES:
        # The "+" went missing when the digits only make a valid number as international, or
        # when they start with the country's own calling code and read as a landline
        # nationally but as a mobile internationally ("4917631199934" with country DE).
        alt = _parse("+" + text, None)
        alt_region, alt_kind = region_and_type(alt) if alt is not None else (None, kind)
        own_code = region is not None and text.startswith(str(phonenumbers.country_code_for_region(region)))
        if alt_kind != PhoneNumberType.UNKNOWN and (
            kind == PhoneNumberType.UNKNOWN or (own_code and alt_kind in MOBILE_TYPES)
        ):
            number, region_code, kind, missing_plus = alt, alt_region, alt_kind, True
    valid = kind != PhoneNumberType.UNKNOWN
    if number is None or (validate and not valid):
        return _fail(Reason.INVALID_MOBILE, corrections)
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if not international and (missing_plus or e164[1:] == _NON_DIGITS.sub("", text)):
        # written as country code + number without the "+" (the library also reads the
        # default country's own code that way): show it
        corrections.append(f"{text}{ARROW}+{text}")
    if number.extension:
        corrections.append(f"{text}{ARROW}{e164} (extension {number.extension} dropped)")
    if valid and kind not in MOBILE_TYPES:
        return _fail(Reason.NOT_MOBILE, corrections)
    return PhoneResult(e164, None, tuple(corrections), region_code if valid else None)
