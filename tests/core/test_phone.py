"""Phone rules of issue 3: the table, every cleaning rule, country resolution, and properties."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dynsync_tui.core import phone
from dynsync_tui.core.phone import (
    PHONENUMBERS_VERSION,
    PhoneResult,
    normalise_mobile,
    region_and_type,
    resolve_country,
)

OK = None  # "no reason": the number is sent

# raw mobile, default country, record country (per-record on), expected E.164 or None, reason
TABLE = [
    ("07411 222333", "GB", None, "+447411222333", OK),
    ("+44 (0)7411 222333", "GB", None, "+447411222333", OK),
    ("0044 7411 222333", "GB", None, "+447411222333", OK),
    ("447411222333", "US", None, "+447411222333", OK),
    ("07411 222333 ext. 9", "GB", None, "+447411222333", OK),
    ("07411 222333#", "GB", None, "+447411222333", OK),
    ("07411 222333 (work mobile)", "GB", None, "+447411222333", OK),
    ("07411222333.0", "GB", None, "+447411222333", OK),
    ("4.47411222333E+11", "GB", None, "+447411222333", OK),
    ("(650) 253-0000", "GB", None, None, "invalid_mobile"),
    ("+1 650 253 0000", "GB", None, "+16502530000", OK),
    ("001 650 253 0000", "GB", None, "+16502530000", OK),
    ("07797 700123", "GB", None, "+447797700123", OK),
    ("07624 300123", "GB", None, "+447624300123", OK),
    ("020 7946 0321", "GB", None, None, "not_mobile"),
    ("0800 123 4567", "GB", None, None, "not_mobile"),
    ("+44 7411 22233", "GB", None, None, "invalid_mobile"),
    ("07411 222333 / 07411 444555", "GB", None, None, "invalid_mobile"),
    ("06 12 34 56 78", "GB", "France", "+33612345678", OK),
    ("07411 222333", None, None, None, "no_country_code"),
    ("+49 151 23456789", None, None, "+4915123456789", OK),
    ("", "GB", None, None, "no_mobile"),
    ("   ", "GB", None, None, "no_mobile"),
    ("n/a", "GB", None, None, "no_mobile"),
    ("-", "GB", None, None, "no_mobile"),
    ("", None, None, None, "no_mobile"),
    ("n/a", None, None, None, "no_mobile"),
]


@pytest.mark.parametrize(("raw", "default", "record_country", "e164", "reason"), TABLE)
def test_issue_table(raw: str, default: str | None, record_country: str | None,
                     e164: str | None, reason: str | None) -> None:
    result = normalise_mobile(raw, default, record_country)
    assert (result.e164, result.reason) == (e164, reason)


@pytest.mark.parametrize(("raw", "shown"), [
    ("+44 (0)7411 222333", "+44 (0)7411 222333 → +44 7411 222333"),
    ("447411222333", "447411222333 → +447411222333"),
    ("07411 222333 ext. 9", "07411 222333 ext. 9 → 07411 222333"),
    ("07411 222333#", "07411 222333# → 07411 222333"),
    ("07411 222333 (work mobile)", "07411 222333 (work mobile) → 07411 222333"),
    ("07411222333.0", "07411222333.0 → 07411222333"),
    ("4.47411222333E+11", "4.47411222333E+11 → 447411222333"),
    ("07411 222333 mobile", "07411 222333 mobile → 07411 222333"),
    ("Mob: 07411 222333", "Mob: 07411 222333 → 07411 222333"),
    (" 07411 222333\u200b", '" 07411 222333\\u200b" → 07411 222333'),
    ("(+44) 7411 222333", "(+44) 7411 222333 → +44 7411 222333"),
    ("(+44)(0)7411 222333", "(+44)(0)7411 222333 → +44 (0)7411 222333"),
])
def test_every_cleaning_step_is_a_visible_correction(raw: str, shown: str) -> None:
    default = "US" if raw == "447411222333" else "GB"
    result = normalise_mobile(raw, default)
    assert result.e164 == "+447411222333"
    assert shown in result.corrections


def test_a_country_code_without_plus_is_shown_even_when_the_library_reads_it() -> None:
    result = normalise_mobile("447411222333", "GB")  # GB's own code, read by phonenumbers itself
    assert (result.e164, result.corrections) == ("+447411222333", ("447411222333 → +447411222333",))


def test_own_calling_code_without_plus_reads_as_the_mobile_not_a_national_landline() -> None:
    # "4917631199934" read nationally in DE is a landline; with its "+" back it is a DE mobile
    result = normalise_mobile("4917631199934.0", "GB", "Germany")
    assert (result.e164, result.reason) == ("+4917631199934", None)
    assert result.corrections[-1] == "4917631199934 → +4917631199934"
    # a national number that merely starts with other digits is left alone
    assert normalise_mobile("020 7946 0321", "GB").reason == "not_mobile"


def test_a_clean_number_has_no_corrections() -> None:
    assert normalise_mobile("07411 222333", "GB").corrections == ()
    assert normalise_mobile("+44 7411 222333", "GB").corrections == ()


@pytest.mark.parametrize("raw", ["\u00a007411\u00a0222333\u00a0", "\ufeff07411 222333", "07411\u2060222333",
                                 "\t07411 222333\n", "０７４１１ ２２２３３３"])
def test_invisible_characters_and_unicode_spaces_are_cleaned(raw: str) -> None:
    result = normalise_mobile(raw, "GB")
    assert result.e164 == "+447411222333"
    assert result.corrections  # shown to the admin


@pytest.mark.parametrize("raw", ["4.47411E+11", "4.4741122233E+11", "4.474112223331E+11", "4E+11"])
def test_scientific_notation_with_lost_digits_is_refused(raw: str) -> None:
    assert normalise_mobile(raw, "GB").reason == "invalid_mobile"


@pytest.mark.parametrize("raw", ["07411abc222333", "0741l 222333", "07411 222333 or 07411 444555",
                                 "07411 2223 33 (alt 07411 444555)", "0800 FLOWERS", "07411,222333"])
def test_letters_or_marks_in_the_middle_are_never_trusted(raw: str) -> None:
    assert normalise_mobile(raw, "GB").reason == "invalid_mobile"


@pytest.mark.parametrize("raw", ["none", "NULL", "0", "000", "--", "ask reception", None, "   \u00a0 "])
def test_placeholders_mean_no_mobile(raw: str | None) -> None:
    result = normalise_mobile(raw, "GB")
    assert result == PhoneResult(None, "no_mobile", (), None)


@pytest.mark.parametrize(("raw", "kind"), [
    ("0800 123 4567", "toll-free"), ("0906 123 4567", "premium"), ("0845 464 0000", "shared-cost"),
    ("0161 496 0123", "landline"),
])
def test_valid_non_mobiles_are_not_mobile(raw: str, kind: str) -> None:
    number = phonenumbers.parse(raw, "GB")
    assert phonenumbers.is_valid_number(number), kind  # valid: refused for its type, not validity
    assert normalise_mobile(raw, "GB").reason == "not_mobile"


def test_region_need_not_equal_the_default_country() -> None:
    assert normalise_mobile("07797 700123", "GB").region == "JE"
    assert normalise_mobile("07624 300123", "GB").region == "IM"
    assert normalise_mobile("+33 6 12 34 56 78", "GB").e164 == "+33612345678"


def test_possible_but_not_valid_is_refused() -> None:
    number = phonenumbers.parse("+44 7411 22233")
    assert phonenumbers.is_possible_number(number) and not phonenumbers.is_valid_number(number)
    assert normalise_mobile("+44 7411 22233", "GB").reason == "invalid_mobile"


def test_the_numbers_own_country_code_beats_the_record_country() -> None:
    assert normalise_mobile("+44 7411 222333", "GB", "France").e164 == "+447411222333"
    assert normalise_mobile("0044 7411 222333", "US", "France").e164 == "+447411222333"


def test_record_country_then_default_country() -> None:
    assert normalise_mobile("06 12 34 56 78", "GB").reason == "invalid_mobile"  # GB reading
    assert normalise_mobile("06 12 34 56 78", "GB", "fr").e164 == "+33612345678"
    # an unknown record country falls back to the default country
    assert normalise_mobile("07411 222333", "GB", "Atlantis").e164 == "+447411222333"
    assert normalise_mobile("0151 23456789", "GB", "Germany").e164 == "+4915123456789"


def test_validation_off_sends_numbers_with_a_country_code_unchecked() -> None:
    assert normalise_mobile("+44 7411 22233", None).e164 == "+44741122233"  # not valid, still sent
    assert normalise_mobile("07411 222333", None, "GB").reason == "no_country_code"
    assert normalise_mobile("447411222333", None).reason == "no_country_code"
    assert normalise_mobile("+44 20 7946 0321", None).reason == "not_mobile"  # a known landline


@pytest.mark.parametrize(("value", "iso"), [
    ("France", "FR"), ("fr", "FR"), ("FR", "FR"), ("United Kingdom", "GB"), ("UK", "GB"),
    ("uk", "GB"), ("Great Britain", "GB"), ("  germany ", "DE"), ("United States", "US"),
    ("U.S.A.", "US"), ("Côte d’Ivoire", "CI"), ("the Netherlands", "NL"), ("Atlantis", None),
    ("", None), (None, None), ("ZZ", None),
])
def test_resolve_country(value: str | None, iso: str | None) -> None:
    assert resolve_country(value) == iso


def test_memoised_on_value_and_settings() -> None:
    phone.clear_cache()
    first = normalise_mobile("07411 222333", "GB")
    assert normalise_mobile("07411 222333", "GB") is first
    assert normalise_mobile("07411 222333", None) is not first  # other settings, other answer
    # record countries naming the same region share one entry
    assert normalise_mobile("06 12 34 56 78", "GB", "France") is normalise_mobile("06 12 34 56 78", "GB", "FR")


def test_version_is_the_librarys() -> None:
    assert PHONENUMBERS_VERSION == phonenumbers.__version__ and PHONENUMBERS_VERSION[0].isdigit()


# ------------------------------------------------------------------ properties

_REGIONS = sorted(r for r in phonenumbers.SUPPORTED_REGIONS if r != "001")
_MOBILE_EXAMPLES = [n for n in (phonenumbers.example_number_for_type(r, phonenumbers.PhoneNumberType.MOBILE)
                                for r in _REGIONS) if n is not None and phonenumbers.is_valid_number(n)]
_FORMATS = [phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL,
            phonenumbers.PhoneNumberFormat.NATIONAL, phonenumbers.PhoneNumberFormat.RFC3966]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(number=st.sampled_from(_MOBILE_EXAMPLES), fmt=st.sampled_from(_FORMATS))
def test_any_valid_mobile_round_trips(number: phonenumbers.PhoneNumber, fmt: int) -> None:
    """Any valid mobile, written national (with its own region as the default country) or
    international (with any default country), comes back as its own E.164."""
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(number)
    text = phonenumbers.format_number(number, fmt)
    if fmt == phonenumbers.PhoneNumberFormat.RFC3966:
        text = text.removeprefix("tel:")
    default = region if fmt == phonenumbers.PhoneNumberFormat.NATIONAL else "GB"
    result = normalise_mobile(text, default)
    assert (result.e164, result.reason) == (e164, None), text


@settings(max_examples=300, deadline=None)
@given(base=st.sampled_from(_MOBILE_EXAMPLES), tail=st.integers(min_value=0, max_value=9999))
def test_valid_numbers_round_trip_from_digits(base: phonenumbers.PhoneNumber, tail: int) -> None:
    """Vary the example's last digits: whenever the library calls the result a valid mobile, we
    send exactly its E.164 from both its international and national spellings."""
    digits = phonenumbers.format_number(base, phonenumbers.PhoneNumberFormat.E164)
    candidate = phonenumbers.parse(f"{digits[:-4]}{tail:04d}")
    kind = phonenumbers.number_type(candidate)
    if not phonenumbers.is_valid_number(candidate) or kind not in phone.MOBILE_TYPES:
        return
    e164 = phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(candidate)
    assert normalise_mobile(e164, "GB").e164 == e164
    national = phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.NATIONAL)
    assert normalise_mobile(national, region).e164 == e164


@settings(max_examples=500, deadline=None)
@given(cc=st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)),
       nn=st.integers(min_value=10**5, max_value=10**12))
def test_region_and_type_agrees_with_the_library(cc: int, nn: int) -> None:
    number = phonenumbers.PhoneNumber(country_code=cc, national_number=nn)
    region, kind = region_and_type(number)
    assert region == phonenumbers.region_code_for_number(number)
    assert kind == phonenumbers.number_type(number)
    assert (kind != phonenumbers.PhoneNumberType.UNKNOWN) == phonenumbers.is_valid_number(number)


@settings(max_examples=300, deadline=None)
@given(raw=st.text(max_size=40))
def test_any_text_gives_an_answer_never_an_exception(raw: str) -> None:
    result = normalise_mobile(raw, "GB")
    assert (result.e164 is None) != (result.reason is None)
    if result.e164 is not None:
        assert result.e164.startswith("+") and result.e164[1:].isdigit()
        if any(c.isalpha() for c in raw):  # letters are only ever dropped visibly (a note)
            assert result.corrections


def _example_numbers() -> list[phonenumbers.PhoneNumber]:
    """Every region's example number of every type, and near misses of each (a digit
    changed, added or dropped): the numbers where the type rules differ from one another."""
    out = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in range(12):
            n = phonenumbers.example_number_for_type(region, kind)
            if n is not None:
                out.append(n)
    for cc in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        n = phonenumbers.example_number_for_non_geo_entity(cc)
        if n is not None:
            out.append(n)
    variants = []
    for n in out:
        nsn = phonenumbers.national_significant_number(n)
        for text in (nsn[:-1] + str((int(nsn[-1]) + 1) % 10), nsn + "5", nsn[:-1], "9" + nsn[1:]):
            variants.append(phonenumbers.parse(f"+{n.country_code}{text}"))
    return out + variants


def test_region_and_type_agrees_with_the_library_on_every_regions_examples() -> None:
    numbers = _example_numbers()
    assert len(numbers) > 5000
    kinds = set()
    for number in numbers:
        region, kind = region_and_type(number)
        kinds.add(kind)
        assert (region, kind) == (phonenumbers.region_code_for_number(number),
                                  phonenumbers.number_type(number)), number
    assert len(kinds) >= 10  # every type was met, unknown included
