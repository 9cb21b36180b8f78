"""Device code (scripted approval), refresh tokens and certificate credentials through real msal."""

from __future__ import annotations

import datetime as dt

import msal
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .helpers import MsalHttp


def _public_app(sb, dv):
    return msal.PublicClientApplication(sb.info.client_id, authority=sb.info.authority,
                                        instance_discovery=False, http_client=MsalHttp(dv.http))


def test_device_code_with_scripted_approval_then_silent_refresh(sb, dv):
    app = _public_app(sb, dv)
    scopes = [f"{sb.info.dataverse_url}/user_impersonation"]
    flow = app.initiate_device_flow(scopes=scopes)
    assert flow["user_code"] in flow["message"]
    assert sb.approve_device_code(flow["user_code"]) == 1
    res = app.acquire_token_by_device_flow(flow)
    assert "access_token" in res, res
    assert dv.get("WhoAmI", token=res["access_token"]).status_code == 200
    [account] = app.get_accounts()
    sb.expire_tokens()
    assert dv.get("WhoAmI", token=res["access_token"]).status_code == 401
    again = app.acquire_token_silent(scopes, account=account, force_refresh=True)
    assert again and again["access_token"] != res["access_token"]
    assert dv.get("WhoAmI", token=again["access_token"]).status_code == 200


def test_declined_device_code(sb, dv):
    app = _public_app(sb, dv)
    flow = app.initiate_device_flow(scopes=[f"{sb.info.dataverse_url}/user_impersonation"])
    sb.decline_device_code()
    res = app.acquire_token_by_device_flow(flow)
    assert res["error"] == "authorization_declined"


def _certificate():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dynsync app")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def test_certificate_credential(sb, dv):
    key_pem, cert_pem = _certificate()
    scopes = [f"{sb.info.dataverse_url}/.default"]

    def app(thumb):
        return msal.ConfidentialClientApplication(
            sb.info.client_id, client_credential={"private_key": key_pem, "thumbprint": thumb},
            authority=sb.info.authority, instance_discovery=False, http_client=MsalHttp(dv.http))

    unknown = app("AB" * 20).acquire_token_for_client(scopes)
    assert unknown.get("error") == "invalid_client"
    thumb = sb.register_certificate(cert_pem)
    res = app(thumb).acquire_token_for_client(scopes)
    assert "access_token" in res, res
    assert dv.get("WhoAmI", token=res["access_token"]).status_code == 200
