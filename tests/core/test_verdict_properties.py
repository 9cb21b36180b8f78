"""Properties of the whole verdict pipeline over random record sets, and the parallel path."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynsync_tui.core import parallel, phone
from dynsync_tui.core.parallel import classify_parallel, distinct_values
from dynsync_tui.core.records import CrmRecord, PriorState
from dynsync_tui.core.verdicts import VerdictSettings, classify, summarize

MOBILES = ["07411 222333", "+44 7411 222333", "07411 444555", "n/a", "", "020 7946 0321",
           "(650) 253-0000", "+33 6 12 34 56 78", "07411 222333 ext. 9", "4.47411E+11", None]
EMAILS = ["ann@example.com", " ANN@example.com", "bob@example.com", "   ", None, "cy@example.org"]

records_st = st.lists(
    st.builds(
        lambda i, e, m, ent, mod, first: CrmRecord(
            ent, f"id-{i}", e, m, modified=f"2026-01-0{mod}", fields={"FIRSTNAME": first}),
        st.integers(0, 10**6), st.sampled_from(EMAILS), st.sampled_from(MOBILES),
        st.sampled_from(["contact", "lead", "account"]), st.integers(1, 3),
        st.sampled_from(["Ann", "", None, "Bob"]),
    ),
    max_size=25, unique_by=lambda r: r.id,
)


@settings(max_examples=150, deadline=None)
@given(records=records_st, seed=st.integers(0, 1000))
def test_invariants(records: list[CrmRecord], seed: int) -> None:
    verdicts = classify(records, {}, VerdictSettings())
    assert [v.record for v in verdicts] == records
    summary = summarize(verdicts)
    assert sum(summary.counts.values()) == summary.total == len(records)
    sent = [v for v in verdicts if v.verdict != "skip"]
    assert len({v.email for v in sent}) == len(sent) == len({v.e164 for v in sent})
    for v in verdicts:
        assert (v.payload is None) == (v.verdict in ("skip", "unchanged"))
        if v.payload is not None:
            assert "channelProperties" not in v.payload
            assert v.payload["identifiers"]["mobileNumber"] == v.e164
    shuffled = records[:]
    random.Random(seed).shuffle(shuffled)
    again = {v.key: (v.verdict, v.reason) for v in classify(shuffled, {}, VerdictSettings())}
    assert again == {v.key: (v.verdict, v.reason) for v in verdicts}
    # a second run over the synced result sends nothing
    prior = {v.key: PriorState(1, v.email, v.e164, v.field_hash, "created") for v in sent}
    assert all(v.verdict in ("skip", "unchanged") for v in classify(records, prior, VerdictSettings()))


def _mixed_records(n: int) -> list[CrmRecord]:
    rng = random.Random(7)
    records = [CrmRecord(rng.choice(["contact", "lead"]), f"id-{i}", rng.choice(EMAILS[:3]) + str(i % 40),
                         rng.choice(MOBILES), modified=f"2026-01-0{1 + i % 3}",
                         country=rng.choice(["France", "GB", None])) for i in range(n)]
    return [CrmRecord(r.entity, r.id, (r.email or "").replace("@", f"{r.id}@", i % 2), r.mobile,
                      modified=r.modified, country=r.country) for i, r in enumerate(records)]


def _same(a: list, b: list) -> bool:  # type: ignore[type-arg]
    key = lambda v: (v.record, v.verdict, v.reason, v.e164, v.corrections, v.payload,  # noqa: E731
                     v.field_hash, v.prior, v.flags)
    return [key(v) for v in a] == [key(v) for v in b]


@pytest.mark.parametrize("processes, window, record_country", [(2, 10**6, False), (3, 10**6, True), (2, 150, True)])
def test_classify_parallel_gives_the_same_verdicts(monkeypatch, processes, window, record_country) -> None:  # type: ignore[no-untyped-def]
    records = _mixed_records(400)
    prior = {(records[0].entity, records[0].id): PriorState(5, "old@example.com", None, None, "created")}
    settings = VerdictSettings(use_record_country=record_country)
    phone.clear_cache()
    serial = classify(records, prior, settings)
    phone.clear_cache()
    monkeypatch.setattr(parallel, "WINDOW", window)
    assert _same(classify_parallel(records, prior, settings, processes, min_records=0), serial)
    assert {v.verdict for v in serial} >= {"create", "skip"}
    if record_country:
        assert any(v.e164 and v.e164.startswith("+33") for v in serial)


def _count_parses(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    """The raw values this process (not a worker) cleans and parses."""
    seen: list[str] = []
    real = phone._normalise

    def counting(raw, *args):  # type: ignore[no-untyped-def]
        seen.append(raw)
        return real(raw, *args)

    monkeypatch.setattr(phone, "_normalise", counting)
    phone.clear_cache()
    return seen


def test_the_workers_do_their_share_and_this_process_does_not_redo_it(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    records = [CrmRecord("contact", f"id-{i}", f"p{i % 300}@example.com", f"07411 2{i % 500:05d}")
               for i in range(2000)]
    mobiles, _ = distinct_values(records, VerdictSettings())
    assert len(mobiles) == 500
    seen = _count_parses(monkeypatch)
    verdicts = classify_parallel(records, {}, VerdictSettings(), 3, min_records=0)
    assert sorted(seen) == sorted(mobiles[0::3])  # a third here, two thirds in two workers
    assert _same(verdicts, classify(records, {}, VerdictSettings()))


def test_it_does_not_fork_while_other_threads_run(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import threading

    records = [CrmRecord("contact", f"id-{i}", f"p{i}@example.com", f"07411 2{i:05d}") for i in range(100)]
    seen = _count_parses(monkeypatch)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        classify_parallel(records, {}, VerdictSettings(), 2, min_records=0)
    finally:
        stop.set()
        other.join()
    assert len(seen) == 100  # all here: no worker was forked


def test_a_failing_worker_is_one_clear_error(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    records = [CrmRecord("contact", f"id-{i}", f"p{i}@example.com", f"07411 2{i:05d}") for i in range(60)]
    _, emails = distinct_values(records, VerdictSettings())
    boom = emails[1]  # worker 1's share is every second distinct value from the second
    real = parallel.normalise_email

    def check(raw):  # type: ignore[no-untyped-def]
        if raw == boom:
            raise ValueError("bad record")
        return real(raw)

    monkeypatch.setattr(parallel, "normalise_email", check)
    with pytest.raises(RuntimeError) as caught:
        classify_parallel(records, {}, VerdictSettings(), 2, min_records=0)
    assert str(caught.value) == "verdict worker 1 failed: ValueError: bad record"


def test_unhashable_values_are_left_to_the_ordinary_passes() -> None:
    records = _mixed_records(300)
    records[5] = CrmRecord("contact", "odd", ["ann@example.com"], ["07411", "222333"])  # type: ignore[arg-type]
    phone.clear_cache()
    assert _same(classify_parallel(records, {}, VerdictSettings(), 2, min_records=0),
                 classify(records, {}, VerdictSettings()))
