"""The verdict pipeline split over processes: the caller plus ``processes - 1`` forked workers.

Records are partitioned by their raw mobile value, so every distinct value is cleaned and
parsed in one process only (linked account phones repeat a lot; splitting by position would
parse each of them in every process). Each process runs pass 1 (``check_record``) over its
part; forked workers inherit the records, the prior state and the settings (nothing is
pickled on the way in) and send back compact rows. The caller runs pass 2 (the cross-record
rules need every record), tells each worker which of its records won, and all processes run
pass 3 (``apply_state``: state rules, payload, hash) on their own winners.

Where ``fork`` is unavailable, the input is small, or the caller is itself a daemonic worker
(which may not have children), it falls back to ``classify``.
Call it from a process without running threads (fork copies only the calling thread): the
CLI or a sync worker process, not from inside a live TUI.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Mapping
from multiprocessing.connection import Connection
from typing import Any

from dynsync_tui.core.records import CrmRecord, PriorState, RecordVerdict
from dynsync_tui.core.verdicts import (
    SKIP, VerdictSettings, apply_state, check_record, classify, resolve_conflicts, with_state,
)

MIN_RECORDS = 50_000
_SHARED: tuple[list[CrmRecord], list[list[int]], Mapping[tuple[str, str], PriorState],
               VerdictSettings] | None = None


def partition(records: list[CrmRecord], parts: int) -> list[list[int]]:
    """Record positions split into ``parts`` groups by raw mobile value (equal values share a
    group). Equal shares: pass 2 waits for every part, so the caller gains nothing by taking less."""
    out: list[list[int]] = [[] for _ in range(parts)]
    for i, r in enumerate(records):
        out[hash(r.mobile) % parts].append(i)
    return out


def _check_part(positions: list[int]) -> list[RecordVerdict]:
    assert _SHARED is not None
    records, _, prior, settings = _SHARED
    get = prior.get
    out = []
    for i in positions:
        r = records[i]
        out.append(check_record(r, get((r.entity, r.id)), settings))
    return out


def _worker(conn: Connection, part: int) -> None:
    """Pass 1 over one part, send rows; receive the winners' local positions; pass 3."""
    try:
        assert _SHARED is not None
        settings = _SHARED[3]
        verdicts = _check_part(_SHARED[1][part])
        conn.send([(v.verdict, v.reason, v.email, v.e164, v.corrections) for v in verdicts])
        rows = []
        for j in conn.recv():
            v = verdicts[j]
            apply_state(v, settings)
            rows.append((v.verdict, v.reason, v.match, v.contact_id, v.payload, v.field_hash, v.flags))
        conn.send(rows)
    except BaseException as exc:  # noqa: BLE001 - reported to the caller as one line
        conn.send(RuntimeError(f"verdict worker {part} failed: {type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _recv(conn: Connection) -> Any:
    try:
        got = conn.recv()
    except EOFError:
        raise RuntimeError("verdict worker exited without an answer") from None
    if isinstance(got, RuntimeError):
        raise got
    return got


def classify_parallel(records: Iterable[CrmRecord], prior: Mapping[tuple[str, str], PriorState],
                      settings: VerdictSettings, processes: int = 2, *,
                      min_records: int = MIN_RECORDS) -> list[RecordVerdict]:
    """Same result as ``classify``, computed by ``processes`` processes (this one included)."""
    global _SHARED
    items = records if isinstance(records, list) else list(records)
    if (processes <= 1 or len(items) < min_records or multiprocessing.current_process().daemon
            or "fork" not in multiprocessing.get_all_start_methods()):
        return classify(items, prior, settings)
    ctx = multiprocessing.get_context("fork")
    settings = with_state(settings, prior)
    parts = partition(items, processes)
    _SHARED = (items, parts, prior, settings)
    workers = []
    try:
        for k in range(1, processes):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(theirs, k), daemon=True)
            proc.start()
            theirs.close()
            workers.append((k, mine, proc))
        slots: list[Any] = [None] * len(items)
        for i, v in zip(parts[0], _check_part(parts[0])):
            slots[i] = v
        get = prior.get
        for k, conn, _ in workers:
            for i, (verdict, reason, email, e164, corr) in zip(parts[k], _recv(conn)):
                r = items[i]
                slots[i] = RecordVerdict(r, verdict, reason, email, e164, corr, "email", None, None,
                                         None, get((r.entity, r.id)))
        verdicts: list[RecordVerdict] = slots
        resolve_conflicts(verdicts)
        for k, conn, _ in workers:
            conn.send([j for j, i in enumerate(parts[k]) if verdicts[i].verdict != SKIP])
        for i in parts[0]:
            if verdicts[i].verdict != SKIP:
                apply_state(verdicts[i], settings)
        for k, conn, _ in workers:
            winners = [i for i in parts[k] if verdicts[i].verdict != SKIP]
            for i, (verdict, reason, match, cid, payload, digest, flags) in zip(winners, _recv(conn)):
                v = verdicts[i]
                v.verdict, v.reason, v.match, v.contact_id = verdict, reason, match, cid
                v.payload, v.field_hash, v.flags = payload, digest, flags
        return verdicts
    finally:
        _SHARED = None
        for _, conn, proc in workers:
            conn.close()
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
