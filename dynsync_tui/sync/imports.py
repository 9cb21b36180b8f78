"""Dotdigital bulk imports: journaled batches, a bounded number in flight, polling with an
adaptive first check, and the mapping of import results back to CRM records."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dynsync_tui.sync.state import Outcome, StateStore

FINISHED = "finished"
BATCH_FAILED = ("rejectedbywatchdog", "failed", "exceedsallowedcontactlimit")
NOT_REPORTED = "NotReported"
IMPORT_NOT_FOUND = "ImportNotFound"
IMPORT_TIMED_OUT = "ImportTimedOut"
_DIGITS = re.compile(r"\D+")


def digits(mobile: str | None) -> str:
    return _DIGITS.sub("", mobile or "")


def payload_hash(contacts: list[dict[str, Any]]) -> str:
    blob = json.dumps(contacts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def batch_key(verdict: Any) -> dict[str, Any]:
    """What the journal keeps of one record in a batch: enough to apply the import's
    results without the payload (which may hold personal data we need not keep twice)."""
    ids = (verdict.payload or {}).get("identifiers", {})
    return {
        "entity": verdict.record.entity, "id": verdict.record.id,
        "email": ids.get("email"), "mobile": ids.get("mobileNumber"),
        "cid": ids.get("contactId", verdict.contact_id), "hash": verdict.field_hash,
    }


def outcomes_from_status(keys: list[dict[str, Any]], doc: dict[str, Any]) -> list[Outcome]:
    """Per record outcome from a finished (or terminally failed) import's status document."""
    status = str(doc.get("status", "")).lower()
    if status in BATCH_FAILED:
        code = str(doc.get("status"))
        return [failed(k, (code,)) for k in keys]
    by_email = {str(k["email"]).lower(): k for k in keys if k.get("email")}
    by_mobile = {digits(k["mobile"]): k for k in keys if k.get("mobile")}
    by_cid = {str(k["cid"]): k for k in keys if k.get("cid") is not None}

    def find(item: dict[str, Any]) -> dict[str, Any] | None:
        ids = item.get("identifiers") or {}
        email = str(ids.get("email") or "").lower()
        if email and email in by_email:
            return by_email[email]
        mob = digits(ids.get("mobileNumber"))
        if mob and mob in by_mobile:
            return by_mobile[mob]
        cid = item.get("contactId", ids.get("contactId"))
        return by_cid.get(str(cid)) if cid is not None else None

    result: dict[tuple[str, str], Outcome] = {}
    for item in doc.get("failures") or []:
        k = find(item)
        if k is not None:
            codes = tuple(str(f.get("failureCode") or f.get("code") or "Unknown")
                          for f in item.get("failures") or []) or ("Unknown",)
            result[(k["entity"], k["id"])] = failed(k, codes)
    for kind in ("created", "updated"):
        for item in doc.get(kind) or []:
            k = find(item)
            if k is not None:
                cid = item.get("contactId")
                result[(k["entity"], k["id"])] = Outcome(
                    k["entity"], k["id"], kind, None, (),
                    int(cid) if cid is not None else k.get("cid"),
                    k.get("email"), k.get("mobile"), k.get("hash"))
    return [result.get((k["entity"], k["id"])) or failed(k, (NOT_REPORTED,)) for k in keys]


def failed(key: dict[str, Any], codes: Iterable[str]) -> Outcome:
    return Outcome(key["entity"], key["id"], "failed", "failed", tuple(codes),
                   field_hash=key.get("hash"))


@dataclass
class InFlight:
    run_id: int
    batch_no: int
    keys: list[dict[str, Any]]
    import_id: str
    started: float
    next_poll: float
    delay: float
    polls: int = 0


@dataclass
class PollPolicy:
    """When to check an import: first after ``first`` s, then ×``grow`` up to ``longest``;
    give up after ``timeout``.

    ``first`` is learned so that nearly every import is seen finished at its first check
    (the fewest calls) without waiting much longer than it takes: it shrinks fast until an
    import is first seen unfinished, then slowly, never again below ``margin`` × the
    longest wait that was too short (``floor``)."""

    first: float = 1.0
    shortest: float = 0.05
    longest: float = 60.0
    timeout: float = 1800.0
    grow: float = 1.5
    shrink_fast: float = 0.8
    shrink_slow: float = 0.985
    margin: float = 1.3
    busy: float = 30.0  # first wait when the account has too many imports and none are ours
    floor: float = 0.0

    def learn(self, done_at_first_poll: bool, elapsed: float) -> None:
        if done_at_first_poll:
            factor = self.shrink_slow if self.floor else self.shrink_fast
            self.first = max(self.shortest, self.floor * self.margin, self.first * factor)
        else:
            self.floor = max(self.floor, elapsed)
            self.first = min(self.longest, max(self.shortest, self.first, elapsed * self.margin))


def is_too_many_imports(exc: BaseException) -> bool:
    status = getattr(exc, "status", None)
    code = str(getattr(exc, "code", "") or "")
    return status == 429 or "toomanyactiveimports" in code.lower()


@dataclass
class ImportRunner:
    """Keeps at most ``max_in_flight`` imports running; polls the one due soonest.

    ``on_done(batch, outcomes)`` is called once per finished batch (after the journal and the
    records were updated). A cancel stops new sends and returns; open batches stay in the
    journal for the next run to finish.
    """

    client: Any
    state: StateStore
    env_key: str
    max_in_flight: int = 2
    policy: PollPolicy = field(default_factory=PollPolicy)
    cancel: threading.Event | None = None
    clock: Callable[[], float] = time.monotonic
    on_done: Callable[[InFlight, list[Outcome]], None] | None = None
    on_tick: Callable[[], None] | None = None
    in_flight: list[InFlight] = field(default_factory=list)
    polls: int = 0

    def cancelled(self) -> bool:
        return bool(self.cancel and self.cancel.is_set())

    def _sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self.cancel is not None:
            self.cancel.wait(seconds)
        else:
            time.sleep(seconds)

    def track(self, run_id: int, batch_no: int, keys: list[dict[str, Any]], import_id: str) -> None:
        now = self.clock()
        self.in_flight.append(InFlight(run_id, batch_no, keys, import_id, now,
                                       now + self.policy.first, self.policy.first))

    def send(self, run_id: int, batch_no: int, verdicts: list[Any]) -> None:
        """Journal, PUT and track one batch, waiting for a free slot first."""
        keys = [batch_key(v) for v in verdicts]
        contacts = [v.payload for v in verdicts]
        self.state.journal_batch(run_id, batch_no, keys, payload_hash(contacts))
        limit = self.max_in_flight
        busy = self.policy.busy
        while True:
            while len(self.in_flight) >= limit and not self.cancelled():
                self.poll_next()
            if self.cancelled():
                return  # journaled as pending: the next run abandons it and re-sends the records
            try:
                import_id = self.client.start_import(contacts)
                break
            except Exception as exc:
                if not is_too_many_imports(exc):
                    raise
                if self.in_flight:  # the account is busier than we thought: fewer at once
                    limit = max(1, len(self.in_flight))
                    self.max_in_flight = limit
                else:
                    self._sleep(busy)
                    busy = min(600.0, busy * 2)
        self.state.batch_sent(run_id, batch_no, str(import_id))
        self.track(run_id, batch_no, keys, str(import_id))

    def poll_next(self) -> None:
        if not self.in_flight:
            return
        # Oldest first: an account works through its imports in order, so a younger one is
        # not worth a call while an older one is still running.
        job = min(self.in_flight, key=lambda j: j.started)
        self._sleep(job.next_poll - self.clock())
        if self.cancelled():
            return
        self.polls += 1
        job.polls += 1
        try:
            doc = self.client.import_status(job.import_id)
        except Exception as exc:
            if getattr(exc, "status", None) != 404:
                raise
            doc = {"status": IMPORT_NOT_FOUND}
        elapsed = self.clock() - job.started
        status = str(doc.get("status", "")).lower()
        if job.polls == 1:
            self.policy.learn(status != "notfinished", elapsed)
        if status == FINISHED or status in BATCH_FAILED:
            self._finish(job, outcomes_from_status(job.keys, doc))
        elif status == IMPORT_NOT_FOUND.lower():
            self._finish(job, [failed(k, (IMPORT_NOT_FOUND,)) for k in job.keys], "unknown")
        elif elapsed > self.policy.timeout:
            self._finish(job, [failed(k, (IMPORT_TIMED_OUT,)) for k in job.keys], "timedout")
        else:
            job.delay = min(self.policy.longest, job.delay * self.policy.grow)
            job.next_poll = self.clock() + job.delay
        if self.on_tick:
            self.on_tick()

    def _finish(self, job: InFlight, outcomes: list[Outcome], status: str = "done") -> None:
        self.in_flight.remove(job)
        self.state.batch_done(self.env_key, job.run_id, job.batch_no, outcomes, status)
        if self.on_done:
            self.on_done(job, outcomes)

    def drain(self) -> None:
        """Poll until nothing is in flight (or cancelled)."""
        while self.in_flight and not self.cancelled():
            self.poll_next()


__all__ = ["ImportRunner", "InFlight", "PollPolicy", "batch_key", "digits",
           "outcomes_from_status", "payload_hash"]
