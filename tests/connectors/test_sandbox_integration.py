"""The connectors against the built-in sandbox, over real HTTPS on 127.0.0.1.

One sandbox per module (12,001 contacts: three pages of 5000). Tests that change data restore
what they change, so the order of tests does not matter.
"""

from __future__ import annotations

import pytest

from dynsync_tui.connectors.auth import ConfidentialTokens, certificate_credential
from dynsync_tui.connectors.auth_public import PublicTokens
from dynsync_tui.connectors.dataverse import DataverseClient
from dynsync_tui.connectors.dotdigital import DotdigitalClient
from dynsync_tui.connectors.errors import AuthError, PermissionDenied, QueryError
from dynsync_tui.sandbox import Sandbox

from .mock_http import Sleeps

N = 12_001
SELECT = ["contactid", "emailaddress1", "mobilephone"]
ACTIVATION = "esc_activatedforemail"


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    with Sandbox(tmp_path_factory.mktemp("sandbox"), reset=True, size=N) as sandbox:
        yield sandbox


@pytest.fixture()
def sandbox(sb):
    sb.faults.clear()
    yield sb
    sb.faults.clear()


def dataverse(sb, **kw) -> tuple[DataverseClient, ConfidentialTokens, Sleeps]:
    info, sleeps = sb.info, Sleeps()
    tokens = ConfidentialTokens(info.dataverse_url, info.authority, info.client_id, info.client_secret,
                                ca_file=info.ca_file)
    kw.setdefault("sleep", sleeps)
    return DataverseClient(info.dataverse_url, tokens, ca_file=info.ca_file, **kw), tokens, sleeps


def dotdigital(sb, **kw) -> tuple[DotdigitalClient, Sleeps]:
    info, sleeps = sb.info, Sleeps()
    kw.setdefault("sleep", sleeps)
    kw.setdefault("poll", (0.05, 1.5, 0.3))
    return DotdigitalClient(info.api_user, info.api_password, endpoint=info.dotdigital_url,
                            ca_file=info.ca_file, **kw), sleeps


def read_ids(dv: DataverseClient, on_page=None) -> list[str]:
    ids = []
    for n, page in enumerate(dv.iter_pages("contacts", select=SELECT, orderby="contactid")):
        ids.extend(r["contactid"] for r in page)
        if on_page:
            on_page(n)
    return ids


def test_msal_client_secret_whoami_and_metadata(sandbox):
    dv, tokens, _ = dataverse(sandbox)
    me = dv.whoami()
    assert me["OrganizationId"] == sandbox.info.org_id and tokens.acquired == 1
    attrs = dv.attributes("contact")
    assert attrs[0].type == "String" and "phone" in attrs[0].logical_name
    assert "mobilephone" in [a.logical_name for a in attrs]
    navs = {(r.lookup, r.target): r.nav for r in dv.relationships("contact")}
    assert navs[("parentcustomerid", "account")] == "parentcustomerid_account"
    assert navs[("parentcustomerid", "contact")] == "parentcustomerid_contact"
    assert dv.entity("contact").entity_set == "contacts"
    assert ACTIVATION in [a.logical_name for a in dv.activation_columns()]
    assert dv.count("contacts") == N  # the snapshot count is not capped
    assert dv.count("contacts", "statecode eq 0") == 5000  # $count is
    assert dv.organization_name(me["OrganizationId"]) and dv.user_name(me["UserId"])


def test_wrong_secret_is_a_friendly_auth_error(sandbox):
    info = sandbox.info
    tokens = ConfidentialTokens(info.dataverse_url, info.authority, info.client_id, "the-secret-id",
                                ca_file=info.ca_file)
    with pytest.raises(AuthError, match="not its Secret ID"):
        tokens.token()


def test_certificate_sign_in(sandbox, tmp_path):
    from .test_auth import _rsa_cert

    _, _, key_pem, cert_pem, thumb = _rsa_cert(tmp_path)
    assert sandbox.register_certificate(cert_pem).upper() == thumb
    path = tmp_path / "app.pem"
    path.write_bytes(key_pem + cert_pem)
    info = sandbox.info
    tokens = ConfidentialTokens(info.dataverse_url, info.authority, info.client_id, certificate_credential(path),
                                ca_file=info.ca_file)
    dv = DataverseClient(info.dataverse_url, tokens, ca_file=info.ca_file)
    assert dv.whoami()["OrganizationId"] == info.org_id and tokens.acquired == 1


def test_device_code_with_scripted_approval_and_refresh_mid_paging(sandbox, tmp_path):
    info, shown = sandbox.info, []

    def approve(message: str, flow: dict) -> None:
        shown.append(message)
        sandbox.approve_device_code(flow["user_code"])
    cache = tmp_path / "token_cache.json"
    tokens = PublicTokens(info.dataverse_url, info.authority, info.client_id, mode="device_code",
                          cache_path=cache, on_device_code=approve, ca_file=info.ca_file)
    dv = DataverseClient(info.dataverse_url, tokens, ca_file=info.ca_file, sleep=Sleeps())
    ids = read_ids(dv, on_page=lambda n: n == 0 and sandbox.expire_tokens())
    assert len(ids) == N == len(set(ids)) and dv.requests == 4
    assert tokens.sign_ins == 1 and "devicelogin" in shown[0] and tokens.username
    assert cache.stat().st_mode & 0o777 == 0o600
    again = PublicTokens(info.dataverse_url, info.authority, info.client_id, mode="device_code",
                         cache_path=cache, username=tokens.username, ca_file=info.ca_file)
    assert DataverseClient(info.dataverse_url, again, ca_file=info.ca_file).whoami() and again.sign_ins == 0


def test_declined_device_code_is_one_line(sandbox):
    info = sandbox.info
    tokens = PublicTokens(info.dataverse_url, info.authority, info.client_id, mode="device_code",
                          on_device_code=lambda m, f: sandbox.decline_device_code(f["user_code"]),
                          ca_file=info.ca_file)
    with pytest.raises(AuthError, match="declined"):
        tokens.token()


def test_12001_records_over_three_pages(sandbox):
    dv, _, _ = dataverse(sandbox)
    ids = read_ids(dv)
    assert len(ids) == N == len(set(ids)) and ids == sorted(ids)
    assert dv.requests == 3 and dv.pages == 3
    log = [t for m, t in sandbox.request_log if "/contacts?" in t]
    assert "$top" not in "".join(log[-3:])


def test_429_mid_paging_loses_and_doubles_nothing(sandbox):
    dv, _, sleeps = dataverse(sandbox)
    sandbox.faults.add("GET", r"/contacts\?.*skiptoken", 429, times=2, retry_after=3)
    waits = []
    dv.pacer.on_wait = lambda s, why: waits.append(why)
    ids = read_ids(dv)
    assert len(ids) == N == len(set(ids))
    assert dv.requests == 5 and dv.throttled == 2
    assert len(sleeps) == 2 and all(3 <= s <= 3.5 for s in sleeps) and "resuming in" in waits[0]


def test_server_errors_dropped_and_cut_answers_retry_the_same_page(sandbox):
    dv, _, sleeps = dataverse(sandbox)
    sandbox.faults.add("GET", r"/contacts\?.*skiptoken", 503, times=1)
    sandbox.faults.add("GET", r"/contacts\?.*skiptoken", 0, times=1, drop=True)
    sandbox.faults.add("GET", r"/contacts\?.*skiptoken", 0, times=1, truncate=True)
    ids = read_ids(dv)
    assert len(ids) == N == len(set(ids)) and len(sleeps) == 3 and dv.requests == 6


def test_token_refresh_mid_paging(sandbox):
    dv, tokens, _ = dataverse(sandbox)
    ids = read_ids(dv, on_page=lambda n: n == 0 and sandbox.expire_tokens())
    assert len(ids) == N == len(set(ids))
    assert tokens.acquired == 2 and dv.requests == 4  # one 401, then the same page again


def test_bad_column_is_a_query_error(sandbox):
    dv, _, sleeps = dataverse(sandbox)
    with pytest.raises(QueryError) as exc:
        list(dv.iter_pages("contacts", select=["mobilephonee"]))
    assert "mobilephonee" in exc.value.message and dv.requests == 1 and sleeps == []


def test_polymorphic_lookup_gives_empty_linked_values_for_the_other_type(sandbox):
    dv, _, _ = dataverse(sandbox)
    seen = {"account": 0, "contact": 0, None: 0}
    for page in dv.iter_pages("contacts", select=["contactid", "_parentcustomerid_value"], annotations=True,
                              expand={"parentcustomerid_account": ["name"], "parentcustomerid_contact": ["fullname"]}):
        for row in page:
            kind = row.get("_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname")
            seen[kind] += 1
            acc, con = row.get("parentcustomerid_account"), row.get("parentcustomerid_contact")
            assert (acc is not None) == (kind == "account") and (con is not None) == (kind == "contact")
            if kind == "account":
                assert acc["accountid"] == row["_parentcustomerid_value"] and acc["name"]
    assert all(seen.values()) and sum(seen.values()) == N


def test_lists_and_members(sandbox):
    dv, _, _ = dataverse(sandbox)
    lists = {m.name: m for m in dv.lists(ACTIVATION)}
    assert "Old campaign (inactive)" not in lists or not lists["Old campaign (inactive)"]
    assert lists["Contacts in Germany"].eligible and lists["Contacts in Germany"].member_type == "contact"
    assert not lists["Gmail contacts"].eligible and "activated" in lists["Gmail contacts"].why.lower()
    assert not lists["Newsletter – UK"].eligible and "Static" in lists["Newsletter – UK"].why
    static = lists["Newsletter – UK"]
    want = {r["_entityid_value"] for r in sandbox.records("listmember") if r["_listid_value"] == static.id}
    assert dv.list_member_ids(static, page_size=700) == want and len(want) == static.member_count
    dyn = lists["Contacts in Germany"]
    members = dv.list_member_ids(dyn)
    before = dv.requests
    assert dv.list_member_ids(dyn, page_size=97) == members  # many pages, paging cookies
    assert dv.requests - before > 3 and len(members) > 97
    germany = {r["contactid"] for r in sandbox.records("contact") if r.get("address1_country") == "Germany"}
    assert members <= germany


def test_long_dynamic_list_query_goes_through_batch(sandbox):
    dv, _, _ = dataverse(sandbox)
    dyn = {m.name: m for m in dv.lists(ACTIVATION)}["Contacts in Germany"]
    members = dv.list_member_ids(dyn)
    (row,) = [r for r in sandbox.records("list") if r["listid"] == dyn.id]
    values = "".join(f"<value>{i:08x}-0000-4000-8000-000000000000</value>" for i in range(900))
    none = f'<filter><condition attribute="contactid" operator="not-in">{values}</condition></filter>'
    sandbox.update_record("list", dyn.id, query=row["query"].replace("</entity>", none + "</entity>", 1))
    try:
        assert dv.list_member_ids(dyn, page_size=500) == members
    finally:
        sandbox.update_record("list", dyn.id, query=row["query"])
    assert any(m == "POST" and "$batch" in t for m, t in sandbox.request_log)


def test_delta_read_after_an_update_and_a_delete(sandbox):
    dv, _, _ = dataverse(sandbox)
    extra = sandbox.insert_record("contact", firstname="Delta", emailaddress1="delta@example.org")
    try:
        pages = list(dv.iter_changes("contacts", select=SELECT))
        assert sum(len(p.rows) for p in pages) == N + 1 and pages[-1].delta_link
        assert all(p.delta_link is None for p in pages[:-1])
        first = pages[0].rows[0]["contactid"]
        sandbox.update_record("contact", first, mobilephone="+447700900001")
    finally:
        sandbox.delete_record("contact", extra)
    (changes,) = list(dv.iter_changes("contacts", select=SELECT, delta_link=pages[-1].delta_link))
    assert [r["contactid"] for r in changes.rows] == [first]
    assert changes.rows[0]["mobilephone"] == "+447700900001"
    assert changes.deleted == [extra] and changes.delta_link


def test_dotdigital_discovery_fields_and_lists(sandbox):
    dd, _ = dotdigital(sandbox)
    info = dd.account_info()
    assert dd.region_url.startswith("https://127.0.0.1") and info.get("Name")
    names = {f["name"] for f in dd.data_fields()}
    assert "FIRSTNAME" in names
    made = dd.create_data_field("CRMID")
    assert dd.create_data_field("CRMID") ["name"] == made["name"] == "CRMID"
    book = dd.create_address_book("Dynamics – Connector test")
    again = dd.create_address_book("Dynamics – Connector test")
    assert book["id"] == again["id"] and any(b["id"] == book["id"] for b in dd.address_books())


def test_wrong_dotdigital_password_is_explained(sandbox):
    info = sandbox.info
    dd = DotdigitalClient(info.api_user, "nope", endpoint=info.dotdigital_url, ca_file=info.ca_file)
    with pytest.raises(AuthError, match="API user or password"):
        dd.account_info()


def test_import_lifecycle_with_429s_creates_no_duplicates(sandbox):
    dd, sleeps = dotdigital(sandbox, busy_wait=(0.5, 1.0))
    book = dd.create_address_book("Dynamics – Import test")
    sandbox.faults.add("PUT", r"/contacts/v3/import$", 429, times=1,
                       body={"errorCode": "contacts:tooManyActiveImports", "description": "busy"})
    sandbox.faults.add("PUT", r"/contacts/v3/import$", 429, times=1, retry_after=1)
    before = len(sandbox.dotdigital_contacts())
    rows = [{"matchIdentifier": "email", "identifiers": {"email": f"imp{i}@example.org",
                                                          "mobileNumber": f"+4479111{i:05d}"},
             "dataFields": {"FIRSTNAME": f"Imp{i}"}, "lists": [book["id"]]} for i in range(3)]
    rows.append({"matchIdentifier": "email", "identifiers": {"email": "bad@example.org", "mobileNumber": "+44123"},
                 "lists": [book["id"]]})
    result = dd.wait_for_import(dd.start_import(rows))
    assert result["status"] == "Finished", result
    assert len(result["created"]) == 3 and len(result["failures"]) == 1, result
    assert len(sleeps) >= 2 and dd.rate_limited == 1
    assert len(sandbox.dotdigital_contacts()) == before + 3
    members = list(dd.contacts(list_id=book["id"], limit=2))
    assert sorted(c["identifiers"]["email"] for c in members) == [f"imp{i}@example.org" for i in range(3)]
    dd.remove_from_address_book(book["id"], [members[0]["contactId"]])
    assert len(list(dd.contacts(list_id=book["id"]))) == 2
    again = dd.wait_for_import(dd.start_import(rows[:3]))  # re-sending is an upsert
    assert len(again["updated"]) == 3 and len(sandbox.dotdigital_contacts()) == before + 3


def test_dotdigital_403_is_wrong_region_or_permission(sandbox):
    dd, _ = dotdigital(sandbox)
    dd.account_info()
    sandbox.faults.add("GET", r"/v2/data-fields", 403, times=2)
    with pytest.raises(PermissionDenied, match="wrong region or permission"):
        dd.data_fields()
