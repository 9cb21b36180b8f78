"""``parse_plain`` gives ``phonenumbers.parse``'s answer whenever it gives one."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynsync_tui.core import numparse
from dynsync_tui.core.numparse import parse_plain

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
READERS = ["GB", "US", "DE", "FR", "IT", "AR", "BR", "MX", "IN", "JP", "RU", "AU"]


def _library(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


def _agrees(text: str, region: str | None) -> bool:
    """True when parse_plain answered, and with the library's number."""
    mine = parse_plain(text, region)
    if mine is None:
        return False
    assert mine == _library(text, region), (text, region)
    return True


def _written_ways(number: phonenumbers.PhoneNumber) -> list[str]:
    nsn = phonenumbers.national_significant_number(number)
    national = "".join(c for c in phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
                       if c.isdigit())
    return [phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
            national, f"{number.country_code}{nsn}", f"+{number.country_code} 0{nsn}", f"0{nsn}"]


def test_every_regions_example_numbers_written_every_way() -> None:
    answered = total = 0
    for region in REGIONS:
        for kind in range(12):
            number = phonenumbers.example_number_for_type(region, kind)
            if number is None:
                continue
            for text in _written_ways(number):
                for reader in (region, "GB", "US", "IT"):
                    total += 1
                    answered += _agrees(text, reader)
    assert total > 20_000
    assert answered > total // 2  # the shortcut is taken for most plain values


def test_random_digit_strings_read_from_many_countries() -> None:
    rng = random.Random(20261203)
    answered = 0
    for _ in range(60_000):
        text = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 19)))
        if rng.random() < 0.3:
            text = "+" + text
        if rng.random() < 0.3 and len(text) > 4:
            text = f"{text[:3]} {text[3:]}"
        answered += _agrees(text, rng.choice(REGIONS + READERS))
    assert answered > 10_000


@settings(max_examples=400, deadline=None)
@given(text=st.from_regex(r"\+?[0-9]{1,20}( [0-9]{1,6}){0,3}", fullmatch=True),
       region=st.sampled_from(REGIONS + [None]))
def test_any_plain_value(text: str, region: str | None) -> None:
    _agrees(text, region)


@pytest.mark.parametrize("text, region", [
    ("011 44 7411 222333", "US"),  # an international prefix in digits
    ("0044 7411 222333", "GB"),
    ("44 7411 222333", "GB"),  # the country's own code without "+"
    ("07411-222333", "GB"),  # not plain: the library reads it
    ("+39 06 1234 5678", None),  # Italian leading zero
    ("+0 7411 222333", None),
    ("+1", None),
    ("1 0", "AC"),  # two digits: parse has rules of its own
    ("+800 1234 5678", "001"),  # parse reads no non-geographic rules then
    ("0٧٤١١ 222333", "GB"),  # a non-ASCII digit
])
def test_gives_up_where_the_library_must_decide(text: str, region: str | None) -> None:
    assert parse_plain(text, region) is None


def test_without_the_librarys_steps_it_always_gives_up(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(numparse, "AVAILABLE", False)
    assert parse_plain("07411 222333", "GB") is None
    assert parse_plain("07411 222333", "GB") is None


@pytest.mark.parametrize("region", ["gb", "Gb", "us", "it", "ar", "br", "mx", "xk", "001", "ZZ", "UK", ""])
def test_a_region_code_parse_refuses_is_refused_here_too(region: str) -> None:
    # parse checks the default region as given ("gb" is not "GB") and raises for a number
    # without a "+"; the shortcut must not read it upper-cased and answer.
    for text in ("24762889", "07411 222333", "7411222333", "2015550123"):
        assert parse_plain(text, region) is None
        assert _library(text, region) is None
    assert parse_plain("+44 7411 222333", "gb") == _library("+44 7411 222333", "gb")
