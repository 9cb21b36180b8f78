"""The Dataverse Web API subset at ``/api/data/v9.2/``: collections with $select, $filter,
$orderby, $expand, $top, $count and server-driven paging; FetchXML; change tracking;
WhoAmI; entity metadata. Errors use the ``{"error": {"code", "message"}}`` shape."""

from __future__ import annotations

import base64
import bisect
import collections
import functools
import json
import re
import threading
import time
import uuid
from typing import Any
from urllib.parse import quote, unquote

from dynsync_tui.sandbox import metadata as md
from dynsync_tui.sandbox.auth import TokenService
from dynsync_tui.sandbox.batch import handle_batch
from dynsync_tui.sandbox.fetchxml import FetchQuery, paging_cookie
from dynsync_tui.sandbox.metadata import BY_SET, ENTITIES, LOOKUP_TYPES, Entity
from dynsync_tui.sandbox.odata import (
    QueryError, compile_filter, parse_expand, parse_orderby, parse_select,
)
from dynsync_tui.sandbox.seed import LOOKUP_TYPE
from dynsync_tui.sandbox.server import HttpError, Request, Response, Router
from dynsync_tui.sandbox.store import Store

PREFIX = "/api/data/v9.2/"
MAX_PAGE = 5000
FORMATTED = "@OData.Community.Display.V1.FormattedValue"
_FORMATS = {
    "statecode": {0: "Active", 1: "Inactive", 2: "Disqualified"},
    "type": {False: "Static", True: "Dynamic"},
    "createdfromcode": {1: "Account", 2: "Contact", 4: "Lead"},
}


def dv_error(status: int, message: str, code: str = "0x80060888",
             headers: dict[str, str] | None = None) -> HttpError:
    return HttpError(Response(status, {"error": {"code": code, "message": message}}, headers or {}))


def _prefer(header: str) -> dict[str, str]:
    out = {}
    for part in re.split(r",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", header or ""):
        k, _, v = part.strip().partition("=")
        if k:
            out[k.strip().lower()] = v.strip().strip('"')
    return out


def _encode_token(data: dict) -> str:
    blob = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()
    return f'<cookie pagenumber="{data["p"]}" pagingcookie="{blob}" istracking="{data.get("t", False)}" />'


def _decode_token(token: str) -> dict:
    m = re.search(r'pagingcookie="([^"]*)"', token)
    try:
        return json.loads(base64.urlsafe_b64decode(m.group(1)))  # type: ignore[union-attr]
    except Exception:
        raise dv_error(400, "The $skiptoken is not valid.", "0x80048d0b") from None


class DataverseApi:
    def __init__(self, store: Store, tokens: TokenService, org_id: str) -> None:
        self.store = store
        self.tokens = tokens
        self.org_id = org_id
        self.base_url = ""
        self.limit: tuple[int, float] | None = None  # service protection: (requests, window s)
        self._window: collections.deque[float] = collections.deque()
        self._window_lock = threading.Lock()

    def register(self, router: Router) -> None:
        p = re.escape(PREFIX)
        router.add("POST", p + r"\$batch", lambda req, m: handle_batch(req, router))
        router.add("GET", p + r"WhoAmI(?:\(\))?", self.whoami)
        router.add("GET", p + r"EntityDefinitions\(LogicalName='(?P<name>[^']*)'\)(?P<rest>/[\w./]+)?",
                   self.entity_definition)
        router.add("GET", p + r"RetrieveTotalRecordCount\(EntityNames=\[(?P<names>[^\]]*)\]\)", self.total_count)
        router.add("GET", p + r"organizations(?:\((?P<id>[0-9a-fA-F-]{36})\))?", self.organization)
        router.add("GET", p + r"systemusers\((?P<id>[0-9a-fA-F-]{36})\)", self.system_user)
        router.add("GET", p + r"(?P<set>\w+)\((?P<id>[0-9a-fA-F-]{36})\)", self.single)
        router.add("GET", p + r"(?P<set>\w+)", self.collection)

    # ------------------------------------------------------------ helpers
    def require_token(self, req: Request) -> None:
        auth = req.header("Authorization")
        tok = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not tok or not self.tokens.valid(tok):
            raise dv_error(401, "Bearer token is missing, invalid or expired.", "0x80072560", {
                "WWW-Authenticate": f'Bearer authorization_uri={self.tokens.base_url}/'
                                    f'{self.tokens.tenant_id}/oauth2/authorize, '
                                    f'resource_id={self.base_url}'})
        if self.limit:
            self._protect(*self.limit)

    def _protect(self, allowed: int, window: float) -> None:
        """Service protection (spec §10.1): at most ``allowed`` requests per sliding window."""
        now = time.monotonic()
        with self._window_lock:
            while self._window and self._window[0] <= now - window:
                self._window.popleft()
            if len(self._window) >= allowed:
                wait = max(1, int(self._window[0] + window - now + 0.999))
                raise dv_error(429, f"Number of requests exceeded the limit of {allowed} over time "
                               f"window of {int(window)} seconds.", "0x80072322",
                               {"Retry-After": str(wait)})
            self._window.append(now)

    def _entity_set(self, name: str) -> Entity:
        ent = BY_SET.get(name)
        if ent is None:
            raise dv_error(404, f"Resource not found for the segment '{name}'.")
        return ent

    def members(self, list_id: str, entity: str) -> set[str]:
        rows = list(self.store.tables["listmember"].rows.values())  # a snapshot: edits may run
        return {r["_entityid_value"] for r in rows
                if r.get("_listid_value") == list_id and r.get("entitytype", entity) == entity}

    def _project(self, rec: dict, ent: Entity, select: list[str] | None, expand: list,
                 annotate: bool, version: int | None) -> dict:
        out: dict[str, Any] = {}
        if version is not None:
            out["@odata.etag"] = f'W/"{version}"'
        cols = select if select is not None else list(ent.selectable())
        for c in cols:
            v = rec.get(c)
            out[c] = v
            if annotate and v is not None:
                if c.endswith("_value"):
                    out[c + LOOKUP_TYPE] = rec.get(c + LOOKUP_TYPE)
                    out[c + FORMATTED] = rec.get(c + FORMATTED)
                elif c in _FORMATS:
                    out[c + FORMATTED] = _FORMATS[c].get(v, str(v))
                elif isinstance(v, bool):
                    out[c + FORMATTED] = "Yes" if v else "No"
        for nav, key, target, tsel in expand:
            rid = rec.get(key)
            kind = rec.get(key + LOOKUP_TYPE) or target.logical
            linked = self.store.tables[target.logical].rows.get(rid) if rid and kind == target.logical else None
            out[nav] = self._project(linked, target, tsel, [], annotate, None) if linked else None
        return out

    # ------------------------------------------------------------ endpoints
    def whoami(self, req: Request, m) -> Response:
        self.require_token(req)
        ns = uuid.UUID(self.org_id)
        return Response(200, {
            "@odata.context": f"{self.base_url}{PREFIX}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
            "BusinessUnitId": str(uuid.uuid5(ns, "business-unit")),
            "UserId": str(uuid.uuid5(ns, "application-user")),
            "OrganizationId": self.org_id,
        })

    def total_count(self, req: Request, m) -> Response:
        self.require_token(req)
        names = [n.strip().strip("'\"") for n in unquote(m["names"]).split(",") if n.strip()]
        for n in names:
            if n not in ENTITIES:
                raise dv_error(400, f"The entity with a name = '{n}' was not found in the MetadataCache.",
                               "0x80041103")
        counts = [len(self.store.tables[n].rows) for n in names]
        return Response(200, {"EntityRecordCountCollection": {
            "Count": len(names), "IsReadOnly": False, "Keys": names, "Values": counts}})

    def organization(self, req: Request, m) -> Response:
        self.require_token(req)
        row = {"organizationid": self.org_id, "name": "Dynsync Sandbox"}
        if m["id"]:
            if m["id"].lower() != self.org_id:
                raise dv_error(404, f"organization With Id = {m['id']} Does Not Exist", "0x80040217")
            return Response(200, row)
        return Response(200, {"@odata.context": f"{self.base_url}{PREFIX}$metadata#organizations",
                              "value": [row]})

    def system_user(self, req: Request, m) -> Response:
        self.require_token(req)
        ns = uuid.UUID(self.org_id)
        if m["id"].lower() != str(uuid.uuid5(ns, "application-user")):
            raise dv_error(404, f"systemuser With Id = {m['id']} Does Not Exist", "0x80040217")
        return Response(200, {"systemuserid": m["id"].lower(), "fullname": "# dynsync sandbox app",
                              "applicationid": self.tokens.client_id})

    def entity_definition(self, req: Request, m) -> Response:
        self.require_token(req)
        ent = ENTITIES.get(m["name"])
        if ent is None:
            raise dv_error(404, f"Could not find an entity with name '{m['name']}'.", "0x80040217")
        rest = (m["rest"] or "").strip("/")
        sel = [s for s in req.query.get("$select", "").split(",") if s]
        ctx = f"{self.base_url}{PREFIX}$metadata#EntityDefinitions('{ent.logical}')"
        if not rest:
            doc = md.entity_definition(ent)
            if sel:
                doc = {k: v for k, v in doc.items() if k in sel or k == "MetadataId"}
            return Response(200, {"@odata.context": ctx, **doc})
        if rest in ("Attributes", "Attributes/Microsoft.Dynamics.CRM.LookupAttributeMetadata"):
            items = md.attribute_definitions(ent)
            if rest.endswith("LookupAttributeMetadata"):
                items = [i for i in items if i["AttributeType"] in LOOKUP_TYPES]
        elif rest == "ManyToOneRelationships":
            items = md.relationship_definitions(ent)
        else:
            raise dv_error(404, f"Resource not found for the segment '{rest.split('/')[0]}'.")
        if sel:
            items = [{k: v for k, v in i.items() if k in sel or k in ("MetadataId", "@odata.type")}
                     for i in items]
        return Response(200, {"@odata.context": f"{ctx}/{rest}", "value": items})

    def single(self, req: Request, m) -> Response:
        self.require_token(req)
        ent = self._entity_set(m["set"])
        rid = m["id"].lower()
        rec = self.store.tables[ent.logical].rows.get(rid)
        if rec is None:
            raise dv_error(404, f"{ent.logical} With Id = {rid} Does Not Exist", "0x80040217")
        try:
            select = parse_select(req.query.get("$select"), ent)
            expand = parse_expand(req.query.get("$expand"), ent, ENTITIES)
        except QueryError as exc:
            raise dv_error(400, str(exc)) from None
        prefer = _prefer(req.header("Prefer"))
        body = self._project(rec, ent, select, expand, "odata.include-annotations" in prefer,
                             self.store.tables[ent.logical].versions.get(rid))
        ctx = f"{self.base_url}{PREFIX}$metadata#{ent.entity_set}/$entity"
        return Response(200, {"@odata.context": ctx, **body})

    def collection(self, req: Request, m) -> Response:
        self.require_token(req)
        if len(req.target) > 32768 and not req.in_batch:
            raise dv_error(414, "The request URL is longer than 32768 characters; send it in a $batch.",
                           "0x8006088a")
        ent = self._entity_set(m["set"])
        q = req.query
        for bad in ("$skip", "$search", "$format"):
            if bad in q:
                raise dv_error(400, f"The query parameter {bad} is not supported", "0x80060888")
        prefer = _prefer(req.header("Prefer"))
        try:
            if "fetchXml" in q:
                return self._fetch(ent, q["fetchXml"], prefer)
            return self._odata(req, ent, q, prefer)
        except QueryError as exc:
            raise dv_error(400, str(exc)) from None

    def _page_size(self, prefer: dict[str, str]) -> tuple[int, dict[str, str]]:
        raw = prefer.get("odata.maxpagesize")
        if raw is None:
            return MAX_PAGE, {}
        try:
            size = int(raw)
        except ValueError:
            raise QueryError(f"Invalid odata.maxpagesize '{raw}'.") from None
        size = max(1, min(size, MAX_PAGE))
        return size, {"Preference-Applied": f"odata.maxpagesize={size}"}

    def _odata(self, req: Request, ent: Entity, q: dict[str, str], prefer: dict) -> Response:
        table = self.store.tables[ent.logical]
        select = parse_select(q.get("$select"), ent)
        expand = parse_expand(q.get("$expand"), ent, ENTITIES)
        pred = compile_filter(q["$filter"], ent, self.members) if q.get("$filter") else None
        order = parse_orderby(q.get("$orderby"), ent)
        tracking = "odata.track-changes" in prefer or "$deltatoken" in q
        if tracking and (pred or order or expand or "$top" in q):
            raise QueryError("Change tracking can't be combined with $filter, $orderby, $expand or $top.")
        top = None
        if "$top" in q:
            if not q["$top"].isdigit():
                raise QueryError(f"Invalid $top value '{q['$top']}'.")
            top = int(q["$top"])
        size, applied = self._page_size(prefer)
        if top is not None:
            size, applied = top, {}
        annotate = "odata.include-annotations" in prefer and not tracking
        token = _decode_token(q["$skiptoken"]) if "$skiptoken" in q else {"p": 1}
        ctx = f"{self.base_url}{PREFIX}$metadata#{ent.entity_set}"
        body: dict[str, Any] = {"@odata.context": ctx}
        if "$deltatoken" in q:
            return self._delta(ent, select, q["$deltatoken"], body, applied)
        if tracking:
            token.setdefault("v", self.store.version)
            token["t"] = True
            applied["Preference-Applied"] = ",".join(
                filter(None, ["odata.track-changes", applied.get("Preference-Applied")]))
        rows, last = self._scan(ent, pred, order, token.get("k"), size + (top is None))
        more = top is None and len(rows) > size
        rows = rows[:size]
        if q.get("$count", "").lower() == "true":
            n = sum(1 for r in list(table.rows.values()) if pred is None or pred(r))
            body["@odata.count"] = min(n, 5000)
        versions = table.versions
        body["value"] = [self._project(r, ent, select, expand, annotate, versions.get(r[ent.pk]))
                         for r in rows]
        if more:
            nxt = dict(token, p=token["p"] + 1, k=last(rows[-1]))
            raw = "&".join(p for p in req.target.partition("?")[2].split("&")
                           if not p.startswith(("$skiptoken=", "%24skiptoken=")))
            body["@odata.nextLink"] = (f"{self.base_url}{PREFIX}{ent.entity_set}?{raw}"
                                       f"&$skiptoken={quote(_encode_token(nxt), safe='')}")
        elif tracking:
            body["@odata.deltaLink"] = self._delta_link(ent, select, token["v"])
        return Response(200, body, applied)

    def _scan(self, ent: Entity, pred, order, after, limit: int):
        """Rows after the keyset position ``after``, in order; → (rows, key function)."""
        table = self.store.tables[ent.logical]
        pk = ent.pk
        if not order or order == [(pk, False)]:
            start = bisect.bisect_right(table.ids, after) if after else 0
            out = []
            rows = table.rows
            with self.store.lock:
                ids = table.ids[start:] if pred is not None else table.ids[start: start + limit]
            for rid in ids:
                rec = rows.get(rid)
                if rec is not None and (pred is None or pred(rec)):
                    out.append(rec)
                    if len(out) >= limit:
                        break
            return out, lambda r: r[pk]
        terms = order + ([] if any(k == pk for k, _ in order) else [(pk, False)])

        def keyof(r: dict) -> list:
            return [r.get(k) for k, _ in terms]

        def cmp(a: list, b: list) -> int:
            for (x, y), (_k, desc) in zip(zip(a, b), terms):
                if x == y:
                    continue
                if x is None or y is None:
                    c = -1 if x is None else 1
                else:
                    xs, ys = (x.casefold(), y.casefold()) if isinstance(x, str) else (x, y)
                    c = 0 if xs == ys else (-1 if xs < ys else 1)
                if c:
                    return -c if desc else c
            return 0

        sortkey = functools.cmp_to_key(cmp)
        rows = sorted((r for r in list(table.rows.values()) if pred is None or pred(r)),
                      key=lambda r: sortkey(keyof(r)))
        start = bisect.bisect_right(rows, sortkey(after), key=lambda r: sortkey(keyof(r))) if after else 0
        return rows[start: start + limit], keyof

    def _delta_link(self, ent: Entity, select: list[str] | None, version: int) -> str:
        sel = f"$select={','.join(select)}&" if select else ""
        stamp = time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime())
        return (f"{self.base_url}{PREFIX}{ent.entity_set}?{sel}"
                f"$deltatoken={quote(f'{version}!{stamp}', safe='')}")

    def _delta(self, ent: Entity, select, token: str, body: dict, applied: dict) -> Response:
        head = token.split("!", 1)[0]
        if not head.isdigit() or int(head) > self.store.version:
            raise dv_error(400, "The delta token is invalid or has expired. Run a full read.",
                           "0x80044352")
        since = int(head)
        table = self.store.tables[ent.logical]
        now = self.store.version
        with self.store.lock:
            changed = [rid for rid in table.ids if table.versions.get(rid, 0) > since]
        body["@odata.context"] += "/$delta"
        body["value"] = [self._project(table.rows[r], ent, select, [], False, table.versions.get(r))
                         for r in changed if r in table.rows]
        ctx = f"{self.base_url}{PREFIX}$metadata#{ent.entity_set}/$deletedEntity"
        body["value"] += [{"@odata.context": ctx, "id": rid, "reason": "deleted"}
                          for rid in self.store.tombstones_since(ent.logical, since)]
        body["@odata.deltaLink"] = self._delta_link(ent, select, now)
        applied["Preference-Applied"] = "odata.track-changes"
        return Response(200, body, applied)

    def _fetch(self, ent: Entity, xml: str, prefer: dict) -> Response:
        fq = FetchQuery(xml, ent, self.store.tables)
        rows, more, last = fq.run()
        ann = prefer.get("odata.include-annotations", "")
        body: dict[str, Any] = {"@odata.context": f"{self.base_url}{PREFIX}$metadata#{ent.entity_set}"}
        if "*" in ann or "fetchxmlpagingcookie" in ann:
            if more and last:
                body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"] = paging_cookie(
                    ent.pk, rows[0][ent.pk], last, fq.page)
        if "*" in ann or "morerecords" in ann:
            body["@Microsoft.Dynamics.CRM.morerecords"] = more
        body["value"] = rows
        return Response(200, body)
