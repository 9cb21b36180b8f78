"""Through the sandbox: incremental reads (change tracking, watermark, expired token, --full)
and SMS opt-outs made in Dotdigital showing in the preview and surviving the next sync."""

from __future__ import annotations

import pytest

from dynsync_tui.core.mappings import Mapping
from dynsync_tui.core.plan import entity_plan
from dynsync_tui.sync.reading import Reader, cursor_name, settings_fingerprint

from .test_sandbox_sync import Sandbox, connect, engine_for, write_contacts

pytestmark = pytest.mark.skipif(Sandbox is None, reason="sandbox not available")


def cid(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


@pytest.fixture
def sb(tmp_path):
    sandbox = Sandbox(tmp_path / "sandbox", data_dir=write_contacts(tmp_path / "data"), import_delay=0.02)
    sandbox.start()
    yield sandbox
    sandbox.stop()


def position(kind: str, cfg) -> str:
    return cursor_name(kind, entity_plan(cfg, "contact"), settings_fingerprint(cfg))


def contact_gets(sb) -> list[str]:
    return [t for m, t in sb.request_log if m == "GET" and t.startswith("/api/data/v9.2/contacts")]


def test_delta_read_after_an_update_and_a_delete(sb, tmp_path):
    cfg, services = connect(sb, tmp_path / "home", first_name=True)
    st, env = services.state, services.env_key
    first = engine_for(cfg, services).sync()
    assert first.created == 10 and first.read == {"contact": "full", "lead": "full"}
    sb.update_record("contact", cid(1), firstname="Renamed")
    sb.delete_record("contact", cid(2))
    new = sb.insert_record("contact", firstname="New", emailaddress1="new@example.org",
                           mobilephone="+447911123499")
    sb.request_log.clear()
    second = engine_for(cfg, services).sync()
    assert second.read == {"contact": "delta", "lead": "delta"}
    assert (second.created, second.updated, second.unchanged, second.failed) == (1, 1, 8, 0)
    gets = contact_gets(sb)
    assert len(gets) == 1 and "deltatoken" in gets[0]  # one request: the changes only
    prior = st.prior(env)
    assert ("contact", cid(2)) not in prior and ("contact", new) in prior  # the deleted record is forgotten
    people = {c["identifiers"]["email"]: c for c in sb.dotdigital_contacts()}
    assert people["person1@example.org"]["dataFields"]["FIRSTNAME"] == "Renamed"
    assert "person2@example.org" in people  # a one-way sync never deletes in Dotdigital
    third = engine_for(cfg, services).sync()
    assert (third.created, third.updated, third.unchanged) == (0, 0, 10)  # 9 of the CSV + the new one
    services.close()


def test_expired_change_token_and_full_read_everything(sb, tmp_path):
    cfg, services = connect(sb, tmp_path / "home", first_name=True)
    st, env = services.state, services.env_key
    engine_for(cfg, services).sync()
    name = position("delta", cfg)
    link = st.cursor(env, name)
    assert link and "$deltatoken=" in link and not link.startswith("https://")  # stored relative
    st.set_cursors(env, {name: link.split("$deltatoken=")[0] + "$deltatoken=99999999%2102%2F12%2F2026"})
    sb.update_record("contact", cid(3), firstname="Third")
    second = engine_for(cfg, services).sync()
    assert second.read["contact"] == "full"  # the rejected token meant a full read of the table
    assert (second.updated, second.unchanged) == (1, 9)
    assert st.cursor(env, name) != link and "99999999" not in st.cursor(env, name)
    forced = engine_for(cfg, services).sync(full=True)
    assert forced.read == {"contact": "full", "lead": "full"} and forced.updated == 10
    services.close()


def test_cancelled_run_keeps_the_old_position(sb, tmp_path):
    import threading

    cfg, services = connect(sb, tmp_path / "home", first_name=True, batch_size=2)
    st, env = services.state, services.env_key
    engine_for(cfg, services).sync()
    name = position("delta", cfg)
    before = st.cursor(env, name)
    for i in range(4):
        sb.update_record("contact", cid(i), firstname=f"Changed{i}")
    cancel = threading.Event()
    real = services.dotdigital.start_import

    def start_then_cancel(contacts, **kw):
        cancel.set()
        return real(contacts, **kw)
    services.dotdigital.start_import = start_then_cancel
    engine = engine_for(cfg, services)
    engine.cancel = cancel
    assert engine.sync().status == "cancelled"
    assert st.cursor(env, name) == before  # not committed: the next run reads these changes again
    services.dotdigital.start_import = real
    again = engine_for(cfg, services).sync()
    assert again.read["contact"] == "delta" and again.updated + again.unchanged == 10
    people = {c["identifiers"]["email"]: c for c in sb.dotdigital_contacts()}
    assert all(people[f"person{i}@example.org"]["dataFields"]["FIRSTNAME"] == f"Changed{i}" for i in range(4))
    services.close()


def test_watermark_when_the_table_has_no_change_tracking(sb, tmp_path, monkeypatch):
    monkeypatch.setattr(Reader, "_tracking", lambda self, ep: False)
    cfg, services = connect(sb, tmp_path / "home", first_name=True)
    sb.update_record("contact", cid(0), firstname="Zero")  # CSV rows carry no modifiedon; this one does
    engine_for(cfg, services).sync()
    assert services.state.cursor(services.env_key, position("watermark", cfg))
    sb.update_record("contact", cid(5), firstname="Fifth")
    sb.request_log.clear()
    second = engine_for(cfg, services).sync()
    assert second.read == {"contact": "watermark", "lead": "full"}  # no leads: nothing to mark
    assert (second.updated, second.unchanged) == (1, 9)
    assert all("modifiedon%20ge%20" in t or "modifiedon ge " in t for t in contact_gets(sb))
    services.close()


def test_a_changed_record_taking_an_identifier_an_unread_record_holds_is_decided_as_the_preview_does(sb, tmp_path):
    """The incremental read can't see the other record, so the run reads everything and the
    usual rule decides (most recently modified wins), exactly as the preview said."""
    cfg, services = connect(sb, tmp_path / "home", first_name=True)
    engine_for(cfg, services).sync()
    sb.update_record("contact", cid(4), emailaddress1="person5@example.org")
    promised = {v.record.id: (v.verdict, v.reason) for v in engine_for(cfg, services).preview().verdicts}
    assert promised[cid(4)] == ("update", None) and promised[cid(5)] == ("skip", "duplicate_email")
    second = engine_for(cfg, services).sync()
    assert (second.created, second.updated, second.skipped, second.unchanged) == (0, 1, 1, 8)
    rows = {r["id"]: r for r in services.state.run_records(second.run_id)}
    assert (rows[cid(4)]["verdict"], rows[cid(5)]["reason"]) == ("updated", "duplicate_email")
    third = engine_for(cfg, services).sync()
    assert (third.updated, third.skipped, third.unchanged) == (0, 1, 9)
    services.close()


def test_linked_fields_are_read_again_by_id_with_their_expand(tmp_path):
    sb = Sandbox(tmp_path / "sandbox", size=120, import_delay=0.02)
    sb.start()
    try:
        cfg, services = connect(sb, tmp_path / "home", first_name=True)
        cfg.mappings.append(Mapping("COMPANY", "contact", "parentcustomerid", "account", "name",
                                    "parentcustomerid_account"))
        engine_for(cfg, services).sync()
        row = next(r for r in sb.records("contact")
                   if r.get("_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname") == "account")
        sb.update_record("contact", row["contactid"], firstname="Linked")
        sb.request_log.clear()
        second = engine_for(cfg, services).sync()
        assert second.read["contact"] == "delta"
        gets = contact_gets(sb)
        assert len(gets) == 2 and "deltatoken" in gets[0] and "parentcustomerid_account" in gets[1]
        assert services.state.run_records(second.run_id)[0]["id"] == row["contactid"]
        services.close()
    finally:
        sb.stop()


def test_sms_opt_out_in_dotdigital_shows_in_the_preview_and_stays(sb, tmp_path):
    cfg, services = connect(sb, tmp_path / "home", first_name=True)
    st, env = services.state, services.env_key
    engine_for(cfg, services).sync()
    sb.set_sms_status("person3@example.org", "unsubscribed")
    preview = engine_for(cfg, services).preview()
    flagged = [v for v in preview.verdicts if "sms_opted_out" in v.flags]
    assert [v.record.id for v in flagged] == [cid(3)] and flagged[0].verdict == "unchanged"
    assert preview.summary.flags.get("sms_opted_out") == 1
    assert st.prior(env)[("contact", cid(3))].sms_opted_out
    sb.update_record("contact", cid(3), firstname="StillOptedOut")
    done = engine_for(cfg, services).sync()
    assert done.updated == 1
    person = next(c for c in sb.dotdigital_contacts() if c["identifiers"]["email"] == "person3@example.org")
    assert person["channelProperties"]["sms"]["status"] == "unsubscribed"
    assert person["dataFields"]["FIRSTNAME"] == "StillOptedOut"
    sb.set_sms_status("person3@example.org", "subscribed")  # re-subscribed in Dotdigital
    again = engine_for(cfg, services).preview()
    assert not any("sms_opted_out" in v.flags for v in again.verdicts)
    services.close()


def test_a_refused_tracked_read_falls_back_to_the_watermark(sb, tmp_path):
    cfg, services = connect(sb, tmp_path / "home", first_name=True)
    sb.faults.add("GET", r"/contacts\?\$select=[^&]*$", 403, times=1)  # the tracked read has no $filter
    first = engine_for(cfg, services).sync()
    assert first.status == "ok" and first.created == 10 and first.read["contact"] == "full"
    assert services.state.cursor(services.env_key, position("delta", cfg)) is None
    services.close()


def test_changed_settings_mean_a_full_read(sb, tmp_path):
    cfg, services = connect(sb, tmp_path / "home", first_name=True)
    engine_for(cfg, services).sync()
    assert engine_for(cfg, services).sync().read["contact"] == "delta"
    cfg.validation.default_country = None  # every record is judged again
    assert engine_for(cfg, services).sync().read["contact"] == "full"
    cfg.sync.batch_size = 3  # how we send does not change what we send
    assert engine_for(cfg, services).sync().read["contact"] == "delta"
    services.close()
