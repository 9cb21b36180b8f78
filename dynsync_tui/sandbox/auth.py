"""The Microsoft identity platform, as much as msal needs: the OpenID configuration
document and a v2.0 token endpoint for client credentials (secret or certificate
assertion), the device code flow (approved by a test hook) and refresh tokens.

Grants plug into ``TokenService.grants``: a handler takes the form fields and returns a
token response or raises ``HttpError``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from dynsync_tui.sandbox.server import HttpError, Request, Response, Router

TOKEN_LIFETIME = 3600


def aad_error(status: int, error: str, code: int, text: str) -> HttpError:
    now = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    return HttpError(Response(status, {
        "error": error,
        "error_description": f"AADSTS{code}: {text} Trace ID: {uuid.uuid4()} Timestamp: {now}",
        "error_codes": [code], "timestamp": now, "trace_id": str(uuid.uuid4()),
        "correlation_id": str(uuid.uuid4()),
    }))


class TokenService:
    def __init__(self, tenant_id: str, client_id: str, client_secret: str) -> None:
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.base_url = ""  # set once the port is known
        self.audience = ""  # the Dataverse URL tokens are issued for
        self.lifetime = TOKEN_LIFETIME
        self._tokens: dict[str, float] = {}  # access token → expiry (monotonic)
        self._lock = threading.Lock()
        self.issued = 0
        self.device_interval = 1  # seconds msal waits between device-code polls
        self.auto_approve = False  # approve device codes on their first poll (headless tests)
        self.user = "admin@sandbox.example"
        self._devices: dict[str, dict] = {}  # device_code → {user_code, state, expires}
        self._refresh: dict[str, str] = {}  # refresh token → scope
        self.certificates: dict[str, Any] = {}  # base64url SHA-1 thumbprint → public key
        self.grants: dict[str, Callable[[dict[str, str]], dict]] = {
            "client_credentials": self._client_credentials,
            "urn:ietf:params:oauth:grant-type:device_code": self._device_code,
            "refresh_token": self._refresh_token,
        }

    def register(self, router: Router) -> None:
        t = self.tenant_id
        router.add("GET", rf"/{t}/v2\.0/\.well-known/openid-configuration", self.openid_config)
        router.add("POST", rf"/{t}/oauth2/v2\.0/token", self.token)
        router.add("POST", rf"/{t}/oauth2/v2\.0/devicecode", self.devicecode)

    # ------------------------------------------------------------ endpoints
    def openid_config(self, req: Request, m) -> Response:
        a = f"{self.base_url}/{self.tenant_id}"
        return Response(200, {
            "token_endpoint": f"{a}/oauth2/v2.0/token",
            "authorization_endpoint": f"{a}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{a}/oauth2/v2.0/devicecode",
            "issuer": f"{a}/v2.0",
            "jwks_uri": f"{a}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                      "client_secret_basic"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "tenant_region_scope": "EU",
        })

    def token(self, req: Request, m) -> Response:
        form = dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
        grant = form.get("grant_type", "")
        handler = self.grants.get(grant)
        if handler is None:
            raise aad_error(400, "unsupported_grant_type", 70003,
                            f"The app requested an unsupported grant type '{grant}'.")
        return Response(200, handler(form), {"Cache-Control": "no-store"})

    def _client_credentials(self, form: dict[str, str]) -> dict:
        client_id = form.get("client_id", "")
        if client_id != self.client_id:
            raise aad_error(400, "unauthorized_client", 700016,
                            f"Application with identifier '{client_id}' was not found in the "
                            f"directory '{self.tenant_id}'.")
        secret = form.get("client_secret")
        if secret is None and form.get("client_assertion"):
            self._check_assertion(form["client_assertion"])
            self._check_scope(form.get("scope", ""))
            return self.issue()
        if secret is None:
            raise aad_error(401, "invalid_client", 7000216,
                            "'client_assertion', 'client_secret' or 'request' is required for "
                            "the 'client_credentials' grant type.")
        if not hmac.compare_digest(secret.encode(), self.client_secret.encode()):
            raise aad_error(401, "invalid_client", 7000215,
                            "Invalid client secret provided. Ensure the secret being sent in the "
                            "request is the client secret value, not the client secret ID, for a "
                            f"secret added to app '{self.client_id}'.")
        self._check_scope(form.get("scope", ""))
        return self.issue()

    def _check_scope(self, scope: str) -> None:
        wanted = [s for s in scope.split() if s.endswith(("/.default", "/user_impersonation"))]
        resource = wanted[0].rsplit("/", 1)[0].rstrip("/") if wanted else ""
        if resource.lower() != self.audience.rstrip("/").lower():
            raise aad_error(400, "invalid_resource", 500011,
                            f"The resource principal named {resource or scope!r} was not found "
                            f"in the tenant named {self.tenant_id}.")

    # ------------------------------------------------------------ tokens
    def issue(self, scope: str = "", user: bool = False) -> dict:
        tok = "sbx." + secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[tok] = time.monotonic() + self.lifetime
            self.issued += 1
        out: dict[str, Any] = {"token_type": "Bearer", "expires_in": self.lifetime,
                               "ext_expires_in": self.lifetime, "access_token": tok}
        if user:  # delegated flows also get a refresh token, an id token and client info
            refresh = "sbr." + secrets.token_urlsafe(32)
            with self._lock:
                self._refresh[refresh] = scope
            oid = str(uuid.uuid5(uuid.UUID(self.tenant_id), self.user))
            now = int(time.time())
            claims = {"iss": f"{self.base_url}/{self.tenant_id}/v2.0", "sub": oid, "aud": self.client_id,
                      "exp": now + self.lifetime, "iat": now, "nbf": now, "oid": oid,
                      "tid": self.tenant_id, "preferred_username": self.user, "name": "Sandbox Admin"}
            out.update(refresh_token=refresh, scope=scope, id_token=_jwt(claims),
                       client_info=_b64(json.dumps({"uid": oid, "utid": self.tenant_id}).encode()))
        return out

    def valid(self, token: str) -> bool:
        with self._lock:
            exp = self._tokens.get(token)
        return exp is not None and exp > time.monotonic()

    def expire_all(self) -> None:
        with self._lock:
            self._tokens.clear()

    # ------------------------------------------------------------ device code (public client)
    def devicecode(self, req: Request, m) -> Response:
        form = dict(parse_qsl(req.body.decode("utf-8", "replace")))
        if form.get("client_id") != self.client_id:
            raise aad_error(400, "unauthorized_client", 700016,
                            f"Application with identifier '{form.get('client_id')}' was not found.")
        self._check_scope(form.get("scope", ""))
        device = secrets.token_urlsafe(24)
        user_code = "".join(secrets.choice("BCDFGHJKLMNPQRSTVWXZ23456789") for _ in range(9))
        with self._lock:
            self._devices[device] = {"user_code": user_code, "state": "pending",
                                     "scope": form.get("scope", ""), "expires": time.monotonic() + 900}
        uri = f"{self.base_url}/devicelogin"
        return Response(200, {
            "device_code": device, "user_code": user_code, "verification_uri": uri,
            "expires_in": 900, "interval": self.device_interval,
            "message": f"To sign in, use a web browser to open the page {uri} and enter the code "
                       f"{user_code} to authenticate."})

    def decide_device_code(self, user_code: str | None, approve: bool) -> int:
        """Approve (or decline) pending device codes; ``None`` means all. → how many."""
        n = 0
        with self._lock:
            for d in self._devices.values():
                if d["state"] == "pending" and user_code in (None, d["user_code"]):
                    d["state"] = "approved" if approve else "declined"
                    n += 1
        return n

    def _device_code(self, form: dict[str, str]) -> dict:
        with self._lock:
            d = self._devices.get(form.get("device_code", ""))
        if d is None or d["expires"] < time.monotonic():
            raise aad_error(400, "expired_token", 70020, "The provided value for the input "
                            "parameter 'device_code' is not valid or has expired.")
        if d["state"] == "pending" and self.auto_approve:
            d["state"] = "approved"
        if d["state"] == "pending":
            raise aad_error(400, "authorization_pending", 70016,
                            "OAuth 2.0 device flow error. Authorization is pending.")
        if d["state"] == "declined":
            raise aad_error(400, "authorization_declined", 70000, "The user declined the sign-in.")
        with self._lock:
            self._devices.pop(form["device_code"], None)
        return self.issue(d["scope"], user=True)

    def _refresh_token(self, form: dict[str, str]) -> dict:
        with self._lock:
            scope = self._refresh.pop(form.get("refresh_token", ""), None)
        if scope is None:
            raise aad_error(400, "invalid_grant", 700082, "The refresh token has expired or is invalid.")
        return self.issue(form.get("scope") or scope, user=True)

    # ------------------------------------------------------------ certificate credentials
    def register_certificate(self, cert_pem: bytes) -> str:
        """Trust an app certificate (as uploaded to the app registration). → its thumbprint (hex)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        cert = x509.load_pem_x509_certificate(cert_pem)
        der = cert.public_bytes(serialization.Encoding.DER)
        sha1 = hashlib.sha1(der).digest()  # noqa: S324 - the portal's thumbprint is SHA-1
        self.certificates[_b64(sha1)] = self.certificates[_b64(hashlib.sha256(der).digest())] = cert.public_key()
        return sha1.hex().upper()

    def _check_assertion(self, assertion: str) -> None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        try:
            head_b64, body_b64, sig_b64 = assertion.split(".")
            head = json.loads(_unb64(head_b64))
            claims = json.loads(_unb64(body_b64))
            sig = _unb64(sig_b64)
        except ValueError:
            raise aad_error(401, "invalid_client", 50027, "Invalid JWT token.") from None
        key = (self.certificates.get(str(head.get("x5t#S256", "")).rstrip("="))
               or self.certificates.get(str(head.get("x5t", "")).rstrip("=")))
        if key is None:
            raise aad_error(401, "invalid_client", 700027, "The certificate with identifier used "
                            "to sign the client assertion is not registered on the application.")
        pad = padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH) \
            if head.get("alg") == "PS256" else padding.PKCS1v15()
        try:
            key.verify(sig, f"{head_b64}.{body_b64}".encode(), pad, hashes.SHA256())
        except InvalidSignature:
            raise aad_error(401, "invalid_client", 700027, "Client assertion failed signature "
                            "validation.") from None
        if claims.get("iss") != self.client_id or claims.get("sub") != self.client_id:
            raise aad_error(401, "invalid_client", 700023, "The client assertion names another client.")
        if claims.get("exp", 0) < time.time():
            raise aad_error(401, "invalid_client", 500133, "The client assertion has expired.")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _jwt(claims: dict) -> str:
    head = _b64(json.dumps({"typ": "JWT", "alg": "none"}).encode())
    return f"{head}.{_b64(json.dumps(claims).encode())}."
