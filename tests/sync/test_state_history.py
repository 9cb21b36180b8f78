"""Schema 2 of the state file: the migration of old files, the emails synced contacts hold,
and the pruning of per-record run rows."""

from __future__ import annotations

import sqlite3
import stat

import pytest

from dynsync_tui.sync import state_schema
from dynsync_tui.sync.state import KEEP_RUN_RECORDS, Outcome, StateError, StateStore


def old_state_file(path) -> None:
    """A state file as dynsync with schema 1 left it: records with emails, a run."""
    db = sqlite3.connect(path, isolation_level=None)
    for sql in state_schema._V1:
        db.execute(sql)
    db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    rows = [("env", "contact", "a", 11, "Ann@X.org", "+447700900001", "h1", "created", "2026-01-01T00:00:00Z"),
            ("env", "contact", "b", 12, "bob@x.org", "+447700900002", "h2", "updated", "2026-01-01T00:00:00Z"),
            # c took contact 12 onto a new address later (contactId match): 12 no longer holds bob@
            ("env", "lead", "c", 12, "carl@x.org", None, "h3", "updated", "2026-01-02T00:00:00Z"),
            ("env", "lead", "d", None, None, None, None, "skip", "2026-01-01T00:00:00Z"),
            ("other", "contact", "a", 99, "ann@x.org", None, "h9", "created", "2026-01-01T00:00:00Z")]
    db.executemany("INSERT INTO records (env_key, entity, id, contact_id, email, mobile, field_hash, "
                   "outcome, updated_at) VALUES (?,?,?,?,?,?,?,?,?)", rows)
    db.execute("INSERT INTO runs (env_key, started, finished, status) VALUES ('env', 't0', 't1', 'ok')")
    db.execute("INSERT INTO run_records VALUES (1, 'contact', 'a', 'created', NULL, NULL)")
    db.close()
    path.chmod(0o600)


def test_an_old_state_file_is_migrated_and_keeps_working(tmp_path):
    path = tmp_path / "state.db"
    old_state_file(path)
    with StateStore(path) as st:
        assert st.schema_version == state_schema.SCHEMA_VERSION == 2
        assert st.synced_emails("env") == {"ann@x.org": 11, "carl@x.org": 12}
        assert st.synced_emails("other") == {"ann@x.org": 99}
        assert st.prior("env")[("contact", "a")].contact_id == 11
        [run] = st.runs("env")
        assert (run.status, run.records_pruned) == ("ok", False)
        assert [r["verdict"] for r in st.run_records(1)] == ["created"]
        run2 = st.start_run("env", {})
        st.record_outcomes("env", run2, [Outcome("contact", "a", "updated", None, (), 11, "ann@x.org")])
        st.finish_run(run2, "ok", {"updated": 1})
    with StateStore(path) as st:  # opening again changes nothing
        assert st.schema_version == 2 and len(st.runs("env")) == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for side in tmp_path.glob("state.db-*"):
        assert stat.S_IMODE(side.stat().st_mode) == 0o600


def test_a_new_file_and_a_migrated_one_have_the_same_schema(tmp_path):
    old_state_file(tmp_path / "old.db")
    StateStore(tmp_path / "old.db").close()
    StateStore(tmp_path / "new.db").close()

    def schema(path):
        db = sqlite3.connect(path)
        try:
            return sorted(db.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))
        finally:
            db.close()

    assert schema(tmp_path / "old.db") == schema(tmp_path / "new.db")


def test_a_failed_migration_leaves_the_old_file_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "state.db"
    old_state_file(path)
    broken = (*state_schema._V2[:-1], "CREATE INDEX broken ON no_such_table (x)")
    monkeypatch.setitem(state_schema.MIGRATIONS, 2, broken)
    with pytest.raises(StateError) as err:
        StateStore(path)
    assert "\n" not in str(err.value) and "from schema 1 to 2" in str(err.value)
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)
    assert db.execute("SELECT name FROM sqlite_master WHERE name='synced_emails'").fetchone() is None
    assert "records_pruned" not in [c[1] for c in db.execute("PRAGMA table_info(runs)")]
    db.close()
    monkeypatch.undo()
    with StateStore(path) as st:  # the real migration still applies
        assert st.schema_version == 2 and "ann@x.org" in st.synced_emails("env")


def test_synced_emails_keep_every_address_a_contact_was_synced_with(tmp_path):
    with StateStore(tmp_path / "s.db") as st:
        run = st.start_run("env", {})
        st.record_outcomes("env", run, [Outcome("contact", "a", "created", None, (), 11, "a@x.org", "+4477", "h1")])
        # the record's email changes (matched by email): a new contact, the old one keeps a@
        st.record_outcomes("env", run, [Outcome("contact", "a", "created", None, (), 12, "b@x.org", None, "h2")])
        assert st.prior("env")[("contact", "a")].email == "b@x.org"
        assert st.synced_emails("env") == {"a@x.org": 11, "b@x.org": 12}
        # matched by contactId: contact 12 moves to c@, so b@ is no longer held by anyone
        st.record_outcomes("env", run, [Outcome("contact", "a", "updated", None, (), 12, "c@x.org", None, "h3")])
        assert st.synced_emails("env") == {"a@x.org": 11, "c@x.org": 12}
        # an outcome without a contact id keeps the id known for that email; failures, skips
        # and records forgotten leave the set alone
        st.record_outcomes("env", run, [Outcome("contact", "a", "updated", None, (), None, "a@x.org", None, "h4"),
                                        Outcome("lead", "z", "failed", "failed", ("Blocker",), None, "z@x.org"),
                                        Outcome("lead", "y", "skip", "no_mobile")])
        st.forget_records("env", [("contact", "a")])
        assert st.synced_emails("env") == {"a@x.org": 11, "c@x.org": 12}
        assert st.synced_emails("other") == {}


def test_run_records_are_kept_for_the_last_runs_only(tmp_path):
    with StateStore(tmp_path / "s.db") as st:
        ids = []
        for n in range(KEEP_RUN_RECORDS + 3):
            run = st.start_run("env", {})
            st.record_outcomes("env", run, [Outcome("contact", "a", "unchanged")])
            st.finish_run(run, "ok", {"unchanged": 1})
            ids.append(run)
            other = st.start_run("other", {})  # another environment's runs do not count
            st.record_outcomes("other", other, [Outcome("contact", "a", "unchanged")])
            st.finish_run(other, "ok", {"unchanged": 1})
        runs = {r.id: r for r in st.runs("env")}
        assert len(runs) == KEEP_RUN_RECORDS + 3  # every run's summary row stays
        for run_id in ids[:3]:
            assert runs[run_id].records_pruned and st.run_records(run_id) == []
            assert runs[run_id].counts == {"unchanged": 1}
        for run_id in ids[3:]:
            assert not runs[run_id].records_pruned and len(st.run_records(run_id)) == 1
        assert sum(r.records_pruned for r in st.runs("other")) == 3
