"""Dataverse over real sockets: paging, $filter, $expand, metadata, errors, change tracking."""

from __future__ import annotations

import pytest

from dynsync_tui.sandbox import Sandbox

from .helpers import Dv

PAGE = "odata.maxpagesize=5000"


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    with Sandbox(tmp_path_factory.mktemp("big"), size=12001) as box:
        yield box


def test_12001_contacts_come_in_three_5000_pages_without_loss_or_duplication(big):
    dv = Dv(big)
    rows, pages = dv.all_pages("contacts", {"$select": "contactid,mobilephone"}, PAGE)
    ids = [r["contactid"] for r in rows]
    assert pages == 3 and len(ids) == 12001 == len(set(ids))
    assert ids == sorted(ids)
    assert {r["contactid"] for r in big.records("contact")} == set(ids)
    first = dv.get("contacts", {"$select": "contactid"}, PAGE)
    assert first.headers["Preference-Applied"] == PAGE
    assert len(first.json()["value"]) == 5000


def test_paging_is_keyed_on_the_last_id_and_stable_under_edits(sb, dv):
    prefer = "odata.maxpagesize=1000"
    params = {"$select": "contactid,firstname", "$filter": "statecode eq 0"}
    page1 = dv.get("contacts", params, prefer).json()
    seen = [r["contactid"] for r in page1["value"]]
    before = [r["contactid"] for r in sb.records("contact") if r.get("statecode") == 0]
    # Edits mid-run: a record already read is deleted, a new one sorts before the cursor.
    sb.delete_record("contact", seen[10])
    sb.insert_record("contact", contactid="00000000-0000-4000-8000-000000000001", lastname="Early")
    sb.update_record("contact", before[1500], firstname="Edited")
    rows = page1["value"]
    link = page1["@odata.nextLink"]
    while link:
        body = dv.get(link, prefer=prefer).json()
        rows += body["value"]
        link = body.get("@odata.nextLink")
    got = [r["contactid"] for r in rows]
    assert got == before  # nothing lost, nothing doubled, nothing from before the cursor
    assert next(r for r in rows if r["contactid"] == before[1500])["firstname"] == "Edited"


def test_top_is_honoured_without_paging_and_count(sb, dv):
    body = dv.get("contacts", {"$select": "contactid", "$top": "7"}, "odata.maxpagesize=2").json()
    assert len(body["value"]) == 7 and "@odata.nextLink" not in body
    body = dv.get("accounts", {"$select": "accountid", "$count": "true"}, "odata.maxpagesize=10").json()
    assert body["@odata.count"] == len(sb.records("account"))


@pytest.mark.parametrize("flt, check", [
    ("statecode eq 0 and emailaddress1 ne null",
     lambda r: r.get("statecode") == 0 and r.get("emailaddress1") is not None),
    ("statecode eq 1 or (mobilephone eq null and donotbulkemail eq true)",
     lambda r: r.get("statecode") == 1 or (r.get("mobilephone") is None and r.get("donotbulkemail") is True)),
    ("not (statecode eq 0)", lambda r: r.get("statecode") != 0),
    ("contains(emailaddress1,'@gmail.com')",
     lambda r: "@gmail.com" in (r.get("emailaddress1") or "").lower()),
    ("modifiedon ge 2026-01-01T00:00:00Z", lambda r: r["modifiedon"] >= "2026-01-01T00:00:00Z"),
])
def test_filter_matches_a_python_reference(sb, dv, flt, check):
    rows, _ = dv.all_pages("contacts", {"$select": "contactid", "$filter": flt}, PAGE)
    assert [r["contactid"] for r in rows] == [r["contactid"] for r in sb.records("contact") if check(r)]
    assert rows


def test_filter_literals_guid_string_case_and_quotes(sb, dv):
    rec = next(r for r in sb.records("contact") if r.get("_parentcustomerid_value"))
    acc = rec["_parentcustomerid_value"]
    want = sorted(r["contactid"] for r in sb.records("contact") if r.get("_parentcustomerid_value") == acc)
    for lit in (acc, f"'{acc}'", acc.upper()):
        body = dv.get("contacts", {"$select": "contactid", "$filter": f"_parentcustomerid_value eq {lit}"}).json()
        assert [r["contactid"] for r in body["value"]] == want
    sb.insert_record("contact", lastname="O'Neil-Test", emailaddress1="MiXeD@Example.ORG")
    body = dv.get("contacts", {"$filter": "lastname eq 'o''neil-test' and emailaddress1 eq 'mixed@example.org'",
                               "$select": "lastname"}).json()
    assert [r["lastname"] for r in body["value"]] == ["O'Neil-Test"]


def test_expand_polymorphic_lookup(sb, dv):
    params = {"$select": "contactid,_parentcustomerid_value",
              "$expand": "parentcustomerid_account($select=name,address1_country),parentcustomerid_contact($select=fullname)"}
    rows, _ = dv.all_pages("contacts", params, PAGE)
    accounts = {a["accountid"]: a for a in sb.records("account")}
    kinds = {"account": 0, "contact": 0, "none": 0}
    for row in rows:
        parent = row["_parentcustomerid_value"]
        acc, con = row["parentcustomerid_account"], row["parentcustomerid_contact"]
        if parent in accounts:
            kinds["account"] += 1
            assert con is None and acc["accountid"] == parent and acc["name"] == accounts[parent]["name"]
            assert set(acc) == {"accountid", "name", "address1_country"}
        elif parent:
            kinds["contact"] += 1
            assert acc is None and con["contactid"] == parent and "fullname" in con
        else:
            kinds["none"] += 1
            assert acc is None and con is None
    assert all(kinds.values()), kinds


def test_lookup_annotations_when_asked(sb, dv):
    prefer = 'odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname"'
    body = dv.get("leads", {"$select": "leadid,_parentaccountid_value,statecode",
                            "$filter": "_parentaccountid_value ne null", "$top": "3"}, prefer).json()
    row = body["value"][0]
    assert row["_parentaccountid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
    assert row["statecode@OData.Community.Display.V1.FormattedValue"] in ("Active", "Inactive", "Disqualified")


@pytest.mark.parametrize("path, params, status, text", [
    ("contacts", {"$select": "mobilephonee"}, 400, "Could not find a property named 'mobilephonee'"),
    ("contacts", {"$select": "parentcustomerid"}, 400, "parentcustomerid"),
    ("contacts", {"$filter": "statecode eq"}, 400, "Syntax error"),
    ("contacts", {"$filter": "firstname eq 3"}, 400, "incompatible types"),
    ("contacts", {"$expand": "nosuchnav($select=name)"}, 400, "nosuchnav"),
    ("contacts", {"$skip": "10"}, 400, "$skip"),
    ("contacts", {"$skiptoken": "garbage"}, 400, "skiptoken"),
    ("contactz", {}, 404, "contactz"),
    ("contacts(00000000-0000-4000-8000-00000000dead)", {}, 404, "Does Not Exist"),
])
def test_errors_have_the_dataverse_shape(dv, path, params, status, text):
    r = dv.get(path, params)
    assert r.status_code == status
    err = r.json()["error"]
    assert set(err) == {"code", "message"} and text in err["message"]


def test_metadata_attributes_and_relationships(dv):
    ent = dv.get("EntityDefinitions(LogicalName='contact')",
                 {"$select": "LogicalName,EntitySetName,PrimaryIdAttribute"}).json()
    assert (ent["EntitySetName"], ent["PrimaryIdAttribute"]) == ("contacts", "contactid")
    attrs = {a["LogicalName"]: a for a in dv.get("EntityDefinitions(LogicalName='contact')/Attributes").json()["value"]}
    assert attrs["mobilephone"]["AttributeType"] == "String"
    assert attrs["mobilephone"]["DisplayName"]["UserLocalizedLabel"]["Label"] == "Mobile Phone"
    assert attrs["parentcustomeridname"]["AttributeOf"] == "parentcustomerid"
    assert attrs["entityimage"]["AttributeType"] == "Virtual"
    assert attrs["parentcustomerid"]["AttributeType"] == "Customer"
    assert all("IsValidForRead" in a for a in attrs.values())
    rels = dv.get("EntityDefinitions(LogicalName='contact')/ManyToOneRelationships").json()["value"]
    navs = {(r["ReferencingAttribute"], r["ReferencedEntity"]): r["ReferencingEntityNavigationPropertyName"]
            for r in rels}
    assert navs == {("parentcustomerid", "account"): "parentcustomerid_account",
                    ("parentcustomerid", "contact"): "parentcustomerid_contact"}
    lookups = dv.get("EntityDefinitions(LogicalName='lead')/Attributes/Microsoft.Dynamics.CRM.LookupAttributeMetadata").json()
    assert {a["LogicalName"]: a["Targets"] for a in lookups["value"]}["parentaccountid"] == ["account"]
    lists = dv.get("EntityDefinitions(LogicalName='list')/Attributes").json()["value"]
    assert any(a["LogicalName"].startswith("esc_") and a["AttributeType"] == "Boolean" for a in lists)
    assert dv.get("EntityDefinitions(LogicalName='nope')").status_code == 404


def test_change_tracking_delta_after_update_insert_and_delete(sb, dv):
    prefer = "odata.track-changes,odata.maxpagesize=5000"
    rows, _ = dv.all_pages("accounts", {"$select": "accountid,name"}, prefer)
    assert len(rows) == len(sb.records("account"))
    last = dv.get("accounts", {"$select": "accountid,name"}, prefer).json()
    delta = last["@odata.deltaLink"]
    ids = [r["accountid"] for r in rows]
    sb.update_record("account", ids[3], name="Renamed Ltd")
    sb.delete_record("account", ids[4])
    new = sb.insert_record("account", name="Brand New plc")
    body = dv.get(delta, prefer=prefer).json()
    changed = {r["accountid"]: r["name"] for r in body["value"] if "accountid" in r}
    deleted = [r["id"] for r in body["value"] if r.get("reason") == "deleted"]
    assert changed == {ids[3]: "Renamed Ltd", new: "Brand New plc"} and deleted == [ids[4]]
    again = dv.get(body["@odata.deltaLink"], prefer=prefer).json()
    assert again["value"] == []
    assert dv.get("accounts", {"$deltatoken": "999999999!x"}, prefer).status_code == 400
    r = dv.get("accounts", {"$filter": "statecode eq 0"}, prefer)
    assert r.status_code == 400


def test_connection_test_helpers(sb, dv):
    who = dv.get("WhoAmI").json()
    org = dv.get("organizations", {"$select": "name"}).json()["value"][0]
    assert org["organizationid"] == who["OrganizationId"] == sb.info.org_id and org["name"]
    user = dv.get(f"systemusers({who['UserId']})", {"$select": "fullname"}).json()
    assert user["fullname"]
    counts = dv.get("RetrieveTotalRecordCount(EntityNames=['contact','lead'])").json()
    got = dict(zip(counts["EntityRecordCountCollection"]["Keys"], counts["EntityRecordCountCollection"]["Values"]))
    assert got == {"contact": len(sb.records("contact")), "lead": len(sb.records("lead"))}
    long = dv.get("contacts", {"$filter": " or ".join(["statecode eq 0"] * 3000)})
    assert long.status_code == 414


def test_update_record_hook_moves_modifiedon_and_resolves_lookups(sb, dv):
    cid = sb.records("contact")[5]["contactid"]
    other = sb.records("contact")[6]["contactid"]
    sb.update_record("contact", cid, _parentcustomerid_value=other)
    row = dv.get(f"contacts({cid})", {"$select": "modifiedon,_parentcustomerid_value",
                                      "$expand": "parentcustomerid_contact($select=fullname),"
                                                 "parentcustomerid_account($select=name)"}).json()
    assert row["parentcustomerid_contact"]["contactid"] == other and row["parentcustomerid_account"] is None
    assert row["modifiedon"] >= "2026-"
    sb.update_record("contact", cid, modifiedon="2024-01-01T00:00:00Z")
    assert sb.records("contact")[5]["modifiedon"] == "2024-01-01T00:00:00Z"
    with pytest.raises(KeyError, match="mobilefone"):
        sb.update_record("contact", cid, mobilefone="x")


def test_paging_with_a_non_key_order(sb, dv):
    params = {"$select": "contactid,modifiedon", "$filter": "modifiedon ge 2025-06-01T00:00:00Z",
              "$orderby": "modifiedon desc,contactid asc"}
    rows, pages = dv.all_pages("contacts", params, "odata.maxpagesize=100")
    want = sorted((r for r in sb.records("contact") if r["modifiedon"] >= "2025-06-01T00:00:00Z"),
                  key=lambda r: r["contactid"])
    want.sort(key=lambda r: r["modifiedon"], reverse=True)
    assert [r["contactid"] for r in rows] == [r["contactid"] for r in want] and pages > 3
