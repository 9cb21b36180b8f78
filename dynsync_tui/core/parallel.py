"""The verdict pipeline split over worker processes.

Records are partitioned by their raw mobile value, so every distinct value is cleaned and
parsed by one worker only (linked account phones repeat a lot; splitting by position would
parse each of them in every worker). Pass 1 (``check_record``: email, cleaning, parsing,
consent) runs in forked workers that inherit the records, the prior state and the settings
(nothing is pickled on the way in); each worker sends back compact rows, and the parent
rebuilds the verdicts in input order and runs pass 2 (cross-record rules, which need every
record) and pass 3 (state and payload, only for the records that will be sent). Where ``fork`` is unavailable, or the input is small, it falls back to ``classify``
in-process. Call it from a process without running threads (fork copies only the calling
thread): the CLI or a sync worker process, not from inside a live TUI.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Mapping
from typing import Any

from dynsync_tui.core.records import CrmRecord, PriorState, RecordVerdict
from dynsync_tui.core.verdicts import (
    VerdictSettings, apply_state, check_record, classify, resolve_conflicts,
)

_SHARED: tuple[list[CrmRecord], list[list[int]], Mapping[tuple[str, str], PriorState],
               VerdictSettings] | None = None
MIN_RECORDS = 50_000

Row = tuple[Any, ...]


def _rows(part: int) -> list[Row]:
    assert _SHARED is not None
    records, parts, prior, settings = _SHARED
    get = prior.get
    out: list[Row] = []
    append = out.append
    for i in parts[part]:
        r = records[i]
        v = check_record(r, get((r.entity, r.id)), settings)
        append((v.verdict, v.reason, v.email, v.e164, v.corrections))
    return out


def partition(records: list[CrmRecord], parts: int) -> list[list[int]]:
    """Record positions split into ``parts`` groups by raw mobile value."""
    out: list[list[int]] = [[] for _ in range(parts)]
    for i, r in enumerate(records):
        out[hash(r.mobile) % parts].append(i)
    return out


def classify_parallel(records: Iterable[CrmRecord], prior: Mapping[tuple[str, str], PriorState],
                      settings: VerdictSettings, processes: int = 2, *,
                      min_records: int = MIN_RECORDS) -> list[RecordVerdict]:
    """Same result as ``classify``, computed by ``processes`` forked workers."""
    global _SHARED
    items = records if isinstance(records, list) else list(records)
    if (processes <= 1 or len(items) < min_records
            or "fork" not in multiprocessing.get_all_start_methods()):
        return classify(items, prior, settings)
    parts = partition(items, processes)
    _SHARED = (items, parts, prior, settings)
    slots: list[Any] = [None] * len(items)
    get = prior.get
    try:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            for positions, rows in zip(parts, pool.imap(_rows, range(processes))):
                for i, (verdict, reason, email, e164, corr) in zip(positions, rows):
                    r = items[i]
                    slots[i] = RecordVerdict(r, verdict, reason, email, e164, corr,
                                             prior=get((r.entity, r.id)))
    finally:
        _SHARED = None
    verdicts: list[RecordVerdict] = slots
    for i in resolve_conflicts(verdicts):
        apply_state(verdicts[i], settings)
    return verdicts
