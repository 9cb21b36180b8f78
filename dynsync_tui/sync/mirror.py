"""Mirror of dynamic lists: members who left a selected *dynamic* Dynamics list are removed
from its Dotdigital list. Static lists only add. Only contacts this sync put there (known by
their contact id in the state) are ever removed; anything else in the list is left alone."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dynsync_tui.core.records import PriorState


@dataclass(frozen=True, slots=True)
class MirrorResult:
    dynamics_list_id: str
    dotdigital_list_id: int
    removed: tuple[int, ...]


def stale_members(dotdigital_members: Iterable[int], member_type: str, current: set[str],
                  prior: dict[tuple[str, str], PriorState]) -> list[int]:
    """Contact ids in the Dotdigital list whose CRM records (of ``member_type``) are all out
    of the Dynamics list now. ``current`` holds the list's member ids, lower-case."""
    records_of: dict[int, list[str]] = {}
    for (entity, rid), p in prior.items():
        if entity == member_type and p.contact_id is not None:
            records_of.setdefault(int(p.contact_id), []).append(rid.lower())
    out = []
    for cid in dotdigital_members:
        rids = records_of.get(int(cid))
        if rids and not any(r in current for r in rids):
            out.append(int(cid))
    return sorted(set(out))


def mirror_lists(dotdigital: Any, selected: list[tuple[str, Any]], members: dict[str, set[str]],
                 list_ids: dict[str, int], prior: dict[tuple[str, str], PriorState]) -> list[MirrorResult]:
    """For each dynamic list among ``selected`` ((configured id, MarketingList-like with
    ``dynamic`` and ``member_type``)), remove the stale members from its Dotdigital list."""
    results = []
    for lid, lst in selected:
        if not _get(lst, "dynamic") or lid not in list_ids or lid not in members:
            continue
        dd_id = list_ids[lid]
        in_dd = [int(c["contactId"]) for c in dotdigital.contacts(list_id=dd_id, limit=5000)
                 if c.get("contactId") is not None]
        stale = stale_members(in_dd, str(_get(lst, "member_type") or ""), members[lid], prior)
        if stale:
            dotdigital.remove_from_address_book(dd_id, stale)
        results.append(MirrorResult(lid, dd_id, tuple(stale)))
    return results


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


__all__ = ["MirrorResult", "mirror_lists", "stale_members"]
