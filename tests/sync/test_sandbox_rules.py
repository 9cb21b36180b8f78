"""Through the sandbox: SMS opt-outs survive, empty CRM values don't clear, and members who
leave a dynamic list leave its Dotdigital list."""

from __future__ import annotations

import pytest

from dynsync_tui.core.config import ListSelection

from .test_sandbox_sync import Sandbox, connect, engine_for, write_contacts

pytestmark = pytest.mark.skipif(Sandbox is None, reason="sandbox not available")

LIST_ID = "11111111-2222-4333-8444-555555555555"
QUERY = ('<fetch><entity name="contact"><attribute name="contactid"/><filter>'
         '<condition attribute="lastname" operator="eq" value="Tester"/></filter></entity></fetch>')


def cid(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


@pytest.fixture
def sb(tmp_path):
    data = write_contacts(tmp_path / "data", 6)
    (data / "lists.csv").write_text(
        "listid,listname,type,createdfromcode,query\n"
        f'{LIST_ID},Tester list,dynamic,contact,"{QUERY.replace(chr(34), chr(34) * 2)}"\n',
        encoding="utf-8")
    box = Sandbox(tmp_path / "sandbox", data_dir=data, import_delay=0.02)
    box.start()
    yield box
    box.stop()


def by_email(box):
    return {c["identifiers"]["email"]: c for c in box.dotdigital_contacts()}


def test_sms_opt_out_stays_and_empty_first_name_does_not_clear(sb, tmp_path):
    cfg, services = connect(sb, tmp_path / "home", first_name=True)
    engine_for(cfg, services).sync()
    sb.set_sms_status("person1@example.org", "unsubscribed")
    sb.update_record("contact", cid(1), firstname="Renamed")  # forces an update of that contact
    sb.update_record("contact", cid(2), firstname=None)  # emptied in Dynamics
    summary = engine_for(cfg, services).sync()
    assert summary.updated == 2 and summary.created == 0
    people = by_email(sb)
    assert people["person1@example.org"]["channelProperties"]["sms"]["status"] == "unsubscribed"
    assert people["person1@example.org"]["dataFields"]["FIRSTNAME"] == "Renamed"
    assert people["person2@example.org"]["dataFields"]["FIRSTNAME"] == "Person2"
    services.close()


def test_member_who_left_the_dynamic_list_leaves_its_dotdigital_list(sb, tmp_path):
    cfg, services = connect(sb, tmp_path / "home")
    cfg.consent.mode = "lists"
    cfg.consent.lists = [ListSelection(LIST_ID, "Tester list", dotdigital_list_name="Dynamics – Testers")]
    first = engine_for(cfg, services).sync()
    assert first.created == 6
    book = next(b for b in services.dotdigital.address_books() if b["name"] == "Dynamics – Testers")
    assert all(book["id"] in [x["id"] for x in c["lists"]] for c in sb.dotdigital_contacts())

    sb.update_record("contact", cid(3), lastname="Elsewhere")  # no longer matches the query
    second = engine_for(cfg, services).sync()
    assert second.removed_from_lists == 1
    people = by_email(sb)
    assert book["id"] not in [x["id"] for x in people["person3@example.org"]["lists"]]
    assert book["id"] in [x["id"] for x in people["person4@example.org"]["lists"]]
    assert len(people) == 6  # left the list, not deleted
    services.close()


def test_preview_after_a_list_sync_finds_nothing_to_send(sb, tmp_path):
    cfg, services = connect(sb, tmp_path / "home")
    cfg.consent.mode = "lists"
    cfg.consent.lists = [ListSelection(LIST_ID, "Tester list")]
    before = engine_for(cfg, services).preview()
    assert before.summary.counts.get("create") == 6
    assert not [b for b in services.dotdigital.address_books() if b["name"] == "Tester list"]
    engine_for(cfg, services).sync()
    after = engine_for(cfg, services).preview()  # the list is found by name: same hashes
    assert after.summary.counts.get("unchanged") == 6
    services.close()
