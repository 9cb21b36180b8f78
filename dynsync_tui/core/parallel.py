"""The verdict pipeline with its costly part shared out over processes: the caller plus
``processes - 1`` forked workers.

Nearly all the time goes into cleaning and parsing each *distinct* raw mobile (and, far
behind, normalising each distinct email): records repeat values (a linked account's phone,
a person who is both a lead and a contact). So the distinct values are dealt out; every
process works out its share; the workers send back compact answers (one small tuple per
value), which seed this process's memo caches; then ``classify``'s own passes run here,
every value a cache hit. The verdicts are ``classify``'s by construction: the same code
makes them.

Records never cross a process boundary and workers never touch them: a forked process that
touches objects makes the kernel copy the memory pages they sit on (copy-on-write). Workers
that ran pass 1 over their share of the records, or even only read the values off them
while this process ran pass 1, were slowed by a third that way; reading the distinct values
from a list made before the fork costs next to nothing.

Records are taken in windows of at most ``WINDOW`` so the memo caches never overflow midway.
Where ``fork`` is unavailable, the input is small, other threads are running (fork copies
only the calling thread: a lock another thread holds would never be released in the
worker), or the caller is itself a daemonic worker (which may not have children), it falls
back to ``classify``.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterable, Mapping
from itertools import repeat
from multiprocessing.connection import Connection
from operator import attrgetter
from typing import Any

from dynsync_tui.core import phone
from dynsync_tui.core.records import CrmRecord, PriorState, RecordVerdict
from dynsync_tui.core.verdicts import (
    VerdictSettings, check_all, classify, finish, make_email_room, normalise_email, remember_emails,
    with_state,
)

MIN_RECORDS = 50_000
WINDOW = 1_000_000  # records per window: the distinct values of a window fit the memo caches

Work = tuple[list[Any], list[Any], str | None, bool, int]
_SHARED: Work | None = None  # what workers inherit: (mobiles, emails, country, paired, processes)


def can_fork() -> bool:
    """Whether this process may fork workers safely right now."""
    return (not multiprocessing.current_process().daemon and threading.active_count() == 1
            and "fork" in multiprocessing.get_all_start_methods())


def distinct_values(records: list[CrmRecord], settings: VerdictSettings) -> tuple[list[Any], list[Any]]:
    """The distinct mobile keys and raw emails of ``records``, in first-seen order, gathered
    at C speed. A mobile key is the raw value, or (raw value, record country) when the
    record's country is used. Blanks and non-text values are sorted out by the share that
    meets them."""
    mobiles: Iterable[Any] = map(attrgetter("mobile"), records)
    if settings.use_record_country:
        mobiles = zip(mobiles, map(attrgetter("country"), records))
    return list(dict.fromkeys(mobiles)), list(dict.fromkeys(map(attrgetter("email"), records)))


def _pairs(keys: list[Any], paired: bool) -> list[tuple[str, Any]]:
    """(raw value, record country) for each text mobile key."""
    pairs = keys if paired else zip(keys, repeat(None))
    return [(raw, country) for raw, country in pairs if isinstance(raw, str)]


def _work_share(k: int) -> tuple[list[tuple[Any, ...]], list[str | None]]:
    """Process ``k``'s share of the distinct values worked out (and memoised here): the
    plain ``PhoneResult`` tuple of each text mobile, the normalised form of each text email."""
    assert _SHARED is not None
    mobiles, emails, country, paired, processes = _SHARED
    norm = phone.normalise_mobile
    phones = [tuple(norm(raw, country, rc)) for raw, rc in _pairs(mobiles[k::processes], paired)]
    return phones, [normalise_email(e) for e in emails[k::processes] if isinstance(e, str)]


def _worker(conn: Connection, k: int) -> None:
    try:
        conn.send(_work_share(k))
    except BaseException as exc:  # noqa: BLE001 - reported to the caller as one line
        conn.send(RuntimeError(f"verdict worker {k} failed: {type(exc).__name__}: {exc}"))
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


def warm(records: list[CrmRecord], settings: VerdictSettings, processes: int) -> None:
    """Memoise every distinct mobile and email of ``records``, shared out over ``processes``."""
    global _SHARED
    try:
        mobiles, emails = distinct_values(records, settings)
    except TypeError:  # an unhashable value (not from Dataverse): classify works it all out
        return
    phone.make_room(len(mobiles))
    make_email_room(len(emails))
    paired = settings.use_record_country
    _SHARED = (mobiles, emails, settings.default_country, paired, processes)
    ctx = multiprocessing.get_context("fork")
    workers = []
    try:
        for k in range(1, processes):
            mine, theirs = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_worker, args=(theirs, k), daemon=True)
            proc.start()
            theirs.close()
            workers.append((k, mine, proc))
        _work_share(0)
        for k, conn, _ in workers:
            phones, normalised = _recv(conn)
            phone.remember(_pairs(mobiles[k::processes], paired), settings.default_country, phones)
            remember_emails([e for e in emails[k::processes] if isinstance(e, str)], normalised)
    finally:
        _SHARED = None
        for _, conn, proc in workers:
            conn.close()
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()


def classify_parallel(records: Iterable[CrmRecord], prior: Mapping[tuple[str, str], PriorState],
                      settings: VerdictSettings, processes: int = 2, *,
                      min_records: int = MIN_RECORDS) -> list[RecordVerdict]:
    """Same result as ``classify``, the costly part computed by ``processes`` processes (this
    one included)."""
    items = records if isinstance(records, list) else list(records)
    if processes <= 1 or len(items) < min_records or not can_fork():
        return classify(items, prior, settings)
    settings = with_state(settings, prior)
    verdicts: list[RecordVerdict] = []
    for start in range(0, len(items), WINDOW):
        window = items[start:start + WINDOW]
        warm(window, settings, processes)
        verdicts += check_all(window, prior, settings)
    return finish(verdicts, settings)
