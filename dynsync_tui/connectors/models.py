"""The shapes the Dataverse client returns: table facts, columns, lookups, marketing lists and
change-tracking pages, with the small rules that build them from Web API JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TEXT_TYPES = frozenset({"String", "Memo"})
MEMBER_TYPES = {1: "account", 2: "contact", 4: "lead"}


@dataclass(frozen=True, slots=True)
class EntityInfo:
    entity_set: str
    primary_id: str
    display_name: str
    change_tracking: bool
    logical_name: str = ""
    primary_name: str = ""


@dataclass(frozen=True, slots=True)
class Attribute:
    logical_name: str
    display_name: str
    type: str
    is_text_like: bool
    is_custom: bool = False


@dataclass(frozen=True, slots=True)
class Relationship:
    lookup: str  # the referencing column, e.g. parentcustomerid
    nav: str  # the $expand navigation property, e.g. parentcustomerid_account
    target: str  # the referenced table, e.g. account
    target_key: str  # its primary key, e.g. accountid


@dataclass(frozen=True, slots=True)
class MarketingList:
    id: str
    name: str
    dynamic: bool
    member_type: str  # contact | account | lead ("" when unknown)
    member_count: int | None
    activated: bool | None  # None: no activation column chosen
    eligible: bool
    why: str  # why not eligible ("" when eligible)


@dataclass(slots=True)
class ChangePage:
    """One page of a change-tracking read: changed/new rows, deleted ids, and on the last page
    the deltaLink to store for next time."""

    rows: list[dict[str, Any]]
    deleted: list[str]
    delta_link: str | None = None


def display_label(obj: Any, fallback: str) -> str:
    try:
        return obj["UserLocalizedLabel"]["Label"] or fallback
    except (KeyError, TypeError):
        return fallback


def attribute_sort_key(a: Attribute) -> tuple[int, str]:
    name = a.logical_name
    if a.type == "String" and ("phone" in name or "mobile" in name):
        group = 0
    elif a.is_text_like:
        group = 1
    else:
        group = 2
    return group, a.display_name.lower()


def marketing_list(row: dict[str, Any], activation_column: str) -> MarketingList:
    dynamic = bool(row.get("type"))
    member_type = MEMBER_TYPES.get(row.get("createdfromcode") or 0, "")
    activated = bool(row.get(activation_column)) if activation_column else None
    if not member_type:
        why = "Its members are neither contacts, accounts nor leads."
    elif not dynamic:
        why = "Static list: only dynamic lists sync, as with the Dotdigital connector."
    elif activated is False:
        why = "Not activated for email: set 'Activated for Email' to Yes on the list in Dynamics."
    else:
        why = ""
    count = row.get("membercount")
    return MarketingList(str(row.get("listid") or ""), str(row.get("listname") or ""), dynamic, member_type,
                         count if isinstance(count, int) else None, activated, not why, why)


__all__ = [
    "Attribute", "ChangePage", "EntityInfo", "MarketingList", "Relationship", "attribute_sort_key",
    "display_label", "marketing_list",
]
