"""The Microsoft identity platform, as much as msal needs: the OpenID configuration
document and a v2.0 token endpoint for the client-credentials grant.

Other grants (device code, for issue 4) plug into ``TokenService.grants``: a grant handler
takes the form fields and returns a token response or raises ``HttpError``.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
import uuid
from collections.abc import Callable
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
        self.grants: dict[str, Callable[[dict[str, str]], dict]] = {
            "client_credentials": self._client_credentials,
            # "urn:ietf:params:oauth:grant-type:device_code": device code flow (issue 4)
        }

    def register(self, router: Router) -> None:
        t = self.tenant_id
        router.add("GET", rf"/{t}/v2\.0/\.well-known/openid-configuration", self.openid_config)
        router.add("POST", rf"/{t}/oauth2/v2\.0/token", self.token)

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
        wanted = [s for s in scope.split() if s.endswith("/.default")]
        resource = wanted[0][: -len("/.default")].rstrip("/") if wanted else ""
        if resource.lower() != self.audience.rstrip("/").lower():
            raise aad_error(400, "invalid_resource", 500011,
                            f"The resource principal named {resource or scope!r} was not found "
                            f"in the tenant named {self.tenant_id}.")

    # ------------------------------------------------------------ tokens
    def issue(self) -> dict:
        tok = "sbx." + secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[tok] = time.monotonic() + self.lifetime
            self.issued += 1
        return {"token_type": "Bearer", "expires_in": self.lifetime,
                "ext_expires_in": self.lifetime, "access_token": tok}

    def valid(self, token: str) -> bool:
        with self._lock:
            exp = self._tokens.get(token)
        return exp is not None and exp > time.monotonic()

    def expire_all(self) -> None:
        with self._lock:
            self._tokens.clear()
