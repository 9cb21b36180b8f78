"""A throw-away self-signed certificate for 127.0.0.1, made at start.

The private key never leaves memory except through a short-lived temp file that
``ssl.SSLContext.load_cert_chain`` needs (it cannot read keys from memory); the
file is 0600 and removed at once. Only the public certificate is written to home.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_server_context(cert_path: Path) -> ssl.SSLContext:
    """Generate a key + certificate, write the PEM certificate to ``cert_path`` (0644),
    and return a server-side SSL context that uses them."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dynsync sandbox")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = cert_path.with_name(f".{cert_path.name}.tmp")
    tmp.write_bytes(cert_pem)
    os.replace(tmp, cert_path)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    fd, key_file = tempfile.mkstemp(prefix="dynsync-sandbox-", suffix=".pem")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(cert_pem + key_pem)
        ctx.load_cert_chain(key_file)
    finally:
        os.unlink(key_file)
    return ctx


def client_context(ca_file: Path) -> ssl.SSLContext:
    """A client context that trusts exactly ``ca_file`` (for tests and tools)."""
    ctx = ssl.create_default_context(cafile=str(ca_file))
    return ctx
