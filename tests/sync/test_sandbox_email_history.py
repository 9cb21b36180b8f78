"""Through the sandbox: a record whose email goes back to one it had before (A → B → A). The
contact a sync left with A may still be in Dotdigital; the preview must say what the sync then
does, under each email-change policy."""

from __future__ import annotations

import pytest

from .test_sandbox_sync import Sandbox, connect, engine_for, write_contacts

pytestmark = pytest.mark.skipif(Sandbox is None, reason="sandbox not available")

FOUR = "00000000-0000-4000-8000-000000000004"
DONE = {"create": "created", "update": "updated", "unchanged": "unchanged", "skip": "skip"}


@pytest.fixture
def sb(tmp_path):
    box = Sandbox(tmp_path / "sandbox", data_dir=write_contacts(tmp_path / "data", 6), import_delay=0.02)
    box.start()
    yield box
    box.stop()


def preview_then_sync(cfg, services) -> tuple[str, tuple[str, ...], str]:
    """Preview, sync, and check every record's outcome is what its preview verdict said.
    Returns record 4's verdict, flags and outcome."""
    preview = engine_for(cfg, services).preview()
    said = {v.record.id: v for v in preview.verdicts}
    summary = engine_for(cfg, services).sync()
    assert summary.status == "ok" and summary.failed == 0
    done = {r["id"]: r["verdict"] for r in services.state.run_records(summary.run_id)}
    assert FOUR in done  # an incremental sync has rows for the records it read
    assert {i: DONE[said[i].verdict] for i in done} == done
    four = said[FOUR]
    return four.verdict, four.flags, done[FOUR]


def emails(box) -> dict[str, int]:
    return {c["identifiers"]["email"]: c["contactId"] for c in box.dotdigital_contacts()}


@pytest.mark.parametrize("policy", ["duplicate", "update", "skip"])
def test_an_email_that_goes_back_to_an_earlier_one(sb, tmp_path, policy):
    cfg, services = connect(sb, tmp_path / "home", on_email_change=policy)
    engine_for(cfg, services).sync()
    first = emails(sb)["person4@example.org"]

    sb.update_record("contact", FOUR, emailaddress1="renamed@example.org")
    moved = preview_then_sync(cfg, services)
    sb.update_record("contact", FOUR, emailaddress1="person4@example.org")
    back = preview_then_sync(cfg, services)
    after = emails(sb)
    if policy == "duplicate":  # a second contact for B; back on A, the first contact is updated
        assert moved == ("create", ("email_changed",), "created")
        assert back == ("update", (), "updated")
        assert len(after) == 7 and after["person4@example.org"] == first
    elif policy == "update":  # the one contact moves to B and back to A
        assert moved == ("update", (), "updated")
        assert back == ("update", (), "updated")
        assert len(after) == 6 and after["person4@example.org"] == first
    else:  # held while on B; back on A nothing changed since the last sync
        assert moved[0] == "skip" and back == ("unchanged", (), "unchanged")
        assert len(after) == 6
    services.close()


def test_update_policy_back_onto_an_address_another_contact_still_holds(sb, tmp_path):
    """Moved A → B under "duplicate" (A's contact stays), then back to A under "update": the
    record's contact (B) cannot take A, which the first contact holds; matched by email, that
    first contact is updated (matching by contact id would be refused as a duplicate)."""
    cfg, services = connect(sb, tmp_path / "home", on_email_change="duplicate")
    engine_for(cfg, services).sync()
    sb.update_record("contact", FOUR, emailaddress1="renamed@example.org")
    preview_then_sync(cfg, services)
    cfg.sync.on_email_change = "update"
    sb.update_record("contact", FOUR, emailaddress1="person4@example.org")
    assert preview_then_sync(cfg, services) == ("update", (), "updated")
    assert len(emails(sb)) == 7
    services.close()
