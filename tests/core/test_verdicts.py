"""Identity and state rules of issue 3: one test per rule, plus payload shape and summary."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynsync_tui.core.config import Config, ListSelection, Mapping
from dynsync_tui.core.phone import PHONENUMBERS_VERSION
from dynsync_tui.core.records import CrmRecord, PriorState, RecordVerdict
from dynsync_tui.core.verdicts import (
    VerdictSettings,
    classify,
    clear_email_cache,
    field_hash,
    normalise_email,
    summarize,
)

GB1, GB2 = "07411 222333", "07411 444555"


def rec(id: str = "c1", email: str | None = "ann@example.com", mobile: str | None = GB1, *,
        entity: str = "contact", modified: str = "2026-01-01T00:00:00Z", **kw: object) -> CrmRecord:
    return CrmRecord(entity, id, email, mobile, modified=modified, **kw)  # type: ignore[arg-type]


def one(record: CrmRecord, prior: PriorState | None = None, **settings: object) -> RecordVerdict:
    priors = {(record.entity, record.id): prior} if prior else {}
    return classify([record], priors, VerdictSettings(**settings))[0]  # type: ignore[arg-type]


def synced(v: RecordVerdict, contact_id: int = 815533, **changes: object) -> PriorState:
    """The prior state a successful sync of ``v`` leaves behind."""
    base = dict(contact_id=contact_id, email=v.email, mobile=v.e164, field_hash=v.field_hash,
                outcome="created")
    base.update(changes)
    return PriorState(**base)  # type: ignore[arg-type]


# ------------------------------------------------------------------ email


@pytest.mark.parametrize(("raw", "expected"), [
    ("   ", None), ("", None), (None, None), (" ann@example.com ", "ann@example.com"),
    ("ann@example.com\u00a0", "ann@example.com"), ("\u200bAnn@Example.COM", "ann@example.com"),
    ("\u2003ann@example.com\u3000", "ann@example.com"), ("ann@@example.com", None),
    ("ann@example", None), ("ann example.com", None), ("ann@exa mple.com", None), ("@example.com", None),
    ("ann@.example.com", None), ("ann@example.com.", None), ("a@b@example.com", None),
    ("zo\u00eb@example.com", None),
])
def test_normalise_email(raw: str | None, expected: str | None) -> None:
    assert normalise_email(raw) == expected


# ------------------------------------------------------------------ per record


@pytest.mark.parametrize(("email", "mobile", "reason"), [
    ("   ", GB1, "no_email"), (None, GB1, "no_email"), ("\u00a0\u200b", GB1, "no_email"),
    ("ann@example", GB1, "invalid_email"), ("zo\u00eb@example.com", GB1, "invalid_email"),
    ("ann@example.com", "n/a", "no_mobile"),
    ("ann@example.com", None, "no_mobile"), ("ann@example.com", "(650) 253-0000", "invalid_mobile"),
    ("ann@example.com", "020 7946 0321", "not_mobile"),
])
def test_per_record_checks(email: str | None, mobile: str | None, reason: str) -> None:
    v = one(rec(email=email, mobile=mobile))
    assert (v.verdict, v.reason, v.payload) == ("skip", reason, None)


def test_no_country_code_when_validation_is_off() -> None:
    assert one(rec(), default_country=None).reason == "no_country_code"
    assert one(rec(mobile="+49 151 23456789"), default_country=None).e164 == "+4915123456789"


def test_record_country_only_when_turned_on() -> None:
    r = rec(mobile="06 12 34 56 78", country="France")
    assert one(r).reason == "invalid_mobile"
    assert one(r, use_record_country=True).e164 == "+33612345678"


def test_consent_by_lists_and_by_field() -> None:
    assert one(rec(), consent_mode="lists").reason == "not_in_list"
    v = one(rec(lists=("L1", "L2", "L9")), consent_mode="lists", list_map={"L1": 70011, "L2": 70002})
    assert v.verdict == "create" and v.payload["lists"] == [70002, 70011]
    assert one(rec(consent=None), consent_mode="field").reason == "no_consent"
    assert one(rec(consent=False), consent_mode="field").reason == "no_consent"
    assert one(rec(consent=True), consent_mode="field").verdict == "create"


def test_out_of_scope_comes_before_data_quality() -> None:
    """A record outside the chosen lists is not_in_list even when its mobile or email is bad,
    so the preview's data-quality counts cover only records in scope."""
    bad_mobile = one(rec(mobile="(650) 253-0000"), consent_mode="lists")
    assert (bad_mobile.reason, bad_mobile.e164) == ("not_in_list", None)
    assert one(rec(email=None), consent_mode="field").reason == "no_consent"
    in_scope = one(rec(mobile="(650) 253-0000", lists=("L1",)), consent_mode="lists", list_map={"L1": 7})
    assert in_scope.reason == "invalid_mobile"
    shown = one(rec(mobile="+44 (0)7411 222333"), consent_mode="lists")
    assert shown.reason == "not_in_list" and shown.e164 == "+447411222333" and shown.corrections


# ------------------------------------------------------------------ across records


def _by_id(verdicts: list[RecordVerdict]) -> dict[str, tuple[str, str | None]]:
    return {v.record.id: (v.verdict, v.reason) for v in verdicts}


def test_duplicate_email_most_recently_modified_wins() -> None:
    old = rec("a", " ANN@example.com", GB1, modified="2026-01-01T00:00:00Z")
    new = rec("b", "ann@example.com\u00a0", GB2, modified="2026-02-01T00:00:00Z")
    got = _by_id(classify([old, new], {}, VerdictSettings()))
    assert got == {"a": ("skip", "duplicate_email"), "b": ("create", None)}


def test_duplicate_email_ties_contact_over_lead_over_account_then_lowest_id() -> None:
    acc = rec("a1", entity="account", mobile="07411 000001")
    lead = rec("l1", entity="lead", mobile="07411 000002")
    got = _by_id(classify([acc, lead], {}, VerdictSettings()))
    assert got == {"a1": ("skip", "duplicate_email"), "l1": ("create", None)}
    contact = rec("z9", mobile="07411 000003")
    got = _by_id(classify([acc, lead, contact], {}, VerdictSettings()))
    assert got["z9"] == ("create", None) and got["l1"][1] == got["a1"][1] == "duplicate_email"
    twins = [rec("B-2", mobile="07411 000004"), rec("b-1", mobile="07411 000005")]
    assert _by_id(classify(twins, {}, VerdictSettings())) == {
        "B-2": ("skip", "duplicate_email"), "b-1": ("create", None)}


def test_mobile_shared_between_different_emails() -> None:
    a = rec("a", "ann@example.com", "07411 222333", modified="2026-03-01T00:00:00Z")
    b = rec("b", "bob@example.com", "+44 7411 222333", modified="2026-01-01T00:00:00Z")
    got = _by_id(classify([b, a], {}, VerdictSettings()))
    assert got == {"a": ("create", None), "b": ("skip", "shared_mobile")}


def test_a_duplicate_loser_does_not_block_a_mobile() -> None:
    a = rec("a", "ann@example.com", GB2, modified="2026-03-01T00:00:00Z")
    a_old = rec("a0", "ann@example.com", GB1, modified="2026-01-01T00:00:00Z")
    b = rec("b", "bob@example.com", GB1, modified="2026-01-01T00:00:00Z")
    got = _by_id(classify([a_old, a, b], {}, VerdictSettings()))
    assert got == {"a": ("create", None), "a0": ("skip", "duplicate_email"), "b": ("create", None)}


def test_winners_do_not_depend_on_input_order() -> None:
    records = [rec(f"r{i}", f"p{i % 3}@example.com", f"07411 2223{i % 4:02d}",
                   entity=("contact", "lead", "account")[i % 3], modified=f"2026-01-0{1 + i % 2}")
               for i in range(12)]
    forward = _by_id(classify(records, {}, VerdictSettings()))
    backward = _by_id(classify(records[::-1], {}, VerdictSettings()))
    assert forward == backward
    sent = [v for v in classify(records, {}, VerdictSettings()) if v.verdict != "skip"]
    assert len({v.email for v in sent}) == len({v.e164 for v in sent}) == len(sent)


# ------------------------------------------------------------------ against the last sync


def test_email_change_default_creates_a_flagged_duplicate_without_the_old_mobile() -> None:
    first = one(rec())
    v = one(rec(email="ann.new@example.com"), synced(first))
    assert (v.verdict, v.reason, v.match) == ("create", "email_changed", "email")
    assert v.payload["identifiers"] == {"email": "ann.new@example.com"}  # the old contact owns the mobile


def test_email_change_update_matches_by_contact_id() -> None:
    first = one(rec())
    v = one(rec(email="ann.new@example.com"), synced(first, contact_id=42), on_email_change="update")
    assert (v.verdict, v.reason, v.match, v.contact_id) == ("update", None, "contactId", 42)
    assert v.payload["matchIdentifier"] == "contactId"
    assert v.payload["identifiers"] == {"contactId": 42, "email": "ann.new@example.com"}


def test_email_change_update_without_a_contact_id_falls_back_to_duplicate() -> None:
    first = one(rec())
    v = one(rec(email="ann.new@example.com"), synced(first, contact_id=None), on_email_change="update")
    assert (v.verdict, v.reason) == ("create", "email_changed")


def test_email_change_skip_holds_the_record() -> None:
    first = one(rec())
    v = one(rec(email="ann.new@example.com"), synced(first), on_email_change="skip")
    assert (v.verdict, v.reason, v.payload) == ("skip", "email_change_held", None)


def test_an_email_another_record_already_synced_is_an_update_not_a_create() -> None:
    """Dotdigital matches by email: a record that takes an email the state already knows as a
    synced contact updates that contact. The preview must say so, as the sync will report it."""
    bob = one(rec("c2", email="bob@example.com", mobile=GB2))
    bob_prior = synced(bob, contact_id=7)
    newcomer = rec("c3", email="bob@example.com", modified="2026-02-01T00:00:00Z")
    got = classify([newcomer, rec("c2", email="bob@example.com", mobile=GB2)],
                   {("contact", "c2"): bob_prior}, VerdictSettings())
    assert [(v.verdict, v.reason) for v in got] == [("update", None), ("skip", "duplicate_email")]

    ann = one(rec())  # ann moves onto bob's address: no duplicate contact is created
    priors = {("contact", "c1"): synced(ann), ("contact", "c2"): bob_prior}
    moved = rec(email="bob@example.com", modified="2026-02-01T00:00:00Z")
    got = classify([moved, rec("c2", email="bob@example.com", mobile=GB2)], priors, VerdictSettings())
    assert [(v.verdict, v.reason) for v in got] == [("update", None), ("skip", "duplicate_email")]
    # on_email_change = "update" cannot give ann's contact an address another contact holds
    # (Dotdigital refuses it): it is matched by email, like any record with that email
    got = classify([moved], priors, VerdictSettings(on_email_change="update"))[0]
    assert (got.verdict, got.match, got.contact_id) == ("update", "email", None)
    assert got.payload["identifiers"] == {"email": "bob@example.com"}


def test_an_earlier_email_of_the_record_that_a_contact_still_holds_is_an_update() -> None:
    """A → B → A: the state's synced emails still know A (its contact was left behind), so
    going back to A updates that contact rather than creating a flagged duplicate."""
    ann = one(rec())
    on_b = synced(one(rec(email="ann.b@example.com")), contact_id=8)  # the contact made for B
    back = rec()  # ann@example.com again
    known = VerdictSettings(synced_emails=frozenset({"ann@example.com", "ann.b@example.com"}))
    v = classify([back], {("contact", "c1"): on_b}, known)[0]
    assert (v.verdict, v.flags, v.match) == ("update", (), "email")
    assert v.payload["identifiers"] == {"email": "ann@example.com"}  # A's contact kept the mobile
    assert v.field_hash == ann.field_hash
    # "update" cannot move B's contact onto A while A's contact holds it: matched by email
    v = classify([back], {("contact", "c1"): on_b}, dataclasses.replace(known, on_email_change="update"))[0]
    assert (v.verdict, v.match, v.contact_id) == ("update", "email", None)
    v = classify([back], {("contact", "c1"): on_b}, dataclasses.replace(known, on_email_change="skip"))[0]
    assert (v.verdict, v.reason) == ("skip", "email_change_held")


def test_an_email_no_contact_holds_any_more_is_a_create() -> None:
    """The state knows the contact this record last synced moved to another address (an email
    change matched by contact id): matched by email, Dotdigital creates a contact."""
    first = one(rec())
    v = classify([rec()], {("contact", "c1"): synced(first, contact_id=8, outcome="skip", reason="duplicate_email")},
                 VerdictSettings(synced_emails=frozenset({"someone.else@example.com"})))[0]
    assert (v.verdict, v.flags) == ("create", ())


def test_mobile_change_is_not_sent_unless_asked() -> None:
    first = one(rec())
    v = one(rec(mobile=GB2), synced(first))
    assert (v.verdict, v.reason) == ("update", "mobile_changed")
    assert "mobileNumber" not in v.payload["identifiers"]
    v = one(rec(mobile=GB2), synced(first), sync_mobile_changes=True)
    assert (v.verdict, v.reason) == ("update", None)
    assert v.payload["identifiers"]["mobileNumber"] == "+447411444555"


def test_a_mobile_change_held_back_is_sent_once_mobile_changes_are_turned_on() -> None:
    first = one(rec())
    held = one(rec(mobile=GB2), synced(first))  # sent without its mobile: Dotdigital keeps GB1
    after = synced(first, field_hash=held.field_hash, outcome="updated")  # the state keeps the old mobile
    assert one(rec(mobile=GB2), after).verdict == "unchanged"
    v = one(rec(mobile=GB2), after, sync_mobile_changes=True)
    assert v.verdict == "update" and v.payload["identifiers"]["mobileNumber"] == "+447411444555"


def test_mobile_is_sent_when_new_or_when_the_prior_mobile_was_empty() -> None:
    assert one(rec()).payload["identifiers"] == {"email": "ann@example.com", "mobileNumber": "+447411222333"}
    first = one(rec())
    v = one(rec(fields={"FIRSTNAME": "Ann"}), synced(first, mobile=None))
    assert v.payload["identifiers"]["mobileNumber"] == "+447411222333"
    v = one(rec(fields={"FIRSTNAME": "Ann"}), synced(first, mobile="447411222333"))  # digits only
    assert "mobileNumber" not in v.payload["identifiers"] and v.reason is None


def test_sms_opted_out_is_flagged_and_never_sent() -> None:
    first = one(rec())
    v = one(rec(fields={"FIRSTNAME": "Ann"}), synced(first, sms_opted_out=True))
    assert (v.verdict, v.reason, v.flags) == ("update", "sms_opted_out", ("sms_opted_out",))
    assert "channelProperties" not in v.payload
    v = one(rec(mobile=GB2, fields={"FIRSTNAME": "Ann"}), synced(first, sms_opted_out=True))
    assert v.flags == ("mobile_changed", "sms_opted_out") and v.reason == "mobile_changed"


def test_unchanged_on_a_second_run_over_the_same_data() -> None:
    records = [rec("a", fields={"FIRSTNAME": "Ann", "LASTNAME": None}, lists=("L1",)),
               rec("b", "bob@example.com", GB2, entity="lead", fields={"FIRSTNAME": "Bob"})]
    s = VerdictSettings(consent_mode="lists", list_map={"L1": 7}, clear_when_empty=frozenset({"LASTNAME"}))
    s.consent_mode = "none"  # b is in no list
    first = classify(records, {}, s)
    assert [v.verdict for v in first] == ["create", "create"]
    prior = {v.key: synced(v) for v in first}
    second = classify(records, prior, s)
    assert [(v.verdict, v.payload) for v in second] == [("unchanged", None), ("unchanged", None)]
    assert [v.field_hash for v in second] == [v.field_hash for v in first]
    s.full = True
    assert [v.verdict for v in classify(records, prior, s)] == ["update", "update"]


def test_a_record_that_failed_last_time_is_never_unchanged() -> None:
    first = one(rec())
    assert one(rec(), synced(first)).verdict == "unchanged"
    assert one(rec(), synced(first, outcome="failed")).verdict == "update"


def test_a_record_that_lost_its_email_last_time_is_resent_when_it_wins_again() -> None:
    """While it lost, the winner wrote its own data onto the contact with that email: the
    hash of what this record last sent no longer says what Dotdigital holds."""
    first = one(rec("c2", email="bob@example.com", fields={"FIRSTNAME": "Bob"}))
    lost = synced(first, outcome="skip", reason="duplicate_email")
    v = one(rec("c2", email="bob@example.com", fields={"FIRSTNAME": "Bob"}), lost)
    assert v.verdict == "update" and v.payload["dataFields"] == {"FIRSTNAME": "Bob"}
    skipped_for_another_reason = synced(first, outcome="skip", reason="invalid_mobile")
    assert one(rec("c2", email="bob@example.com", fields={"FIRSTNAME": "Bob"}),
               skipped_for_another_reason).verdict == "unchanged"


def test_a_changed_field_is_an_update() -> None:
    first = one(rec(fields={"FIRSTNAME": "Ann"}))
    v = one(rec(fields={"FIRSTNAME": "Anne"}), synced(first))
    assert v.verdict == "update" and v.payload["dataFields"] == {"FIRSTNAME": "Anne"}


# ------------------------------------------------------------------ the import item


def test_payload_is_the_exact_v3_import_item() -> None:
    r = rec(fields={"FIRSTNAME": "Ann", "LASTNAME": "", "CITY": None, "AGE": 41, "VIP": False,
                    "NOTES": "  ", "email": "x@y.z"}, lists=("L1", "L2"))
    v = one(r, list_map={"L1": 70011}, clear_when_empty=frozenset({"LASTNAME"}))
    assert v.payload == {
        "matchIdentifier": "email",
        "identifiers": {"email": "ann@example.com", "mobileNumber": "+447411222333"},
        "dataFields": {"FIRSTNAME": "Ann", "LASTNAME": None, "AGE": 41, "VIP": False},
        "lists": [70011],
    }


def test_field_hash_is_stable_and_ignores_the_volatile() -> None:
    a = field_hash("ann@example.com", "+447411222333", {"A": 1, "B": "x"}, [1, 2])
    assert a == field_hash("ann@example.com", "+447411222333", {"B": "x", "A": 1}, [1, 2])
    assert a != field_hash("ann@example.com", "+447411222333", {"A": 2, "B": "x"}, [1, 2])
    assert len(a) == 32 and int(a, 16) >= 0
    first = one(rec())
    same = one(rec(), synced(first, contact_id=7), on_email_change="update")
    assert same.field_hash == first.field_hash


# ------------------------------------------------------------------ settings and summary


def test_settings_from_config() -> None:
    cfg = Config()
    cfg.validation.default_country = None
    cfg.validation.record_country_field = "address1_country"
    cfg.sync.on_email_change, cfg.sync.sync_mobile_changes = "update", True
    cfg.consent.mode = "lists"
    cfg.consent.lists = [ListSelection("L1", dotdigital_list_id=70011), ListSelection("L2")]
    cfg.mappings.append(Mapping("LASTNAME", "contact", "lastname", clear_when_empty=True))
    s = VerdictSettings.from_config(cfg)
    assert (s.default_country, s.use_record_country, s.on_email_change, s.sync_mobile_changes,
            s.consent_mode, s.list_map, s.clear_when_empty, s.full) == (
        None, True, "update", True, "lists", {"L1": 70011}, frozenset({"LASTNAME"}), False)
    assert VerdictSettings.from_config(Config(), full=True).default_country == "GB"
    synced = VerdictSettings.from_config(Config(), synced_emails={"a@example.com": 7}).synced_emails
    assert synced == frozenset({"a@example.com"})


def test_summary_partitions_and_samples() -> None:
    records = [rec(f"r{i}", f"p{i}@example.com", "n/a") for i in range(8)]
    records += [rec("x", "x@example.com", GB1), rec("y", "   ", GB2), rec("z", "x@example.com", GB2)]
    first = classify(records, {}, VerdictSettings())
    prior = {first[8].key: synced(first[8], sms_opted_out=True)}
    summary = summarize(classify(records, prior, VerdictSettings()))
    assert summary.total == 11 and sum(summary.counts.values()) == 11
    assert summary.counts == {"no_mobile": 8, "unchanged": 1, "no_email": 1, "duplicate_email": 1}
    assert summary.flags == {"sms_opted_out": 1}
    assert len(summary.samples["no_mobile"]) == 5
    assert summary.samples["no_email"] == [{"entity": "contact", "id": "y", "email": "   ", "raw_mobile": GB2}]
    out = summary.to_json()
    assert out["phonenumbers"] == PHONENUMBERS_VERSION and out["counts"] == summary.counts
    assert out["sentences"]["no_mobile"].startswith("No mobile number")


def test_the_field_hash_format_never_changes() -> None:
    """State stores hold these hashes: a new format would resend every record once."""
    data = {"FIRSTNAME": "Ann", "LASTNAME": "Ó Briain", "SCORE": 3}
    assert field_hash("ann@example.com", "+447411222333", data, [12, 40]) == "c279e3534e4abd759ba27eee56b1882d"


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(value=_json_values)
def test_the_hash_text_is_the_standard_encoders(value) -> None:  # type: ignore[no-untyped-def]
    import json

    from dynsync_tui.core.verdicts import _to_json

    assert _to_json(value) == json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                                         default=str)


def test_normalise_email_reads_a_str_subclass_as_its_text() -> None:
    # a str enum's str() is "Kind.A", not the address it holds: normalise the text itself
    import enum

    class Kind(str, enum.Enum):
        A = " Ann@Example.com "

    clear_email_cache()
    assert normalise_email(Kind.A) == "ann@example.com"
    assert normalise_email(Kind.A) == "ann@example.com"  # memoised
