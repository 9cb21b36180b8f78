"""Marketing lists: columns, static members (listmembers, any() lambda, FetchXML link-entity)
and dynamic members (the list's FetchXML, paged with cookies as in spec §8.4)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from urllib.parse import quote, unquote

import pytest

FETCH_PREFER = ('odata.include-annotations="Microsoft.Dynamics.CRM.fetchxmlpagingcookie,'
                'Microsoft.Dynamics.CRM.morerecords"')


def _lists(dv, flt=None):
    params = {"$select": "listid,listname,type,createdfromcode,membercount,statecode,query,esc_activatedforemail",
              "$orderby": "listname asc,listid asc"}
    if flt:
        params["$filter"] = flt
    r = dv.get("lists", params, "odata.maxpagesize=500")
    assert r.status_code == 200, r.text
    return r.json()["value"]


def test_lists_cover_each_kind(dv):
    lists = _lists(dv)
    assert [x["listname"] for x in lists] == sorted((x["listname"] for x in lists), key=str.casefold)
    kinds = {(x["type"], x["createdfromcode"], x["esc_activatedforemail"]) for x in lists}
    for code in (1, 2, 4):
        assert (False, code, True) in kinds and (True, code, True) in kinds
    assert any(not x["esc_activatedforemail"] for x in lists)
    assert any(x["statecode"] == 1 for x in lists)
    assert all(x["query"] for x in lists if x["type"]) and not any(x["query"] for x in lists if not x["type"])
    active = _lists(dv, "statecode eq 0 and esc_activatedforemail eq true")
    assert active and all(x["statecode"] == 0 and x["esc_activatedforemail"] for x in active)


def test_static_members_three_ways_agree(sb, dv):
    lst = next(x for x in _lists(dv, "type eq false and createdfromcode eq 2 and statecode eq 0"))
    lid = lst["listid"]
    via_members = dv.get("listmembers", {"$select": "_entityid_value",
                                         "$filter": f"_listid_value eq {lid}"}).json()["value"]
    ids = sorted(m["_entityid_value"] for m in via_members)
    assert len(ids) == lst["membercount"] > 0
    via_any = dv.get("contacts", {"$select": "contactid",
                                  "$filter": f"listcontact_association/any(m:m/listid eq {lid})"}).json()
    assert [r["contactid"] for r in via_any["value"]] == ids
    fetch = (f'<fetch count="5000" page="1"><entity name="contact"><attribute name="contactid"/>'
             f'<attribute name="mobilephone"/><order attribute="contactid"/>'
             f'<link-entity name="listmember" from="entityid" to="contactid" intersect="true" link-type="inner">'
             f'<filter><condition attribute="listid" operator="eq" value="{lid}"/></filter>'
             f'</link-entity></entity></fetch>')
    via_fetch = dv.get("contacts", {"fetchXml": fetch}, FETCH_PREFER).json()
    assert [r["contactid"] for r in via_fetch["value"]] == ids
    assert via_fetch["@Microsoft.Dynamics.CRM.morerecords"] is False


def _run_fetch(dv, entity_set, xml, count):
    """The client loop of spec §8.4: cookie parsed, decoded twice, put back, page + 1."""
    root = ET.fromstring(xml)
    root.set("count", str(count))
    root.set("page", "1")
    rows, pages = [], 0
    while True:
        body = dv.get(entity_set, {"fetchXml": ET.tostring(root, encoding="unicode")}, FETCH_PREFER).json()
        rows += body["value"]
        pages += 1
        if not body["@Microsoft.Dynamics.CRM.morerecords"]:
            return rows, pages
        cookie = ET.fromstring(body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"])
        root.set("paging-cookie", unquote(unquote(cookie.get("pagingcookie"))))
        root.set("page", str(int(root.get("page")) + 1))


@pytest.mark.parametrize("code", [1, 2, 4])
def test_dynamic_list_members_follow_the_query_with_paging_cookies(sb, dv, code):
    lst = next(x for x in _lists(dv, f"type eq true and createdfromcode eq {code}"))
    entity = {1: "account", 2: "contact", 4: "lead"}[code]
    rows, pages = _run_fetch(dv, entity + "s", lst["query"], count=50)
    got = [r[f"{entity}id"] for r in rows]
    assert len(got) == len(set(got)) and got == sorted(got)
    assert pages == max(1, -(-len(got) // 50)) and pages > 1
    conds = ET.fromstring(lst["query"]).findall(".//condition")
    def ok(rec):
        for c in conds:
            key, op, val = c.get("attribute"), c.get("operator"), c.get("value")
            v = rec.get(key)
            if op == "eq" and str(v if not isinstance(v, bool) else int(v)).lower() != val.lower():
                return False
            if op == "not-null" and v in (None, ""):
                return False
            if op == "like" and not re.fullmatch(val.replace("%", ".*"), v or "", re.I):
                return False
        return True
    want = [r[f"{entity}id"] for r in sb.records(entity) if ok(r)]
    assert got == want and want


def test_fetchxml_errors_are_400(dv):
    r = dv.get("contacts", {"fetchXml": "<fetch><entity name='lead'/></fetch>"})
    assert r.status_code == 400 and "does not match" in r.json()["error"]["message"]
    r = dv.get("contacts", {"fetchXml": "<fetch"})
    assert r.status_code == 400
    nested = ("<fetch><entity name='contact'><link-entity name='account' from='accountid' to='parentcustomerid'>"
              "<link-entity name='contact' from='contactid' to='primarycontactid'/></link-entity></entity></fetch>")
    assert dv.get("contacts", {"fetchXml": nested}).status_code == 400


def test_long_fetchxml_goes_through_batch(sb, dv):
    lst = next(x for x in _lists(dv, "type eq true and createdfromcode eq 2"))
    root = ET.fromstring(lst["query"])
    flt = root.find("entity/filter")
    for i in range(400):  # harmless conditions that make the URL far longer than 32,768
        ET.SubElement(flt, "condition", attribute="lastname", operator="ne", value=f"nobody-{i:04d}-padding")
    long_xml = ET.tostring(root, encoding="unicode")
    url = f"{sb.info.dataverse_url}/api/data/v9.2/contacts?fetchXml={quote(long_xml, safe='')}"
    assert 32768 < len(url) < 65536
    assert dv.get(url).status_code == 414
    body = ("--batch_dsx1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            f"GET {url} HTTP/1.1\r\nAccept: application/json\r\nPrefer: {FETCH_PREFER}\r\n\r\n--batch_dsx1--\r\n")
    r = dv.http.post(f"{sb.info.dataverse_url}/api/data/v9.2/$batch", content=body.encode(), headers={
        "Authorization": f"Bearer {dv.token or dv.fresh_token()}",
        "Content-Type": 'multipart/mixed; boundary="batch_dsx1"'})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("multipart/mixed; boundary=batchresponse_")
    part = r.text.split(r.headers["Content-Type"].split("boundary=")[1])[1]
    assert "HTTP/1.1 200 OK" in part
    doc = json.loads(part[part.index("{"): part.rindex("}") + 1])
    short = dv.get("contacts", {"fetchXml": lst["query"]}, FETCH_PREFER).json()
    assert doc["value"] == short["value"] and doc["value"]
