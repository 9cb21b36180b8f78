"""Token endpoint: real msal client credentials over HTTPS; bearer checks on Dataverse."""

from __future__ import annotations

import httpx
import pytest

from .helpers import API, msal_app, trusting_client


def test_msal_client_credentials_token_is_accepted_by_dataverse(sb, dv):
    res = msal_app(sb.info, dv.http).acquire_token_for_client([f"{sb.info.dataverse_url}/.default"])
    assert res.get("token_type") == "Bearer" and 3000 < res["expires_in"] <= 3600
    who = dv.get("WhoAmI", token=res["access_token"])
    assert who.status_code == 200
    assert who.json()["OrganizationId"] == sb.info.org_id


def test_wrong_secret_gives_aadsts7000215(sb, dv):
    res = msal_app(sb.info, dv.http, secret="not-the-secret").acquire_token_for_client(
        [f"{sb.info.dataverse_url}/.default"])
    assert "access_token" not in res
    assert res["error"] == "invalid_client" and "AADSTS7000215" in res["error_description"]


def test_unknown_client_and_wrong_resource_are_refused(sb, dv):
    url = f"{sb.info.authority}/oauth2/v2.0/token"
    form = {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x",
            "scope": f"{sb.info.dataverse_url}/.default"}
    r = dv.http.post(url, data=form)
    assert r.status_code == 400 and "AADSTS700016" in r.json()["error_description"]
    form.update(client_id=sb.info.client_id, client_secret=sb.info.client_secret,
                scope="https://other.crm.dynamics.com/.default")
    r = dv.http.post(url, data=form)
    assert r.status_code == 400 and r.json()["error_codes"] == [500011]
    r = dv.http.post(url, data={**form, "grant_type": "password"})
    assert r.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize("header", [None, "Bearer nonsense", "Basic abc"])
def test_dataverse_requires_a_valid_bearer(sb, dv, header):
    headers = {"Authorization": header} if header else {}
    r = dv.http.get(sb.info.dataverse_url + API + "contacts", headers=headers)
    assert r.status_code == 401
    assert set(r.json()["error"]) == {"code", "message"}
    assert "Bearer" in r.headers["WWW-Authenticate"]


def test_expire_tokens_forces_a_refresh(sb, dv):
    old = dv.fresh_token()
    assert dv.get("WhoAmI", token=old).status_code == 200
    sb.expire_tokens()
    assert dv.get("WhoAmI", token=old).status_code == 401
    fresh = msal_app(sb.info, dv.http).acquire_token_for_client([f"{sb.info.dataverse_url}/.default"])
    assert fresh["access_token"] != old
    assert dv.get("WhoAmI", token=fresh["access_token"]).status_code == 200
    dv.token = fresh["access_token"]


def test_certificate_is_the_only_trust_and_binds_loopback(sb):
    with httpx.Client(timeout=5) as plain:  # system trust store: must not know our certificate
        with pytest.raises(httpx.ConnectError):
            plain.get(sb.info.dataverse_url + API + "WhoAmI")
    with trusting_client(sb.info) as c:
        assert c.get(sb.info.dataverse_url + API + "WhoAmI").status_code == 401
    assert sb.info.dataverse_url.startswith("https://127.0.0.1:")
    assert "PRIVATE KEY" not in sb.info.ca_file.read_text()
    assert sb.info.client_secret not in repr(sb.info) and sb.info.api_password not in repr(sb.info)
