"""Properties of the whole verdict pipeline over random record sets, and the parallel path."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynsync_tui.core.parallel import classify_parallel, partition
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


def test_classify_parallel_gives_the_same_verdicts() -> None:
    rng = random.Random(7)
    records = [CrmRecord(rng.choice(["contact", "lead"]), f"id-{i}", rng.choice(EMAILS[:3]) + str(i % 40),
                         rng.choice(MOBILES), modified=f"2026-01-0{1 + i % 3}") for i in range(400)]
    records = [CrmRecord(r.entity, r.id, (r.email or "").replace("@", f"{r.id}@", i % 2), r.mobile,
                         modified=r.modified) for i, r in enumerate(records)]
    prior = {(records[0].entity, records[0].id): PriorState(5, "old@example.com", None, None, "created")}
    serial = classify(records, prior, VerdictSettings())
    parallel = classify_parallel(records, prior, VerdictSettings(), 2, min_records=0)
    assert [(v.record, v.verdict, v.reason, v.payload, v.field_hash, v.prior) for v in parallel] == [
        (v.record, v.verdict, v.reason, v.payload, v.field_hash, v.prior) for v in serial]
    assert {v.verdict for v in serial} >= {"create", "skip"}


def test_partition_keeps_equal_raw_values_together() -> None:
    records = [CrmRecord("contact", str(i), "a@b.co", MOBILES[i % 5]) for i in range(50)]
    parts = partition(records, 2)
    assert sorted(i for p in parts for i in p) == list(range(50))
    owner = {records[i].mobile: k for k, p in enumerate(parts) for i in p}
    assert all(owner[records[i].mobile] == k for k, p in enumerate(parts) for i in p)


def test_a_failing_worker_is_one_clear_error(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import dynsync_tui.core.parallel as parallel

    records = [CrmRecord("contact", f"id-{i}", f"p{i}@example.com", f"07411 2{i:05d}") for i in range(60)]
    boom = next(r for r in records if hash(r.mobile) % 2 == 1)  # lands in the worker's part
    real = parallel.check_record

    def check(record, prior, settings):  # type: ignore[no-untyped-def]
        if record is boom:
            raise ValueError("bad record")
        return real(record, prior, settings)

    monkeypatch.setattr(parallel, "check_record", check)
    with pytest.raises(RuntimeError) as caught:
        classify_parallel(records, {}, VerdictSettings(), 2, min_records=0)
    assert str(caught.value) == "verdict worker 1 failed: ValueError: bad record"
