from __future__ import annotations

import sqlite3
import stat

import pytest

from dynsync_tui.sync.state import SCHEMA_VERSION, Outcome, StateError, StateStore, scrub


def test_file_is_private_and_versioned(tmp_path):
    path = tmp_path / "sub" / "state.db"
    with StateStore(path) as st:
        assert st.schema_version == SCHEMA_VERSION
        st.start_run("env", {"a": 1})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for side in (tmp_path / "sub").glob("state.db-*"):
        assert stat.S_IMODE(side.stat().st_mode) == 0o600
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_state_from_a_future_version_is_refused_untouched(tmp_path):
    path = tmp_path / "state.db"
    StateStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(StateError) as err:
        StateStore(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and "newer" in msg
    assert path.read_bytes() == before


def test_not_a_database_is_one_line(tmp_path):
    path = tmp_path / "state.db"
    path.write_text("hello, I am not SQLite" * 100)
    with pytest.raises(StateError) as err:
        StateStore(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_outcomes_prior_and_failures(tmp_path):
    with StateStore(tmp_path / "s.db") as st:
        run = st.start_run("env", {})
        st.record_outcomes("env", run, [
            Outcome("contact", "a", "created", None, (), 11, "a@x.org", "+447700900001", "h1"),
            Outcome("contact", "b", "failed", "failed", ("InvalidPhoneNumber",)),
            Outcome("lead", "c", "skip", "no_mobile"),
        ])
        prior = st.prior("env")
        assert prior[("contact", "a")].contact_id == 11
        assert prior[("contact", "a")].field_hash == "h1"
        assert prior[("contact", "b")].outcome == "failed" and prior[("contact", "b")].field_hash is None
        assert prior[("lead", "c")].reason == "no_mobile"
        assert st.failure_codes("env") == {("contact", "b"): ("InvalidPhoneNumber",)}
        assert st.prior("other-env") == {}
        # an accepted update without a mobile keeps the mobile sent before; a failure keeps
        # the contact id but forgets the hash so the record is sent again
        run2 = st.start_run("env", {})
        st.record_outcomes("env", run2, [
            Outcome("contact", "a", "updated", None, (), None, "a@x.org", None, "h2")])
        assert prior_of(st, "a").mobile == "+447700900001" and prior_of(st, "a").contact_id == 11
        st.record_outcomes("env", run2, [Outcome("contact", "a", "failed", "failed", ("Blocker",))])
        assert prior_of(st, "a").contact_id == 11 and prior_of(st, "a").field_hash is None
        assert [r["verdict"] for r in st.run_records(run2)] == ["failed"]


def prior_of(st, rid):
    return st.prior("env")[("contact", rid)]


def test_runs_snapshot_has_no_secrets(tmp_path):
    with StateStore(tmp_path / "s.db") as st:
        run = st.start_run("env", {"dynamics": {"client_id": "c", "client_secret": "S3CRET"},
                                   "api_password": "pw", "token": "t"}, "9.0.1")
        st.finish_run(run, "ok", {"created": 2}, dataverse_requests=3, dotdigital_calls=4)
        row = st.runs("env")[0]
        assert row.settings == {"dynamics": {"client_id": "c"}}
        assert (row.status, row.counts, row.phonenumbers) == ("ok", {"created": 2}, "9.0.1")
        assert (row.dataverse_requests, row.dotdigital_calls) == (3, 4)
    assert b"S3CRET" not in (tmp_path / "s.db").read_bytes()
    assert scrub([{"password": 1, "x": 2}]) == [{"x": 2}]


def test_journal_open_batches_and_interrupted_runs(tmp_path):
    with StateStore(tmp_path / "s.db") as st:
        run = st.start_run("env", {})
        keys = [{"entity": "contact", "id": "a", "email": "a@x.org", "mobile": None, "cid": None, "hash": "h"}]
        st.journal_batch(run, 1, keys, "p1")
        st.journal_batch(run, 2, keys, "p2")
        st.batch_sent(run, 2, "imp-2")
        st.journal_batch(run, 3, keys, "p3")
        st.batch_sent(run, 3, "imp-3")
        st.batch_done("env", run, 3, [Outcome("contact", "a", "created", None, (), 5, "a@x.org", None, "h")])
        assert [(b.batch_no, b.status, b.import_id) for b in st.open_batches("env")] == \
            [(1, "pending", None), (2, "sent", "imp-2")]
        assert st.open_batches("other") == []
        assert st.mark_interrupted("env") == [run]
        assert st.runs("env")[0].status == "interrupted"
        st.abandon_batch(run, 1)
        assert [b.batch_no for b in st.open_batches("env")] == [2]
        assert [b.keys for b in st.batches(run)] == [[], keys, []]  # closed batches drop their keys


def test_one_sync_at_a_time_per_state_file(tmp_path):
    with StateStore(tmp_path / "s.db") as st, StateStore(tmp_path / "s.db") as other:
        with st.exclusive():
            with pytest.raises(StateError) as err:
                with other.exclusive():
                    pass
            assert "another dynsync sync" in str(err.value)
        with other.exclusive():  # free again once the first is done
            pass
