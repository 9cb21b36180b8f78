"""Dataverse Web API client (read-only): metadata, paged reads, marketing lists, change tracking.

Sync ``httpx.Client`` (the engine runs in a thread). Every request goes through
:meth:`DataverseClient._get`: a fresh token per request (msal caches), the pause gate,
401 → invalidate and retry once, 429 → honour Retry-After, bounded retries of 5xx/timeouts/resets
that resend the SAME request. ``requests`` counts every HTTP request sent.
"""

from __future__ import annotations

import math
import random
import threading
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import httpx

from dynsync_tui.connectors import fetchxml
from dynsync_tui.connectors.auth import TokenProvider, normalise_env_url
from dynsync_tui.connectors.batch import MAX_GET_URL, batch_body, unwrap
from dynsync_tui.connectors.errors import (
    ConnectorError, DeltaTokenExpiredError, NotFoundError, PagingError, QueryError, ThrottledError, TransientError,
    parse_dataverse_error,
)
from dynsync_tui.connectors.http import (
    TRANSIENT_EXCEPTIONS, TRANSIENT_STATUSES, OnWait, Pacer, RetryPolicy, Sleep, make_client,
    parse_retry_after,
)
from dynsync_tui.connectors.models import (
    TEXT_TYPES, Attribute, ChangePage, EntityInfo, MarketingList, Relationship, attribute_sort_key, display_label,
    marketing_list,
)

API_PATH = "/api/data/v9.2/"
DEFAULT_HEADERS = {"OData-MaxVersion": "4.0", "OData-Version": "4.0", "If-None-Match": "null"}
FORMATTED = "OData.Community.Display.V1.FormattedValue"
LOOKUP_TYPE = "Microsoft.Dynamics.CRM.lookuplogicalname"
COOKIE = "Microsoft.Dynamics.CRM.fetchxmlpagingcookie"
MORE = "Microsoft.Dynamics.CRM.morerecords"
HIDDEN_TYPES = frozenset({"Virtual", "CalendarRules", "ManagedProperty", "PartyList", "EntityName"})
SIMPLE_PAGING_LIMIT = 50_000
STANDARD_SETS = {"contacts": "contact", "accounts": "account", "leads": "lead", "lists": "list"}
_ODATA_SAFE = "$,()'=:/@;*"


def odata_query(params: dict[str, str | None]) -> str:
    """``$select=a,b&$filter=x%20eq%201``: keys literal, values percent-encoded (OData-safe)."""
    return "&".join(f"{k}={quote(v, safe=_ODATA_SAFE)}" for k, v in params.items() if v)


def expand_clause(expand: dict[str, list[str]] | None) -> str | None:
    if not expand:
        return None
    return ",".join(f"{nav}($select={','.join(cols)})" if cols else nav for nav, cols in expand.items())


class DataverseClient:
    def __init__(self, env_url: str, tokens: TokenProvider, *, ca_file: str | Path | None = None,
                 page_size: int = 5000, on_wait: OnWait | None = None, sleep: Sleep | None = None,
                 cancel: threading.Event | None = None, retry: RetryPolicy | None = None,
                 throttle_attempts: int = 8, throttle_budget: float = 900.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not 1 <= page_size <= 5000:
            raise QueryError(f"page_size {page_size}: Dataverse pages hold 1 to 5000 rows")
        self.env_url = normalise_env_url(env_url)
        self.base_url = self.env_url + API_PATH
        self.tokens = tokens
        self.page_size = page_size
        self.pacer = Pacer(sleep=sleep, on_wait=on_wait, cancel=cancel)
        self.retry = retry or RetryPolicy(attempts=5, base=1.0, cap=16.0)
        self.throttle_attempts = throttle_attempts
        self.throttle_budget = throttle_budget
        self._http = make_client(self.base_url, ca_file=ca_file, headers=DEFAULT_HEADERS, transport=transport)
        self._meta: dict[tuple[str, str], Any] = {}
        self.requests = 0
        self.pages = 0
        self.throttled = 0

    # ------------------------------------------------------------ plumbing

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "DataverseClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, url: str, *, prefer: str | None = None, what: str = "") -> httpx.Response:
        """One logical GET (``url`` relative to the API root, or an absolute nextLink sent
        verbatim), retried per the policy. Returns a 2xx/3xx response or raises."""
        refreshed = False
        transient = throttles = 0
        throttle_wait = 0.0
        while True:
            self.pacer.at_gate()
            headers = {"Authorization": f"Bearer {self.tokens.token()}"}
            if prefer:
                headers["Prefer"] = prefer
            self.requests += 1
            try:
                resp = self._send(url, headers)
            except TRANSIENT_EXCEPTIONS as exc:
                transient += 1
                why = f"connection problem ({exc.__class__.__name__})"
                if transient >= self.retry.attempts:
                    raise TransientError(f"Dataverse unreachable after {transient} tries ({what or 'request'}): {why}",
                                         service="Dataverse") from None
                self.pacer.wait(self.retry.delay(transient), f"Dataverse {why}, retrying")
                continue
            status = resp.status_code
            if status < 400:
                return resp
            if status == 401 and not refreshed:
                refreshed = True
                self.tokens.invalidate()
                continue
            if status == 429:
                throttles += 1
                self.throttled += 1
                wait = parse_retry_after(resp.headers.get("Retry-After"))
                if wait is None:
                    wait = min(300.0, 5.0 * 2 ** (throttles - 1))
                if throttles >= self.throttle_attempts or throttle_wait + wait > self.throttle_budget:
                    err = parse_dataverse_error(resp, what=what)
                    raise ThrottledError(f"Dataverse is still busy after {throttles} tries: {err.message}",
                                         status=429, code=err.code, retry_after=wait,
                                         request_id=err.request_id, service="Dataverse")
                wait += random.uniform(0, min(1.0, wait * 0.1))
                throttle_wait += wait
                self.pacer.close_gate(wait, f"Dataverse is busy (throttled), resuming in {math.ceil(wait)} s")
                continue
            if status in TRANSIENT_STATUSES:
                transient += 1
                if transient < self.retry.attempts:
                    self.pacer.wait(self.retry.delay(transient), f"Dataverse server error {status}, retrying")
                    continue
            raise parse_dataverse_error(resp, what=what)

    def _send(self, url: str, headers: dict[str, str]) -> httpx.Response:
        """GET, or for a URL too long for a GET (long FetchXML) the same GET inside ``$batch``."""
        full = url if url.startswith("https://") else self.base_url + url
        if len(full) <= MAX_GET_URL:
            return self._http.get(url, headers=headers)
        inner = {k: v for k, v in headers.items() if k != "Authorization"}
        inner["Accept"] = "application/json"
        ctype, body = batch_body(full, inner)
        outer = self._http.post("$batch", headers={**headers, "Content-Type": ctype}, content=body)
        return unwrap(outer)

    def _json(self, url: str, *, prefer: str | None = None, what: str = "") -> dict[str, Any]:
        """GET a JSON object. An answer that is not JSON (a gateway page, a cut body) is asked
        for again, like any transient failure."""
        for attempt in range(1, self.retry.attempts + 1):
            resp = self._get(url, prefer=prefer, what=what)
            try:
                data = resp.json()
            except (ValueError, UnicodeDecodeError):
                data = None
            if isinstance(data, dict):
                return data
            if attempt < self.retry.attempts:
                self.pacer.wait(self.retry.delay(attempt), "Dataverse sent an unreadable answer, retrying")
        raise TransientError(f"Dataverse sent a non-JSON answer {attempt} times ({what or url.split('?')[0]})",
                             status=resp.status_code, service="Dataverse")

    def _cached(self, kind: str, key: str, load: Any) -> Any:
        if (kind, key) not in self._meta:
            self._meta[(kind, key)] = load()
        return self._meta[(kind, key)]

    def refresh_metadata(self) -> None:
        self._meta.clear()

    # ------------------------------------------------------------ identity and metadata

    def whoami(self) -> dict[str, Any]:
        """``{UserId, BusinessUnitId, OrganizationId}``: the connection test."""
        return self._json("WhoAmI", what="WhoAmI")

    def entity(self, logical: str) -> EntityInfo:
        def load() -> EntityInfo:
            d = self._json(f"EntityDefinitions(LogicalName='{logical}')?$select=LogicalName,EntitySetName,"
                           "PrimaryIdAttribute,PrimaryNameAttribute,DisplayName,ChangeTrackingEnabled",
                           what=f"table {logical}")
            return EntityInfo(d.get("EntitySetName") or "", d.get("PrimaryIdAttribute") or "",
                              display_label(d.get("DisplayName"), logical), bool(d.get("ChangeTrackingEnabled")),
                              d.get("LogicalName") or logical, d.get("PrimaryNameAttribute") or "")
        return self._cached("entity", logical, load)

    def attributes(self, entity: str) -> list[Attribute]:
        """Readable, user-facing columns: phone-like text first, then text, then the rest."""
        def load() -> list[Attribute]:
            d = self._json(f"EntityDefinitions(LogicalName='{entity}')/Attributes?$select=LogicalName,"
                           "SchemaName,AttributeType,DisplayName,AttributeOf,IsValidForRead,IsCustomAttribute",
                           what=f"columns of {entity}")
            out = []
            for a in d.get("value", []):
                kind = a.get("AttributeType") or ""
                if a.get("AttributeOf") or kind in HIDDEN_TYPES or a.get("IsValidForRead") is False:
                    continue
                name = a.get("LogicalName") or ""
                out.append(Attribute(name, display_label(a.get("DisplayName"), name), kind, kind in TEXT_TYPES,
                                     bool(a.get("IsCustomAttribute"))))
            return sorted(out, key=attribute_sort_key)
        return self._cached("attributes", entity, load)

    def relationships(self, entity: str) -> list[Relationship]:
        """Many-to-one relationships: a polymorphic lookup gives one row per target table."""
        def load() -> list[Relationship]:
            d = self._json(f"EntityDefinitions(LogicalName='{entity}')/ManyToOneRelationships?$select="
                           "SchemaName,ReferencingAttribute,ReferencedEntity,ReferencedAttribute,"
                           "ReferencingEntityNavigationPropertyName", what=f"lookups of {entity}")
            rels = [Relationship(r.get("ReferencingAttribute") or "",
                                 r.get("ReferencingEntityNavigationPropertyName") or "",
                                 r.get("ReferencedEntity") or "", r.get("ReferencedAttribute") or "")
                    for r in d.get("value", [])]
            return sorted(rels, key=lambda r: (r.lookup, r.target))
        return self._cached("relationships", entity, load)

    def activation_columns(self) -> list[Attribute]:
        """Boolean ``esc_`` columns of ``list``: candidates for "Activated for Email"."""
        return [a for a in self.attributes("list") if a.type == "Boolean" and a.logical_name.startswith("esc_")]

    # ------------------------------------------------------------ reading records

    def iter_pages(self, entity_set: str, *, select: list[str], expand: dict[str, list[str]] | None = None,
                   filter: str | None = None, orderby: str | None = None, page_size: int | None = None,
                   annotations: bool = False) -> Iterator[list[dict[str, Any]]]:
        """Yield pages of rows. Follows ``@odata.nextLink`` verbatim with the same Prefer; never
        uses ``$top``; a nextLink seen twice raises PagingError."""
        prefer = f"odata.maxpagesize={page_size or self.page_size}"
        if annotations:
            prefer += f',odata.include-annotations="{FORMATTED},{LOOKUP_TYPE}"'
        query = odata_query({"$select": ",".join(select), "$expand": expand_clause(expand),
                             "$filter": filter, "$orderby": orderby})
        url: str | None = f"{entity_set}?{query}" if query else entity_set
        seen: set[str] = set()
        while url:
            data = self._json(url, prefer=prefer, what=f"reading {entity_set}")
            self.pages += 1
            yield data.get("value") or []
            url = data.get("@odata.nextLink")
            if url is not None:
                if url in seen:
                    raise PagingError(f"Dataverse repeated a page link while reading {entity_set}; "
                                      "stopped to avoid reading rows twice", service="Dataverse")
                seen.add(url)

    def total_counts(self, entities: list[str]) -> dict[str, int]:
        """Rows per table (logical names) from ``RetrieveTotalRecordCount``: a recent snapshot,
        not capped (the connection test)."""
        names = ",".join(f"'{e}'" for e in entities)
        d = self._json(f"RetrieveTotalRecordCount(EntityNames=[{names}])", what="record counts")
        coll = d.get("EntityRecordCountCollection") or {}
        return dict(zip(coll.get("Keys") or [], coll.get("Values") or []))

    def count(self, entity_set: str, filter: str | None = None) -> int:
        """Number of rows. Without a filter, for the standard tables: the uncapped snapshot count;
        otherwise ``$count=true`` on a one-row page, which Dataverse caps at 5000."""
        logical = STANDARD_SETS.get(entity_set)
        if logical and not filter:
            try:
                counts = self.total_counts([logical])
                if isinstance(counts.get(logical), int):
                    return counts[logical]
            except (QueryError, NotFoundError):
                pass  # an older or restricted org: fall back to $count
        q = odata_query({"$count": "true", "$filter": filter})
        data = self._json(f"{entity_set}?{q}", prefer="odata.maxpagesize=1", what=f"counting {entity_set}")
        n = data.get("@odata.count")
        if not isinstance(n, int):
            raise ConnectorError(f"Dataverse sent no count for {entity_set}", service="Dataverse")
        return n

    def organization_name(self, org_id: str) -> str:
        """The organisation's display name (for "Connected to …")."""
        return str(self._json(f"organizations({org_id})?$select=name", what="organisation").get("name") or "")

    def user_name(self, user_id: str) -> str:
        """A system user's full name (WhoAmI gives only the id)."""
        return str(self._json(f"systemusers({user_id})?$select=fullname", what="user").get("fullname") or "")

    def iter_fetchxml(self, entity_set: str, fetch: str) -> Iterator[list[dict[str, Any]]]:
        """Run FetchXML page by page with paging cookies (§8.4). Missing columns are missing keys."""
        prefer = f'odata.include-annotations="{COOKIE},{MORE}"'
        rows = 0
        while True:
            data = self._json(f"{entity_set}?fetchXml={quote(fetch, safe='')}", prefer=prefer,
                              what=f"FetchXML on {entity_set}")
            self.pages += 1
            page = data.get("value") or []
            rows += len(page)
            yield page
            if not data.get(f"@{MORE}"):
                return
            cookie = data.get(f"@{COOKIE}")
            if not cookie and rows >= SIMPLE_PAGING_LIMIT:
                raise PagingError(f"FetchXML on {entity_set}: no paging cookie and more than "
                                  f"{SIMPLE_PAGING_LIMIT} rows", service="Dataverse")
            fetch = fetchxml.next_page(fetch, cookie)

    def iter_changes(self, entity_set: str, *, select: list[str], delta_link: str | None = None,
                     page_size: int | None = None) -> Iterator[ChangePage]:
        """Change tracking (§9.1): an initial read when ``delta_link`` is None, else the changes
        since it. The last page carries the new deltaLink; a rejected stored deltaLink raises
        DeltaTokenExpiredError (the caller reads the table in full)."""
        prefer = f"odata.track-changes,odata.maxpagesize={page_size or self.page_size}"
        url: str | None = delta_link or f"{entity_set}?{odata_query({'$select': ','.join(select)})}"
        seen: set[str] = set()
        while url:
            try:
                data = self._json(url, prefer=prefer, what=f"changes of {entity_set}")
            except ConnectorError as exc:
                if delta_link and url == delta_link and exc.status in (400, 404, 410):
                    raise DeltaTokenExpiredError(f"the stored change token for {entity_set} has expired; "
                                                 "a full read is needed", status=exc.status, code=exc.code,
                                                 service="Dataverse") from None
                raise
            self.pages += 1
            rows, deleted = [], []
            for row in data.get("value") or []:
                if str(row.get("@odata.context", "")).endswith("$deletedEntity") or row.get("reason") == "deleted":
                    if row.get("id"):
                        deleted.append(row["id"])
                else:
                    rows.append(row)
            nxt, delta = data.get("@odata.nextLink"), data.get("@odata.deltaLink")
            if not nxt and not delta:
                raise PagingError(f"changes of {entity_set}: the last page has no deltaLink; "
                                  "the stored token is kept", service="Dataverse")
            yield ChangePage(rows, deleted, None if nxt else delta)
            if nxt and nxt in seen:
                raise PagingError(f"Dataverse repeated a page link while reading changes of {entity_set}",
                                  service="Dataverse")
            if nxt:
                seen.add(nxt)
            url = nxt

    # ------------------------------------------------------------ marketing lists

    def lists(self, activation_column: str = "") -> list[MarketingList]:
        """Active marketing lists with their eligibility: dynamic and activated for email."""
        select = ["listid", "listname", "type", "createdfromcode", "membercount", "statecode"]
        if activation_column:
            select.append(activation_column)
        out = []
        try:
            for page in self.iter_pages("lists", select=select, filter="statecode eq 0",
                                        orderby="listname asc,listid asc", page_size=500):
                out.extend(marketing_list(row, activation_column) for row in page)
        except QueryError as exc:
            if activation_column and activation_column in exc.message:
                raise QueryError(f"activation column {activation_column!r} is not a column of marketing lists; "
                                 "choose the 'Activated for Email' column again", status=exc.status,
                                 code=exc.code, service="Dataverse") from None
            raise
        return out

    def list_member_ids(self, lst: MarketingList, page_size: int | None = None) -> set[str]:
        """Ids of the list's members: static lists through ``listmembers``, dynamic lists by
        running the list's FetchXML (ids only) with paging cookies."""
        if not lst.member_type:
            raise QueryError(f"list {lst.name!r}: unknown member type", service="Dataverse")
        if not lst.dynamic:
            ids: set[str] = set()
            for page in self.iter_pages("listmembers", select=["_entityid_value"],
                                        filter=f"_listid_value eq {lst.id}", page_size=page_size):
                ids.update(r["_entityid_value"] for r in page if r.get("_entityid_value"))
            return ids
        info = self.entity(lst.member_type)
        row = self._json(f"lists({lst.id})?$select=query", what=f"query of list {lst.name!r}")
        if not row.get("query"):
            raise QueryError(f"dynamic list {lst.name!r} has no query", service="Dataverse")
        fetch = fetchxml.rewrite_for_members(row["query"], entity=lst.member_type, primary_id=info.primary_id,
                                             page_size=page_size or self.page_size, what=f"list {lst.name!r}")
        return {r[info.primary_id] for page in self.iter_fetchxml(info.entity_set, fetch)
                for r in page if r.get(info.primary_id)}


__all__ = [
    "API_PATH", "Attribute", "ChangePage", "DataverseClient", "EntityInfo", "MarketingList", "Relationship",
    "expand_clause", "odata_query",
]
