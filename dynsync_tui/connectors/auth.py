"""Sign-in to Dataverse with msal: the app-user (confidential client) modes.

``ConfidentialTokens`` asks msal for a token before every request (msal serves it from its
in-memory cache until close to expiry), so a run that outlives a token refreshes silently.
msal talks HTTP through :class:`MsalHttpClient`, our httpx client, so the sandbox's own CA
certificate is trusted without touching global SSL settings. Tokens are never logged or stored.
"""

from __future__ import annotations

import hashlib
import re
import threading
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import httpx
import msal

from dynsync_tui.connectors.errors import AuthError, one_line
from dynsync_tui.connectors.http import make_client

MICROSOFT_AUTHORITY_HOSTS = frozenset({
    "login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net",
    "login.microsoftonline.us", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn",
})

AADSTS_HINTS: dict[str, str] = {
    "7000215": "wrong client secret: paste the secret's Value, not its Secret ID",
    "700016": "this client ID is not registered in that tenant: check the client ID and tenant ID",
    "50194": "the app is single-tenant: set the tenant ID instead of 'common'",
    "7000218": "public sign-in is off for this app: enable 'Allow public client flows' "
               "(Mobile and desktop platform)",
    "65001": "the Dynamics CRM user_impersonation permission is not consented: ask an admin to grant it",
    "50076": "the tenant requires multi-factor sign-in: use interactive sign-in",
    "50079": "the tenant requires multi-factor sign-in: use interactive sign-in",
    "700082": "the saved sign-in expired: sign in again",
    "700027": "the certificate was rejected: upload the leaf certificate and check the thumbprint",
    "50027": "the signed client assertion was malformed: check the certificate and key",
    "90002": "tenant not found: check the tenant ID",
    "900023": "the tenant ID is malformed: use the Directory (tenant) ID GUID or domain",
}
ERROR_HINTS: dict[str, str] = {
    "authorization_declined": "sign-in was declined; try again",
    "expired_token": "the device code expired before sign-in finished; try again",
    "invalid_client": "the app's credentials were rejected: check the client secret or certificate",
    "unauthorized_client": "this app may not use that sign-in mode: check the app registration",
}
_AADSTS = re.compile(r"AADSTS(\d+)")


def friendly_msal_error(result: dict[str, Any] | None, *, context: str = "Sign-in") -> AuthError:
    """An AuthError with one readable line from an msal result that has no access_token."""
    result = result or {}
    error = str(result.get("error") or "unknown_error")
    desc = str(result.get("error_description") or "")
    m = _AADSTS.search(desc)
    code = f"AADSTS{m.group(1)}" if m else error
    hint = AADSTS_HINTS.get(m.group(1), "") if m else ""
    hint = hint or ERROR_HINTS.get(error, "")
    first = one_line(re.split(r"\s*Trace ID:", desc)[0], 200) if desc else error
    message = f"{context} failed: {hint} ({code})" if hint else f"{context} failed: {first}"
    return AuthError(message, code=code, service="Microsoft Entra")


def _timeout(kwargs: dict[str, Any]) -> Any:
    """msal may pass ``timeout``; None must not mean "no timeout" to httpx."""
    return kwargs.get("timeout") or httpx.USE_CLIENT_DEFAULT


class MsalHttpClient:
    """The minimal HTTP client msal accepts as ``http_client``, on top of ``httpx.Client``.

    ``get``/``post`` return ``httpx.Response`` objects, which have what msal reads:
    ``status_code``, ``text``, ``headers`` and ``raise_for_status()``.
    """

    def __init__(self, client: httpx.Client | None = None, *, ca_file: str | Path | None = None) -> None:
        self._client = client or make_client("", ca_file=ca_file, timeout=30.0)
        self.requests = 0

    def get(self, url: str, params: dict | None = None, headers: dict | None = None,
            **kwargs: Any) -> httpx.Response:
        self.requests += 1
        return self._client.get(url, params=params, headers=headers, timeout=_timeout(kwargs))

    def post(self, url: str, params: dict | None = None, data: Any = None, headers: dict | None = None,
             **kwargs: Any) -> httpx.Response:
        self.requests += 1
        if isinstance(data, dict):  # msal puts bytes in the form (a signed client assertion)
            form = {k: v.decode() if isinstance(v, bytes) else v for k, v in data.items()}
            body: dict[str, Any] = {"data": form}
        else:
            body = {"content": data}
        return self._client.post(url, params=params, headers=headers, timeout=_timeout(kwargs), **body)

    def close(self) -> None:
        self._client.close()


@runtime_checkable
class TokenProvider(Protocol):
    def token(self) -> str:
        """A valid access token (fresh from msal's cache or the token endpoint)."""

    def invalidate(self) -> None:
        """Forget the current token: the next token() fetches a new one."""


def normalise_env_url(url: str) -> str:
    """``https://Org.crm4.dynamics.com/api/data/v9.2/`` → ``https://org.crm4.dynamics.com``."""
    raw = url.strip()
    if "://" not in raw:
        raw = "https://" + raw
    parts = urlsplit(raw)
    path = parts.path.split("/api/data")[0].rstrip("/")
    host = parts.netloc.lower()
    if not host:
        raise AuthError(f"environment URL {url!r}: expected https://<org>.<region>.dynamics.com")
    return f"https://{host}{path}"


def msal_authority_kwargs(authority: str) -> dict[str, Any]:
    """Instance discovery only for Microsoft's own hosts (the sandbox is not one)."""
    host = (urlsplit(authority).hostname or "").lower()
    return {} if host in MICROSOFT_AUTHORITY_HOSTS else {"instance_discovery": False}


def _cert_thumbprint(pem: str) -> str:
    from cryptography import x509

    m = re.search(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", pem, re.S)
    if not m:
        return ""
    cert = x509.load_pem_x509_certificate(m.group(0).encode())
    from cryptography.hazmat.primitives import serialization

    return hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()


def certificate_credential(path: str | Path, thumbprint: str = "", passphrase: str | None = None) -> dict[str, Any]:
    """The msal ``client_credential`` mapping for a PEM private key (+ thumbprint) or a .pfx file.

    With a PEM that also holds the certificate, the thumbprint may be left empty: it is computed.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise AuthError(f"certificate {p}: file not found")
    if p.suffix.lower() in (".pfx", ".p12"):
        cred: dict[str, Any] = {"private_key_pfx_path": str(p)}
    else:
        try:
            pem = p.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError):
            raise AuthError(f"certificate {p}: not a PEM text file (use .pfx for binary)") from None
        if "PRIVATE KEY-----" not in pem:
            raise AuthError(f"certificate {p}: no PRIVATE KEY block in the PEM file")
        thumb = re.sub(r"[^0-9A-Fa-f]", "", thumbprint) or _cert_thumbprint(pem)
        if len(thumb) != 40:
            raise AuthError(f"certificate {p}: set certificate_thumbprint (40 hex digits, as in the portal)")
        cred = {"private_key": pem, "thumbprint": thumb.upper()}
    if passphrase:
        cred["passphrase"] = passphrase
    return cred


class ConfidentialTokens:
    """App-user tokens (client credentials) for one environment.

    ``credential`` is the client secret (str) or a certificate mapping from
    :func:`certificate_credential`. msal is built lazily, on the first ``token()``.
    """

    def __init__(self, env_url: str, authority: str, client_id: str, credential: str | dict[str, Any],
                 *, ca_file: str | Path | None = None, http_client: MsalHttpClient | None = None) -> None:
        if not client_id:
            raise AuthError("client ID is empty: set [dynamics] client_id (the app registration's Application ID)")
        if not credential:
            raise AuthError("client secret is empty: set DYNSYNC_CLIENT_SECRET or configure a certificate")
        self.env_url = normalise_env_url(env_url)
        self.scopes = [f"{self.env_url}/.default"]
        self.authority = authority.rstrip("/")
        self.client_id = client_id
        self._credential = credential
        self.http = http_client or MsalHttpClient(ca_file=ca_file)
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()
        self.acquired = 0  # tokens fetched from the token endpoint (not cache hits)

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            try:
                self._app = msal.ConfidentialClientApplication(
                    self.client_id, client_credential=self._credential, authority=self.authority,
                    http_client=self.http, **msal_authority_kwargs(self.authority))
            except ValueError as exc:
                raise AuthError(f"Sign-in failed: authority {self.authority}: {one_line(exc, 200)}") from None
            except httpx.HTTPError as exc:
                raise AuthError(f"Sign-in failed: cannot reach {self.authority} ({exc.__class__.__name__})") from None
        return self._app

    def token(self) -> str:
        with self._lock:
            app = self._application()
            try:
                result = app.acquire_token_for_client(self.scopes)
            except httpx.HTTPError as exc:
                raise AuthError(f"Sign-in failed: cannot reach the token endpoint ({exc.__class__.__name__})") from None
            except ValueError as exc:  # e.g. a key that does not parse
                raise AuthError(f"Sign-in failed: {one_line(exc, 200)}") from None
        if not result or "access_token" not in result:
            raise friendly_msal_error(result)
        if result.get("token_source") == "identity_provider":
            self.acquired += 1
        return result["access_token"]

    def invalidate(self) -> None:
        with self._lock:
            if self._app is None:
                return
            cache = self._app.token_cache
            for at in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                cache.remove_at(at)


class StaticToken:
    """A fixed token (tests and benchmarks): ``invalidate`` counts calls."""

    def __init__(self, value: str = "test-token") -> None:
        self.value = value
        self.invalidated = 0

    def token(self) -> str:
        return self.value

    def invalidate(self) -> None:
        self.invalidated += 1


__all__ = [
    "AADSTS_HINTS", "ConfidentialTokens", "MsalHttpClient", "StaticToken", "TokenProvider",
    "certificate_credential", "friendly_msal_error", "msal_authority_kwargs", "normalise_env_url",
]
