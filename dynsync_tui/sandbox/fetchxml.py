"""FetchXML, as much as marketing lists need: <attribute>/<all-attributes>, nested
<filter type="and|or"> with <condition> (eq ne neq gt ge lt le like not-like null not-null
in not-in), <link-entity> (inner or outer, with alias, attributes and filters), <order>,
and paging by ``count``/``page``/``paging-cookie`` (spec §8.4)."""

from __future__ import annotations

import bisect
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from dynsync_tui.sandbox.metadata import ENTITIES, LOOKUP_TYPES, Entity
from dynsync_tui.sandbox.odata import QueryError

MAX_PAGE = 5000
Pred = Callable[[dict], bool]


def _key(ent: Entity, attr: str) -> str:
    for name, _d, typ, _o, _r in ent.columns:
        if name == attr:
            return f"_{attr}_value" if typ in LOOKUP_TYPES else attr
    raise QueryError(f"'{ent.logical}' entity doesn't contain attribute with Name = '{attr}'.")


def _typed(ent: Entity, attr: str, raw: str) -> Any:
    typ = ent.column_types().get(attr, "String")
    if typ == "Boolean":
        return raw.strip().lower() in ("1", "true")
    if typ in ("Integer", "State", "Status", "Picklist", "BigInt"):
        try:
            return int(raw)
        except ValueError:
            raise QueryError(f"Invalid value '{raw}' for attribute '{attr}'.") from None
    if typ in ("Uniqueidentifier", *LOOKUP_TYPES):
        return raw.strip("{}").lower()
    return raw


def _like(pattern: str) -> re.Pattern[str]:
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(rx, re.I | re.S)


def _cf(v: Any) -> Any:
    return v.casefold() if isinstance(v, str) else v


def _condition(ent: Entity, el: ET.Element) -> Pred:
    attr = el.get("attribute", "")
    key = _key(ent, attr)
    op = el.get("operator", "eq")
    values = [_typed(ent, attr, v.text or "") for v in el.findall("value")]
    raw = el.get("value")
    val = _typed(ent, attr, raw) if raw is not None else None
    if op == "null":
        return lambda r: r.get(key) in (None, "")
    if op == "not-null":
        return lambda r: r.get(key) not in (None, "")
    if op in ("like", "not-like"):
        rx = _like(str(raw or ""))
        hit = lambda r: isinstance(v := r.get(key), str) and rx.fullmatch(v) is not None  # noqa: E731
        return hit if op == "like" else (lambda r: not hit(r))
    if op in ("in", "not-in"):
        vals = {_cf(v) for v in values}
        return (lambda r: _cf(r.get(key)) in vals) if op == "in" else (lambda r: _cf(r.get(key)) not in vals)
    if op == "eq":
        return lambda r: _cf(r.get(key)) == _cf(val)
    if op in ("ne", "neq"):
        return lambda r: _cf(r.get(key)) != _cf(val)
    cmp = {"gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
           "lt": lambda a, b: a < b, "le": lambda a, b: a <= b}.get(op)
    if cmp is None:
        raise QueryError(f"The condition operator '{op}' is not supported by the sandbox.")
    return lambda r: (v := r.get(key)) is not None and type(v) is type(val) and cmp(_cf(v), _cf(val))


def _filter(ent: Entity, el: ET.Element) -> Pred:
    parts = [_condition(ent, c) if c.tag == "condition" else _filter(ent, c)
             for c in el if c.tag in ("condition", "filter")]
    if el.get("type", "and") == "or":
        return lambda r: any(p(r) for p in parts)
    return lambda r: all(p(r) for p in parts)


class FetchQuery:
    def __init__(self, xml: str, ent: Entity, tables: dict) -> None:
        try:
            root = ET.fromstring(xml)
        except ET.ParseError as exc:
            raise QueryError(f"Invalid XML in fetchXml: {exc}.") from None
        node = root.find("entity")
        if root.tag != "fetch" or node is None:
            raise QueryError("The fetchXml must have a <fetch> root with one <entity>.")
        if node.get("name") != ent.logical:
            raise QueryError(f"The entity name '{node.get('name')}' in fetchXml does not match "
                             f"the entity set '{ent.entity_set}'.")
        if root.get("aggregate") == "true" or node.find("link-entity/link-entity") is not None:
            raise QueryError("The sandbox does not support aggregate FetchXML or nested link-entity "
                             "elements.")
        self.ent, self.tables = ent, tables
        self.count = min(int(root.get("count") or MAX_PAGE), MAX_PAGE)
        self.page = int(root.get("page") or 1)
        self.cookie = root.get("paging-cookie")
        self.top = int(root.get("top")) if root.get("top") else None
        if node.find("all-attributes") is not None:
            self.attrs = [c[0] for c in ent.columns if c[2] not in ("Virtual",)]
        else:
            self.attrs = [a.get("name", "") for a in node.findall("attribute")]
        self.keys = [_key(ent, a) for a in self.attrs]
        self.preds = [_filter(ent, f) for f in node.findall("filter")]
        self.links = [self._link(le) for le in node.findall("link-entity")]
        orders = node.findall("order")
        self.order = [(_key(ent, o.get("attribute", "")), o.get("descending") == "true") for o in orders]

    def _link(self, el: ET.Element):
        name = el.get("name", "")
        target = ENTITIES.get(name)
        if target is None:
            raise QueryError(f"The entity with a name = '{name}' was not found in the MetadataCache.")
        frm, to = _key(target, el.get("from", "")), _key(self.ent, el.get("to", ""))
        preds = [_filter(target, f) for f in el.findall("filter")]
        attrs = [(a.get("name", ""), _key(target, a.get("name", ""))) for a in el.findall("attribute")]
        index: dict[Any, list[dict]] = {}
        for row in list(self.tables[name].rows.values()):
            if all(p(row) for p in preds):
                index.setdefault(row.get(frm), []).append(row)
        outer = el.get("link-type", "inner") == "outer"
        return to, index, outer, el.get("alias") or name, attrs

    def matches(self, rec: dict) -> bool:
        if not all(p(rec) for p in self.preds):
            return False
        return all(outer or index.get(rec.get(to)) for to, index, outer, _a, _at in self.links)

    def row(self, rec: dict) -> dict:
        pk = self.ent.pk
        out = {pk: rec[pk]}
        for k in self.keys:
            v = rec.get(k)
            if v is not None:
                out[k] = v
        for to, index, _outer, alias, attrs in self.links:
            linked = index.get(rec.get(to))
            if linked and attrs:
                for name, key in attrs:
                    v = linked[0].get(key)
                    if v is not None:
                        out[f"{alias}.{name}"] = v
        return out

    def run(self) -> tuple[list[dict], bool, str | None]:
        """One page → (rows, more records?, last primary key)."""
        table = self.tables[self.ent.logical]
        pk = self.ent.pk
        by_pk = not self.order or self.order == [(pk, False)]
        if by_pk:
            ids = table.ids
            start = 0
            last = _cookie_last(self.cookie, pk) if self.cookie else None
            if last:
                start = bisect.bisect_right(ids, last)
                skip = 0
            else:
                skip = (self.page - 1) * self.count
            out, more = [], False
            limit = self.top if self.top is not None else self.count
            for rid in ids[start:]:
                rec = table.rows.get(rid)
                if rec is None or not self.matches(rec):
                    continue
                if skip:
                    skip -= 1
                    continue
                if len(out) == limit:
                    more = self.top is None
                    break
                out.append(self.row(rec))
            return out, more, out[-1][pk] if out else None
        rows = [r for r in list(table.rows.values()) if self.matches(r)]
        for key, desc in reversed(self.order + [(pk, False)]):
            rows.sort(key=lambda r: (r.get(key) is not None, _cf(r.get(key)) if r.get(key) is not None else 0),
                      reverse=desc)
        if self.top is not None:
            return [self.row(r) for r in rows[: self.top]], False, None
        lo = (self.page - 1) * self.count
        page = rows[lo: lo + self.count]
        return [self.row(r) for r in page], lo + self.count < len(rows), None


def _cookie_last(cookie: str, pk: str) -> str | None:
    try:
        root = ET.fromstring(cookie)
    except ET.ParseError:
        raise QueryError("Invalid paging-cookie in fetchXml.") from None
    el = root.find(pk)
    return (el.get("last") or "").strip("{}").lower() if el is not None else None


def paging_cookie(pk: str, first: str, last: str, page: int) -> str:
    """The ``fetchxmlpagingcookie`` annotation for the page after ``page``."""
    inner = f'<cookie page="{page}"><{pk} last="{{{last.upper()}}}" first="{{{first.upper()}}}" /></cookie>'
    twice = quote(quote(inner, safe=""), safe="")
    return f'<cookie pagenumber="{page + 1}" pagingcookie="{twice}" istracking="False" />'
