"""SMS opt-outs made in Dotdigital, read back so the preview can show them and the state knows.

dynsync never sends an SMS status for a contact that exists (an opt-out in Dotdigital stays),
but the admin should *see* who opted out. Before classifying, the engine asks Dotdigital for
the contacts modified since the last check (``GET /contacts/v3?~modified=gte::<time>
&include=channelProperties``, cursor paging, 5000 a page) and stores, for the records we
synced to those contacts, whether their SMS channel is opted out. Nothing is asked when we
know no contacts yet (a first run costs no call), and a contact nobody touched since the last
check costs nothing either. The time of a check is kept in the state (cursor ``sms``), taken
before the first call and minus a margin for clock skew between us and Dotdigital.
"""

from __future__ import annotations

import calendar
import time
from typing import Any

from dynsync_tui.core.records import PriorState

CURSOR = "sms"
OPTED_OUT = frozenset({"unsubscribed", "suppressed"})
"""SMS channel statuses that mean "do not text": the person or Dotdigital said no."""
SKEW_S = 300
PAGE = 5000


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def sms_status(contact: dict[str, Any]) -> str | None:
    sms = ((contact.get("channelProperties") or {}).get("sms")) or {}
    status = sms.get("status") if isinstance(sms, dict) else None
    return str(status).lower() if status else None


def refresh_sms_opt_outs(dotdigital: Any, state: Any, env_key: str,
                         prior: dict[tuple[str, str], PriorState], *,
                         now: float | None = None) -> dict[tuple[str, str], bool]:
    """Update the state's SMS opt-out flags from Dotdigital; returns the flags that changed
    (record key → opted out). Also updates ``prior`` in place so the caller classifies with
    the fresh flags."""
    by_contact: dict[int, list[tuple[str, str]]] = {}
    for key, p in prior.items():
        if p.contact_id is not None:
            by_contact.setdefault(int(p.contact_id), []).append(key)
    if not by_contact or not hasattr(dotdigital, "contacts"):
        return {}
    since = state.cursor(env_key, CURSOR) or _first_run_start(state, env_key)
    checked = _stamp((time.time() if now is None else now) - SKEW_S)
    changed: dict[tuple[str, str], bool] = {}
    for c in dotdigital.contacts(limit=PAGE, include="channelProperties", modified_since=since):
        keys = by_contact.get(int(c.get("contactId") or -1))
        status = sms_status(c)
        if not keys or status is None:
            continue
        out = status in OPTED_OUT
        for key in keys:
            if prior[key].sms_opted_out != out:
                changed[key] = out
    for value in (True, False):
        keys = [k for k, v in changed.items() if v is value]
        if keys:
            state.set_sms_opted_out(env_key, keys, value)
    for key, value in changed.items():
        p = prior[key]
        prior[key] = PriorState(p.contact_id, p.email, p.mobile, p.field_hash, p.outcome, p.reason, value)
    state.set_cursors(env_key, {CURSOR: checked})
    return changed


def _first_run_start(state: Any, env_key: str) -> str | None:
    runs = state.runs(env_key) if hasattr(state, "runs") else []
    first = min((r.started for r in runs), default=None)
    if first is None:
        return None
    try:
        return _stamp(calendar.timegm(time.strptime(first[:19], "%Y-%m-%dT%H:%M:%S")) - SKEW_S)
    except ValueError:
        return first


__all__ = ["OPTED_OUT", "refresh_sms_opt_outs", "sms_status"]
