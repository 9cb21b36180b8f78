"""Persistence across restarts, --reset, file modes, and CSV loading with its errors."""

from __future__ import annotations

import stat

import pytest

from dynsync_tui.sandbox import Sandbox, SandboxDataError

from .helpers import Dd, Dv


def test_data_persists_across_restart_and_reset_starts_afresh(tmp_path):
    home = tmp_path / "sb"
    with Sandbox(home, size=200, import_delay=0.01) as sb:
        org, secret = sb.info.org_id, sb.info.client_secret
        dd = Dd(sb)
        r = dd.put("/contacts/v3/import", json={"contacts": [
            {"matchIdentifier": "email", "identifiers": {"email": "kept@example.org"}}]})
        iid = r.json()["importId"]
        cid = sb.records("contact")[0]["contactid"]
        sb.update_record("contact", cid, firstname="Persisted")
        dd.post("/v2/data-fields", json={"name": "CRMID", "type": "String"})
    assert stat.S_IMODE((home / "sandbox.db").stat().st_mode) == 0o600
    assert b"PRIVATE KEY" not in (home / "cert.pem").read_bytes()
    with Sandbox(home, size=200) as sb:
        assert sb.info.org_id == org and sb.info.client_secret != secret
        assert [c["identifiers"]["email"] for c in sb.dotdigital_contacts()] == ["kept@example.org"]
        assert Dd(sb).get(f"/contacts/v3/import/{iid}").json()["status"] == "Finished"
        assert "CRMID" in {f["name"] for f in Dd(sb).get("/v2/data-fields").json()}
        row = Dv(sb).get(f"contacts({cid})", {"$select": "firstname"}).json()
        assert row["firstname"] == "Persisted"
        raw = (home / "sandbox.db").read_bytes()
        assert sb.info.client_secret.encode() not in raw and sb.info.api_password.encode() not in raw
    with Sandbox(home, size=200, reset=True) as sb:
        assert sb.info.org_id != org and sb.dotdigital_contacts() == []


def test_seed_is_deterministic_and_sized(tmp_path):
    a = Sandbox(tmp_path / "a", size=150)
    b = Sandbox(tmp_path / "b", size=150)
    with a, b:
        assert a.records("contact") == b.records("contact") and len(a.records("contact")) == 150
        assert a.records("listmember") == b.records("listmember")


def write(folder, name, text, encoding="utf-8"):
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(text.encode(encoding))


def test_csv_data_loads_with_links_and_generated_ids(tmp_path):
    data = tmp_path / "data"
    write(data, "accounts.csv", "accountid,name,address1_country\nA1,Northwind Ltd,United Kingdom\n")
    write(data, "contacts.csv",
          "contactid,firstname,lastname,emailaddress1,Mobile Phone,parentcustomerid,statecode,modifiedon\n"
          "C1,Ada,Quill,ada@example.org,07700 900123,A1,0,2025-05-02T08:14:55Z\n"
          ",Bo,Brown, BO@EXAMPLE.ORG ,n/a,,1,2025-05-03\n")
    write(data, "lists.csv", "listid,listname,type,createdfromcode,esc_activatedforemail\n"
          "L1,Newsletter,static,contact,true\n")
    write(data, "listmembers.csv", "listid,entityid\nL1,C1\n")
    with Sandbox(tmp_path / "home", data_dir=data) as sb:
        dv = Dv(sb)
        rows = dv.get("contacts", {"$select": "contactid,emailaddress1,mobilephone,statecode",
                                   "$expand": "parentcustomerid_account($select=name)"}).json()["value"]
        by_mail = {r["emailaddress1"]: r for r in rows}
        assert by_mail["ada@example.org"]["parentcustomerid_account"]["name"] == "Northwind Ltd"
        assert by_mail[" BO@EXAMPLE.ORG "]["mobilephone"] == "n/a"
        assert by_mail[" BO@EXAMPLE.ORG "]["statecode"] == 1
        lst = dv.get("lists", {"$select": "listid,membercount,type,createdfromcode"}).json()["value"][0]
        assert (lst["membercount"], lst["type"], lst["createdfromcode"]) == (1, False, 2)
        members = dv.get("listmembers", {"$filter": f"_listid_value eq {lst['listid']}"}).json()["value"]
        assert [m["_entityid_value"] for m in members] == [by_mail["ada@example.org"]["contactid"]]
        first_ids = sorted(by_mail[k]["contactid"] for k in by_mail)
        assert dv.get("leads", {"$select": "leadid"}).json()["value"] == []
    with Sandbox(tmp_path / "home2", data_dir=data) as sb:
        assert sorted(r["contactid"] for r in sb.records("contact")) == first_ids


@pytest.mark.parametrize("files, expect", [
    ({"contacts.csv": "contactid,firstname\n1,Ada\n"}, "contacts.csv: line 1: missing required column 'emailaddress1'"),
    ({"contacts.csv": "emailaddress1,mobilephone,colour\nx,y,z\n"}, "unknown column 'colour'"),
    ({"contacts.csv": "emailaddress1,mobilephone\nok,1\nbad,2,3\n"}, "contacts.csv: line 3:"),
    ({"contacts.csv": "emailaddress1,mobilephone,statecode\na,b,active\n"}, "line 2: statecode must be a whole number"),
    ({"contacts.csv": "emailaddress1,mobilephone,parentcustomerid\na,b,NOPE\n"}, "parentcustomerid 'NOPE'"),
    ({"lists.csv": "listname,createdfromcode\nX,9\n"}, "createdfromcode must be"),
    ({"listmembers.csv": "listid,entityid\nL9,C1\n"}, "is not in lists.csv"),
    ({}, "no data"),
])
def test_csv_errors_are_one_line(tmp_path, files, expect):
    data = tmp_path / "data"
    data.mkdir()
    for name, text in files.items():
        write(data, name, text)
    with pytest.raises(SandboxDataError) as exc:
        Sandbox(tmp_path / "home", data_dir=data).start()
    assert expect in str(exc.value) and "\n" not in str(exc.value)
    assert not (tmp_path / "home" / "sandbox.db").exists()


def test_csv_bad_encoding_names_the_line(tmp_path):
    data = tmp_path / "data"
    write(data, "contacts.csv", "emailaddress1,mobilephone\nzoë@example.org,1\n", encoding="latin-1")
    with pytest.raises(SandboxDataError, match=r"contacts\.csv: line 2: not UTF-8 text; save the file as 'CSV UTF-8'"):
        Sandbox(tmp_path / "home", data_dir=data).start()


def test_an_import_accepted_before_a_stop_finishes_after_restart(tmp_path):
    home = tmp_path / "sb"
    with Sandbox(home, size=50, import_delay=30) as sb:
        r = Dd(sb).put("/contacts/v3/import", json={"contacts": [
            {"matchIdentifier": "email", "identifiers": {"email": "late@example.org"}}]})
        iid = r.json()["importId"]
        assert Dd(sb).get(f"/contacts/v3/import/{iid}").json()["status"] == "NotFinished"
    with Sandbox(home, size=50, import_delay=0) as sb:
        dd = Dd(sb)
        for _ in range(200):
            if dd.get(f"/contacts/v3/import/{iid}").json()["status"] == "Finished":
                break
        assert [c["identifiers"]["email"] for c in sb.dotdigital_contacts()] == ["late@example.org"]


def test_serve_fails_with_one_line_and_an_exit_code(tmp_path, capsys):
    from dynsync_tui.sandbox import serve

    data = tmp_path / "data"
    write(data, "leads.csv", "firstname\nAda\n")
    assert serve(tmp_path / "a", data, False) == 2
    err = capsys.readouterr().err.strip()
    assert "leads.csv: line 1: missing required column" in err and "\n" not in err
    with Sandbox(tmp_path / "b", size=20) as sb:
        port = int(sb.info.dataverse_url.rsplit(":", 1)[1])
        assert serve(tmp_path / "c", None, False, port=port) == 3
        assert "cannot start" in capsys.readouterr().err


def test_csv_saved_from_a_dynamics_export_to_excel_loads(tmp_path):
    """Export to Excel adds hidden "(Do Not Modify)" columns: the record id (kept), and a row
    checksum and a local-format modified date (Excel's bookkeeping, left out)."""
    data = tmp_path / "data"
    guid = "5f1c2d3e-1111-4222-8333-444455556666"
    write(data, "contacts.csv",
          "(Do Not Modify) Contact,(Do Not Modify) Row Checksum,(Do Not Modify) Modified On,Full Name,"
          "Email,Mobile Phone\n"
          f"{guid},abc==,02/05/2025 08:14,Ada Quill,ada@example.org,07911 123456\n")
    with Sandbox(tmp_path / "home", data_dir=data) as sb:
        (rec,) = sb.records("contact")
        assert (rec["contactid"], rec["emailaddress1"], rec["mobilephone"]) == (guid, "ada@example.org",
                                                                               "07911 123456")
