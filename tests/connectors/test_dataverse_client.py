"""DataverseClient against httpx.MockTransport: headers, paging, retries, metadata, lists."""

from __future__ import annotations

import threading
import urllib.parse
import xml.etree.ElementTree as ET

import httpx
import pytest

from dynsync_tui.connectors.auth import StaticToken
from dynsync_tui.connectors.dataverse import DataverseClient, MarketingList
from dynsync_tui.connectors.errors import (
    AuthError, Cancelled, DeltaTokenExpiredError, PagingError, PermissionDenied, QueryError,
    ThrottledError, TransientError,
)

from .mock_http import Recorder, Sleeps, js

ENV = "https://contoso.crm4.dynamics.com"
API = ENV + "/api/data/v9.2/"
NEXT = (API + "contacts?$select=contactid,mobilephone&$skiptoken=%3Ccookie%20pagenumber=%222%22"
        "%20pagingcookie=%22%253ccookie%2520page%253d%25221%2522%253e%22%20/%3E")


def client(rec: Recorder, **kw) -> tuple[DataverseClient, Sleeps, StaticToken]:
    sleeps, tokens = Sleeps(), StaticToken("tok-1")
    kw.setdefault("sleep", sleeps)
    return DataverseClient(ENV + "/", tokens, transport=rec.transport, **kw), sleeps, tokens


def rows(*ids: str) -> list[dict]:
    return [{"contactid": i, "mobilephone": f"+4477009001{n:02d}"} for n, i in enumerate(ids)]


def test_default_headers_on_every_request():
    rec = Recorder(responses=[js(200, {"UserId": "u1", "OrganizationId": "o1"})])
    dv, _, _ = client(rec)
    assert dv.whoami()["UserId"] == "u1"
    h = rec.requests[0].headers
    assert h["Authorization"] == "Bearer tok-1"
    assert h["Accept"] == "application/json"
    assert h["OData-MaxVersion"] == "4.0" and h["OData-Version"] == "4.0"
    assert h["If-None-Match"] == "null"
    assert h["User-Agent"].startswith("dynsync/")
    assert "Content-Type" not in h
    assert str(rec.requests[0].url) == API + "WhoAmI"


def test_two_pages_follow_next_link_verbatim_with_same_prefer():
    rec = Recorder(responses=[js(200, {"value": rows("a", "b"), "@odata.nextLink": NEXT}),
                              js(200, {"value": rows("c")})])
    dv, _, _ = client(rec, page_size=2)
    pages = list(dv.iter_pages("contacts", select=["contactid", "mobilephone"],
                               expand={"parentcustomerid_account": ["name", "address1_country"]},
                               filter="statecode eq 0", orderby="contactid"))
    assert [[r["contactid"] for r in p] for p in pages] == [["a", "b"], ["c"]]
    first = rec.requests[0].url.raw_path.decode()
    assert first.startswith("/api/data/v9.2/contacts?$select=contactid,mobilephone&"
                            "$expand=parentcustomerid_account($select=name,address1_country)&")
    assert "$filter=statecode%20eq%200" in first and first.endswith("$orderby=contactid")
    assert "$top" not in first
    assert str(rec.requests[1].url).encode() == NEXT.encode()  # byte for byte
    assert [r.headers["Prefer"] for r in rec.requests] == ["odata.maxpagesize=2"] * 2
    assert dv.requests == 2 and dv.pages == 2


def test_repeated_next_link_is_a_paging_error():
    page = {"value": rows("a"), "@odata.nextLink": NEXT}
    rec = Recorder(responses=[js(200, page), js(200, page), js(200, page)])
    dv, _, _ = client(rec)
    with pytest.raises(PagingError, match="repeated a page link"):
        list(dv.iter_pages("contacts", select=["contactid"]))
    assert dv.requests == 2


def test_429_retry_after_then_200_waits_at_the_gate_and_loses_nothing():
    waits: list[tuple[float, str]] = []
    rec = Recorder(responses=[js(200, {"value": rows("a"), "@odata.nextLink": NEXT}),
                              js(429, {"error": {"code": "0x80072322", "message": "limit"}}, **{"Retry-After": "2"}),
                              js(200, {"value": rows("b")})])
    dv, sleeps, _ = client(rec, on_wait=lambda s, why: waits.append((s, why)))
    ids = [r["contactid"] for p in dv.iter_pages("contacts", select=["contactid"]) for r in p]
    assert ids == ["a", "b"]
    assert len(sleeps) == 1 and 2.0 <= sleeps[0] <= 3.0
    assert "resuming in" in waits[0][1] and "busy" in waits[0][1]
    assert str(rec.requests[1].url) == str(rec.requests[2].url) == NEXT  # the same page again
    assert dv.requests == 3 and dv.throttled == 1


def test_429_without_retry_after_falls_back_and_budget_ends_in_throttled_error():
    rec = Recorder(handler=lambda r: js(429, {"error": {"code": "", "message": "busy"}}))
    dv, sleeps, _ = client(rec, throttle_attempts=3)
    with pytest.raises(ThrottledError) as exc:
        dv.whoami()
    assert len(sleeps) == 2 and 5 <= sleeps[0] <= 5.5 and 10 <= sleeps[1] <= 11  # 5 s, doubling, + jitter
    assert exc.value.status == 429 and "\n" not in exc.value.message


def test_401_invalidates_token_and_retries_once():
    rec = Recorder(responses=[js(401, {"error": {"code": "", "message": "expired"}}), js(200, {"UserId": "u"})])
    dv, _, tokens = client(rec)
    assert dv.whoami() == {"UserId": "u"}
    assert tokens.invalidated == 1 and dv.requests == 2


def test_second_401_is_an_auth_error():
    rec = Recorder(handler=lambda r: httpx.Response(401))
    dv, _, tokens = client(rec)
    with pytest.raises(AuthError, match="401"):
        dv.whoami()
    assert tokens.invalidated == 1 and dv.requests == 2


def test_transient_errors_retry_the_same_page():
    rec = Recorder(responses=[js(200, {"value": rows("a"), "@odata.nextLink": NEXT}),
                              httpx.Response(503, text="<html>gateway</html>"),
                              httpx.ReadTimeout("slow"),
                              js(200, {"value": rows("b")})])
    dv, sleeps, _ = client(rec)
    ids = [r["contactid"] for p in dv.iter_pages("contacts", select=["contactid"]) for r in p]
    assert ids == ["a", "b"]
    assert [str(r.url) for r in rec.requests[1:]] == [NEXT] * 3
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] * 1.2  # backoff grows


def test_non_json_success_is_asked_for_again():
    rec = Recorder(responses=[httpx.Response(200, text="<html>proxy</html>"), js(200, {"UserId": "u"})])
    dv, sleeps, _ = client(rec)
    assert dv.whoami() == {"UserId": "u"} and dv.requests == 2 and len(sleeps) == 1
    rec = Recorder(handler=lambda r: httpx.Response(200, text="[1, 2"))
    dv, _, _ = client(rec)
    with pytest.raises(TransientError, match="non-JSON answer 5 times"):
        dv.whoami()


def test_transient_errors_are_bounded():
    rec = Recorder(handler=lambda r: httpx.Response(502, text="Bad gateway"))
    dv, sleeps, _ = client(rec)
    with pytest.raises(TransientError, match="502"):
        dv.whoami()
    assert dv.requests == 5 and len(sleeps) == 4


@pytest.mark.parametrize("status,cls", [(400, QueryError), (403, PermissionDenied)])
def test_no_retry_on_client_errors(status, cls):
    body = {"error": {"code": "0x80060888", "message": "Could not find a property named 'mobilephonee'."}}
    rec = Recorder(handler=lambda r: js(status, body, **{"x-ms-service-request-id": "req-9"}))
    dv, sleeps, _ = client(rec)
    with pytest.raises(cls) as exc:
        list(dv.iter_pages("contacts", select=["mobilephonee"]))
    assert dv.requests == 1 and sleeps == []
    assert exc.value.request_id == "req-9" and exc.value.code == "0x80060888"
    if status == 403:
        assert "missing security role" in exc.value.message


def test_cancel_interrupts_a_throttle_wait():
    cancel = threading.Event()
    rec = Recorder(handler=lambda r: js(429, {}, **{"Retry-After": "30"}))
    dv = DataverseClient(ENV, StaticToken(), transport=rec.transport, cancel=cancel,
                         on_wait=lambda s, why: cancel.set())
    with pytest.raises(Cancelled):
        dv.whoami()
    assert dv.requests == 1


ATTRS = {"value": [
    {"LogicalName": "firstname", "AttributeType": "String", "DisplayName": {"UserLocalizedLabel": {"Label": "First Name"}},
     "AttributeOf": None, "IsValidForRead": True},
    {"LogicalName": "mobilephone", "AttributeType": "String", "DisplayName": {"UserLocalizedLabel": {"Label": "Mobile Phone"}},
     "AttributeOf": None, "IsValidForRead": True},
    {"LogicalName": "parentcustomeridname", "AttributeType": "String", "DisplayName": {"UserLocalizedLabel": None},
     "AttributeOf": "parentcustomerid", "IsValidForRead": True},
    {"LogicalName": "entityimage", "AttributeType": "Virtual", "DisplayName": {}, "AttributeOf": None, "IsValidForRead": True},
    {"LogicalName": "birthdate", "AttributeType": "DateTime", "DisplayName": {"UserLocalizedLabel": {"Label": "Birthday"}},
     "AttributeOf": None, "IsValidForRead": True},
    {"LogicalName": "esc_secret", "AttributeType": "String", "DisplayName": {}, "AttributeOf": None, "IsValidForRead": False},
]}
RELS = {"value": [
    {"ReferencingAttribute": "parentcustomerid", "ReferencedEntity": "contact", "ReferencedAttribute": "contactid",
     "ReferencingEntityNavigationPropertyName": "parentcustomerid_contact"},
    {"ReferencingAttribute": "parentcustomerid", "ReferencedEntity": "account", "ReferencedAttribute": "accountid",
     "ReferencingEntityNavigationPropertyName": "parentcustomerid_account"},
]}


def test_metadata_is_filtered_sorted_and_cached():
    def handler(req: httpx.Request) -> httpx.Response:
        path = urllib.parse.unquote(req.url.path)
        if path.endswith("/Attributes"):
            return js(200, ATTRS)
        if path.endswith("/ManyToOneRelationships"):
            return js(200, RELS)
        return js(200, {"LogicalName": "contact", "EntitySetName": "contacts", "PrimaryIdAttribute": "contactid",
                        "ChangeTrackingEnabled": True, "DisplayName": {"UserLocalizedLabel": {"Label": "Contact"}}})
    rec = Recorder(handler)
    dv, _, _ = client(rec)
    attrs = dv.attributes("contact")
    assert [a.logical_name for a in attrs] == ["mobilephone", "firstname", "birthdate"]
    assert attrs[0].display_name == "Mobile Phone" and attrs[0].is_text_like and not attrs[2].is_text_like
    rels = dv.relationships("contact")
    assert [(r.lookup, r.nav, r.target, r.target_key) for r in rels] == [
        ("parentcustomerid", "parentcustomerid_account", "account", "accountid"),
        ("parentcustomerid", "parentcustomerid_contact", "contact", "contactid")]
    info = dv.entity("contact")
    assert (info.entity_set, info.primary_id, info.display_name, info.change_tracking) == \
        ("contacts", "contactid", "Contact", True)
    before = dv.requests
    dv.attributes("contact"), dv.relationships("contact"), dv.entity("contact")
    assert dv.requests == before == 3


def test_lists_eligibility_and_reasons():
    lists = {"value": [
        {"listid": "L1", "listname": "Dyn on", "type": True, "createdfromcode": 2, "membercount": 5, "esc_act": True},
        {"listid": "L2", "listname": "Dyn off", "type": True, "createdfromcode": 4, "membercount": None, "esc_act": False},
        {"listid": "L3", "listname": "Static", "type": False, "createdfromcode": 1, "membercount": 3, "esc_act": True},
    ]}
    rec = Recorder(responses=[js(200, lists), js(200, lists)])
    dv, _, _ = client(rec)
    got = {m.id: m for m in dv.lists("esc_act")}
    assert got["L1"].eligible and got["L1"].why == "" and got["L1"].member_type == "contact"
    assert not got["L2"].eligible and "activated" in got["L2"].why.lower() and got["L2"].member_count is None
    assert not got["L3"].eligible and "Static" in got["L3"].why and got["L3"].member_type == "account"
    q = urllib.parse.unquote(rec.requests[0].url.raw_path.decode())
    assert "esc_act" in q and "statecode eq 0" in q and "listname asc,listid asc" in q
    assert rec.requests[0].headers["Prefer"] == "odata.maxpagesize=500"
    assert all(m.activated is None and (m.eligible == m.dynamic) for m in dv.lists())


def test_unknown_activation_column_is_explained():
    rec = Recorder(responses=[js(400, {"error": {"code": "0x80060888",
                                                 "message": "Could not find a property named 'esc_nope' on type 'list'."}})])
    dv, _, _ = client(rec)
    with pytest.raises(QueryError, match="activation column 'esc_nope' is not a column of marketing lists"):
        dv.lists("esc_nope")


def test_static_list_members_through_listmembers():
    rec = Recorder(responses=[js(200, {"value": [{"_entityid_value": "c1"}, {"_entityid_value": "c2"}],
                                       "@odata.nextLink": API + "listmembers?$skiptoken=2"}),
                              js(200, {"value": [{"_entityid_value": "c3"}]})])
    dv, _, _ = client(rec)
    lst = MarketingList("L9", "Spring", False, "contact", 3, None, False, "Static")
    assert dv.list_member_ids(lst) == {"c1", "c2", "c3"}
    assert "$filter=_listid_value%20eq%20L9" in rec.paths[0]


DYN_QUERY = ('<fetch version="1.0" top="50" distinct="true"><entity name="contact"><all-attributes/>'
             '<attribute name="fullname"/><filter><condition attribute="statecode" operator="eq" value="0"/></filter>'
             '<link-entity name="account" from="accountid" to="parentcustomerid"><attribute name="name"/>'
             '<filter><condition attribute="address1_country" operator="eq" value="UK"/></filter></link-entity>'
             '</entity></fetch>')


def test_dynamic_list_members_run_its_fetchxml_with_paging_cookies():
    inner = urllib.parse.quote(urllib.parse.quote('<cookie page="1"><contactid last="{C2}" /></cookie>'))
    cookie = f'<cookie pagenumber="2" pagingcookie="{inner}" istracking="False" />'

    def handler(req: httpx.Request) -> httpx.Response:
        path = req.url.path
        if "EntityDefinitions" in path:
            return js(200, {"EntitySetName": "contacts", "PrimaryIdAttribute": "contactid"})
        if path.endswith("lists(L7)"):
            return js(200, {"query": DYN_QUERY})
        fetch = ET.fromstring(urllib.parse.parse_qs(req.url.query.decode())["fetchXml"][0])
        if fetch.get("page") == "1":
            return js(200, {"value": [{"contactid": "C1"}, {"contactid": "C2"}],
                            "@Microsoft.Dynamics.CRM.fetchxmlpagingcookie": cookie,
                            "@Microsoft.Dynamics.CRM.morerecords": True})
        return js(200, {"value": [{"contactid": "C3"}], "@Microsoft.Dynamics.CRM.morerecords": False})
    rec = Recorder(handler)
    dv, _, _ = client(rec, page_size=2)
    lst = MarketingList("L7", "UK", True, "contact", None, True, True, "")
    assert dv.list_member_ids(lst) == {"C1", "C2", "C3"}
    fetches = [ET.fromstring(urllib.parse.parse_qs(r.url.query.decode())["fetchXml"][0])
               for r in rec.requests if b"fetchXml" in r.url.query]
    first, second = fetches
    assert first.get("count") == "2" and first.get("page") == "1" and first.get("top") is None
    ent = first.find("entity")
    assert [a.get("name") for a in ent.findall("attribute")] == ["contactid"]
    assert ent.find("all-attributes") is None and ent.find("link-entity/attribute") is None
    assert ent.find("link-entity/filter/condition").get("value") == "UK"
    assert ent.find("order").get("attribute") == "contactid"
    assert second.get("page") == "2"
    assert second.get("paging-cookie") == '<cookie page="1"><contactid last="{C2}" /></cookie>'
    assert "fetchxmlpagingcookie" in rec.requests[-1].headers["Prefer"]


def test_dynamic_list_of_the_wrong_table_is_refused():
    rec = Recorder(responses=[js(200, {"EntitySetName": "leads", "PrimaryIdAttribute": "leadid"}),
                              js(200, {"query": DYN_QUERY})])
    dv, _, _ = client(rec)
    with pytest.raises(QueryError, match="reads 'contact' but its members are 'lead'"):
        dv.list_member_ids(MarketingList("L8", "Leads", True, "lead", None, True, True, ""))


def test_change_tracking_initial_delta_and_expired_token():
    delta = API + "contacts?$select=contactid&$deltatoken=1183442%2110%2f05"
    rec = Recorder(responses=[
        js(200, {"value": rows("a"), "@odata.nextLink": API + "contacts?$skiptoken=2"}),
        js(200, {"value": rows("b"), "@odata.deltaLink": delta}),
        js(200, {"value": [{"contactid": "a", "mobilephone": "+447700900999"},
                           {"@odata.context": API + "$metadata#contacts/$deletedEntity", "id": "b", "reason": "deleted"}],
                 "@odata.deltaLink": delta + "x"}),
        js(400, {"error": {"code": "0x80044352", "message": "invalid delta token"}}),
    ])
    dv, _, _ = client(rec)
    pages = list(dv.iter_changes("contacts", select=["contactid", "mobilephone"]))
    assert [p.delta_link for p in pages] == [None, delta]
    assert rec.requests[0].headers["Prefer"] == "odata.track-changes,odata.maxpagesize=5000"
    (changes,) = list(dv.iter_changes("contacts", select=["contactid"], delta_link=delta))
    assert [r["contactid"] for r in changes.rows] == ["a"] and changes.deleted == ["b"]
    assert str(rec.requests[2].url) == delta
    with pytest.raises(DeltaTokenExpiredError, match="full read"):
        list(dv.iter_changes("contacts", select=["contactid"], delta_link=delta + "x"))


def test_count_and_bad_page_size():
    rec = Recorder(responses=[js(200, {"EntityRecordCountCollection": {"Keys": ["contact"], "Values": [12001]}}),
                              js(400, {"error": {"code": "0x80041103", "message": "not found"}}),
                              js(200, {"@odata.count": 5000, "value": rows("a")}),
                              js(200, {"@odata.count": 5000, "value": rows("a")})])
    dv, _, _ = client(rec)
    assert dv.count("contacts") == 12001
    assert urllib.parse.unquote(rec.paths[0]).endswith("RetrieveTotalRecordCount(EntityNames=['contact'])")
    assert dv.count("leads") == 5000  # no snapshot count: fall back to the capped $count
    rec.requests.clear()
    assert dv.count("contacts", "statecode eq 0") == 5000
    assert rec.paths[0] == "/api/data/v9.2/contacts?$count=true&$filter=statecode%20eq%200"
    assert rec.requests[0].headers["Prefer"] == "odata.maxpagesize=1"
    with pytest.raises(QueryError, match="1 to 5000"):
        DataverseClient(ENV, StaticToken(), page_size=5001)
