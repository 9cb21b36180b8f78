"""auth_public.py: device code sign-in (scripted approval, cancel), persisted 0600 token cache."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
import time
import urllib.parse

import httpx
import pytest

from dynsync_tui.connectors.auth import MsalHttpClient
from dynsync_tui.connectors.auth_public import PersistentTokenCache, PublicTokens
from dynsync_tui.connectors.errors import AuthError, Cancelled

from .mock_http import Recorder, js

TENANT = "11111111-2222-3333-4444-555555555555"
AUTHORITY = f"https://login.sandbox.test/{TENANT}"
ENV = "https://contoso.crm4.dynamics.com"


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def id_token(user: str) -> str:
    now = int(time.time())
    claims = {"iss": f"{AUTHORITY}/v2.0", "sub": "s1", "aud": "app-id", "oid": "o1", "tid": TENANT,
              "preferred_username": user, "iat": now, "nbf": now, "exp": now + 3600}
    return f"{_b64({'alg': 'none'})}.{_b64(claims)}.sig"


class FakeIdp:
    def __init__(self, approve_after: int = 0, device_error: dict | None = None, prefix: str = "at") -> None:
        self.prefix = prefix
        self.approve_after = approve_after
        self.device_error = device_error
        self.polls = 0
        self.grants: list[str] = []
        self.rec = Recorder(self.handle)

    def handle(self, req: httpx.Request) -> httpx.Response:
        path = req.url.path
        if path.endswith("/.well-known/openid-configuration"):
            return js(200, {"issuer": AUTHORITY + "/v2.0", "authorization_endpoint": AUTHORITY + "/oauth2/v2.0/authorize",
                            "token_endpoint": AUTHORITY + "/oauth2/v2.0/token",
                            "device_authorization_endpoint": AUTHORITY + "/oauth2/v2.0/devicecode"})
        if path.endswith("/devicecode"):
            if self.device_error:
                return js(400, self.device_error)
            return js(200, {"device_code": "dc-1", "user_code": "ABCD-1234", "interval": 1, "expires_in": 900,
                            "verification_uri": "https://microsoft.com/devicelogin",
                            "message": "To sign in, open https://microsoft.com/devicelogin and enter ABCD-1234"})
        form = urllib.parse.parse_qs(req.content.decode())
        grant = form["grant_type"][0]
        self.grants.append(grant)
        if grant.endswith("device_code"):
            self.polls += 1
            if self.polls <= self.approve_after:
                return js(400, {"error": "authorization_pending", "error_description": "AADSTS70016: pending"})
        n = len(self.grants)
        return js(200, {"token_type": "Bearer", "expires_in": 3599, "access_token": f"{self.prefix}-{n}",
                        "refresh_token": f"rt-{n}", "id_token": id_token("admin@contoso.example"),
                        "client_info": _b64({"uid": "o1", "utid": TENANT}), "scope": f"{ENV}/user_impersonation"})


def tokens(idp: FakeIdp, **kw) -> PublicTokens:
    return PublicTokens(ENV, AUTHORITY, "app-id", mode="device_code",
                        http_client=MsalHttpClient(httpx.Client(transport=idp.rec.transport)), **kw)


def test_device_code_sign_in_then_silent_from_the_persisted_cache(tmp_path):
    cache = tmp_path / "cfg" / "token_cache.json"
    shown = []
    idp = FakeIdp()
    t = tokens(idp, cache_path=cache, on_device_code=lambda msg, flow: shown.append(msg))
    assert t.token() == "at-1"
    assert "ABCD-1234" in shown[0] and t.username == "admin@contoso.example" and t.sign_ins == 1
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(cache.parent).st_mode) == 0o700
    assert "rt-1" in cache.read_text()
    mtime = os.stat(cache).st_mtime_ns
    # a new process: the cache file signs us in silently, and an unchanged cache is not rewritten
    idp2 = FakeIdp(prefix="new")
    t2 = tokens(idp2, cache_path=cache, username="admin@contoso.example")
    assert t2.token() == "at-1" and t2.sign_ins == 0 and idp2.grants == []
    assert os.stat(cache).st_mtime_ns == mtime
    t2.invalidate()  # e.g. a 401 mid-run: refresh with the refresh token, no new sign-in
    assert t2.token() == "new-1"
    assert idp2.grants == ["refresh_token"] and t2.sign_ins == 0
    t2.logout()
    assert not cache.exists()


def test_device_code_polls_until_approved():
    idp = FakeIdp(approve_after=1)
    t = tokens(idp)
    assert t.token().startswith("at-") and idp.polls == 2


def test_device_code_cancel_stops_polling():
    idp = FakeIdp(approve_after=10_000)
    cancel = threading.Event()
    t = tokens(idp, cancel=cancel, on_device_code=lambda msg, flow: cancel.set())
    started = time.monotonic()
    with pytest.raises(Cancelled):
        t.token()
    assert time.monotonic() - started < 5 and idp.polls <= 3


def test_device_flow_refused_is_one_line():
    idp = FakeIdp(device_error={"error": "invalid_client",
                                "error_description": "AADSTS7000218: The request body must contain client_assertion"})
    with pytest.raises(AuthError, match="Allow public client flows") as exc:
        tokens(idp).token()
    assert "\n" not in str(exc.value)


def test_corrupt_cache_file_starts_empty(tmp_path):
    f = tmp_path / "c.json"
    f.write_text("{not json")
    c = PersistentTokenCache(f)
    assert c.save() is False and f.read_text() == "{not json"
