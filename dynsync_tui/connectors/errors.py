"""Connector errors: one readable line each, plus the facts a caller branches on.

Every error carries ``message`` (one line, safe to show), ``status`` (HTTP status or None),
``code`` (the service's own code: a Dataverse ``0x8006...``, a Dotdigital ``contacts:...`` or
``ERROR_...``), ``retry_after`` (seconds, when the service said) and ``request_id``.
No error ever contains a token, a secret or an ``Authorization`` header.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

_BODY_LIMIT = 500
_V2_CODE = re.compile(r"ERROR_[A-Z_]+")


def one_line(text: Any, limit: int = _BODY_LIMIT) -> str:
    """Collapse whitespace (newlines included) and cut to ``limit`` characters."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


class ConnectorError(Exception):
    """A failed call to Dataverse or Dotdigital, explained in one line."""

    kind = "error"

    def __init__(self, message: str, *, status: int | None = None, code: str = "",
                 retry_after: float | None = None, request_id: str = "", service: str = "") -> None:
        self.message = one_line(message, 1000)
        self.status = status
        self.code = code or ""
        self.retry_after = retry_after
        self.request_id = request_id or ""
        self.service = service
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class AuthError(ConnectorError):
    """Sign-in failed, credentials rejected, or a repeated 401."""

    kind = "auth"


class PermissionDenied(ConnectorError):
    """403: Dataverse = missing security role; Dotdigital = wrong region or permission."""

    kind = "permission"


class NotFoundError(ConnectorError):
    """404: unknown entity set, record, list or import."""

    kind = "not_found"


class QueryError(ConnectorError):
    """400 and other requests the service rejects as malformed: no retry."""

    kind = "query"


class ConflictError(ConnectorError):
    """409: an identifier already belongs to another contact."""

    kind = "conflict"


class ThrottledError(ConnectorError):
    """429 after the retry budget ran out."""

    kind = "throttled"


class TransientError(ConnectorError):
    """5xx, timeouts and resets after the retries ran out."""

    kind = "transient"


class PagingError(ConnectorError):
    """A repeated nextLink, a missing deltaLink, paging-cookie trouble."""

    kind = "paging"


class DeltaTokenExpiredError(ConnectorError):
    """A stored change-tracking deltaLink was rejected: run a full read of that table."""

    kind = "delta_expired"


class Cancelled(ConnectorError):
    """The caller's cancel event was set while we waited."""

    kind = "cancelled"


# Spec names (dataverse-api.md §10.4) for readers who look for them.
DataverseAuthError = AuthError
DataversePermissionError = PermissionDenied
DataverseNotFoundError = NotFoundError
DataverseQueryError = QueryError
DataverseThrottledError = ThrottledError
DataverseTransientError = TransientError
DataversePagingError = PagingError


def class_for_status(status: int) -> type[ConnectorError]:
    if status == 401:
        return AuthError
    if status == 403:
        return PermissionDenied
    if status == 404:
        return NotFoundError
    if status == 409:
        return ConflictError
    if status == 429:
        return ThrottledError
    if status >= 500:
        return TransientError
    if 400 <= status < 500:
        return QueryError
    return ConnectorError


def _body(response: httpx.Response) -> tuple[Any, str]:
    """(parsed JSON or None, raw text cut to 500 chars)."""
    try:
        raw = response.text
    except Exception:  # undecodable bytes
        raw = response.content[:_BODY_LIMIT].decode("utf-8", "replace")
    try:
        return json.loads(raw), one_line(raw)
    except ValueError:
        return None, one_line(raw)


def _retry_after(response: httpx.Response) -> float | None:
    from dynsync_tui.connectors.http import parse_retry_after

    return parse_retry_after(response.headers.get("Retry-After"))


def parse_dataverse_error(response: httpx.Response, *, what: str = "") -> ConnectorError:
    """Turn a failed Dataverse response into the right ConnectorError (never raises)."""
    data, raw = _body(response)
    status = response.status_code
    code, text = "", ""
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        code = str(data["error"].get("code") or "")
        text = str(data["error"].get("message") or "")
    elif raw:
        text = raw
    where = f" ({what})" if what else ""
    if status == 401:
        head = "Dataverse rejected the sign-in (401): the token's audience must be the exact environment URL"
    elif status == 403:
        head = ("Dataverse refused access (403): missing security role — give the application user "
                "a role with organisation-level Read on contact, account, lead, list and listmember")
    elif status == 404:
        head = "Dataverse has no such thing (404)"
    elif status == 429:
        head = "Dataverse is busy (429: service protection limit)"
    elif status >= 500:
        head = f"Dataverse server error ({status})"
    else:
        head = f"Dataverse rejected the request ({status})"
    message = f"{head}{where}" + (f": {text}" if text else "")
    cls = class_for_status(status)
    return cls(message, status=status, code=code, retry_after=_retry_after(response),
               request_id=response.headers.get("x-ms-service-request-id", ""), service="Dataverse")


def dotdigital_code(data: Any, raw: str = "") -> str:
    """The error code of a v3 (``errorCode``) or v2 (``ERROR_...`` in ``message``) body."""
    if isinstance(data, dict):
        if data.get("errorCode"):
            return str(data["errorCode"])
        msg = data.get("message") or data.get("Message") or ""
        m = _V2_CODE.search(str(msg))
        if m:
            return m.group(0)
    m = _V2_CODE.search(raw or "")
    return m.group(0) if m else ""


def parse_dotdigital_error(response: httpx.Response, *, what: str = "") -> ConnectorError:
    """Turn a failed Dotdigital response (v2 or v3 shape, or no body) into a ConnectorError."""
    data, raw = _body(response)
    status = response.status_code
    code = dotdigital_code(data, raw)
    text = ""
    if isinstance(data, dict):
        text = str(data.get("description") or data.get("message") or data.get("Message") or "")
        details = data.get("details")
        if isinstance(details, list) and details:
            parts = []
            for d in details[:3]:
                if isinstance(d, dict):
                    why = d.get("description") or d.get("error") or ""
                    parts.append(f"{d.get('item', '')}: {why}".strip(": "))
            if parts:
                text = f"{text} ({'; '.join(parts)})" if text else "; ".join(parts)
    elif raw:
        text = raw
    where = f" ({what})" if what else ""
    if status == 401:
        head = "Dotdigital rejected the API user or password (401)"
    elif status == 403:
        head = ("Dotdigital refused access (403): wrong region or permission — check the API user's "
                "region (account-info discovers it) and its access rights")
    elif status == 404:
        head = "Dotdigital has no such thing (404)"
    elif status == 429:
        head = "Dotdigital rate limit reached (429)"
    elif status >= 500:
        head = f"Dotdigital server error ({status})"
    else:
        head = f"Dotdigital rejected the request ({status})"
    message = f"{head}{where}" + (f": {text}" if text else "")
    cls = class_for_status(status)
    if code == "ERROR_APIUSAGE_EXCEEDED":
        cls = ThrottledError
    return cls(message, status=status, code=code, retry_after=_retry_after(response),
               request_id=response.headers.get("x-request-id", ""), service="Dotdigital")


__all__ = [
    "AuthError", "Cancelled", "ConflictError", "ConnectorError", "DeltaTokenExpiredError",
    "NotFoundError", "PagingError", "PermissionDenied", "QueryError", "ThrottledError",
    "TransientError", "class_for_status", "dotdigital_code", "one_line", "parse_dataverse_error",
    "parse_dotdigital_error",
]
