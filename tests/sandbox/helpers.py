"""Test helpers: clients that trust only the sandbox certificate, real msal, small callers."""

from __future__ import annotations

import ssl

import httpx
import msal

from dynsync_tui.sandbox import Sandbox, SandboxInfo

API = "/api/data/v9.2/"


class MsalHttp:
    """The small adapter msal wants (``post``/``get`` returning objects with status_code/text)."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def post(self, url, params=None, data=None, headers=None, **_kw):
        if isinstance(data, dict):  # msal hands the certificate assertion over as bytes
            data = {k: v.decode() if isinstance(v, bytes) else v for k, v in data.items()}
        return self.client.post(url, params=params, data=data, headers=headers)

    def get(self, url, params=None, headers=None, **_kw):
        return self.client.get(url, params=params, headers=headers)

    def close(self) -> None:
        pass


def trusting_client(info: SandboxInfo, **kw) -> httpx.Client:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(info.ca_file))  # nothing else is trusted
    return httpx.Client(verify=ctx, timeout=30, **kw)


def msal_app(info: SandboxInfo, client: httpx.Client, secret: str | None = None):
    return msal.ConfidentialClientApplication(
        info.client_id, client_credential=secret or info.client_secret, authority=info.authority,
        instance_discovery=False, http_client=MsalHttp(client))


class Dv:
    """A tiny Dataverse caller for tests: bearer token from real msal."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.http = trusting_client(sb.info)
        self.app = msal_app(sb.info, self.http)
        self.token = ""

    def fresh_token(self) -> str:
        res = self.app.acquire_token_for_client([f"{self.sb.info.dataverse_url}/.default"])
        assert "access_token" in res, res
        self.token = res["access_token"]
        return self.token

    def get(self, path: str, params: dict | None = None, prefer: str | None = None,
            token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token or self.fresh_token()}",
                   "Accept": "application/json", "OData-Version": "4.0"}
        if prefer:
            headers["Prefer"] = prefer
        url = path if path.startswith("https://") else self.sb.info.dataverse_url + API + path
        return self.http.get(url, params=params, headers=headers)

    def all_pages(self, path: str, params: dict, prefer: str) -> tuple[list[dict], int]:
        rows, pages = [], 0
        resp = self.get(path, params, prefer)
        while True:
            assert resp.status_code == 200, resp.text
            body = resp.json()
            rows += body["value"]
            pages += 1
            if "@odata.nextLink" not in body:
                return rows, pages
            resp = self.get(body["@odata.nextLink"], prefer=prefer)


class Dd:
    """A tiny Dotdigital caller for tests (Basic auth)."""

    def __init__(self, sb: Sandbox) -> None:
        self.base = sb.info.dotdigital_url
        self.http = trusting_client(sb.info, auth=(sb.info.api_user, sb.info.api_password))

    def __getattr__(self, method: str):
        call = getattr(self.http, method)
        return lambda path, **kw: call(self.base + path, **kw)


