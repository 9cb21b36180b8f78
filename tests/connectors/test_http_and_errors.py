"""http.py (TLS trust, Retry-After, backoff, pacer) and errors.py (one-line messages)."""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import ssl
import threading
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dynsync_tui.connectors.errors import (
    AuthError, Cancelled, ConnectorError, NotFoundError, PermissionDenied, QueryError, ThrottledError,
    TransientError, parse_dataverse_error, parse_dotdigital_error,
)
from dynsync_tui.connectors.http import Pacer, RetryPolicy, make_client, parse_retry_after

from .mock_http import Sleeps


def _self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / f"{name}.pem", folder / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture(scope="module")
def https_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = _self_signed(folder, "server")
    other, _ = _self_signed(folder, "other")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}", cert, other
    server.shutdown()


def test_ca_file_trusts_exactly_that_certificate(https_server):
    url, cert, other = https_server
    with make_client(url, ca_file=cert) as c:
        assert c.get("/x").json() == {"ok": True}
        assert c.headers["User-Agent"].startswith("dynsync/")
    with make_client(url, ca_file=other) as c, pytest.raises(httpx.ConnectError):
        c.get("/x")
    with make_client(url, timeout=5) as c, pytest.raises(httpx.ConnectError):
        c.get("/x")  # the system store does not know the sandbox certificate
    # nothing global was changed: a plain client made afterwards still refuses it
    with httpx.Client(timeout=5) as c, pytest.raises(httpx.ConnectError):
        c.get(url + "/x")


def test_missing_or_bad_ca_file_is_one_line(tmp_path):
    with pytest.raises(ConnectorError, match="not found"):
        make_client("https://x", ca_file=tmp_path / "nope.pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ConnectorError, match="not a PEM certificate"):
        make_client("https://x", ca_file=junk)


def test_retry_after_forms():
    assert parse_retry_after("2") == 2.0 and parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("") is None and parse_retry_after("soon") is None


def test_backoff_grows_caps_and_jitters_within_bounds():
    p = RetryPolicy(base=1, factor=2, cap=10, jitter=0.25)
    assert [p.delay(n, rng=lambda: 0.0) for n in range(1, 6)] == [1, 2, 4, 8, 10]
    assert p.delay(3, rng=lambda: 1.0) == 5.0


def test_pacer_announces_sleeps_and_honours_cancel():
    sleeps, said = Sleeps(), []
    pacer = Pacer(sleep=sleeps, on_wait=lambda s, why: said.append((s, why)))
    pacer.wait(3, "throttled, resuming in 3 s")
    pacer.wait(2, "polling", announce=False)
    assert sleeps == [3, 2] and said == [(3, "throttled, resuming in 3 s")] and pacer.total_wait == 5
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        pacer.wait(1, "x", cancel=cancel)
    # the real sleep wakes on cancel instead of sleeping it out
    ev = threading.Event()
    threading.Timer(0.05, ev.set).start()
    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        Pacer(cancel=ev).wait(30, "long")
    assert time.monotonic() - t0 < 5
    # the pacer's own event and a per-call one: either wakes it
    per_call = threading.Event()
    threading.Timer(0.05, per_call.set).start()
    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        Pacer(cancel=threading.Event()).wait(30, "poll", cancel=per_call)
    assert time.monotonic() - t0 < 5


def test_pacer_gate_holds_requests_once_per_closing():
    now = [100.0]
    sleeps = Sleeps()
    pacer = Pacer(sleep=sleeps, clock=lambda: now[0])
    pacer.at_gate()
    pacer.close_gate(4, "busy")
    pacer.close_gate(2, "shorter: ignored")
    pacer.at_gate()
    pacer.at_gate()
    assert sleeps == [4]


def _resp(status, body=b"", **headers):
    return httpx.Response(status, content=body, headers=headers)


def test_dataverse_error_shapes():
    e = parse_dataverse_error(_resp(400, b'{"error":{"code":"0x80060888","message":"Could not find a property\\nnamed x"}}',
                                    **{"x-ms-service-request-id": "r-1"}))
    assert isinstance(e, QueryError) and e.code == "0x80060888" and e.request_id == "r-1"
    assert e.message == "Dataverse rejected the request (400): Could not find a property named x"
    e = parse_dataverse_error(_resp(403, b'{"error":{"code":"0x80040220","message":"PrivilegeDenied prvReadList"}}'))
    assert isinstance(e, PermissionDenied) and "missing security role" in e.message and "prvReadList" in e.message
    html = b"<html>\n<head><title>502 Bad Gateway</title></head>\n" + b"y" * 3000
    e = parse_dataverse_error(_resp(502, html, **{"Retry-After": "7"}))
    assert isinstance(e, TransientError) and "\n" not in str(e) and "502 Bad Gateway" in str(e)
    assert len(e.message) < 600 and e.retry_after == 7
    assert isinstance(parse_dataverse_error(_resp(401)), AuthError)
    assert isinstance(parse_dataverse_error(_resp(404, b"null")), NotFoundError)
    assert isinstance(parse_dataverse_error(_resp(429, b"\xff\xfe bad bytes")), ThrottledError)


def test_dotdigital_error_shapes():
    e = parse_dotdigital_error(_resp(400, b'{"message":"Contact is suppressed. ERROR_CONTACT_SUPPRESSED"}'))
    assert e.code == "ERROR_CONTACT_SUPPRESSED" and "Contact is suppressed" in e.message
    e = parse_dotdigital_error(_resp(403))
    assert isinstance(e, PermissionDenied) and "wrong region or permission" in e.message
    e = parse_dotdigital_error(_resp(429, b'{"errorCode":"contacts:tooManyActiveImports","description":"wait"}'))
    assert isinstance(e, ThrottledError) and e.code == "contacts:tooManyActiveImports"
    e = parse_dotdigital_error(_resp(400, b'{"message":"ERROR_APIUSAGE_EXCEEDED"}'))
    assert isinstance(e, ThrottledError)
    e = parse_dotdigital_error(_resp(500, b"Internal error: ERROR_UNKNOWN happened"))
    assert e.code == "ERROR_UNKNOWN" and isinstance(e, TransientError)
