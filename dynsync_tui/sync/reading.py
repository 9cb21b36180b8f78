"""Reading Dataverse for a sync: in full, or incrementally from where the last run ended.

Per mapped table, in this order of preference (dataverse-api.md §9):

* change tracking, when the table has it on: a full read is a tracked read (the last page
  carries a deltaLink); later runs GET the stored deltaLink and receive only the rows changed
  since, plus the ids of deleted rows. Tracked reads take no ``$filter``/``$expand``, so the
  "active only" filter is applied here, and when the mappings use linked fields the changed
  rows are read again by id with the normal query (and the token of a full read comes from a
  tracked read of the keys alone, taken *before* the full read so nothing slips between);
* otherwise a ``modifiedon`` watermark: later runs read ``modifiedon ge <last max - 5 min>``
  (this sees no deletions).

Records whose last send failed are always read again (by id) so they are retried. New
positions are only *pending* here: the engine commits them (:meth:`Reader.commit`) after the
run's imports finished; a cancelled or failed run keeps the old ones. A stored deltaLink that
Dataverse rejects (expired) means a full read of that table. Positions are keyed by table and
a hash of the query, so a changed mapping starts with a full read.

``mode`` is ``plain`` (everything, no positions: the preview, consent by lists), ``full``
(everything, new positions: the first run, ``--full``) or ``incremental``.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

from dynsync_tui.connectors.errors import ConnectorError, DeltaTokenExpiredError
from dynsync_tui.core.plan import EntityPlan

WATERMARK_SKEW_S = 300  # in-flight transactions and clock skew (§9.3)
ID_CHUNK = 100  # ids per "read these records again" request (URL well under 32k)
MODES = ("plain", "full", "incremental")


def columns_hash(ep: EntityPlan) -> str:
    blob = json.dumps([ep.entity_set, sorted(ep.select), {k: sorted(v) for k, v in ep.expand.items()},
                       ep.filter], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def settings_fingerprint(config: Any) -> str:
    """What else decides the verdicts besides the rows: mappings, validation, consent, the
    change policies, the phonenumbers version. A change means a full read (every record is
    judged again), like a changed column set."""
    from dynsync_tui.core.config import to_dict
    from dynsync_tui.core.phone import PHONENUMBERS_VERSION

    d = to_dict(config)
    sync = {k: v for k, v in d.get("sync", {}).items() if k not in ("batch_size", "imports_in_flight")}
    keep = {k: d.get(k) for k in ("validation", "mappings", "consent")}
    blob = json.dumps({**keep, "sync": sync, "phonenumbers": PHONENUMBERS_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def cursor_name(kind: str, ep: EntityPlan, fingerprint: str = "") -> str:
    """``delta:contact:<columns>:<settings>``: one position per table, query and settings."""
    return f"{kind}:{ep.entity}:{columns_hash(ep)}:{fingerprint}"


def _minus_skew(stamp: str) -> str:
    try:
        t = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return stamp
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t - WATERMARK_SKEW_S))


def _id_filter(pk: str, ids: list[str]) -> str:
    values = ",".join(f"'{i}'" for i in ids)
    return f"Microsoft.Dynamics.CRM.In(PropertyName='{pk}',PropertyValues=[{values}])"


def _and(*parts: str | None) -> str | None:
    kept = [p for p in parts if p]
    if len(kept) <= 1:
        return kept[0] if kept else None
    return " and ".join(f"({p})" for p in kept)


class Reader:
    """Pages of ``(plan, rows)`` for one run, and what the run learned about positions."""

    def __init__(self, dataverse: Any, state: Any, env_key: str, *, mode: str = "plain",
                 include_inactive: bool = False, fingerprint: str = "") -> None:
        if mode not in MODES:
            raise ValueError(f"read mode {mode!r}")
        self.dv, self.state, self.env_key, self.mode = dataverse, state, env_key, mode
        self.fingerprint = fingerprint
        self.include_inactive = include_inactive
        self.pending: dict[str, str | None] = {}  # cursor name → new value (None: drop)
        self.deleted: list[tuple[str, str]] = []  # (entity, id) deleted in Dynamics
        self.out_of_scope: set[tuple[str, str]] = set()  # changed rows no longer active
        self.methods: dict[str, str] = {}  # entity → full | delta | watermark | plain
        self.expired: list[str] = []  # tables whose stored deltaLink was rejected
        self.refused: list[str] = []  # tables whose tracked read was refused (400/403)

    @property
    def incremental(self) -> bool:
        return any(m in ("delta", "watermark") for m in self.methods.values())

    # ------------------------------------------------------------ choosing

    def _tracking(self, ep: EntityPlan) -> bool:
        if not hasattr(self.dv, "iter_changes") or not hasattr(self.dv, "entity"):
            return False
        try:
            return bool(self.dv.entity(ep.entity).change_tracking)
        except ConnectorError:
            return False

    def pages(self, ep: EntityPlan) -> Iterator[list[dict[str, Any]]]:
        if self.mode == "plain":
            self.methods[ep.entity] = "plain"
            yield from self.dv.iter_pages(ep.entity_set, **ep.query())
            return
        if self._tracking(ep):
            name = cursor_name("delta", ep, self.fingerprint)
            link = self.state.cursor(self.env_key, name) if self.mode == "incremental" else None
            base = str(getattr(self.dv, "base_url", "") or "")
            if link and base and not link.startswith("https://"):
                link = base + link  # stored relative: the host may move (a restarted sandbox)
            if link:
                try:
                    changes = list(self.dv.iter_changes(ep.entity_set, select=list(ep.select), delta_link=link))
                except DeltaTokenExpiredError:
                    self.expired.append(ep.entity)
                else:
                    self.methods[ep.entity] = "delta"
                    yield from self._apply_changes(ep, name, changes)
                    return
            self.methods[ep.entity] = "full"
            pages = self._tracked_full(ep, name)
            try:
                first = next(pages, None)
            except ConnectorError as exc:
                if exc.status not in (400, 403):
                    raise
                self.refused.append(ep.entity)  # tracked reads refused (role, org setting): watermark
            else:
                if first is not None:
                    yield first
                yield from pages
                return
        name = cursor_name("watermark", ep, self.fingerprint)
        mark = self.state.cursor(self.env_key, name) if self.mode == "incremental" else None
        self.methods[ep.entity] = "watermark" if mark else "full"
        yield from self._watermark(ep, name, mark)

    # ------------------------------------------------------------ change tracking

    def _in_scope(self, ep: EntityPlan, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.include_inactive:
            return rows
        kept = []
        for r in rows:
            if r.get("statecode") in (0, None):
                kept.append(r)
            else:
                self.out_of_scope.add((ep.entity, str(r.get(ep.primary_key))))
        return kept

    def _tracked_full(self, ep: EntityPlan, name: str) -> Iterator[list[dict[str, Any]]]:
        link = None
        if ep.expand:  # the token first (keys only), then the normal read with $expand
            for page in self.dv.iter_changes(ep.entity_set, select=[ep.primary_key]):
                link = page.delta_link or link
            yield from self.dv.iter_pages(ep.entity_set, **ep.query())
        else:
            for page in self.dv.iter_changes(ep.entity_set, select=list(ep.select)):
                link = page.delta_link or link
                yield self._in_scope(ep, page.rows)
        self.pending[name] = link

    def _apply_changes(self, ep: EntityPlan, name: str, changes: list[Any]) -> Iterator[list[dict[str, Any]]]:
        changed: list[dict[str, Any]] = []
        gone: set[str] = set()
        for page in changes:
            changed.extend(page.rows)
            gone.update(str(i).lower() for i in page.deleted)
        self.deleted.extend((ep.entity, i) for i in sorted(gone))
        self.pending[name] = changes[-1].delta_link if changes else None
        again = self._failed_ids(ep) - gone
        if ep.expand:  # linked values need the normal query: read the changed rows again
            again |= {str(r[ep.primary_key]).lower() for r in self._in_scope(ep, changed)}
        else:
            rows = self._in_scope(ep, changed)
            again -= {str(r[ep.primary_key]).lower() for r in rows}
            yield rows
        yield from self._by_id(ep, sorted(again))

    # ------------------------------------------------------------ watermark

    def _watermark(self, ep: EntityPlan, name: str, mark: str | None) -> Iterator[list[dict[str, Any]]]:
        q = ep.query()
        if mark:
            q["filter"] = _and(ep.filter, f"modifiedon ge {_minus_skew(mark)}")
        newest = mark or ""
        seen: set[str] = set()
        for page in self.dv.iter_pages(ep.entity_set, **q):
            for r in page:
                newest = max(newest, str(r.get("modifiedon") or ""))
                seen.add(str(r.get(ep.primary_key)).lower())
            yield page
        if mark:
            yield from self._by_id(ep, sorted(self._failed_ids(ep) - seen))
        self.pending[name] = newest or None

    # ------------------------------------------------------------ by id

    def _failed_ids(self, ep: EntityPlan) -> set[str]:
        if not hasattr(self.state, "failures"):
            return set()
        return {i.lower() for (e, i) in self.state.failures(self.env_key) if e == ep.entity}

    def _by_id(self, ep: EntityPlan, ids: list[str]) -> Iterator[list[dict[str, Any]]]:
        for start in range(0, len(ids), ID_CHUNK):
            q = ep.query()
            q["filter"] = _and(ep.filter, _id_filter(ep.primary_key, ids[start:start + ID_CHUNK]))
            yield from self.dv.iter_pages(ep.entity_set, **q)

    # ------------------------------------------------------------ after the run

    def commit(self) -> None:
        """Store the new positions and forget deleted records (call after the imports finished)."""
        if self.deleted:
            self.state.forget_records(self.env_key, self.deleted)
        base = str(getattr(self.dv, "base_url", "") or "")
        pending = {k: (v[len(base):] if v and base and v.startswith(base) else v)
                   for k, v in self.pending.items()}
        if pending:
            self.state.set_cursors(self.env_key, pending)





# ---------------------------------------------------------------- records not read this run

KEPT = ("created", "updated", "unchanged")


def hold_known_identifiers(verdicts: list[Any], prior: dict[tuple[str, str], Any],
                           unread: set[tuple[str, str]]) -> int:
    """An incremental run sees only the changed records, so core's cross-record rules can't
    see the others: a record that would send an email or a mobile that a record *not read
    this run* already holds in Dotdigital is skipped (duplicate email / shared mobile) — the
    record already there keeps it. Returns the number held."""
    from dynsync_tui.core.reasons import Reason

    emails: set[str] = set()
    mobiles: set[str] = set()
    for key in unread:
        p = prior.get(key)
        if p is not None and p.outcome in KEPT:
            if p.email:
                emails.add(p.email.lower())
            if p.mobile:
                mobiles.add("".join(ch for ch in p.mobile if ch.isdigit()))
    held = 0
    for v in verdicts:
        if v.payload is None or v.verdict not in ("create", "update"):
            continue
        ids = v.payload.get("identifiers") or {}
        reason = None
        if str(ids.get("email") or "").lower() in emails:
            reason = Reason.DUPLICATE_EMAIL.value
        elif "".join(ch for ch in str(ids.get("mobileNumber") or "") if ch.isdigit()) in mobiles:
            reason = Reason.SHARED_MOBILE.value
        if reason:
            v.verdict, v.reason, v.payload, v.flags = "skip", reason, None, ()
            held += 1
    return held


def carried_counts(prior: dict[tuple[str, str], Any], unread: set[tuple[str, str]]) -> dict[str, int]:
    """What the records not read this run count as: their last outcome stands (synced →
    unchanged, skipped → skipped)."""
    out = {"unchanged": 0, "skipped": 0}
    for key in unread:
        p = prior.get(key)
        if p is None:
            continue
        if p.outcome in KEPT:
            out["unchanged"] += 1
        elif p.outcome == "skip":
            out["skipped"] += 1
    return out

__all__ = ["ID_CHUNK", "MODES", "Reader", "carried_counts", "columns_hash", "cursor_name", "hold_known_identifiers",
           "settings_fingerprint"]
