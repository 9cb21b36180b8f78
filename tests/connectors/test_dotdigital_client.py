"""DotdigitalClient against httpx.MockTransport: discovery, fields, lists, imports, limits."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from dynsync_tui.connectors.dotdigital import DotdigitalClient, endpoint_key, reset_seconds
from dynsync_tui.connectors.errors import (
    AuthError, ConflictError, ConnectorError, PermissionDenied, QueryError, ThrottledError, TransientError,
)

from .mock_http import Recorder, Sleeps, js

R1 = "https://r1-api.dotdigital.com"
R2 = "https://r2-api.dotdigital.com"
ACCOUNT = {"id": 40213, "properties": [{"name": "Name", "type": "String", "value": "Acme Ltd"},
                                        {"name": "ApiEndpoint", "type": "String", "value": R2 + "/"}]}


def client(rec: Recorder, **kw) -> tuple[DotdigitalClient, Sleeps]:
    sleeps = Sleeps()
    kw.setdefault("sleep", sleeps)
    return DotdigitalClient("apiuser-1@apiconnector.com", "pw", transport=rec.transport, **kw), sleeps


def test_account_info_discovers_the_region_and_later_calls_use_it():
    rec = Recorder(responses=[js(200, ACCOUNT), js(200, [{"name": "FIRSTNAME", "type": "String"}])])
    dd, _ = client(rec)
    fields = dd.data_fields()  # discovery happens first, once
    assert fields[0]["name"] == "FIRSTNAME"
    assert [str(r.url) for r in rec.requests] == [R1 + "/v2/account-info", R2 + "/v2/data-fields"]
    assert dd.region_url == R2 and dd.account["Name"] == "Acme Ltd" and dd.calls == 2
    auth = rec.requests[0].headers["Authorization"]
    assert auth.startswith("Basic ") and rec.requests[0].headers["Accept"] == "application/json"


def test_wrong_credentials_and_region_are_explained():
    rec = Recorder(responses=[httpx.Response(401)])
    dd, _ = client(rec)
    with pytest.raises(AuthError, match="API user or password"):
        dd.account_info()
    # 403 on the regional host: discover again once, then explain
    rec = Recorder(responses=[httpx.Response(403, text="access denied"), js(200, ACCOUNT), httpx.Response(403)])
    dd, _ = client(rec, region_url=R1)
    with pytest.raises(PermissionDenied, match="wrong region or permission"):
        dd.data_fields()
    assert [r.url.path for r in rec.requests] == ["/v2/data-fields", "/v2/account-info", "/v2/data-fields"]
    assert rec.requests[2].url.host == "r2-api.dotdigital.com"


def test_create_data_field_rules_and_existing_field():
    dd, _ = client(Recorder())
    for bad in ("", "TOO_LONG_NAME_FOR_DD_X", "bad name", "ümlaut"):
        with pytest.raises(QueryError, match="1-20 letters"):
            dd.create_data_field(bad)
    with pytest.raises(QueryError, match="type 'Text'"):
        dd.create_data_field("CRMID", "Text")
    exists = js(400, {"message": "Error: ERROR_NON_UNIQUE_DATAFIELD"})
    listing = [{"name": "CRMID", "type": "String"}, {"name": "SCORE", "type": "Numeric"}]
    rec = Recorder(responses=[exists, js(200, listing), exists, js(200, listing)])
    dd, _ = client(rec, region_url=R1)
    assert dd.create_data_field("crmid") == {"name": "CRMID", "type": "String"}
    assert json.loads(rec.requests[0].content) == {"name": "crmid", "type": "String", "visibility": "Private",
                                                   "defaultValue": None}
    with pytest.raises(ConflictError, match="already exists as Numeric"):
        dd.create_data_field("SCORE", "String")


def test_address_books_page_with_select_and_skip():
    page1 = [{"id": i, "name": f"L{i}"} for i in range(1000)]
    rec = Recorder(responses=[js(200, page1), js(200, [{"id": 1000, "name": "last"}])])
    dd, _ = client(rec, region_url=R1)
    books = dd.address_books()
    assert len(books) == 1001
    assert [r.url.params["skip"] for r in rec.requests] == ["0", "1000"]
    assert all(r.url.params["select"] == "1000" for r in rec.requests)


def test_create_address_book_duplicate_returns_the_existing_one():
    rec = Recorder(responses=[js(400, {"message": "ERROR_ADDRESSBOOK_DUPLICATE"}),
                              js(200, [{"id": 7, "name": "Dynamics – News"}])])
    dd, _ = client(rec, region_url=R1)
    assert dd.create_address_book("dynamics – news")["id"] == 7


def test_start_import_waits_while_too_many_imports_are_active():
    busy = js(429, {"errorCode": "contacts:tooManyActiveImports", "description": "25 imports running"})
    rec = Recorder(responses=[busy, busy, js(202, {"importId": "imp-1"})])
    waits = []
    dd, sleeps = client(rec, region_url=R1, busy_wait=(3.0, 5.0), on_wait=lambda s, w: waits.append(w))
    contacts = [{"matchIdentifier": "email", "identifiers": {"email": "a@example.org"}}]
    assert dd.start_import(contacts) == "imp-1"
    assert sleeps == [3.0, 5.0] and "too many imports" in waits[0]
    body = json.loads(rec.requests[-1].content)
    assert body == {"mergeOption": "overwrite", "contacts": contacts}
    assert rec.requests[-1].method == "PUT" and rec.requests[-1].url.path == "/contacts/v3/import"
    with pytest.raises(QueryError, match="merge option"):
        dd.start_import(contacts, merge_option="replace")
    rec.queue.append(busy)
    with pytest.raises(ThrottledError) as exc:
        dd.start_import(contacts, wait_if_busy=False)
    assert exc.value.code == "contacts:tooManyActiveImports" and len(sleeps) == 2


def test_rate_limit_429_waits_until_reset_both_forms():
    epoch = str(int(time.time()) + 7)
    rec = Recorder(responses=[js(429, {}, **{"X-RateLimit-Reset": "4"}), js(429, {}, **{"X-RateLimit-Reset": epoch}),
                              js(429, {}, **{"Retry-After": "1"}), js(200, [])])
    dd, sleeps = client(rec, region_url=R1)
    assert dd.data_fields() == []
    assert 4 <= sleeps[0] <= 6 and 5 <= sleeps[1] <= 9.5 and 1 <= sleeps[2] <= 3
    assert dd.rate_limited == 3 and dd.calls == 4


def test_rate_limit_budget_ends_in_throttled_error():
    rec = Recorder(handler=lambda r: httpx.Response(429))  # empty body
    dd, sleeps = client(rec, region_url=R1, rate_attempts=3)
    with pytest.raises(ThrottledError, match="still refused after 3 tries"):
        dd.data_fields()
    assert len(sleeps) == 2


def test_flat_scheme_hourly_allowance_pauses_then_resumes():
    rec = Recorder(responses=[js(400, {"message": "Error: ERROR_APIUSAGE_EXCEEDED"}), js(200, [])])
    waits = []
    dd, sleeps = client(rec, region_url=R1, apiusage_pause=600.0, on_wait=lambda s, w: waits.append(w))
    assert dd.data_fields() == [] and len(sleeps) == 1 and 599 < sleeps[0] <= 600
    assert "hourly API allowance" in waits[0]


def test_remaining_one_waits_for_reset_before_the_next_call_of_that_tier_only():
    low = {"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "20", "X-RateLimit-Scope": "low"}
    high = {"X-RateLimit-Remaining": "900", "X-RateLimit-Reset": "20", "X-RateLimit-Scope": "high"}
    rec = Recorder(responses=[js(202, {"importId": "a"}, **low), js(200, {"status": "NotFinished"}, **high),
                              js(202, {"importId": "b"}, **low)])
    dd, sleeps = client(rec, region_url=R1)
    items = [{"matchIdentifier": "email", "identifiers": {"email": "a@example.org"}}]
    dd.start_import(items)
    dd.import_status("a")
    assert sleeps == []  # other tier: no wait
    dd.start_import(items)
    assert len(sleeps) == 1 and 18 <= sleeps[0] <= 20


def test_reset_header_interpretation():
    assert reset_seconds("30") == 30
    assert reset_seconds("0") == 1 and reset_seconds("500") == 65
    assert reset_seconds(str(1_900_000_010), now=1_900_000_000) == 10
    assert reset_seconds("soon") is None and reset_seconds(None) is None
    assert endpoint_key("GET", "/contacts/v3/import/3f0c2a8e-5d1b-4a77-9e61-0c2b9d7e4f10") == \
        "GET /contacts/v3/import/{}"
    assert endpoint_key("POST", "/v2/address-books/70011/contacts/delete") == "POST /v2/address-books/{}/contacts/delete"


def test_wait_for_import_polls_with_backoff_until_finished():
    rec = Recorder(responses=[js(200, {"status": "NotFinished"})] * 3 + [js(200, {"status": "Finished",
                                                                                  "created": [{"contactId": 1}]})])
    dd, sleeps = client(rec, region_url=R1, poll=(0.5, 2.0, 1.5))
    result = dd.wait_for_import("imp-1")
    assert result["status"] == "Finished" and len(rec.requests) == 4
    assert sleeps == [0.5, 1.0, 1.5, 1.5]


def test_wait_for_import_gives_up_after_timeout():
    rec = Recorder(handler=lambda r: js(200, {"status": "NotFinished"}))
    dd, sleeps = client(rec, region_url=R1)
    with pytest.raises(TransientError) as exc:
        dd.wait_for_import("imp-2", first=1, factor=1, cap=1, timeout=3)
    assert exc.value.code == "import_timeout" and len(rec.requests) == 3


def test_contacts_follow_the_cursor():
    rec = Recorder(responses=[
        js(200, {"_items": [{"contactId": 1}, {"contactId": 2}],
                 "_links": {"next": {"marker": "m2", "link": "..."}}}),
        js(200, {"_items": [{"contactId": 3}], "_links": {"next": {"link": R1 + "/contacts/v3?limit=2&marker=m3"}}}),
        js(200, {"_items": [], "_links": {}}),
    ])
    dd, _ = client(rec, region_url=R1)
    assert [c["contactId"] for c in dd.contacts(list_id=70011, limit=2)] == [1, 2, 3]
    params = [dict(r.url.params) for r in rec.requests]
    assert params[0] == {"limit": "2", "~listId": "70011"}
    assert params[1]["marker"] == "m2" and params[2]["marker"] == "m3"


def test_remove_from_address_book_sends_bare_arrays_in_chunks():
    rec = Recorder(handler=lambda r: js(202, {"id": "job", "status": "Started"}))
    dd, _ = client(rec, region_url=R1)
    assert dd.remove_from_address_book(70011, range(1, 2502)) == 2501
    assert [len(json.loads(r.content)) for r in rec.requests] == [1000, 1000, 501]
    assert rec.requests[0].url.path == "/v2/address-books/70011/contacts/delete"
    assert dd.remove_from_address_book(70011, []) == 0 and len(rec.requests) == 3


def test_server_errors_retry_then_surface_one_line():
    html = "<html>\n<body>" + "x" * 2000 + "</body></html>"
    rec = Recorder(responses=[httpx.Response(502, text=html), httpx.ConnectError("reset"), js(200, [])])
    dd, sleeps = client(rec, region_url=R1)
    assert dd.data_fields() == [] and len(sleeps) == 2
    rec = Recorder(handler=lambda r: httpx.Response(500, text=html))
    dd, _ = client(rec, region_url=R1)
    with pytest.raises(TransientError) as exc:
        dd.data_fields()
    assert "\n" not in exc.value.message and len(exc.value.message) < 700 and exc.value.status == 500


def test_v3_errors_carry_code_and_details():
    body = {"errorCode": "contacts:idAlreadyExists", "description": "Identifier in use",
            "details": [{"item": "ann@example.org", "error": "email taken"}]}
    rec = Recorder(responses=[js(409, body)])
    dd, _ = client(rec, region_url=R1)
    with pytest.raises(ConflictError) as exc:
        dd.import_status("x")
    assert exc.value.code == "contacts:idAlreadyExists" and "ann@example.org: email taken" in exc.value.message


def test_empty_credentials_are_refused():
    with pytest.raises(ConnectorError, match="DYNSYNC_DOTDIGITAL_PASSWORD"):
        DotdigitalClient("user", "")
