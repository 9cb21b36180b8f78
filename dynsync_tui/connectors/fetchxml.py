"""FetchXML for dynamic marketing lists (dataverse-api.md §8.3-8.4): rewrite a list's stored
query to select our columns, and carry paging cookies from page to page. Parsed as XML, never
with regular expressions."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import unquote

from dynsync_tui.connectors.errors import PagingError, QueryError

_FETCH_PAGING_ATTRS = ("top", "page", "count", "paging-cookie", "aggregate")


def _parse(xml: str, what: str) -> ET.Element:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise QueryError(f"{what}: the list's FetchXML does not parse ({exc})") from None
    if root.tag != "fetch":
        raise QueryError(f"{what}: the list's query is not FetchXML (root <{root.tag}>)")
    return root


def rewrite_for_members(xml: str, *, entity: str, primary_id: str, columns: list[str] = (),
                        page_size: int = 5000, what: str = "dynamic list") -> str:
    """The list's query, made to return ``primary_id`` + ``columns`` of its members, ordered by
    the primary key, page 1 of ``page_size``. Filters and link-entities are kept as they are
    (they define membership); attributes inside link-entities are dropped."""
    root = _parse(xml, what)
    ent = root.find("entity")
    if ent is None:
        raise QueryError(f"{what}: the list's FetchXML has no <entity>")
    if ent.get("name") != entity:
        raise QueryError(f"{what}: the list's query reads {ent.get('name')!r} but its members are {entity!r}")
    for child in list(ent):
        if child.tag in ("attribute", "all-attributes"):
            ent.remove(child)
    for link in ent.iter("link-entity"):
        for child in list(link):
            if child.tag in ("attribute", "all-attributes"):
                link.remove(child)
    wanted = [primary_id] + [c for c in columns if c != primary_id]
    for i, col in enumerate(wanted):
        ent.insert(i, ET.Element("attribute", {"name": col}))
    orders = [o for o in ent.findall("order") if o.get("attribute")]
    if not any(o.get("attribute") == primary_id for o in orders):
        pos = list(ent).index(orders[-1]) + 1 if orders else len(wanted)
        ent.insert(pos, ET.Element("order", {"attribute": primary_id}))
    for attr in _FETCH_PAGING_ATTRS:
        root.attrib.pop(attr, None)
    root.set("count", str(page_size))
    root.set("page", "1")
    return ET.tostring(root, encoding="unicode")


def next_page(xml: str, cookie_annotation: str | None) -> str:
    """The query for the next page: ``page`` + 1 and, when the server sent one, the paging
    cookie from the annotation (its ``pagingcookie`` attribute, percent-decoded twice)."""
    root = _parse(xml, "paging")
    page = int(root.get("page") or "1")
    root.set("page", str(page + 1))
    if cookie_annotation:
        try:
            ann = ET.fromstring(cookie_annotation)
        except ET.ParseError:
            raise PagingError("Dataverse sent a paging cookie that does not parse") from None
        raw = ann.get("pagingcookie")
        if raw:
            root.set("paging-cookie", unquote(unquote(raw)))
        else:
            root.attrib.pop("paging-cookie", None)
    else:
        root.attrib.pop("paging-cookie", None)
    return ET.tostring(root, encoding="unicode")


def page_number(xml: str) -> int:
    return int(_parse(xml, "paging").get("page") or "1")


__all__ = ["next_page", "page_number", "rewrite_for_members"]
