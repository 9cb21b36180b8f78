"""The state file's schema, its version, and the forward migrations.

A new file gets the version 1 tables and then every migration, exactly as an old file does,
so both end with the same schema. Each step runs in one transaction (``BEGIN IMMEDIATE``:
SQLite's DDL is transactional) that re-reads the version first, so a step half done never
shows, and two processes opening an old file at once migrate it once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

SCHEMA_VERSION = 2

_V1 = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS records (
        env_key TEXT NOT NULL, entity TEXT NOT NULL, id TEXT NOT NULL,
        contact_id INTEGER, email TEXT, mobile TEXT, field_hash TEXT,
        outcome TEXT, reason TEXT, failure_codes TEXT, failed_hash TEXT,
        sms_opted_out INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (env_key, entity, id))""",
    """CREATE TABLE IF NOT EXISTS runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT, env_key TEXT NOT NULL,
        started TEXT NOT NULL, finished TEXT, status TEXT NOT NULL,
        settings TEXT NOT NULL DEFAULT '{}', counts TEXT NOT NULL DEFAULT '{}',
        phonenumbers TEXT NOT NULL DEFAULT '', dataverse_requests INTEGER NOT NULL DEFAULT 0,
        dotdigital_calls INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS run_records (
        run_id INTEGER NOT NULL, entity TEXT NOT NULL, id TEXT NOT NULL,
        verdict TEXT NOT NULL, reason TEXT, failure_codes TEXT,
        PRIMARY KEY (run_id, entity, id))""",
    """CREATE TABLE IF NOT EXISTS batches (
        run_id INTEGER NOT NULL, batch_no INTEGER NOT NULL, keys TEXT NOT NULL,
        payload_hash TEXT NOT NULL, import_id TEXT, status TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (run_id, batch_no))""",
    "CREATE INDEX IF NOT EXISTS batches_status ON batches (status)",
    """CREATE TABLE IF NOT EXISTS cursors (
        env_key TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, updated_at TEXT NOT NULL,
        PRIMARY KEY (env_key, name))""",
)

# Version 2: every email a sync created or updated a Dotdigital contact with (``synced_emails``,
# seeded from the emails the records last sent; a contact holds one email, so per contact id
# only the latest stays), and ``runs.records_pruned`` (its run_records were dropped).
_V2 = (
    """CREATE TABLE synced_emails (
        env_key TEXT NOT NULL, email TEXT NOT NULL, contact_id INTEGER,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (env_key, email))""",
    "CREATE INDEX synced_emails_contact ON synced_emails (env_key, contact_id)",
    # max() picks the bare columns from the latest row of each group (an SQLite rule)
    """INSERT INTO synced_emails (env_key, email, contact_id, updated_at)
        SELECT env_key, lower(email), contact_id, max(updated_at) FROM records
        WHERE email IS NOT NULL AND email <> '' GROUP BY env_key, lower(email)""",
    """DELETE FROM synced_emails WHERE contact_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM synced_emails AS later WHERE later.env_key = synced_emails.env_key
        AND later.contact_id = synced_emails.contact_id
        AND later.updated_at > synced_emails.updated_at)""",
    "ALTER TABLE runs ADD COLUMN records_pruned INTEGER NOT NULL DEFAULT 0",
    "CREATE INDEX runs_env ON runs (env_key, id)",
)

MIGRATIONS: dict[int, Sequence[str]] = {2: _V2}
"""Target version → the statements that bring the version before it there."""


def version(db: sqlite3.Connection) -> int | None:
    """The file's schema version; None for a new (or never finished) file."""
    has_meta = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
    if not has_meta:
        return None
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    try:
        return int(row[0]) if row else None
    except ValueError:
        return None


def _step(db: sqlite3.Connection, target: int, statements: Sequence[str]) -> None:
    """Bring the file to ``target`` in one transaction (nothing when another process did)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        if version(db) == (None if target == 1 else target - 1):
            for sql in statements:
                db.execute(sql)
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                       (str(target),))
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def upgrade(db: sqlite3.Connection) -> None:
    """Create or migrate the schema up to SCHEMA_VERSION (the caller refused newer files).
    ``db`` is in autocommit mode (``isolation_level=None``)."""
    if version(db) is None:
        _step(db, 1, _V1)
    for target in range(2, SCHEMA_VERSION + 1):
        if (version(db) or 0) < target:
            _step(db, target, MIGRATIONS[target])


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "upgrade", "version"]
