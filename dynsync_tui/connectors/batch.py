"""One GET wrapped in a Dataverse ``$batch`` POST (dataverse-api.md §8.4), for URLs longer than
a GET may be (long FetchXML): build the multipart body, and unwrap the single inner response."""

from __future__ import annotations

import re

import httpx

from dynsync_tui.connectors.errors import ConnectorError

MAX_GET_URL = 32_000  # Dataverse refuses GET URLs over 32,768 characters
BOUNDARY = "batch_dsx1"


def batch_body(url: str, headers: dict[str, str], boundary: str = BOUNDARY) -> tuple[str, bytes]:
    """(Content-Type, body) of a ``$batch`` POST carrying ``GET url`` with ``headers``."""
    lines = [f"--{boundary}", "Content-Type: application/http", "Content-Transfer-Encoding: binary", "",
             f"GET {url} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items()), "", f"--{boundary}--", ""]
    return f'multipart/mixed; boundary="{boundary}"', "\r\n".join(lines).encode("utf-8")


def unwrap(outer: httpx.Response) -> httpx.Response:
    """The inner response of a one-part ``$batch`` answer (an outer error passes through)."""
    if outer.status_code >= 400:
        return outer
    ctype = outer.headers.get("Content-Type", "")
    m = re.search(r'boundary="?([^";\s]+)"?', ctype)
    if not m or not ctype.lower().startswith("multipart/"):
        raise ConnectorError("Dataverse answered a $batch request without a multipart body", service="Dataverse")
    text = outer.text.replace("\r\n", "\n")
    parts = [p for p in text.split(f"--{m.group(1)}") if p.strip() and not p.startswith("--")]
    if not parts:
        raise ConnectorError("Dataverse answered a $batch request with no parts", service="Dataverse")
    _part_head, _, inner = parts[0].lstrip("\n").partition("\n\n")
    status_line, _, rest = inner.partition("\n")
    head, _, body = rest.partition("\n\n")
    bits = status_line.split(" ", 2)
    if len(bits) < 2 or not bits[1].isdigit():
        raise ConnectorError("Dataverse sent a $batch part without a status line", service="Dataverse")
    headers = [(k.strip(), v.strip()) for k, v in (h.split(":", 1) for h in head.split("\n") if ":" in h)
               if k.strip().lower() not in ("content-length", "transfer-encoding")]
    try:
        request: httpx.Request | None = outer.request
    except RuntimeError:  # a response built by hand (tests)
        request = None
    return httpx.Response(int(bits[1]), headers=headers, content=body.rstrip("\n").encode("utf-8"),
                          request=request)


__all__ = ["BOUNDARY", "MAX_GET_URL", "batch_body", "unwrap"]
