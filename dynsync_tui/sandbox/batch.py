"""Dataverse ``$batch`` (spec §8.4): a multipart/mixed POST whose parts are GET requests,
answered with a multipart/mixed response, one part per request. Used for URLs that would
be longer than 32,768 characters (long FetchXML)."""

from __future__ import annotations

import email
import re
import uuid
from urllib.parse import parse_qsl, urlsplit

from dynsync_tui.sandbox.server import HttpError, Request, Response, Router

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            405: "Method Not Allowed", 414: "URI Too Long", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}


def _bad(message: str) -> HttpError:
    return HttpError(Response(400, {"error": {"code": "0x80048d19", "message": message}}))


def handle_batch(req: Request, router: Router) -> Response:
    ctype = req.header("Content-Type")
    m = re.search(r'boundary="?([^";]+)"?', ctype)
    if not ctype.lower().startswith("multipart/mixed") or not m:
        raise _bad("A $batch request needs Content-Type: multipart/mixed; boundary=...")
    boundary = m.group(1)
    text = req.body.decode("utf-8", "replace").replace("\r\n", "\n")
    chunks = text.split(f"--{boundary}")
    if len(chunks) < 3 or not chunks[-1].startswith("--"):
        raise _bad(f"The $batch body does not end with --{boundary}--.")
    out_boundary = f"batchresponse_{uuid.uuid4()}"
    parts = []
    for chunk in chunks[1:-1]:
        head, _, inner = chunk.strip("\n").partition("\n\n")
        if "application/http" not in head.lower():
            raise _bad("Each $batch part needs Content-Type: application/http.")
        line, _, rest = inner.partition("\n")
        bits = line.strip().split(" ")
        if len(bits) < 2 or bits[0] != "GET":
            raise _bad("The sandbox's $batch only carries GET requests.")
        msg = email.message_from_string(rest)
        if not msg.get("Authorization") and req.header("Authorization"):
            msg["Authorization"] = req.header("Authorization")
        target = bits[1]
        if target.startswith("http"):
            u = urlsplit(target)
            target = u.path + (f"?{u.query}" if u.query else "")
        elif not target.startswith("/"):
            target = "/api/data/v9.2/" + target
        u = urlsplit(target)
        sub = Request("GET", target, u.path, dict(parse_qsl(u.query, keep_blank_values=True)), msg, b"",
                      in_batch=True)
        handler, match, _seen = router.find("GET", u.path)
        try:
            if len(target) > 65536:
                raise HttpError(Response(414, {"error": {"code": "0x8006088a",
                                                         "message": "The URL is longer than 65536 characters."}}))
            if handler is None:
                raise HttpError(Response(404, {"error": {
                    "code": "0x80060888", "message": f"Resource not found for the segment '{u.path}'."}}))
            resp = handler(sub, match)
        except HttpError as exc:
            resp = exc.response
        body = resp.encode().decode("utf-8")
        headers = "".join(f"{k}: {v}\r\n" for k, v in resp.headers.items())
        parts.append(
            f"--{out_boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            f"HTTP/1.1 {resp.status} {_REASONS.get(resp.status, 'Status')}\r\n"
            f"Content-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\r\n{headers}\r\n"
            f"{body}\r\n")
    payload = "".join(parts) + f"--{out_boundary}--\r\n"
    return Response(200, payload, {"OData-Version": "4.0"},
                    content_type=f"multipart/mixed; boundary={out_boundary}")
