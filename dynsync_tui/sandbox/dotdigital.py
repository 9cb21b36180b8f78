"""The Dotdigital API subset under ``{dotdigital_url}``: Basic auth, v2 account-info,
data fields, address books, v3 bulk import and contact reads, with X-RateLimit headers."""

from __future__ import annotations

import base64
import hmac
import re
import threading
import time
import uuid
from typing import Any
from urllib.parse import quote, unquote

from dynsync_tui.sandbox.dd_account import (
    MAX_ACTIVE_IMPORTS, MERGE_OPTIONS, DotdigitalAccount, RowFailure, norm_email, norm_mobile,
)
from dynsync_tui.sandbox.server import HttpError, Request, Response, Router

PREFIX = "/dotdigital"  # the discovery host (like r1-api): account-info works for every account
REGION = "/r2"  # the account's regional host is PREFIX + REGION (what ApiEndpoint names)
_FIELD_RE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
_FIELD_TYPES = ("String", "Numeric", "Date", "Boolean")
RESERVED_BOOKS = ("test", "all contacts")


def v2_error(status: int, text: str, code: str = "") -> HttpError:
    return HttpError(Response(status, {"message": f"{text} {code}".strip()}))


def v3_error(status: int, code: str, text: str, details: list | None = None) -> HttpError:
    body: dict[str, Any] = {"errorCode": code, "description": text}
    if details:
        body["details"] = details
    return HttpError(Response(status, body))


class RateLimiter:
    """Per-minute windows per tier, reported in X-RateLimit-* headers."""

    def __init__(self) -> None:
        self.limits = {"low": 3000, "medium": 6000, "high": 12000}
        self.reset_as_epoch = False  # X-RateLimit-Reset: seconds until reset, or epoch seconds
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Start every window afresh."""
        with self._lock:
            self._windows.clear()

    def take(self, tier: str) -> tuple[bool, dict[str, str]]:
        now = time.time()
        with self._lock:
            start, used = self._windows.get(tier, (now, 0))
            if now - start >= 60:
                start, used = now, 0
            limit = self.limits.get(tier, 10**6)
            ok = used < limit
            used += ok
            self._windows[tier] = (start, used)
        reset = start + 60
        return ok, {
            "X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(max(0, limit - used)),
            "X-RateLimit-Reset": str(int(reset)) if self.reset_as_epoch else str(max(1, int(reset - now + 0.999))),
            "X-RateLimit-Scope": tier,
        }


class DotdigitalApi:
    def __init__(self, account: DotdigitalAccount, api_user: str, api_password: str) -> None:
        self.account = account
        self.api_user = api_user
        self.api_password = api_password
        self.base_url = ""  # the regional base, set at start
        self.rates = RateLimiter()
        self.enforce_region = False  # True: the discovery host refuses all but account-info (403)

    def register(self, router: Router) -> None:
        p = PREFIX
        routes = [
            ("GET", r"/v2/account-info", self.account_info, "high"),
            ("GET", r"/v2/data-fields", self.list_fields, "medium"),
            ("POST", r"/v2/data-fields", self.create_field, "medium"),
            ("GET", r"/v2/address-books", self.list_books, "medium"),
            ("POST", r"/v2/address-books", self.create_book, "medium"),
            ("GET", r"/v2/address-books/(?P<id>\d+)", self.get_book, "medium"),
            ("POST", r"/v2/address-books/(?P<id>\d+)/contacts/delete", self.remove_many, "low"),
            ("DELETE", r"/v2/address-books/(?P<id>\d+)/contacts/(?P<cid>\d+)", self.remove_one, "high"),
            ("GET", r"/v2/contacts/(?:suppressed|unsubscribed)-since/(?P<since>[^/]+)",
             self.suppressed_since, "medium"),
            ("PUT", r"/contacts/v3/import", self.start_import, "low"),
            ("GET", r"/contacts/v3/import/(?P<id>[^/]+)", self.import_status, "medium"),
            ("GET", r"/contacts/v3", self.list_contacts, "low"),
            ("GET", r"/contacts/v3/(?P<kind>email|mobileNumber|contactId)/(?P<value>[^/]+)",
             self.get_contact, "high"),
            ("PATCH", r"/contacts/v3/(?P<kind>email|mobileNumber|contactId)/(?P<value>[^/]+)",
             self.patch_contact, "high"),
        ]
        for method, pattern, handler, tier in routes:
            router.add(method, p + REGION + pattern, self._wrap(handler, tier, regional=True))
            router.add(method, p + pattern, self._wrap(handler, tier, regional=False))

    def _wrap(self, handler, tier: str, regional: bool):
        def run(req: Request, m) -> Response:
            self._check_auth(req)
            if self.enforce_region and not regional and handler != self.account_info:
                raise v2_error(403, "Access denied: this account lives in another region; "
                               "use the ApiEndpoint from account-info.", "ERROR_ACCESS_DENIED")
            ok, headers = self.rates.take(tier)
            if not ok:
                err = (v3_error(429, "rateLimit:exceeded", f"Rate limit for the {tier} tier exceeded.")
                       if "/contacts/v3" in req.path else
                       v2_error(429, f"Rate limit for the {tier} tier exceeded."))
                err.response.headers.update(headers)
                raise err
            try:
                resp = handler(req, m)
            except HttpError as exc:
                exc.response.headers.update(headers)
                raise
            resp.headers.update(headers)
            return resp
        return run

    def _check_auth(self, req: Request) -> None:
        auth = req.header("Authorization")
        ok = False
        if auth[:6].lower() == "basic ":
            try:
                user, _, pw = base64.b64decode(auth[6:].strip()).decode("utf-8").partition(":")
                ok = hmac.compare_digest(user.encode(), self.api_user.encode()) and \
                    hmac.compare_digest(pw.encode(), self.api_password.encode())
            except (ValueError, UnicodeDecodeError):
                ok = False
        if not ok:
            err = v2_error(401, "Authorization has been denied for this request.")
            err.response.headers["WWW-Authenticate"] = 'Basic realm="dotdigital"'
            raise err

    @staticmethod
    def _body(req: Request) -> Any:
        try:
            return req.json()
        except (ValueError, UnicodeDecodeError):
            if "/contacts/v3" in req.path:
                raise v3_error(400, "contacts:badJson", "The request body is not valid JSON.") from None
            raise v2_error(400, "The request body is not valid JSON.", "ERROR_PARAMETER_INVALID") from None

    # ------------------------------------------------------------ v2
    def account_info(self, req: Request, m) -> Response:
        props = [("Name", "String", "Dynsync Sandbox Ltd"),
                 ("MainEmail", "String", "sandbox@example.org"),
                 ("ApiEndpoint", "String", f"{self.base_url}/"),
                 ("APILocale", "String", "en-GB"), ("TimeZoneIana", "String", "Europe/London"),
                 ("CurrencyCode", "String", "GBP"),
                 ("AvailableSmsSendsCredits", "Int", "5000")]
        return Response(200, {"id": 40213, "properties": [
            {"name": n, "type": t, "value": v} for n, t, v in props]})

    def list_fields(self, req: Request, m) -> Response:
        return Response(200, list(self.account.fields.values()))

    def create_field(self, req: Request, m) -> Response:
        body = self._body(req)
        if not isinstance(body, dict):
            raise v2_error(400, "The data field is not valid.", "ERROR_PARAMETER_INVALID")
        name, typ = str(body.get("name") or ""), body.get("type", "String")
        if not _FIELD_RE.match(name):
            raise v2_error(400, "Data field names are 1-20 letters, digits, '_' or '-'.",
                           "ERROR_DATAFIELD_INVALID")
        if typ not in _FIELD_TYPES:
            raise v2_error(400, f"Data field type must be one of {', '.join(_FIELD_TYPES)}.",
                           "ERROR_PARAMETER_INVALID")
        if name.upper() in self.account.fields:
            raise v2_error(400, "A data field with this name already exists.", "ERROR_NON_UNIQUE_DATAFIELD")
        f = self.account.add_field(name, typ, body.get("visibility") or "Private", body.get("defaultValue"))
        return Response(201, f)

    def _book(self, m) -> dict:
        b = self.account.books.get(int(m["id"]))
        if b is None:
            raise v2_error(404, "Address book not found.", "ERROR_ADDRESSBOOK_NOT_FOUND")
        return b

    def list_books(self, req: Request, m) -> Response:
        try:
            select = int(req.query.get("select", 1000))
            skip = int(req.query.get("skip", 0))
        except ValueError:
            raise v2_error(400, "select and skip must be numbers.", "ERROR_PARAMETER_INVALID") from None
        if not 1 <= select <= 1000 or skip < 0:
            raise v2_error(400, "select must be 1 to 1000.", "ERROR_PARAMETER_INVALID")
        books = sorted(self.account.books.values(), key=lambda b: b["id"])[skip: skip + select]
        return Response(200, [self.account.book_view(b) for b in books])

    def create_book(self, req: Request, m) -> Response:
        body = self._body(req)
        name = str((body or {}).get("name") or "").strip() if isinstance(body, dict) else ""
        if not name or len(name) > 128:
            raise v2_error(400, "The address book name must be 1 to 128 characters.", "ERROR_PARAMETER_INVALID")
        taken = {b["name"].casefold() for b in self.account.books.values()}
        if name.casefold() in taken or name.casefold() in RESERVED_BOOKS:
            raise v2_error(400, "An address book with this name already exists.", "ERROR_ADDRESSBOOK_DUPLICATE")
        return Response(201, self.account.add_book(name, body.get("visibility") or "Private"))

    def get_book(self, req: Request, m) -> Response:
        return Response(200, self.account.book_view(self._book(m)))

    def remove_many(self, req: Request, m) -> Response:
        book = self._book(m)
        ids = self._body(req)
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise v2_error(400, "Send a JSON array of contact ids.", "ERROR_PARAMETER_INVALID")
        self.account.remove_from_book(book["id"], ids)
        return Response(202, {"id": str(uuid.uuid4()), "status": "Started"})

    def remove_one(self, req: Request, m) -> Response:
        book = self._book(m)
        if not self.account.remove_from_book(book["id"], [int(m["cid"])]):
            raise v2_error(404, "Contact not found in the address book.", "ERROR_CONTACT_NOT_FOUND")
        return Response(204)

    def suppressed_since(self, req: Request, m) -> Response:
        since = unquote(m["since"])
        kind = "Unsubscribed" if "/unsubscribed-since/" in req.path else None
        rows = [r for r in self.account.suppressed_since(since) if kind is None or r["reason"] == kind]
        try:
            select = int(req.query.get("select", 1000))
            skip = int(req.query.get("skip", 0))
        except ValueError:
            raise v2_error(400, "select and skip must be numbers.", "ERROR_PARAMETER_INVALID") from None
        return Response(200, rows[skip: skip + min(select, 1000)])

    # ------------------------------------------------------------ v3
    def start_import(self, req: Request, m) -> Response:
        body = self._body(req)
        if not isinstance(body, dict) or not isinstance(body.get("contacts"), list) or not body["contacts"]:
            raise v3_error(400, "contacts:badJson", "The body needs a non-empty 'contacts' array.")
        merge = body.get("mergeOption", "overwrite")
        if merge not in MERGE_OPTIONS:
            raise v3_error(400, "contacts:invalidMergeOption", f"mergeOption {merge!r} is not valid.")
        if len(req.body) > 50 * 1024 * 1024:
            raise v3_error(413, "contacts:payloadTooLarge", "The request body is over 50 MB.")
        with self.account.lock:
            if self.account.active_imports() >= MAX_ACTIVE_IMPORTS:
                raise v3_error(429, "contacts:tooManyActiveImports",
                               f"There are already {MAX_ACTIVE_IMPORTS} imports in progress.")
            iid = self.account.start_import(body["contacts"], merge)
        return Response(202, {"importId": iid})

    def import_status(self, req: Request, m) -> Response:
        view = self.account.import_view(m["id"])
        if view is None:
            raise v3_error(404, "contacts:importNotFound", "No import with this id.",
                           [{"item": m["id"], "description": "not found"}])
        return Response(200, view)

    def list_contacts(self, req: Request, m) -> Response:
        q = req.query
        try:
            limit = int(q.get("limit", 1000))
            after = int(base64.urlsafe_b64decode(q["marker"]).decode()) if q.get("marker") else 0
            list_id = int(q["~listId"]) if q.get("~listId") else None
        except (ValueError, UnicodeDecodeError):
            raise v3_error(400, "contacts:invalidParameter", "limit, marker or ~listId is not valid.") from None
        if not 1 <= limit <= 5000:
            raise v3_error(400, "contacts:invalidParameter", "limit must be 1 to 5000.")
        since = (q.get("~modified") or "").removeprefix("gte::")
        include = q.get("include", "")
        fields = bool(q.get("data-fields"))
        with self.account.lock:
            ids = sorted(i for i, c in self.account.contacts.items()
                         if i > after and (list_id is None or list_id in c["lists"])
                         and (not since or c["updated"] >= since))
            page = ids[:limit]
            items = [self.account.view(self.account.contacts[i], fields=fields,
                                       channels="channelProperties" in include,
                                       lists="lists" in include) for i in page]
        base = f"{self.base_url}/contacts/v3?" + "&".join(
            f"{k}={quote(v, safe='')}" for k, v in q.items() if k != "marker")
        links: dict[str, Any] = {"self": {"link": self.base_url + req.target[req.target.index("/contacts/v3"):]},
                                 "first": {"link": base}}
        if len(ids) > limit:
            marker = base64.urlsafe_b64encode(str(page[-1]).encode()).decode()
            links["next"] = {"marker": marker, "link": f"{base}&marker={marker}"}
        return Response(200, {"_links": links, "_items": items})

    def _find(self, kind: str, value: str) -> dict:
        value = unquote(value)
        acc = self.account
        if kind == "email":
            cid = acc.by_email.get(norm_email(value) or "")
        elif kind == "mobileNumber":
            cid = acc.by_mobile.get((norm_mobile(value) or ("",))[0])
        else:
            cid = int(value) if value.isdigit() else None
        c = acc.contacts.get(cid) if cid is not None else None
        if c is None:
            raise v3_error(404, "contacts:contactNotFound", "No contact has this identifier.",
                           [{"item": value, "description": "not found"}])
        return c

    def get_contact(self, req: Request, m) -> Response:
        return Response(200, self.account.view(self._find(m["kind"], m["value"])))

    def patch_contact(self, req: Request, m) -> Response:
        body = self._body(req)
        if not isinstance(body, dict):
            raise v3_error(400, "contacts:badJson", "The body must be a contact object.")
        merge = {"overwrite": "overwrite", "overwrite-if-not-empty": "overwriteIfNotEmpty",
                 "overwrite-if-empty": "overwriteIfEmpty"}.get(req.query.get("merge-option", "overwrite"))
        if merge is None:
            raise v3_error(400, "contacts:invalidMergeOption", "merge-option is not valid.")
        ids = dict(body.get("identifiers") or {})
        ids.setdefault(m["kind"], unquote(m["value"]))
        item = {**body, "identifiers": ids, "matchIdentifier": m["kind"]}
        with self.account.lock:
            if m["kind"] == "contactId" and not unquote(m["value"]).isdigit():
                raise v3_error(400, "contacts:invalidId", "contactId must be a number.")
            try:
                kind, c = self.account.upsert(item, merge)
            except RowFailure as f:
                if f.code == "Duplicate":
                    raise v3_error(409, "contacts:idAlreadyExists", f.description) from None
                raise v3_error(400, f"contacts:{f.code[0].lower()}{f.code[1:]}", f.description) from None
            self.account.store.dd_save("contact", [(c["contactId"], c)])
            return Response(201 if kind == "created" else 200, self.account.view(c))
