"""Dotdigital client: region discovery, data fields, lists, v3 bulk import, v3 contact reads.

Basic auth with an API user (the password is held in memory only). Every call goes through
:meth:`DotdigitalClient._request`: the rate limiter fed by ``X-RateLimit-*`` headers, the pause
gate, 429 handling (rate limit vs ``tooManyActiveImports``), backoff on 5xx/network errors, and one
re-discovery of the region on a 403. ``calls`` counts every HTTP request sent.
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx

from dynsync_tui.connectors.errors import (
    ConflictError, ConnectorError, PermissionDenied, QueryError, ThrottledError, TransientError,
    parse_dotdigital_error,
)
from dynsync_tui.connectors.http import (
    TRANSIENT_EXCEPTIONS, TRANSIENT_STATUSES, OnWait, Pacer, RetryPolicy, Sleep, make_client,
    parse_retry_after,
)

DISCOVERY_ENDPOINT = "https://r1-api.dotdigital.com"
TIMEOUT = httpx.Timeout(connect=10.0, read=121.0, write=60.0, pool=30.0)
FIELD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
FIELD_TYPES = ("String", "Numeric", "Date", "Boolean")
MERGE_OPTIONS = ("overwrite", "overwriteIfNotEmpty", "overwriteIfEmpty")
ACTIVE_IMPORTS = frozenset({"contacts:toomanyactiveimports", "error_import_toomanyactiveimports"})
RETRY_CODES = frozenset({"ERROR_ADDRESSBOOK_IN_USE", "ERROR_UNKNOWN"})
V2_PAGE = 1000
REMOVE_CHUNK = 1000
_ID_SEGMENT = re.compile(r"/(?:\d+|[0-9a-fA-F]{8}-[0-9a-fA-F-]{27,})(?=/|$)")


def reset_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """``X-RateLimit-Reset`` as seconds to wait: > 1e9 means Unix epoch seconds, otherwise
    seconds from now; clamped to 1-65 s (spec §6.1)."""
    if value is None:
        return None
    try:
        n = float(value.strip())
    except ValueError:
        return None
    if n > 1_000_000_000:
        n -= time.time() if now is None else now
    return min(65.0, max(1.0, n))


def endpoint_key(method: str, path: str) -> str:
    """``PUT /contacts/v3/import``, ``GET /v2/address-books/{}``: calls that share a tier."""
    return f"{method} {_ID_SEGMENT.sub('/{}', path.split('?')[0])}"


class DotdigitalClient:
    def __init__(self, api_user: str, password: str, *, endpoint: str = DISCOVERY_ENDPOINT,
                 region_url: str = "", ca_file: str | Path | None = None, on_wait: OnWait | None = None,
                 sleep: Sleep | None = None, cancel: threading.Event | None = None,
                 retry: RetryPolicy | None = None, rate_attempts: int = 6,
                 poll: tuple[float, float, float] = (5.0, 1.5, 60.0), import_timeout: float = 1800.0,
                 busy_wait: tuple[float, float] = (30.0, 600.0), busy_attempts: int = 12,
                 apiusage_pause: float = 600.0, transport: httpx.BaseTransport | None = None) -> None:
        if not api_user:
            raise ConnectorError("Dotdigital API user is empty: set [dotdigital] api_user")
        if not password:
            raise ConnectorError("Dotdigital API password is empty: set DYNSYNC_DOTDIGITAL_PASSWORD")
        self.api_user = api_user
        self.endpoint = endpoint.rstrip("/")
        self.region_url = region_url.rstrip("/")
        self.pacer = Pacer(sleep=sleep, on_wait=on_wait, cancel=cancel)
        self.retry = retry or RetryPolicy(attempts=6, base=2.0, cap=32.0)
        self.rate_attempts = rate_attempts
        self.poll = poll
        self.import_timeout = import_timeout
        self.busy_wait = busy_wait
        self.busy_attempts = busy_attempts
        self.apiusage_pause = apiusage_pause
        self._http = make_client("", ca_file=ca_file, timeout=TIMEOUT, auth=(api_user, password),
                                 transport=transport)
        self._lock = threading.Lock()
        self._scope_of: dict[str, str] = {}
        self._limits: dict[str, tuple[int, float]] = {}  # scope -> (remaining, reset at, monotonic)
        self.account: dict[str, Any] | None = None
        self.calls = 0
        self.rate_limited = 0

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "DotdigitalClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ plumbing

    def _learn_limits(self, key: str, resp: httpx.Response) -> None:
        remaining = resp.headers.get("X-RateLimit-Remaining")
        reset = reset_seconds(resp.headers.get("X-RateLimit-Reset"))
        if remaining is None or reset is None:
            return
        scope = resp.headers.get("X-RateLimit-Scope") or "default"
        try:
            left = int(float(remaining))
        except ValueError:
            return
        with self._lock:
            self._scope_of[key] = scope
            self._limits[scope] = (left, time.monotonic() + reset)

    def _respect_limits(self, key: str) -> None:
        """Before a call: when its tier has at most one call left, wait for the window to reset."""
        with self._lock:
            scope = self._scope_of.get(key)
            left, reset_at = self._limits.get(scope, (2, 0.0)) if scope else (2, 0.0)
            wait = reset_at - time.monotonic()
            if left > 1 or wait <= 0:
                return
            self._limits.pop(scope, None)
        self.pacer.wait(wait, f"Dotdigital rate limit ({scope} calls), resuming in {math.ceil(wait)} s")

    def _url(self, path: str, regional: bool) -> str:
        if not regional:
            return self.endpoint + path
        if not self.region_url:
            self.account_info()
        return self.region_url + path

    def _request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                 what: str = "", regional: bool = True, wait_if_busy: bool = True) -> httpx.Response:
        key = endpoint_key(method, path)
        url = self._url(path, regional)
        transient = limited = busy = usage = 0
        rediscovered = False
        while True:
            self._respect_limits(key)
            self.pacer.at_gate()
            self.calls += 1
            try:
                resp = self._http.request(method, url, json=json, params=params)
            except TRANSIENT_EXCEPTIONS as exc:
                transient += 1
                why = f"connection problem ({exc.__class__.__name__})"
                if transient >= self.retry.attempts:
                    raise TransientError(f"Dotdigital unreachable after {transient} tries ({what}): {why}",
                                         service="Dotdigital") from None
                self.pacer.wait(self.retry.delay(transient), f"Dotdigital {why}, retrying")
                continue
            self._learn_limits(key, resp)
            status = resp.status_code
            if status < 400:
                return resp
            err = parse_dotdigital_error(resp, what=what)
            if err.code.lower() in ACTIVE_IMPORTS:
                busy += 1
                if not wait_if_busy or busy >= self.busy_attempts:
                    raise ThrottledError(f"Dotdigital still has too many imports running after {busy} tries",
                                         status=status, code=err.code, service="Dotdigital")
                base, cap = self.busy_wait
                wait = min(cap, base * 2 ** (busy - 1))
                self.pacer.wait(wait, f"Dotdigital has too many imports running, resuming in {math.ceil(wait)} s")
                continue
            if err.code == "ERROR_APIUSAGE_EXCEEDED":
                usage += 1
                if usage > 2:
                    raise err
                self.pacer.close_gate(self.apiusage_pause, "Dotdigital hourly API allowance used up, "
                                      f"resuming in {math.ceil(self.apiusage_pause)} s")
                continue
            if status == 429:
                limited += 1
                self.rate_limited += 1
                if limited >= self.rate_attempts:
                    raise ThrottledError(f"Dotdigital rate limit: still refused after {limited} tries ({what})",
                                         status=429, code=err.code, retry_after=err.retry_after,
                                         service="Dotdigital")
                wait = err.retry_after
                if wait is None:
                    wait = reset_seconds(resp.headers.get("X-RateLimit-Reset")) or min(65.0, 5.0 * 2 ** (limited - 1))
                wait += random.uniform(0, 2)
                self.pacer.close_gate(wait, f"Dotdigital rate limit reached, resuming in {math.ceil(wait)} s")
                continue
            if status == 403 and regional and not rediscovered:
                rediscovered = True  # the account may have moved region: ask once more
                self.region_url = ""
                url = self._url(path, regional)
                continue
            if status in TRANSIENT_STATUSES or err.code in RETRY_CODES:
                transient += 1
                limit = 2 if err.code == "ERROR_UNKNOWN" else self.retry.attempts
                if transient < limit:
                    self.pacer.wait(self.retry.delay(transient), f"Dotdigital server error {status}, retrying")
                    continue
            raise err

    def _json(self, method: str, path: str, *, resend: bool = False, **kw: Any) -> Any:
        """The JSON of a successful call (None when empty). An unreadable answer to a GET (or
        to a call that is safe to ``resend``) is asked for again; to anything else it is an
        error (the caller decides about re-sending)."""
        tries = self.retry.attempts if method == "GET" or resend else 1
        for attempt in range(1, tries + 1):
            resp = self._request(method, path, **kw)
            if not resp.content:
                return None
            try:
                return resp.json()
            except (ValueError, UnicodeDecodeError):
                if attempt < tries:
                    self.pacer.wait(self.retry.delay(attempt), "Dotdigital sent an unreadable answer, retrying")
        raise TransientError(f"Dotdigital sent a non-JSON answer ({kw.get('what') or path})",
                             status=resp.status_code, service="Dotdigital")

    # ------------------------------------------------------------ account, fields, lists

    def account_info(self) -> dict[str, Any]:
        """Account properties by name (plus ``id``); discovers and caches ``region_url``."""
        data = self._json("GET", "/v2/account-info", what="account-info", regional=False) or {}
        info: dict[str, Any] = {"id": data.get("id")}
        for prop in data.get("properties") or []:
            if isinstance(prop, dict) and prop.get("name"):
                info[prop["name"]] = prop.get("value")
        api = str(info.get("ApiEndpoint") or "").strip().rstrip("/")
        if not api.startswith("https://"):
            raise ConnectorError("Dotdigital account-info has no usable ApiEndpoint", service="Dotdigital")
        self.region_url = api
        self.account = info
        return info

    def data_fields(self) -> list[dict[str, Any]]:
        return list(self._json("GET", "/v2/data-fields", what="data fields") or [])

    def create_data_field(self, name: str, type: str = "String", *, visibility: str = "Private",
                          default: Any = None) -> dict[str, Any]:
        """Create a data field; one that already exists with the same type counts as created."""
        if not FIELD_NAME.match(name or ""):
            raise QueryError(f"data field {name!r}: use 1-20 letters, digits, _ or -", service="Dotdigital")
        if type not in FIELD_TYPES:
            raise QueryError(f"data field {name}: type {type!r} must be one of {', '.join(FIELD_TYPES)}",
                             service="Dotdigital")
        body = {"name": name, "type": type, "visibility": visibility, "defaultValue": default}
        try:
            return self._json("POST", "/v2/data-fields", json=body, what=f"creating data field {name}") or body
        except ConnectorError as exc:
            if exc.code != "ERROR_NON_UNIQUE_DATAFIELD":
                raise
        existing = next((f for f in self.data_fields() if str(f.get("name", "")).upper() == name.upper()), None)
        if existing is None:
            raise ConflictError(f"data field {name}: Dotdigital says it exists but does not list it",
                                service="Dotdigital")
        if str(existing.get("type", "")).lower() != type.lower():
            raise ConflictError(f"data field {existing['name']} already exists as {existing.get('type')}, "
                                f"not {type}", service="Dotdigital")
        return existing

    def address_books(self) -> list[dict[str, Any]]:
        """All lists, paged with select/skip (stops at the first short page)."""
        out: list[dict[str, Any]] = []
        while True:
            page = self._json("GET", "/v2/address-books", params={"select": V2_PAGE, "skip": len(out)},
                              what="lists") or []
            out.extend(page)
            if len(page) < V2_PAGE:
                return out

    def create_address_book(self, name: str, *, visibility: str = "Private") -> dict[str, Any]:
        """Create a list; if one with that name exists, return it."""
        if not name or len(name) > 128:
            raise QueryError(f"list name {name!r}: 1-128 characters", service="Dotdigital")
        try:
            return self._json("POST", "/v2/address-books", json={"name": name, "visibility": visibility},
                              what=f"creating list {name!r}")
        except ConnectorError as exc:
            if exc.code != "ERROR_ADDRESSBOOK_DUPLICATE":
                raise
            found = next((b for b in self.address_books() if str(b.get("name", "")).lower() == name.lower()), None)
            if found is None:
                raise ConflictError(f"list name {name!r} is reserved in Dotdigital; choose another",
                                    code=exc.code, service="Dotdigital") from None
            return found

    def remove_from_address_book(self, list_id: int, contact_ids: Iterable[int]) -> int:
        """Remove contacts from a list (v2 bulk delete, async on Dotdigital's side). Returns
        the number of ids sent."""
        ids = [int(i) for i in contact_ids]
        for start in range(0, len(ids), REMOVE_CHUNK):
            self._request("POST", f"/v2/address-books/{int(list_id)}/contacts/delete",
                          json=ids[start:start + REMOVE_CHUNK], what=f"removing members of list {list_id}")
        return len(ids)

    # ------------------------------------------------------------ v3 contacts and imports

    def start_import(self, contacts: list[dict[str, Any]], merge_option: str = "overwrite", *,
                     wait_if_busy: bool = True) -> str:
        """``PUT /contacts/v3/import``. While the account has too many imports running it waits
        (30 s, 60 s, … by default) and tries again; with ``wait_if_busy=False`` it raises
        ThrottledError (code ``contacts:tooManyActiveImports``) at once, so a caller with imports
        of its own in flight can poll those instead."""
        if merge_option not in MERGE_OPTIONS:
            raise QueryError(f"merge option {merge_option!r} must be one of {', '.join(MERGE_OPTIONS)}",
                             service="Dotdigital")
        if not contacts:
            raise QueryError("an import needs at least one contact", service="Dotdigital")
        data = self._json("PUT", "/contacts/v3/import", json={"mergeOption": merge_option, "contacts": contacts},
                          what=f"import of {len(contacts)} contacts", wait_if_busy=wait_if_busy,
                          resend=True) or {}  # an upsert matched by identifier: safe to send again
        if not data.get("importId"):
            raise ConnectorError("Dotdigital accepted the import but sent no importId", service="Dotdigital")
        return str(data["importId"])

    def import_status(self, import_id: str) -> dict[str, Any]:
        return self._json("GET", f"/contacts/v3/import/{import_id}", what=f"import {import_id}") or {}

    def wait_for_import(self, import_id: str, *, cancel: threading.Event | None = None,
                        first: float | None = None, factor: float | None = None, cap: float | None = None,
                        timeout: float | None = None) -> dict[str, Any]:
        """Poll until the import leaves ``NotFinished``: first check after ``first`` s, then ×``factor``
        up to ``cap`` s between checks (defaults: the client's ``poll``). Gives up after
        ``timeout`` s of waiting (TransientError code ``import_timeout``; re-sending is safe)."""
        d_first, d_factor, d_cap = self.poll
        interval = d_first if first is None else first
        factor = d_factor if factor is None else factor
        cap = d_cap if cap is None else cap
        limit = self.import_timeout if timeout is None else timeout
        waited = 0.0
        while True:
            self.pacer.wait(interval, f"waiting for Dotdigital import {import_id}", cancel=cancel, announce=False)
            waited += interval
            status = self.import_status(import_id)
            if str(status.get("status", "")).lower() != "notfinished":
                return status
            if waited >= limit:
                raise TransientError(f"Dotdigital import {import_id} still running after {math.ceil(waited)} s; "
                                     "it will be re-sent next run", code="import_timeout", service="Dotdigital")
            interval = min(cap, interval * factor)

    def contacts(self, list_id: int | None = None, limit: int = 1000, *, include: str | None = None,
                 data_fields: str | None = None, modified_since: str | None = None) -> Iterator[dict[str, Any]]:
        """Contacts (optionally members of one list), following the v3 cursor."""
        params: dict[str, Any] = {"limit": limit}
        if list_id is not None:
            params["~listId"] = int(list_id)
        if include:
            params["include"] = include
        if data_fields:
            params["data-fields"] = data_fields
        if modified_since:
            params["~modified"] = f"gte::{modified_since}"
        while True:
            page = self._json("GET", "/contacts/v3", params=params, what="contacts") or {}
            yield from page.get("_items") or []
            nxt = (page.get("_links") or {}).get("next")
            marker = nxt.get("marker") if isinstance(nxt, dict) else None
            if not marker and isinstance(nxt, dict) and nxt.get("link"):
                marker = (parse_qs(urlsplit(nxt["link"]).query).get("marker") or [None])[0]
            if not marker:
                return
            params["marker"] = marker


__all__ = ["DISCOVERY_ENDPOINT", "DotdigitalClient", "PermissionDenied", "endpoint_key", "reset_seconds"]
