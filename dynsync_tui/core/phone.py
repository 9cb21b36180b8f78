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
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, NamedTuple

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberFormat, PhoneNumberType

from dynsync_tui.core.cleaning import ARROW, clean
from dynsync_tui.core.numparse import parse_plain
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


class PhoneResult(NamedTuple):
    """The outcome for one raw value: ``e164`` when it will be sent, else ``reason``.
    (A named tuple: immutable, and cheap to make from the plain tuple a worker sends.)"""

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


def _memo_key(raw: str, default_country: str | None,
              record_country: str | None) -> tuple[str, str | None, str | None]:
    if default_country is not None and record_country:
        return (raw, default_country, resolve_country(record_country))
    return (raw, default_country, None)


def normalise_mobile(
    raw: str | None, default_country: str | None, record_country: str | None = None
) -> PhoneResult:
    """Normalise one raw mobile value (memoised on the value and the settings)."""
    if raw is None:
        return _NO_MOBILE
    if not isinstance(raw, str):
        raw = str(raw)
    key = _memo_key(raw, default_country, record_country)
    hit = _cache.get(key)
    if hit is None:
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        hit = _cache[key] = _normalise(raw, default_country, key[2] or default_country)
    return hit


def make_room(n: int) -> None:
    """Make sure ``n`` more values (at most the cache's size) can be memoised without the
    cache emptying itself midway: it is emptied now if need be."""
    if len(_cache) + n > _CACHE_LIMIT:
        _cache.clear()


def remember(values: Iterable[tuple[str, str | None]], default_country: str | None,
             results: Iterable[tuple[str | None, str | None, tuple[str, ...], str | None]]) -> None:
    """Memoise results worked out elsewhere (another process): ``results[i]`` is the plain
    tuple of ``PhoneResult`` for the (raw value, record country) ``values[i]``."""
    keys = (_memo_key(raw, default_country, country) for raw, country in values)
    _cache.update(zip(keys, map(PhoneResult._make, results)))


_NO_MOBILE = PhoneResult(None, Reason.NO_MOBILE.value, (), None)


def _fail(reason: Reason, corrections: list[str]) -> PhoneResult:
    return PhoneResult(None, reason.value, tuple(corrections), None)


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    number = parse_plain(text, region)  # the library's answer, sooner, for plain digits
    if number is not None:
        return number
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None


try:  # the library's type rules, read from its metadata
    from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE
except ImportError:  # pragma: no cover - a future phonenumbers that moves the table
    COUNTRY_CODE_TO_REGION_CODE = None

_T = PhoneNumberType
_UNKNOWN = _T.UNKNOWN
# The order in which the library tries the types (phonenumberutil._number_type_helper): the
# first match wins; fixed line and mobile come last and together make FIXED_LINE_OR_MOBILE.
_SPECIAL_TYPES = (("premium_rate", _T.PREMIUM_RATE), ("toll_free", _T.TOLL_FREE),
                  ("shared_cost", _T.SHARED_COST), ("voip", _T.VOIP),
                  ("personal_number", _T.PERSONAL_NUMBER), ("pager", _T.PAGER), ("uan", _T.UAN),
                  ("voicemail", _T.VOICEMAIL))
_Desc = tuple  # (possible lengths or None for "any", compiled national number pattern)


def _desc(desc: Any) -> _Desc | None:
    """A PhoneNumberDesc as (lengths, compiled pattern); None when it can never match."""
    if desc is None or not desc.national_number_pattern:
        return None
    lengths = frozenset(desc.possible_length) if desc.possible_length else None
    return lengths, re.compile(desc.national_number_pattern)


def _matches(nsn: str, desc: _Desc | None) -> bool:
    if desc is None:
        return False
    lengths, pattern = desc
    return (lengths is None or len(nsn) in lengths) and pattern.fullmatch(nsn) is not None


class _TypeRules:
    """One region's type rules with their patterns compiled once. ``kind`` gives exactly the
    library's ``_number_type_helper`` answer (tests hold it to ``number_type`` for every region)
    without its per-call pattern look-ups."""

    def __init__(self, meta: Any) -> None:
        self.general = _desc(meta.general_desc)
        self.special = tuple((d, kind) for d, kind in ((_desc(getattr(meta, name)), kind)
                                                      for name, kind in _SPECIAL_TYPES) if d is not None)
        self.fixed, self.mobile = _desc(meta.fixed_line), _desc(meta.mobile)
        self.same = bool(meta.same_mobile_and_fixed_line_pattern)
        self.leading = re.compile(meta.leading_digits) if meta.leading_digits is not None else None

    def kind(self, nsn: str) -> int:
        if not _matches(nsn, self.general):
            return _UNKNOWN
        for desc, kind in self.special:
            if _matches(nsn, desc):
                return kind
        if _matches(nsn, self.fixed):
            if self.same or _matches(nsn, self.mobile):
                return _T.FIXED_LINE_OR_MOBILE
            return _T.FIXED_LINE
        if not self.same and _matches(nsn, self.mobile):
            return _T.MOBILE
        return _UNKNOWN


_rules: dict[tuple[int, str], _TypeRules | None] = {}


def _rules_for(cc: int, region: str, single: bool) -> _TypeRules | None:
    key = (cc, region)
    try:
        return _rules[key]
    except KeyError:
        pass
    meta = (PhoneMetadata.metadata_for_region_or_calling_code(cc, region) if single
            else PhoneMetadata.metadata_for_region(region, None))
    out = _rules[key] = None if meta is None else _TypeRules(meta)
    return out


def region_and_type(number: phonenumbers.PhoneNumber) -> tuple[str | None, int]:
    """``(region_code_for_number(n), number_type(n))`` in one walk. The library's
    ``is_valid_number`` is exactly "type is not UNKNOWN", so this answers validity too
    (tests hold this function to the library's three answers)."""
    if COUNTRY_CODE_TO_REGION_CODE is None:  # pragma: no cover
        return phonenumbers.region_code_for_number(number), phonenumbers.number_type(number)
    cc = number.country_code
    regions = COUNTRY_CODE_TO_REGION_CODE.get(cc)
    if not regions:
        return None, _UNKNOWN
    nsn = phonenumbers.national_significant_number(number)
    if len(regions) == 1:
        rules = _rules_for(cc, regions[0], True)
        return regions[0], (_UNKNOWN if rules is None else rules.kind(nsn))
    for region in regions:  # as region_code_for_number, keeping the type it computes
        rules = _rules_for(cc, region, False)
        if rules is None:
            continue
        if rules.leading is not None:
            if rules.leading.match(nsn):
                return region, rules.kind(nsn)
        else:
            kind = rules.kind(nsn)
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
