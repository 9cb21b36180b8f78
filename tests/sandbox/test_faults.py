"""Fault injection: injected statuses with Retry-After, counts, delays and dropped connections."""

from __future__ import annotations

import time

import httpx
import pytest

from .helpers import Dd, Dv


def test_429_with_retry_after_then_success(sb, dv):
    dv.fresh_token()
    sb.faults.add("GET", r"/api/data/v9\.2/contacts\?", 429, times=2, retry_after=3)
    first = dv.get("contacts", {"$select": "contactid", "$top": "1"})
    assert first.status_code == 429 and first.headers["Retry-After"] == "3"
    assert set(first.json()["error"]) == {"code", "message"}
    assert dv.get("contacts", {"$select": "contactid", "$top": "1"}).status_code == 429
    assert dv.get("contacts", {"$select": "contactid", "$top": "1"}).status_code == 200
    assert sb.faults.pending() == 0


def test_faults_match_method_and_path_only(sb, dv, dd):
    sb.faults.add("PUT", r"/contacts/v3/import$", 503, body={"errorCode": "custom", "description": "down"})
    assert dv.get("WhoAmI").status_code == 200
    assert dd.get("/v2/data-fields").status_code == 200
    r = dd.put("/contacts/v3/import", json={"contacts": [{"matchIdentifier": "email",
                                                           "identifiers": {"email": "f@example.org"}}]})
    assert r.status_code == 503 and r.json() == {"errorCode": "custom", "description": "down"}
    assert dd.put("/contacts/v3/import", json={"contacts": [{"matchIdentifier": "email",
                                                            "identifiers": {"email": "f@example.org"}}]}).status_code == 202


def test_v2_and_token_endpoint_fault_shapes(sb, dv, dd):
    sb.faults.add("*", r"/v2/address-books", 500)
    r = dd.get("/v2/address-books")
    assert r.status_code == 500 and "message" in r.json()
    sb.faults.add("POST", r"/oauth2/v2\.0/token", 503)
    r = dv.http.post(f"{sb.info.authority}/oauth2/v2.0/token", data={"grant_type": "client_credentials"})
    assert r.status_code == 503 and "error" in r.json()


def test_delay_and_drop(sb, dv):
    sb.faults.add("GET", r"WhoAmI", 0, delay=0.3)
    t = time.monotonic()
    assert dv.get("WhoAmI").status_code == 200
    assert time.monotonic() - t >= 0.3
    sb.faults.add("GET", r"WhoAmI", 0, drop=True)
    with pytest.raises(httpx.TransportError):
        dv.get("WhoAmI")
    assert dv.get("WhoAmI").status_code == 200


def test_request_log_counts_every_request(sb):
    dv, dd = Dv(sb), Dd(sb)
    before = len(sb.request_log)
    dv.get("WhoAmI")
    dd.get("/v2/account-info")
    new = sb.request_log[before:]
    assert ("GET", "/api/data/v9.2/WhoAmI") in new and ("GET", "/dotdigital/v2/account-info") in new
    assert any(m == "POST" and p.endswith("/oauth2/v2.0/token") for m, p in new)


def test_rate_is_deterministic_and_partial(sb, dv):
    def pattern():
        sb.faults.clear()
        sb.faults.seed(7)
        sb.faults.add("GET", r"WhoAmI", 503, times=-1, rate=0.3)
        out = [dv.get("WhoAmI").status_code for _ in range(40)]
        sb.faults.clear()
        return out
    first, second = pattern(), pattern()
    assert first == second and 3 <= first.count(503) <= 20 and 200 in first


def test_truncated_and_non_json_bodies(sb, dv):
    sb.faults.add("GET", r"WhoAmI", 0, truncate=True)
    with pytest.raises(httpx.TransportError):
        dv.get("WhoAmI")
    sb.faults.add("GET", r"WhoAmI", 502, body="<html><body>Bad gateway</body></html>")
    r = dv.get("WhoAmI")
    assert r.status_code == 502 and r.text.startswith("<html>") and "text/html" in r.headers["Content-Type"]
    assert dv.get("WhoAmI").status_code == 200


def test_fault_plan_loading(sb, dv):
    sb.faults.load([{"method": "GET", "path_regex": "WhoAmI", "status": 503, "times": 1}])
    assert dv.get("WhoAmI").status_code == 503
    for bad, text in (([{"method": "GET", "path_regex": "x", "status": 500, "colour": 1}], "unknown key 'colour'"),
                      ([{"method": "GET", "status": 500}], "missing key 'path_regex'"),
                      ([{"method": "GET", "path_regex": "(", "status": 500}], "not a regular expression")):
        with pytest.raises(ValueError, match=text):
            sb.faults.load(bad)


def test_keep_alive_reuses_one_connection(sb):
    dv = Dv(sb)
    dv.fresh_token()
    before = sb.connections
    for _ in range(20):
        assert dv.get("contacts", {"$select": "contactid", "$top": "5"}).status_code == 200
    assert sb.connections - before <= 1


def test_dataverse_service_protection_limit(sb, dv):
    dv.fresh_token()
    sb.set_dataverse_limit(3, window_s=2.0)
    try:
        codes = [dv.get("WhoAmI") for _ in range(4)]
        assert [r.status_code for r in codes] == [200, 200, 200, 429]
        assert codes[-1].json()["error"]["code"] == "0x80072322"
        assert 1 <= int(codes[-1].headers["Retry-After"]) <= 2
    finally:
        sb.set_dataverse_limit(None)
    assert dv.get("WhoAmI").status_code == 200


def test_dotdigital_tier_limits_and_reset_styles(sb, dd):
    rates = sb.dotdigital.rates
    old = dict(rates.limits)
    rates.limits["high"] = 2
    rates.reset()
    try:
        got = [dd.get("/v2/account-info") for _ in range(3)]
        assert [r.status_code for r in got] == [200, 200, 429]
        assert got[1].headers["X-RateLimit-Remaining"] == "0" and got[2].headers["X-RateLimit-Scope"] == "high"
        assert 1 <= int(got[2].headers["X-RateLimit-Reset"]) <= 60
        assert dd.get("/v2/data-fields").status_code == 200  # another tier
        rates.reset_as_epoch = True
        assert int(dd.get("/v2/data-fields").headers["X-RateLimit-Reset"]) > 1_000_000_000
    finally:
        rates.limits.update(old)
        rates.reset_as_epoch = False
        rates.reset()


def test_concurrent_readers_writers_and_imports_stay_healthy(sb):
    import threading

    errors: list[str] = []
    ids = [r["contactid"] for r in sb.records("contact")][:200]

    def reader():
        dv = Dv(sb)
        try:
            rows, _ = dv.all_pages("contacts", {"$select": "contactid", "$filter": "statecode eq 0"},
                                   "odata.maxpagesize=500")
            assert len(rows) == len({r["contactid"] for r in rows})
            assert dv.get("listmembers", {"$select": "_entityid_value"}).status_code == 200
        except Exception as exc:  # collected: assertion errors in threads would be lost
            errors.append(repr(exc))

    def writer():
        for i, cid in enumerate(ids):
            sb.update_record("contact", cid, jobtitle=f"Role {i}")
            sb.insert_record("listmember", _listid_value=None, _entityid_value=cid)

    def importer():
        dd = Dd(sb)
        for b in range(3):
            r = dd.put("/contacts/v3/import", json={"contacts": [
                {"matchIdentifier": "email", "identifiers": {"email": f"conc{b}-{i}@example.org"}}
                for i in range(300)]})
            if r.status_code != 202:
                errors.append(r.text)
            for _ in range(50):
                if dd.get("/v2/address-books").status_code != 200:
                    errors.append("address-books failed")
                    break

    threads = [threading.Thread(target=f) for f in (reader, reader, reader, writer, importer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
