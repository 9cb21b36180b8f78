"""auth.py: msal through our httpx adapter, client secret and certificate, friendly errors."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import urllib.parse

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from dynsync_tui.connectors.auth import (
    ConfidentialTokens, MsalHttpClient, TokenProvider, certificate_credential, friendly_msal_error,
    normalise_env_url,
)
from dynsync_tui.connectors.errors import AuthError

from .mock_http import Recorder, js

AUTHORITY = "https://login.sandbox.test/11111111-2222-3333-4444-555555555555"
ENV = "https://contoso.crm4.dynamics.com"


def idp(error: dict | None = None):
    """A fake identity provider: OIDC discovery + token endpoint issuing numbered tokens."""
    issued = []

    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path.endswith("/.well-known/openid-configuration"):
            base = AUTHORITY
            return js(200, {"issuer": base + "/v2.0", "authorization_endpoint": base + "/oauth2/v2.0/authorize",
                            "token_endpoint": base + "/oauth2/v2.0/token",
                            "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode"})
        assert req.url.path.endswith("/oauth2/v2.0/token"), req.url
        form = urllib.parse.parse_qs(req.content.decode())
        issued.append(form)
        if error:
            return js(400, error)
        return js(200, {"token_type": "Bearer", "expires_in": 3599, "access_token": f"at-{len(issued)}"})
    return Recorder(handler), issued


def tokens_for(rec: Recorder, credential) -> ConfidentialTokens:
    return ConfidentialTokens(ENV + "/api/data/v9.2/", AUTHORITY, "app-id", credential,
                              http_client=MsalHttpClient(httpx.Client(transport=rec.transport)))


def test_client_secret_token_is_cached_and_invalidate_forces_a_new_one():
    rec, issued = idp()
    t = tokens_for(rec, "s3cret-value")
    assert isinstance(t, TokenProvider)
    assert t.token() == "at-1" and t.token() == "at-1"  # msal's cache serves the second
    assert len(issued) == 1 and t.acquired == 1
    form = issued[0]
    assert form["grant_type"] == ["client_credentials"] and form["client_secret"] == ["s3cret-value"]
    assert form["scope"] == [f"{ENV}/.default"]
    assert not any("instance" in str(r.url) or "microsoftonline" in str(r.url) for r in rec.requests)
    t.invalidate()
    assert t.token() == "at-2" and len(issued) == 2


def test_aadsts_codes_become_friendly_one_liners():
    rec, _ = idp({"error": "invalid_client",
                  "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: abc"})
    with pytest.raises(AuthError) as exc:
        tokens_for(rec, "secret-id-pasted").token()
    assert exc.value.code == "AADSTS7000215"
    assert "paste the secret's Value, not its Secret ID" in exc.value.message and "\n" not in exc.value.message
    assert "secret-id-pasted" not in exc.value.message
    e = friendly_msal_error({"error": "invalid_grant", "error_description": "AADSTS700082: expired"})
    assert "sign in again" in e.message
    e = friendly_msal_error({"error": "weird", "error_description": "Something odd.\nTrace ID: 1"})
    assert e.message == "Sign-in failed: Something odd." and e.code == "weird"
    assert "declined" in friendly_msal_error({"error": "authorization_declined"}).message


def test_unreachable_authority_is_one_line():
    rec = Recorder(handler=lambda r: httpx.Response(404, text="no such tenant"))
    with pytest.raises(AuthError, match="Sign-in failed: authority"):
        tokens_for(rec, "x").token()


def _rsa_cert(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dynsync-test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    thumb = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return key, cert, key_pem, cert_pem, thumb


def test_certificate_credential_pem_and_pfx(tmp_path):
    key, cert, key_pem, cert_pem, thumb = _rsa_cert(tmp_path)
    both = tmp_path / "app.pem"
    both.write_bytes(key_pem + cert_pem)
    cred = certificate_credential(both)
    assert cred["thumbprint"] == thumb and "PRIVATE KEY" in cred["private_key"]
    key_only = tmp_path / "key.pem"
    key_only.write_bytes(key_pem)
    with pytest.raises(AuthError, match="certificate_thumbprint"):
        certificate_credential(key_only)
    spaced = " ".join(thumb[i:i + 2] for i in range(0, 40, 2)).lower()
    assert certificate_credential(key_only, spaced)["thumbprint"] == thumb
    cert_only = tmp_path / "cert.pem"
    cert_only.write_bytes(cert_pem)
    with pytest.raises(AuthError, match="no PRIVATE KEY"):
        certificate_credential(cert_only)
    with pytest.raises(AuthError, match="file not found"):
        certificate_credential(tmp_path / "missing.pem")
    pfx = tmp_path / "app.pfx"
    pfx.write_bytes(pkcs12.serialize_key_and_certificates(b"app", key, cert, None,
                                                          serialization.BestAvailableEncryption(b"pw")))
    assert certificate_credential(pfx, passphrase="pw") == {"private_key_pfx_path": str(pfx), "passphrase": "pw"}


def test_certificate_sign_in_sends_a_signed_assertion(tmp_path):
    _, _, key_pem, cert_pem, thumb = _rsa_cert(tmp_path)
    path = tmp_path / "app.pem"
    path.write_bytes(key_pem + cert_pem)
    rec, issued = idp()
    t = tokens_for(rec, certificate_credential(path))
    assert t.token() == "at-1"
    form = issued[0]
    assert form["client_assertion_type"] == ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]
    assertion = form["client_assertion"][0]
    head = json.loads(base64.urlsafe_b64decode(assertion.split(".")[0] + "=="))
    assert head["alg"] in ("RS256", "PS256") and ("x5t" in head or "x5t#S256" in head)
    assert assertion.count(".") == 2 and "client_secret" not in form


def test_empty_settings_and_env_url_normalising():
    with pytest.raises(AuthError, match="client ID is empty"):
        ConfidentialTokens(ENV, AUTHORITY, "", "s")
    with pytest.raises(AuthError, match="DYNSYNC_CLIENT_SECRET"):
        ConfidentialTokens(ENV, AUTHORITY, "id", "")
    assert normalise_env_url("Contoso.CRM4.dynamics.com/api/data/v9.2/") == ENV
    assert normalise_env_url("https://127.0.0.1:8443/") == "https://127.0.0.1:8443"
