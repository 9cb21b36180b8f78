"""Dotdigital over real sockets: Basic auth, discovery, data fields, lists, the v3 import
lifecycle with uniqueness failures, merge rules, SMS status, paging and limits."""

from __future__ import annotations

import time

from .helpers import trusting_client


def wait_import(dd, iid, timeout=10.0):
    deadline = time.monotonic() + timeout
    statuses = []
    while time.monotonic() < deadline:
        body = dd.get(f"/contacts/v3/import/{iid}").json()
        statuses.append(body["status"])
        if body["status"] != "NotFinished":
            return body, statuses
        time.sleep(0.01)
    raise AssertionError("import did not finish")


def run_import(dd, contacts, merge="overwrite"):
    r = dd.put("/contacts/v3/import", json={"mergeOption": merge, "contacts": contacts})
    assert r.status_code == 202, r.text
    return wait_import(dd, r.json()["importId"])[0]


def item(email=None, mobile=None, match="email", **extra):
    ids = {k: v for k, v in (("email", email), ("mobileNumber", mobile)) if v is not None}
    return {"matchIdentifier": match, "identifiers": ids, **extra}


def test_basic_auth_is_required(sb):
    with trusting_client(sb.info) as c:
        for auth in (None, (sb.info.api_user, "wrong"), ("someone@else", sb.info.api_password)):
            r = c.get(sb.info.dotdigital_url + "/v2/account-info", auth=auth)
            assert r.status_code == 401 and "message" in r.json()


def test_account_info_points_at_the_regional_endpoint_and_rate_headers(dd, sb):
    r = dd.get("/v2/account-info")
    props = {p["name"]: p["value"] for p in r.json()["properties"]}
    regional = props["ApiEndpoint"].rstrip("/")
    assert regional.startswith(sb.info.dotdigital_url + "/")
    with trusting_client(sb.info, auth=(sb.info.api_user, sb.info.api_password)) as c:
        assert c.get(regional + "/v2/data-fields").status_code == 200
        sb.dotdigital.enforce_region = True
        try:
            refused = c.get(sb.info.dotdigital_url + "/v2/data-fields")
            assert refused.status_code == 403 and "ERROR_ACCESS_DENIED" in refused.json()["message"]
            assert c.get(sb.info.dotdigital_url + "/v2/account-info").status_code == 200
            assert c.get(regional + "/contacts/v3", params={"limit": 1}).status_code == 200
        finally:
            sb.dotdigital.enforce_region = False
    for h in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Scope"):
        assert h in r.headers
    assert int(r.headers["X-RateLimit-Remaining"]) < int(r.headers["X-RateLimit-Limit"])


def test_data_fields_rules(dd):
    names = {f["name"] for f in dd.get("/v2/data-fields").json()}
    assert {"FIRSTNAME", "LASTNAME", "FULLNAME", "POSTCODE"} <= names
    assert dd.post("/v2/data-fields", json={"name": "CRMID", "type": "String"}).status_code == 201
    dup = dd.post("/v2/data-fields", json={"name": "crmid", "type": "String"})
    assert dup.status_code == 400 and "ERROR_NON_UNIQUE_DATAFIELD" in dup.json()["message"]
    for bad in ({"name": "x" * 21, "type": "String"}, {"name": "HAS SPACE", "type": "String"},
                {"name": "OK", "type": "Colour"}):
        assert dd.post("/v2/data-fields", json=bad).status_code == 400


def test_address_books_create_and_page(dd):
    for i in range(3):
        assert dd.post("/v2/address-books", json={"name": f"Paging {i}"}).status_code == 201
    assert "ERROR_ADDRESSBOOK_DUPLICATE" in dd.post("/v2/address-books", json={"name": "paging 0"}).json()["message"]
    assert dd.post("/v2/address-books", json={"name": "Test"}).status_code == 400
    every = dd.get("/v2/address-books", params={"select": 1000}).json()
    pages, skip = [], 0
    while page := dd.get("/v2/address-books", params={"select": 2, "skip": skip}).json():
        pages += page
        skip += 2
    assert [b["id"] for b in pages] == [b["id"] for b in every] and len(every) >= 5
    assert dd.get("/v2/address-books", params={"select": 1001}).status_code == 400


def test_import_lifecycle_with_validation_and_uniqueness_failures(dd, sb):
    book = dd.post("/v2/address-books", json={"name": "Lifecycle"}).json()["id"]
    run_import(dd, [item("owner@example.org", "+447911123001")])
    r = dd.put("/contacts/v3/import", json={"contacts": [
        item("ann@example.org", "+447911123456", dataFields={"FIRSTNAME": "Ann"}, lists=[book]),
        item("raj@example.net", "+61491570006x"),              # not E.164
        item("bad@@example.org", "+447911123457"),              # invalid email
        item("thief@example.org", "447911123001"),              # another contact owns the mobile
        item("owner@example.org", "+447911123458", match="mobileNumber"),  # email owned elsewhere
        item(None, None),
    ]})
    body, statuses = wait_import(dd, r.json()["importId"])
    assert statuses[0] == "NotFinished" and body["status"] == "Finished"
    codes = {f["identifiers"].get("email"): f["failures"][0]["failureCode"] for f in body["failures"]}
    assert codes == {"raj@example.net": "InvalidPhoneNumber", "bad@@example.org": "InvalidEmail",
                     "thief@example.org": "Duplicate", "owner@example.org": "Duplicate",
                     None: "NoValidIdentifiers"}
    assert body["summary"]["newContacts"] == 1 and body["summary"]["duplicateIdentifiers"] == 2
    assert body["summary"]["invalidEntries"] == 3
    created = body["created"][0]
    assert created["identifiers"] == {"email": "ann@example.org", "mobileNumber": "447911123456"}
    stored = {c["identifiers"].get("email"): c for c in sb.dotdigital_contacts()}
    ann = stored["ann@example.org"]
    assert ann["contactId"] == created["contactId"] and ann["dataFields"]["FIRSTNAME"] == "Ann"
    assert [x["id"] for x in ann["lists"]] == [book]
    assert "thief@example.org" not in stored
    mobiles = [c["identifiers"].get("mobileNumber") for c in sb.dotdigital_contacts()]
    assert len(mobiles) == len(set(mobiles)) and not any(m and m.startswith("+") for m in mobiles)


def test_merge_rules_sms_status_and_contact_id_matching(dd, sb):
    first = run_import(dd, [item("merge@example.org", "+447911200001",
                                 dataFields={"FIRSTNAME": "Mo", "LASTNAME": "Lee", "POSTCODE": "AB1"})])
    cid = first["created"][0]["contactId"]
    sb.set_sms_status("merge@example.org", "unsubscribed")
    second = run_import(dd, [item("MERGE@example.org", dataFields={"FIRSTNAME": "Mona", "LASTNAME": None})])
    assert second["updated"][0]["contactId"] == cid
    c = dd.get("/contacts/v3/email/merge%40example.org").json()
    assert c["dataFields"]["FIRSTNAME"] == "Mona" and c["dataFields"]["LASTNAME"] is None
    assert c["dataFields"]["POSTCODE"] == "AB1"  # omitted → untouched
    assert c["channelProperties"]["sms"]["status"] == "unsubscribed"  # kept unless sent
    run_import(dd, [item("merge@example.org", dataFields={"POSTCODE": ""})], merge="overwriteIfNotEmpty")
    assert dd.get(f"/contacts/v3/contactId/{cid}").json()["dataFields"]["POSTCODE"] == "AB1"
    moved = run_import(dd, [{"matchIdentifier": "contactId",
                             "identifiers": {"contactId": cid, "email": "new.merge@example.org"}}])
    assert moved["updated"][0]["identifiers"]["email"] == "new.merge@example.org"
    assert dd.get("/contacts/v3/email/merge%40example.org").status_code == 404
    missing = run_import(dd, [{"matchIdentifier": "contactId", "identifiers": {"contactId": 1}}])
    assert missing["failures"][0]["failures"][0]["failureCode"] == "InvalidContactId"
    by_mobile = run_import(dd, [item(None, "+447911200001", match="mobileNumber",
                                     channelProperties={"sms": {"status": "subscribed"}})])
    assert by_mobile["updated"][0]["contactId"] == cid
    assert dd.get(f"/contacts/v3/contactId/{cid}").json()["channelProperties"]["sms"]["status"] == "subscribed"


def test_bad_import_bodies_and_unknown_ids(dd):
    assert dd.put("/contacts/v3/import", json={"contacts": []}).status_code == 400
    r = dd.put("/contacts/v3/import", content=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["errorCode"] == "contacts:badJson"
    r = dd.get("/contacts/v3/import/00000000-0000-0000-0000-000000000000")
    assert r.status_code == 404 and r.json()["errorCode"] == "contacts:importNotFound"


def test_at_most_25_active_imports(dd, sb):
    sb.import_delay = 0.6
    try:
        ids = []
        for i in range(25):
            r = dd.put("/contacts/v3/import", json={"contacts": [item(f"busy{i}@example.org")]})
            assert r.status_code == 202
            ids.append(r.json()["importId"])
        r = dd.put("/contacts/v3/import", json={"contacts": [item("one.more@example.org")]})
        assert r.status_code == 429 and r.json()["errorCode"] == "contacts:tooManyActiveImports"
    finally:
        sb.import_delay = 0.05
    for iid in ids:
        assert wait_import(dd, iid)[0]["status"] == "Finished"


def test_contacts_cursor_paging_by_list_and_removal(dd, sb):
    book = dd.post("/v2/address-books", json={"name": "Cursor"}).json()["id"]
    body = run_import(dd, [item(f"cursor{i}@example.org", lists=[book]) for i in range(7)])
    ids = sorted(c["contactId"] for c in body["created"])
    seen, marker = [], None
    while True:
        params = {"~listId": book, "limit": 3, **({"marker": marker} if marker else {})}
        page = dd.get("/contacts/v3", params=params).json()
        seen += [c["contactId"] for c in page["_items"]]
        if "next" not in page["_links"]:
            break
        marker = page["_links"]["next"]["marker"]
    assert seen == ids
    assert dd.post(f"/v2/address-books/{book}/contacts/delete", json=ids[:4]).status_code == 202
    left = dd.get("/contacts/v3", params={"~listId": book, "limit": 100}).json()["_items"]
    assert [c["contactId"] for c in left] == ids[4:]
    assert dd.get(f"/v2/address-books/{book}").json()["contacts"] == 3


def test_whole_import_failure_hook(dd, sb):
    sb.fail_imports("RejectedByWatchdog")
    body = run_import(dd, [item("watchdog@example.org")])
    assert body["status"] == "RejectedByWatchdog"
    assert "watchdog@example.org" not in {c["identifiers"].get("email") for c in sb.dotdigital_contacts()}
    assert run_import(dd, [item("watchdog@example.org")])["status"] == "Finished"


def test_suppressed_email_fails_as_globally_suppressed(dd, sb):
    run_import(dd, [item("bounced@example.org")])
    sb.suppress_email("Bounced@example.org", "HardBounced")
    body = run_import(dd, [item("bounced@example.org", dataFields={"FIRSTNAME": "Bo"}),
                           item("never.seen@example.org")])
    assert [f["failures"][0]["failureCode"] for f in body["failures"]] == ["GloballySuppressed"]
    assert body["summary"]["globallySuppressed"] == 1 and body["summary"]["newContacts"] == 1
    rows = dd.get("/v2/contacts/suppressed-since/2020-01-01T00:00:00Z").json()
    assert [(r["suppressedContact"]["email"], r["reason"]) for r in rows] == [("bounced@example.org", "HardBounced")]
