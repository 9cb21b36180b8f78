"""The engine through the real sandbox over HTTPS: real msal tokens, paging, v3 imports."""

from __future__ import annotations

import csv
import json

import pytest

from dynsync_tui import paths as paths_mod
from dynsync_tui.core.config import Config
from dynsync_tui.core.mappings import Mapping

sandbox_mod = pytest.importorskip("dynsync_tui.sandbox")
Sandbox = getattr(sandbox_mod, "Sandbox", None)
pytestmark = pytest.mark.skipif(Sandbox is None, reason="sandbox not available")

MOBILES = [f"+4479111234{i:02d}" for i in range(100)]


def write_contacts(folder, n=10):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "contacts.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["contactid", "firstname", "lastname", "emailaddress1", "mobilephone", "statecode"])
        for i in range(n):
            w.writerow([f"00000000-0000-4000-8000-{i:012d}", f"Person{i}", "Tester",
                        f"person{i}@example.org", MOBILES[i], 0])
    return folder


def connect(sb, home, *, first_name=False, **sync):
    from dynsync_tui.sync.services import build_services

    cfg = Config()
    if first_name:
        cfg.mappings.append(Mapping("FIRSTNAME", "contact", "firstname"))
    for key, value in sync.items():
        setattr(cfg.sync, key, value)
    return cfg, build_services(cfg, paths_mod.resolve(home), sandbox_info=sb.info)


def engine_for(cfg, services):
    from dynsync_tui.sync.engine import Engine
    from dynsync_tui.sync.imports import PollPolicy

    return Engine(cfg, services, poll=PollPolicy(first=0.1, shortest=0.02))


@pytest.fixture
def small_sandbox(tmp_path):
    sb = Sandbox(tmp_path / "sandbox", data_dir=write_contacts(tmp_path / "data"), import_delay=0.02)
    sb.start()
    yield sb
    sb.stop()


def test_three_of_ten_rejected_keep_their_reasons_and_are_retried_first(small_sandbox, tmp_path):
    sb = small_sandbox
    cfg, services = connect(sb, tmp_path / "home", first_name=True, batch_size=2)
    dd = services.dotdigital
    # Another integration already owns three of the mobile numbers: Dotdigital refuses them.
    foreign = [{"matchIdentifier": "email", "identifiers": {"email": f"other{i}@example.net",
                                                              "mobileNumber": MOBILES[i]}} for i in (2, 5, 7)]
    dd.wait_for_import(dd.start_import(foreign), first=0.05)
    first = engine_for(cfg, services).sync()
    assert (first.created, first.failed) == (7, 3)
    codes = services.state.failure_codes(services.env_key)
    assert sorted(k[1][-2:] for k in codes) == ["02", "05", "07"]
    assert all(c and c[0].lower().startswith("duplicate") for c in codes.values())
    rows = {r["id"][-2:]: r for r in services.state.run_records(first.run_id)}
    assert rows["05"]["verdict"] == "failed" and rows["05"]["failure_codes"] == list(codes[next(iter(codes))])

    # The other integration lets go of the numbers; two records change in Dynamics too.
    freed = [{"matchIdentifier": "email", "identifiers": {"email": f"other{i}@example.net",
                                                            "mobileNumber": f"+4479111239{i:02d}"}}
             for i in (2, 5, 7)]
    dd.wait_for_import(dd.start_import(freed), first=0.05)
    for i in (0, 9):
        sb.update_record("contact", f"00000000-0000-4000-8000-{i:012d}", firstname=f"Changed{i}")
    sent: list[list[dict]] = []
    real = dd.start_import
    dd.start_import = lambda contacts, **kw: (sent.append(contacts), real(contacts, **kw))[1]
    second = engine_for(cfg, services).sync()
    order = [c["identifiers"]["email"] for batch in sent for c in batch]
    assert sorted(order[:3]) == ["person2@example.org", "person5@example.org", "person7@example.org"]
    assert sorted(order[3:]) == ["person0@example.org", "person9@example.org"]
    assert (second.created, second.updated, second.failed, second.unchanged) == (3, 2, 0, 5)
    people = {c["identifiers"]["email"]: c for c in sb.dotdigital_contacts()}
    assert people["person9@example.org"]["dataFields"]["FIRSTNAME"] == "Changed9"
    assert people["person5@example.org"]["identifiers"]["mobileNumber"] == MOBILES[5].lstrip("+")
    assert services.state.failure_codes(services.env_key) == {}
    services.close()


def test_headless_sync_twice_creates_nothing_new_the_second_time(tmp_path, monkeypatch, capsys):
    from dynsync_tui import cli

    monkeypatch.setenv("DYNSYNC_HOME", str(tmp_path / "home"))
    data = write_contacts(tmp_path / "data")
    args = ["sync", "--sandbox", "--data", str(data), "--yes", "--json"]
    code1 = cli.main(args)
    first = json.loads(capsys.readouterr().out)
    code2 = cli.main(args)
    second = json.loads(capsys.readouterr().out)
    assert code1 == code2 == 0
    assert first["created"] == 10 and first["failed"] == 0
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, 10)


def test_seeded_sandbox_sync_then_nothing_to_send(tmp_path):
    sb = Sandbox(tmp_path / "sandbox", size=300, import_delay=0.02)
    sb.start()
    try:
        cfg, services = connect(sb, tmp_path / "home", batch_size=100)
        first = engine_for(cfg, services).sync()
        contacts = sb.dotdigital_contacts()
        assert first.created + first.updated == len(contacts) > 0
        assert first.skipped > 0  # the seed is messy on purpose
        calls_before = services.dotdigital.calls
        second = engine_for(cfg, services).sync()
        assert (second.created, second.updated) == (0, 0)
        assert second.unchanged == first.created + first.updated
        # nothing sent, nothing polled: one read of the SMS statuses changed since the first run
        assert services.dotdigital.calls == calls_before + 1
        assert second.read == {"contact": "delta", "lead": "delta"}  # change tracking
        assert second.dataverse_requests == 2  # one delta page per table
        assert len(sb.dotdigital_contacts()) == len(contacts)
        services.close()
    finally:
        sb.stop()
