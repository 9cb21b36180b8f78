from __future__ import annotations

import threading

import pytest

from dynsync_tui.core.config import ListSelection
from dynsync_tui.core.mappings import Mapping
from dynsync_tui.sync.imports import batch_key, payload_hash

from .conftest import Rig

pytestmark = pytest.mark.usefixtures("fake_verdicts")
from .fakes import FakeDataverse, contact_rows


def test_batches_bounded_in_flight_and_counts(rig):
    summary = rig.engine().sync()
    assert [len(b) for b in rig.dd.sent] == [4, 4, 1]
    assert rig.dd.max_active <= 2
    assert (summary.created, summary.updated, summary.skipped, summary.failed) == (9, 0, 1, 0)
    assert summary.status == "ok"
    assert len(rig.dd.people) == 9
    prior = rig.state.prior("test:env")
    assert prior[("contact", "c-0000")].contact_id == rig.dd.people["person0@example.org"]["contactId"]
    assert prior[("contact", "c-0009")].outcome == "skip"
    assert prior[("contact", "c-0009")].reason == "no_mobile"
    run = rig.state.runs("test:env")[0]
    assert run.status == "ok" and run.counts["created"] == 9
    assert run.dotdigital_calls == summary.dotdigital_calls == rig.dd.calls
    assert run.counts["seconds"] == round(summary.seconds, 2)  # the run history shows the run's own time


def test_second_run_over_unchanged_data_sends_nothing(rig):
    rig.engine().sync()
    sent_before = len(rig.dd.sent)
    second = rig.engine().sync()
    assert len(rig.dd.sent) == sent_before
    assert (second.created, second.updated, second.unchanged, second.skipped) == (0, 0, 9, 1)


def test_rejected_rows_keep_their_reasons_and_go_first_next_time(tmp_path):
    rig = Rig(tmp_path, contact_rows(10),
              reject={"person7@example.org": "InvalidContact",
                      "person8@example.org": "Duplicate", "person9@example.org": "Blocker"})
    first = rig.engine().sync()
    assert (first.created, first.failed) == (7, 3)
    assert first.failure_codes == {"InvalidContact": 1, "Duplicate": 1, "Blocker": 1}
    codes = rig.state.failure_codes("test:env")
    assert codes[("contact", "c-0008")] == ("Duplicate",)
    rows = {r["id"]: r for r in rig.state.run_records(first.run_id)}
    assert rows["c-0007"]["verdict"] == "failed" and rows["c-0007"]["failure_codes"] == ["InvalidContact"]
    rig.dd.reject.clear()
    second = rig.engine().sync()
    first_batch = [c["identifiers"]["email"] for c in rig.dd.sent[-1]]
    assert len(rig.dd.sent) == 3 + 1
    assert sorted(first_batch) == ["person7@example.org", "person8@example.org", "person9@example.org"]
    assert (second.created, second.unchanged, second.failed) == (3, 7, 0)
    assert rig.state.failure_codes("test:env") == {}


def test_failed_records_are_sent_before_the_rest(tmp_path):
    rig = Rig(tmp_path, contact_rows(6), reject={"person5@example.org": "Blocker"})
    rig.engine().sync()
    rig.dd.reject.clear()
    rig.dv.rows["contacts"] = contact_rows(12)  # six new records arrive too
    rig.engine().sync()
    assert rig.dd.sent[-2][0]["identifiers"]["email"] == "person5@example.org"


def test_cancel_stops_sending_and_a_rerun_finishes_without_duplicates(tmp_path):
    rig = Rig(tmp_path, contact_rows(20))
    rig.config.sync.imports_in_flight = 1
    cancel = threading.Event()

    real_start = rig.dd.start_import

    def start_then_cancel(contacts):
        iid = real_start(contacts)
        if len(rig.dd.sent) == 2:
            cancel.set()  # the user presses Cancel while the second import runs
        return iid

    rig.dd.start_import = start_then_cancel
    summary = rig.engine(cancel=cancel).sync()
    assert summary.status == "cancelled"
    assert len(rig.dd.sent) == 2
    assert rig.state.runs("test:env")[0].counts["created"] == summary.created == 4
    assert rig.state.runs("test:env")[0].status == "cancelled"
    rig.dd.start_import = real_start
    again = rig.engine().sync()
    assert again.resumed_batches == 1  # the import in flight at cancel is finished first
    assert again.status == "ok"
    assert len(rig.dd.people) == 20
    # the resumed batch counts in the cancelled run; this run finds it unchanged
    assert (again.created, again.unchanged, again.updated) == (12, 8, 0)


def test_a_killed_run_is_resumed_from_the_journal(tmp_path):
    rig = Rig(tmp_path, contact_rows(8))
    # What a run killed mid-send leaves behind: batch 1 started (import id journaled),
    # batch 2 journaled but its PUT never went out.
    from dynsync_tui.sync import engine as engine_mod

    records = rig.engine().read_records()
    verdicts = engine_mod._verdicts_module().classify(records, {}, None)
    run_id = rig.state.start_run("test:env", {})
    started, unsent = verdicts[:4], verdicts[4:]
    rig.state.journal_batch(run_id, 1, [batch_key(v) for v in started],
                            payload_hash([v.payload for v in started]))
    rig.state.batch_sent(run_id, 1, rig.dd.start_import([v.payload for v in started]))
    rig.state.journal_batch(run_id, 2, [batch_key(v) for v in unsent],
                            payload_hash([v.payload for v in unsent]))
    sent_before = len(rig.dd.sent)

    summary = rig.engine().sync()
    assert summary.resumed_batches == 1
    assert rig.state.runs("test:env")[-1].status == "interrupted"
    # the started batch was polled and applied, not re-sent; the unsent one was sent now
    assert len(rig.dd.sent) == sent_before + 1
    assert sorted(c["identifiers"]["email"] for c in rig.dd.sent[-1]) == \
        sorted(v.payload["identifiers"]["email"] for v in unsent)
    assert (summary.created, summary.unchanged) == (4, 4)
    assert len(rig.dd.people) == 8
    assert [b.status for b in rig.state.batches(run_id)] == ["done", "abandoned"]


def test_full_resends_unchanged_records_as_updates(rig):
    rig.engine().sync()
    summary = rig.engine().sync(full=True)
    assert (summary.updated, summary.unchanged, summary.created) == (9, 0, 0)


def test_too_many_active_imports_is_waited_out(tmp_path):
    rig = Rig(tmp_path, contact_rows(8), busy_once=True)
    rig.config.sync.batch_size = 2
    eng = rig.engine()
    eng.poll.first = 0.0
    summary = eng.sync()
    assert summary.created == 8 and summary.failed == 0
    assert len(rig.dd.people) == 8


def test_slow_imports_are_polled_until_finished(tmp_path):
    rig = Rig(tmp_path, contact_rows(4), slow=2)
    summary = rig.engine().sync()
    assert summary.created == 4
    assert max(rig.dd.polls.values()) == 3


def test_progress_events_run_through_the_phases(rig):
    rig.engine().sync()
    phases = [e.phase for e in rig.events]
    order = ["reading", "checking", "sending", "waiting", "done"]
    firsts = [phases.index(p) for p in order]
    assert firsts == sorted(firsts)
    last = rig.events[-1]
    assert last.phase == "done" and last.done == last.total == 10
    assert (last.created, last.skipped) == (9, 1)


def test_missing_data_fields_and_lists_are_created_and_members_listed(tmp_path):
    from types import SimpleNamespace

    rows = contact_rows(4)
    rig = Rig(tmp_path, rows)
    lst = SimpleNamespace(id="L-1", name="Newsletter", dynamic=True)
    rig.dv = FakeDataverse({"contacts": rows}, lists=[lst], members={"L-1": {"c-0000", "c-0002"}})
    rig.config.mappings.append(Mapping("CITY", "contact", "address1_city"))
    rig.config.consent.mode = "lists"
    rig.config.consent.lists = [ListSelection("L-1", "Newsletter")]
    summary = rig.engine().sync()
    assert "CITY" in rig.dd.fields
    assert rig.dd.books and rig.dd.books[0]["name"] == "Newsletter"
    sent = {c["identifiers"]["email"]: c for b in rig.dd.sent for c in b}
    assert sent["person0@example.org"]["lists"] == [rig.dd.books[0]["id"]]
    assert "lists" not in sent["person1@example.org"]
    assert summary.created == 4
    rig.engine().sync()
    assert len(rig.dd.books) == 1  # found by name the second time


def test_members_who_left_a_dynamic_list_are_removed_from_its_dotdigital_list(tmp_path):
    from types import SimpleNamespace

    rows = contact_rows(4)
    rig = Rig(tmp_path, rows)
    dynamic = SimpleNamespace(id="L-1", name="Dyn", dynamic=True, member_type="contact")
    static = SimpleNamespace(id="L-2", name="Static", dynamic=False, member_type="contact")
    members = {"L-1": {"c-0000", "c-0002"}, "L-2": {"c-0001", "c-0003"}}
    rig.dv = FakeDataverse({"contacts": rows}, lists=[dynamic, static], members=members)
    rig.config.consent.mode = "lists"
    rig.config.consent.lists = [ListSelection("L-1", "Dyn"), ListSelection("L-2", "Static")]
    first = rig.engine().sync()
    assert first.removed_from_lists == 0
    dyn_id, static_id = (b["id"] for b in rig.dd.books)
    members["L-1"].discard("c-0002")  # left the dynamic list
    members["L-2"].discard("c-0003")  # left the static list: stays in Dotdigital
    second = rig.engine().sync()
    gone = rig.dd.people["person2@example.org"]
    assert second.removed_from_lists == 1 and rig.dd.removed == [gone["contactId"]]
    assert dyn_id not in gone["lists"]
    assert static_id in rig.dd.people["person3@example.org"]["lists"]
    assert dyn_id in rig.dd.people["person0@example.org"]["lists"]


def test_refused_for_good_is_held_until_the_record_changes(tmp_path):
    rig = Rig(tmp_path, contact_rows(3), reject={"person1@example.org": "GloballySuppressed"})
    rig.engine().sync()
    rig.dd.reject.clear()
    second = rig.engine().sync()
    assert len(rig.dd.sent) == 1  # nothing resent: suppressed stays suppressed
    assert (second.skipped, second.failed) == (1, 0)
    run_rows = {r["id"]: r for r in rig.state.run_records(second.run_id)}
    assert run_rows["c-0001"]["verdict"] == "skip" and run_rows["c-0001"]["reason"] == "failed"
    assert rig.state.failure_codes("test:env") == {("contact", "c-0001"): ("GloballySuppressed",)}
    rig.dv.rows["contacts"][1]["firstname"] = "New"  # the record changes: worth another try
    third = rig.engine().sync()
    assert third.created == 1 and len(rig.dd.sent) == 2


def test_a_failing_import_call_ends_the_run_as_error_and_the_next_run_recovers(tmp_path):
    from .fakes import Boom

    rig = Rig(tmp_path, contact_rows(12))
    real_start, calls = rig.dd.start_import, []

    def flaky(contacts):
        calls.append(len(contacts))
        if len(calls) == 2:
            raise Boom(500, "server")  # the connector gave up after its retries
        return real_start(contacts)

    rig.dd.start_import = flaky
    with pytest.raises(Boom):
        rig.engine().sync()
    run = rig.state.runs("test:env")[0]
    assert run.status == "error" and run.finished
    rig.dd.start_import = real_start
    again = rig.engine().sync()
    assert again.status == "ok" and len(rig.dd.people) == 12
    assert rig.state.open_batches("test:env") == []


def test_cancel_during_a_connector_wait_ends_the_run_cancelled(tmp_path):
    from types import SimpleNamespace

    from dynsync_tui.connectors.errors import Cancelled

    rig = Rig(tmp_path, contact_rows(8))
    rig.config.sync.imports_in_flight = 1
    cancel = threading.Event()
    rig.dd.pacer = SimpleNamespace(cancel=None, on_wait=None)
    real_start = rig.dd.start_import

    def throttled(contacts):
        if len(rig.dd.sent) == 1:  # the second import meets a rate limit; the user cancels
            rig.dd.pacer.on_wait(30, "Dotdigital rate limit reached, resuming in 30 s")
            assert rig.dd.pacer.cancel is cancel
            cancel.set()
            raise Cancelled("Cancelled while waiting")
        return real_start(contacts)

    rig.dd.start_import = throttled
    summary = rig.engine(cancel=cancel).sync()
    assert summary.status == "cancelled" and summary.created == 4
    assert any("rate limit" in e.message for e in rig.events)
    assert rig.dd.pacer.cancel is None  # unwired afterwards
    rig.dd.start_import = real_start
    again = rig.engine().sync()
    assert again.created == 4 and len(rig.dd.people) == 8


def test_ctrl_c_mid_run_is_recorded_as_cancelled_and_the_rerun_finishes(rig):
    real = rig.dd.start_import
    sent = []

    def interrupted(contacts):
        if sent:
            raise KeyboardInterrupt  # Ctrl-C while the second batch is being sent
        sent.append(1)
        return real(contacts)

    rig.dd.start_import = interrupted
    with pytest.raises(KeyboardInterrupt):
        rig.engine().sync()
    assert rig.state.runs("test:env")[0].status == "cancelled"
    rig.dd.start_import = real
    again = rig.engine().sync()
    assert again.status == "ok" and len(rig.dd.people) == 9
