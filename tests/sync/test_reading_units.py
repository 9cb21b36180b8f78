"""Fast unit tests of the incremental-read helpers and the SMS read-back, over small fakes."""

from __future__ import annotations

from types import SimpleNamespace

from dynsync_tui.core.records import PriorState
from dynsync_tui.sync.reading import _id_filter, _minus_skew, carried_counts, hold_known_identifiers
from dynsync_tui.sync.sms import refresh_sms_opt_outs
from dynsync_tui.sync.state import StateStore


def verdict(entity, rid, email, mobile, verdict="create"):
    payload = {"matchIdentifier": "email", "identifiers": {"email": email, "mobileNumber": mobile}}
    return SimpleNamespace(record=SimpleNamespace(entity=entity, id=rid), verdict=verdict, reason=None,
                           payload=payload, flags=())


def test_unread_records_keep_their_identifiers_and_count_by_last_outcome():
    prior = {("contact", "a"): PriorState(1, "a@x.org", "+447700900001", "h", "unchanged"),
             ("contact", "b"): PriorState(2, "b@x.org", "+447700900002", "h", "created"),
             ("contact", "c"): PriorState(None, None, None, None, "skip", "no_mobile"),
             ("contact", "d"): PriorState(4, "d@x.org", "+447700900004", "h", "updated")}
    unread = {("contact", "a"), ("contact", "b"), ("contact", "c")}
    vs = [verdict("contact", "d", "A@x.org", "+447700900009"),      # takes a's email
          verdict("lead", "e", "e@x.org", "447700900002"),           # takes b's mobile (digits compare)
          verdict("contact", "f", "f@x.org", "+447700900004"),       # d was read: core decides
          verdict("contact", "g", "g@x.org", "+447700900007", "unchanged")]
    vs[3].payload = None
    assert hold_known_identifiers(vs, prior, unread) == 2
    assert [(v.verdict, v.reason) for v in vs] == [
        ("skip", "duplicate_email"), ("skip", "shared_mobile"), ("create", None), ("unchanged", None)]
    assert vs[0].payload is None
    assert carried_counts(prior, unread) == {"unchanged": 2, "skipped": 1}


def test_watermark_skew_and_id_filter():
    assert _minus_skew("2026-12-03T10:05:00Z") == "2026-12-03T10:00:00Z"
    assert _minus_skew("not a date") == "not a date"
    f = _id_filter("contactid", ["a1", "b2"])
    assert f == "Microsoft.Dynamics.CRM.In(PropertyName='contactid',PropertyValues=['a1','b2'])"


class Contacts:
    def __init__(self, items):
        self.items, self.asked = items, []

    def contacts(self, **kw):
        self.asked.append(kw)
        return iter(self.items)


def test_sms_read_back_sets_and_clears_the_flag_and_keeps_its_time(tmp_path):
    st = StateStore(tmp_path / "s.db")
    run = st.start_run("env", {})
    from dynsync_tui.sync.state import Outcome

    st.record_outcomes("env", run, [Outcome("contact", "a", "created", contact_id=11, email="a@x.org"),
                                    Outcome("contact", "b", "created", contact_id=12, email="b@x.org")])
    dd = Contacts([{"contactId": 11, "channelProperties": {"sms": {"status": "Unsubscribed"}}},
                   {"contactId": 12, "channelProperties": {"sms": {"status": "subscribed"}}},
                   {"contactId": 99, "channelProperties": {"sms": {"status": "unsubscribed"}}}])
    prior = st.prior("env")
    assert refresh_sms_opt_outs(dd, st, "env", prior, now=1_800_000_000) == {("contact", "a"): True}
    assert prior[("contact", "a")].sms_opted_out and st.prior("env")[("contact", "a")].sms_opted_out
    assert dd.asked[0]["include"] == "channelProperties" and dd.asked[0]["modified_since"] <= st.runs()[0].started
    assert st.cursor("env", "sms") == "2027-01-15T07:55:00Z"  # the check's time minus 5 minutes
    dd.items[0]["channelProperties"]["sms"]["status"] = "subscribed"
    prior = st.prior("env")
    assert refresh_sms_opt_outs(dd, st, "env", prior) == {("contact", "a"): False}
    assert dd.asked[1]["modified_since"] == "2027-01-15T07:55:00Z"
    assert not st.prior("env")[("contact", "a")].sms_opted_out
    empty = StateStore(tmp_path / "e.db")
    assert refresh_sms_opt_outs(dd, empty, "env", {}) == {} and len(dd.asked) == 2  # no contacts known: no call
    st.close()
    empty.close()
