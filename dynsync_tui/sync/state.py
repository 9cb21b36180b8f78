"""The sync state: one SQLite file (0600, WAL, one writer) per user.

Per CRM record (keyed by environment, entity, id): the Dotdigital contact id, the email and
mobile last sent, the field hash, the last outcome and reason. Per run: start/end, settings
snapshot (never secrets), counts, phonenumbers version, request counts; per run and record:
the verdict. A journal of import batches makes a killed run resumable: a batch is written
``pending`` before its PUT, ``sent`` with its import id right after, ``done`` once its
results are applied to the records (in the same transaction).

Per environment, ``synced_emails``: every email a sync created or updated a Dotdigital contact
with, and that contact's id when known. A record's row holds only its latest email, but the
contact it left behind keeps the old one (Dotdigital matches by email), so the verdicts read
this set (``synced_emails``). A contact holds one email: when an accepted outcome puts an
email on a known contact id, the other emails of that contact are dropped (an email change
matched by ``contactId`` frees the old address).

Per-record rows of a run (``run_records``) are kept for the last ``KEEP_RUN_RECORDS`` runs of
each environment; finishing a run drops older runs' rows and marks those runs
``records_pruned``. The runs themselves (the summary rows) stay.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dynsync_tui.core.records import PriorState
from dynsync_tui.sync.state_schema import SCHEMA_VERSION, upgrade, version

SECRET_WORDS = ("secret", "password", "token", "credential")
KEEP_RUN_RECORDS = 20
"""Runs per environment whose per-record rows are kept (older runs keep their summary row)."""


class StateError(RuntimeError):
    """A state-file problem, as one line naming the file."""


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one record's sync came to, ready to store.

    ``sent`` carries what was sent and accepted (email, mobile, field hash, contact id);
    a failure or skip leaves the last accepted values in place.
    """

    entity: str
    id: str
    outcome: str  # created | updated | unchanged | skip | failed
    reason: str | None = None
    failure_codes: tuple[str, ...] = ()
    contact_id: int | None = None
    email: str | None = None
    mobile: str | None = None
    field_hash: str | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome in ("created", "updated")


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    env_key: str
    started: str
    finished: str | None
    status: str
    settings: dict[str, Any]
    counts: dict[str, Any]
    phonenumbers: str
    dataverse_requests: int
    dotdigital_calls: int
    records_pruned: bool = False  # its per-record rows were dropped (older than KEEP_RUN_RECORDS runs)


@dataclass(frozen=True, slots=True)
class BatchRow:
    run_id: int
    batch_no: int
    keys: list[dict[str, Any]]
    payload_hash: str
    import_id: str | None
    status: str


def scrub(settings: Any) -> Any:
    """A copy of a settings snapshot with anything secret-looking left out."""
    if isinstance(settings, dict):
        return {k: scrub(v) for k, v in settings.items()
                if not any(w in str(k).lower() for w in SECRET_WORDS)}
    if isinstance(settings, list):
        return [scrub(v) for v in settings]
    return settings


class StateStore:
    """The SQLite state file. Thread-safe by a lock: one writer at a time."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = self._open()

    # ------------------------------------------------------------ opening

    def _open(self) -> sqlite3.Connection:
        p = self.path
        try:
            p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not p.exists():
                fd = os.open(p, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
                os.close(fd)
            os.chmod(p, 0o600)
            db = sqlite3.connect(p, check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"{p}: cannot open the state file ({exc})") from None
        try:
            found = version(db)
            if found is not None and found > SCHEMA_VERSION:
                db.close()
                raise StateError(
                    f"{p}: state file is from a newer dynsync (schema {found}, this one "
                    f"knows {SCHEMA_VERSION}); upgrade dynsync or use --state with another file"
                )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=5000")
        except sqlite3.DatabaseError as exc:
            db.close()
            raise StateError(f"{p}: not a dynsync state file ({exc})") from None
        try:
            upgrade(db)  # a new file, or an older one migrated forward (state_schema)
        except sqlite3.Error as exc:
            db.close()
            raise StateError(f"{p}: cannot bring the state file from schema {found or 0} to "
                             f"{SCHEMA_VERSION} ({exc}); it is left as it was") from None
        for suffix in ("-wal", "-shm"):
            side = Path(str(p) + suffix)
            if side.exists():
                os.chmod(side, 0o600)
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return version(self._db) or SCHEMA_VERSION

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the one-writer lock for a sync (a ``.lock`` file beside the state file).
        A second sync on the same state file gets a one-line StateError."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: SQLite's own locking only
            yield
            return
        fd = os.open(str(self.path) + ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise StateError(f"{self.path}: another dynsync sync is using this state file; "
                                 "wait for it to finish") from None
            yield
        finally:
            os.close(fd)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ------------------------------------------------------------ records

    def prior(self, env_key: str) -> dict[tuple[str, str], PriorState]:
        with self._lock:
            rows = self._db.execute(
                "SELECT entity, id, contact_id, email, mobile, field_hash, outcome, reason, "
                "sms_opted_out FROM records WHERE env_key=?", (env_key,)).fetchall()
        return {(r[0], r[1]): PriorState(r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8]))
                for r in rows}

    def failures(self, env_key: str) -> dict[tuple[str, str], tuple[tuple[str, ...], str | None]]:
        """Records whose last outcome was a failure: their Dotdigital failure codes and the
        field hash of what was refused."""
        with self._lock:
            rows = self._db.execute(
                "SELECT entity, id, failure_codes, failed_hash FROM records "
                "WHERE env_key=? AND outcome='failed'", (env_key,)).fetchall()
        return {(r[0], r[1]): (tuple(json.loads(r[2] or "[]")), r[3]) for r in rows}

    def failure_codes(self, env_key: str) -> dict[tuple[str, str], tuple[str, ...]]:
        """The Dotdigital failure codes of records whose last outcome was a failure."""
        return {k: codes for k, (codes, _) in self.failures(env_key).items()}

    def _write_outcomes(self, db: sqlite3.Connection, env_key: str, run_id: int | None,
                        outcomes: Iterable[Outcome], update_records: bool = True) -> None:
        stamp = now_iso()
        accepted, other, run_rows = [], [], []
        for o in outcomes:
            codes = json.dumps(list(o.failure_codes)) if o.failure_codes else None
            if not update_records:
                pass
            elif o.accepted:
                accepted.append((env_key, o.entity, o.id, o.contact_id, o.email, o.mobile,
                                 o.field_hash, o.outcome, o.reason, stamp))
            else:
                failed_hash = o.field_hash if o.outcome == "failed" else None
                other.append((env_key, o.entity, o.id, o.outcome, o.reason, codes, failed_hash, stamp))
            if run_id is not None:
                run_rows.append((run_id, o.entity, o.id, o.outcome, o.reason, codes))
        db.executemany(
            "INSERT INTO records (env_key, entity, id, contact_id, email, mobile, field_hash, "
            "outcome, reason, failure_codes, updated_at) VALUES (?,?,?,?,?,?,?,?,?,NULL,?) "
            "ON CONFLICT (env_key, entity, id) DO UPDATE SET "
            "contact_id=COALESCE(excluded.contact_id, records.contact_id), email=excluded.email, "
            "mobile=COALESCE(excluded.mobile, records.mobile), field_hash=excluded.field_hash, "
            "outcome=excluded.outcome, reason=excluded.reason, failure_codes=NULL, "
            "failed_hash=NULL, updated_at=excluded.updated_at", accepted)
        # A failure forgets the accepted hash (so the record is sent again) and keeps the
        # refused one; a skip or an unchanged record keeps what was last accepted.
        db.executemany(
            "INSERT INTO records (env_key, entity, id, outcome, reason, failure_codes, failed_hash, "
            "updated_at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (env_key, entity, id) DO UPDATE SET "
            "outcome=excluded.outcome, reason=excluded.reason, "
            "failure_codes=excluded.failure_codes, updated_at=excluded.updated_at, "
            "field_hash=CASE WHEN excluded.outcome='failed' THEN NULL ELSE records.field_hash END, "
            "failed_hash=CASE WHEN excluded.outcome='failed' THEN excluded.failed_hash "
            "ELSE records.failed_hash END", other)
        db.executemany(
            "INSERT OR REPLACE INTO run_records (run_id, entity, id, verdict, reason, failure_codes) "
            "VALUES (?,?,?,?,?,?)", run_rows)
        self._note_synced_emails(db, env_key, [a for a in accepted if a[4]], stamp)

    @staticmethod
    def _note_synced_emails(db: sqlite3.Connection, env_key: str, accepted: list[tuple[Any, ...]],
                            stamp: str) -> None:
        """Remember the emails Dotdigital now holds (``accepted`` rows as written to records)."""
        pairs = [(a[4].lower(), a[3]) for a in accepted]
        db.executemany(  # the contact moved to another email: it no longer holds its old one
            "DELETE FROM synced_emails WHERE env_key=? AND contact_id=? AND email<>?",
            [(env_key, cid, email) for email, cid in pairs if cid is not None])
        db.executemany(
            "INSERT INTO synced_emails (env_key, email, contact_id, updated_at) VALUES (?,?,?,?) "
            "ON CONFLICT (env_key, email) DO UPDATE SET "
            "contact_id=COALESCE(excluded.contact_id, synced_emails.contact_id), "
            "updated_at=excluded.updated_at", [(env_key, email, cid, stamp) for email, cid in pairs])

    def synced_emails(self, env_key: str) -> dict[str, int | None]:
        """Email → Dotdigital contact id (None when unknown) of every contact a sync of
        ``env_key`` created or updated, with the email it holds as far as the syncs know."""
        with self._lock:
            rows = self._db.execute("SELECT email, contact_id FROM synced_emails WHERE env_key=?",
                                    (env_key,)).fetchall()
        return {r[0]: r[1] for r in rows}

    def record_outcomes(self, env_key: str, run_id: int | None, outcomes: Iterable[Outcome],
                        *, update_records: bool = True) -> None:
        """Store outcomes per record (unless ``update_records`` is false) and in the run."""
        with self._tx() as db:
            self._write_outcomes(db, env_key, run_id, outcomes, update_records)

    def set_sms_opted_out(self, env_key: str, keys: Iterable[tuple[str, str]], value: bool = True) -> None:
        with self._tx() as db:
            db.executemany("UPDATE records SET sms_opted_out=? WHERE env_key=? AND entity=? AND id=?",
                           [(int(value), env_key, e, i) for e, i in keys])

    def forget_records(self, env_key: str, keys: Iterable[tuple[str, str]]) -> int:
        """Drop records deleted in Dynamics (their Dotdigital contacts stay: one-way sync
        never deletes). Returns how many were known."""
        with self._tx() as db:
            before = db.total_changes
            db.executemany("DELETE FROM records WHERE env_key=? AND entity=? AND lower(id)=lower(?)",
                           [(env_key, e, i) for e, i in keys])
            return db.total_changes - before

    # ------------------------------------------------------------ read cursors

    def cursor(self, env_key: str, name: str) -> str | None:
        """A stored read position: a change-tracking deltaLink, a ``modifiedon`` watermark,
        the time of the last SMS status check (``name`` says which, per table and columns)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM cursors WHERE env_key=? AND name=?",
                                   (env_key, name)).fetchone()
        return row[0] if row else None

    def set_cursors(self, env_key: str, values: dict[str, str | None]) -> None:
        """Store (or with None drop) read positions, all in one transaction."""
        stamp = now_iso()
        with self._tx() as db:
            for name, value in values.items():
                if value is None:
                    db.execute("DELETE FROM cursors WHERE env_key=? AND name=?", (env_key, name))
                else:
                    db.execute("INSERT OR REPLACE INTO cursors (env_key, name, value, updated_at) "
                               "VALUES (?,?,?,?)", (env_key, name, value, stamp))

    # ------------------------------------------------------------ runs

    def start_run(self, env_key: str, settings: dict[str, Any], phonenumbers: str = "") -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO runs (env_key, started, status, settings, phonenumbers) "
                "VALUES (?,?,?,?,?)",
                (env_key, now_iso(), "running", json.dumps(scrub(settings), default=str), phonenumbers))
            return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, status: str, counts: dict[str, Any], *,
                   dataverse_requests: int = 0, dotdigital_calls: int = 0) -> None:
        """Close the run and, in the same transaction, prune run_records (``_prune``)."""
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET finished=?, status=?, counts=?, dataverse_requests=?, "
                "dotdigital_calls=? WHERE id=?",
                (now_iso(), status, json.dumps(counts), dataverse_requests, dotdigital_calls, run_id))
            self._prune(db, run_id)

    @staticmethod
    def _prune(db: sqlite3.Connection, run_id: int) -> None:
        """Drop the per-record rows of the runs of ``run_id``'s environment older than its last
        KEEP_RUN_RECORDS runs, and mark those runs ``records_pruned`` (their summary stays)."""
        old = [r[0] for r in db.execute(
            "SELECT id FROM runs WHERE env_key=(SELECT env_key FROM runs WHERE id=?) "
            "AND records_pruned=0 ORDER BY id DESC LIMIT -1 OFFSET ?", (run_id, KEEP_RUN_RECORDS))]
        db.executemany("DELETE FROM run_records WHERE run_id=?", [(i,) for i in old])
        db.executemany("UPDATE runs SET records_pruned=1 WHERE id=?", [(i,) for i in old])

    def runs(self, env_key: str | None = None) -> list[RunRow]:
        sql = ("SELECT id, env_key, started, finished, status, settings, counts, phonenumbers, "
               "dataverse_requests, dotdigital_calls, records_pruned FROM runs")
        args: tuple[Any, ...] = ()
        if env_key is not None:
            sql += " WHERE env_key=?"
            args = (env_key,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY id DESC", args).fetchall()
        return [RunRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), json.loads(r[6]),
                       r[7], r[8], r[9], bool(r[10])) for r in rows]

    def run_records(self, run_id: int) -> list[dict[str, Any]]:
        """The run's per-record outcomes; empty for a run whose rows were pruned (see
        ``RunRow.records_pruned``)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT entity, id, verdict, reason, failure_codes FROM run_records "
                "WHERE run_id=? ORDER BY entity, id", (run_id,)).fetchall()
        return [{"entity": r[0], "id": r[1], "verdict": r[2], "reason": r[3],
                 "failure_codes": json.loads(r[4]) if r[4] else []} for r in rows]

    def mark_interrupted(self, env_key: str) -> list[int]:
        """Runs of ``env_key`` still marked running (killed): mark them interrupted."""
        with self._tx() as db:
            ids = [r[0] for r in db.execute(
                "SELECT id FROM runs WHERE env_key=? AND status='running'", (env_key,))]
            db.executemany("UPDATE runs SET status='interrupted', finished=? WHERE id=?",
                           [(now_iso(), i) for i in ids])
        return ids

    # ------------------------------------------------------------ batch journal

    def journal_batch(self, run_id: int, batch_no: int, keys: list[dict[str, Any]],
                      payload_hash: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO batches (run_id, batch_no, keys, payload_hash, import_id, "
                "status, updated_at) VALUES (?,?,?,?,NULL,'pending',?)",
                (run_id, batch_no, json.dumps(keys), payload_hash, now_iso()))

    def batch_sent(self, run_id: int, batch_no: int, import_id: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE batches SET import_id=?, status='sent', updated_at=? "
                       "WHERE run_id=? AND batch_no=?", (import_id, now_iso(), run_id, batch_no))

    def batch_done(self, env_key: str, run_id: int, batch_no: int, outcomes: Iterable[Outcome],
                   status: str = "done") -> None:
        """Apply a finished batch's outcomes and close it, atomically."""
        with self._tx() as db:
            self._write_outcomes(db, env_key, run_id, outcomes)
            # the keys were only needed to apply the results: run_records has them now
            db.execute("UPDATE batches SET status=?, keys='[]', updated_at=? "
                       "WHERE run_id=? AND batch_no=?", (status, now_iso(), run_id, batch_no))

    def abandon_batch(self, run_id: int, batch_no: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE batches SET status='abandoned', keys='[]', updated_at=? "
                       "WHERE run_id=? AND batch_no=?", (now_iso(), run_id, batch_no))

    def open_batches(self, env_key: str) -> list[BatchRow]:
        """Batches of ``env_key``'s runs not yet done (``pending`` or ``sent``), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT b.run_id, b.batch_no, b.keys, b.payload_hash, b.import_id, b.status "
                "FROM batches b JOIN runs r ON r.id=b.run_id "
                "WHERE r.env_key=? AND b.status IN ('pending','sent') "
                "ORDER BY b.run_id, b.batch_no", (env_key,)).fetchall()
        return [BatchRow(r[0], r[1], json.loads(r[2]), r[3], r[4], r[5]) for r in rows]

    def batches(self, run_id: int) -> list[BatchRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT run_id, batch_no, keys, payload_hash, import_id, status FROM batches "
                "WHERE run_id=? ORDER BY batch_no", (run_id,)).fetchall()
        return [BatchRow(r[0], r[1], json.loads(r[2]), r[3], r[4], r[5]) for r in rows]


__all__ = ["BatchRow", "KEEP_RUN_RECORDS", "Outcome", "RunRow", "SCHEMA_VERSION", "StateError", "StateStore", "scrub"]
