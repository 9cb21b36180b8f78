"""The sandbox's persistent world: Dynamics records and the Dotdigital account, in
``home/sandbox.db`` (SQLite, 0600), mirrored in memory for speed.

Dynamics tables are kept as dicts keyed by primary key plus a sorted key list, so a page
is a bisect and a slice. Every change bumps a global version (row versions and
tombstones give change tracking its deltas).
"""

from __future__ import annotations

import bisect
import json
import os
import sqlite3
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dynsync_tui.sandbox.metadata import ENTITIES

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (entity TEXT NOT NULL, id TEXT NOT NULL,
    version INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (entity, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tombstones (entity TEXT NOT NULL, id TEXT NOT NULL,
    version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dd (kind TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (kind, id)) WITHOUT ROWID;
"""


def _interning(drop_none: bool) -> json.JSONDecoder:
    """A decoder that shares key strings and short values across rows (json.loads makes a
    new copy of each per row): a 100k-contact sandbox takes a third of the memory."""
    intern = sys.intern

    def hook(pairs: list[tuple[str, Any]]) -> dict:
        return {intern(k): (intern(v) if type(v) is str and len(v) <= 24 else v)
                for k, v in pairs if not (drop_none and v is None)}

    return json.JSONDecoder(object_pairs_hook=hook)


_RECORD = _interning(drop_none=True)
_DD = _interning(drop_none=False)


class Table:
    """One Dynamics table in memory."""

    def __init__(self, entity: str) -> None:
        self.entity = entity
        self.pk = ENTITIES[entity].pk
        self.rows: dict[str, dict] = {}
        self.ids: list[str] = []
        self.versions: dict[str, int] = {}

    def load(self, rows: Iterable[tuple[str, int, dict]]) -> None:
        self.rows.clear()
        self.versions.clear()
        for rid, ver, data in rows:
            self.rows[rid] = data
            self.versions[rid] = ver
        self.ids = sorted(self.rows)

    def put(self, rid: str, data: dict, version: int) -> None:
        if rid not in self.rows:
            bisect.insort(self.ids, rid)
        self.rows[rid] = data
        self.versions[rid] = version

    def remove(self, rid: str) -> None:
        if self.rows.pop(rid, None) is not None:
            del self.ids[bisect.bisect_left(self.ids, rid)]
            self.versions.pop(rid, None)


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fresh = not path.exists()
        if fresh:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        os.chmod(path, 0o600)
        self.path = path
        self.lock = threading.RLock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA cache_size=-16384")
        self.db.executescript(_SCHEMA)
        self.tables = {name: Table(name) for name in ENTITIES}
        self.version = int(self.get_meta("version") or 0)

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # ------------------------------------------------------------ meta
    def get_meta(self, key: str) -> str | None:
        with self.lock:
            row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def wipe(self) -> None:
        with self.lock:
            self.db.executescript(
                "BEGIN; DELETE FROM meta; DELETE FROM records; DELETE FROM tombstones;"
                " DELETE FROM dd; COMMIT;"
            )
            self.version = 0
            for t in self.tables.values():
                t.load([])

    # ------------------------------------------------------------ Dynamics records
    def replace_records(self, data: dict[str, list[dict]]) -> None:
        """Replace every Dynamics record (a fresh seed or a CSV load)."""
        with self.lock:
            self.version += 1
            ver = self.version
            self.db.execute("BEGIN")
            self.db.execute("DELETE FROM records")
            self.db.execute("DELETE FROM tombstones")
            for entity, rows in data.items():
                pk = ENTITIES[entity].pk
                dumps = json.JSONEncoder(separators=(",", ":")).encode
                self.db.executemany(  # in key order: appends to the B-tree instead of scattering
                    "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)",
                    ((entity, r[pk], ver, dumps(r)) for r in sorted(rows, key=lambda r: r[pk])),
                )
                self.tables[entity].load(
                    (r[pk], ver, {k: v for k, v in r.items() if v is not None}) for r in rows)
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (str(ver),))
            self.db.execute("COMMIT")

    def load_records(self) -> None:
        with self.lock:
            by: dict[str, list] = {name: [] for name in ENTITIES}
            for entity, rid, ver, data in self.db.execute(
                "SELECT entity, id, version, data FROM records"
            ):
                if entity in by:
                    by[entity].append((rid, ver, _RECORD.decode(data)))
            for name, rows in by.items():
                self.tables[name].load(rows)

    def _bump(self) -> int:
        self.version += 1
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (str(self.version),))
        return self.version

    def put_record(self, entity: str, data: dict) -> None:
        with self.lock:
            self.db.execute("BEGIN")
            ver = self._bump()
            rid = data[ENTITIES[entity].pk]
            self.db.execute(
                "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)",
                (entity, rid, ver, json.dumps(data, separators=(",", ":"))),
            )
            self.db.execute("COMMIT")
            self.tables[entity].put(rid, data, ver)

    def delete_record(self, entity: str, rid: str) -> bool:
        with self.lock:
            if rid not in self.tables[entity].rows:
                return False
            self.db.execute("BEGIN")
            ver = self._bump()
            self.db.execute("DELETE FROM records WHERE entity=? AND id=?", (entity, rid))
            self.db.execute("INSERT INTO tombstones VALUES (?, ?, ?)", (entity, rid, ver))
            self.db.execute("COMMIT")
            self.tables[entity].remove(rid)
            return True

    def tombstones_since(self, entity: str, version: int) -> list[str]:
        with self.lock:
            rows = self.db.execute(
                "SELECT id FROM tombstones WHERE entity=? AND version>? ORDER BY version",
                (entity, version),
            ).fetchall()
        return [r[0] for r in rows]

    # ------------------------------------------------------------ Dotdigital account
    def dd_load(self, kind: str) -> list[dict]:
        with self.lock:
            rows = self.db.execute("SELECT data FROM dd WHERE kind=?", (kind,)).fetchall()
        return [_DD.decode(r[0]) for r in rows]

    def dd_save(self, kind: str, items: Iterable[tuple[Any, dict]]) -> None:
        with self.lock:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT OR REPLACE INTO dd VALUES (?, ?, ?)",
                ((kind, str(k), json.dumps(v, separators=(",", ":"))) for k, v in items),
            )
            self.db.execute("COMMIT")
