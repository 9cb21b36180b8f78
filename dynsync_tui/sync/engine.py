"""The sync engine: read CRM pages, ask core for verdicts, send the eligible records to
Dotdigital in journaled bulk imports, poll them, record every outcome, report progress.

A run killed at any point resumes: batches whose import was started are polled to their end
and applied before anything new is sent; batches journaled but never started are dropped
(their records were not marked, so they are classified and sent again — an import is an
upsert matched by email, so this cannot create duplicates).

A sync reads incrementally (``sync.reading``: change tracking, else a ``modifiedon``
watermark; ``full=True`` reads everything) and commits the new read positions only after its
imports finished; records it did not read keep their last outcome (but when a changed record
takes an email or mobile that a record not read holds, the run reads everything, so the
cross-record rules decide exactly as in the preview). The preview always reads
every record in scope. Before classifying, SMS opt-outs made in Dotdigital are read back into
the state (``sync.sms``).
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dynsync_tui.connectors.errors import Cancelled
from dynsync_tui.core import plan as plan_mod
from dynsync_tui.core.config import Config, to_dict
from dynsync_tui.core.reasons import Reason, Verdict
from dynsync_tui.core.records import CrmRecord, PriorState, RecordVerdict
from dynsync_tui.sync.events import Progress, Rate, Throttle
from dynsync_tui.sync.imports import ImportRunner, InFlight, PollPolicy
from dynsync_tui.sync.mirror import MirrorResult, mirror_lists
from dynsync_tui.sync.reading import Reader, carried_counts, hold_known_identifiers, settings_fingerprint
from dynsync_tui.sync.remote import ensure_fields, resolve_lists
from dynsync_tui.sync.services import Services
from dynsync_tui.sync.sms import refresh_sms_opt_outs
from dynsync_tui.sync.state import Outcome

SENT = (Verdict.CREATE.value, Verdict.UPDATE.value)
NO_RETRY = frozenset({"globallysuppressed", "suppressedbydomain", "invalidemail", "invaliddomain",
                      "invalidphonenumber"})
"""Dotdigital failure codes that will not change on a resend of the same data."""


# Processes that share the verdicts' costly part on big headless runs (core.parallel: only
# from 50,000 records, and never while other threads run, as in the TUI or on the sandbox).
PROCESSES = min(4, os.cpu_count() or 1)


def _verdicts_module() -> Any:
    from dynsync_tui.core import verdicts

    return verdicts


@dataclass
class Preview:
    verdicts: list[RecordVerdict]
    summary: Any  # core.verdicts.Summary


@dataclass
class RunSummary:
    run_id: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    dataverse_requests: int = 0
    dotdigital_calls: int = 0
    status: str = "ok"  # ok | cancelled | error
    resumed_batches: int = 0
    removed_from_lists: int = 0  # members who left a dynamic list, removed from its Dotdigital list
    read: dict[str, str] = field(default_factory=dict)  # table → full | delta | watermark | plain
    failure_codes: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["seconds"] = round(self.seconds, 2)
        return d


def _attr(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _count(obj: Any, name: str) -> int:
    return int(getattr(obj, name, 0) or 0)


class Engine:
    """``read_records()``, ``preview()`` and ``sync(full=False)`` for one config and one set of
    services. ``on_event`` gets throttled :class:`Progress` events (about ten a second, every
    phase change, the final one); setting ``cancel`` stops the run at the next safe point."""

    def __init__(self, config: Config, services: Services, *,
                 on_event: Callable[[Progress], None] | None = None,
                 cancel: threading.Event | None = None,
                 poll: PollPolicy | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.services = services
        self.cancel = cancel or threading.Event()
        self.clock = clock
        self.poll = poll or PollPolicy()
        self._emit = Throttle(on_event, clock=clock)
        self._rate = Rate(clock)
        self.progress = Progress("reading")
        self.list_ids: dict[str, int] = {}  # Dynamics list id → Dotdigital list id
        self.setup_calls = 0  # Dotdigital calls spent on data fields and lists
        self.setup_minimum = 0  # the fewest calls that setup could have taken (reads + creates)
        self.members: dict[str, set[str]] = {}  # configured list id → member ids (lower-case)
        self.selected_lists: list[tuple[str, Any]] = []  # (configured id, MarketingList)
        self.mirrored: list[MirrorResult] = []
        self.held: set[tuple[str, str]] = set()  # refused for good last time, not resent
        self.reader: Reader | None = None  # how the last read_records() read

    # ------------------------------------------------------------ events

    def _update(self, force: bool = False, **changes: Any) -> None:
        p = dataclasses.replace(self.progress, **changes)
        if p.phase in ("sending", "waiting"):
            p = self._rate.apply(p)
        self.progress = p
        self._emit(p, force=force)

    def _cancelled(self) -> bool:
        return self.cancel.is_set()

    # ------------------------------------------------------------ reading

    def _memberships(self) -> dict[str, set[str]]:
        """Selected list id → member record ids (consent by lists only)."""
        consent = self.config.consent
        if consent.mode != "lists" or not consent.lists:
            return {}
        dv = self.services.dataverse
        wanted = {s.dynamics_list_id.lower(): s for s in consent.lists}
        found = {}
        for lst in dv.lists(activation_column=self.config.dynamics.activation_column):
            lid = str(_attr(lst, "listid") or _attr(lst, "id") or "").lower()
            if lid in wanted:
                found[lid] = lst
        out: dict[str, set[str]] = {}
        self.selected_lists = []
        for lid, sel in wanted.items():
            if lid not in found:
                raise plan_mod.PlanError(
                    f"{self.config.source}: [[consent.lists]] {sel.name or sel.dynamics_list_id}: "
                    "no such active marketing list in Dynamics")
            out[sel.dynamics_list_id] = {str(i).lower() for i in dv.list_member_ids(found[lid])}
            self.selected_lists.append((sel.dynamics_list_id, found[lid]))
        self.members = out
        return out

    def read_records(self, mode: str = "plain") -> list[CrmRecord]:
        """Every in-scope row of every mapped entity, as CrmRecords (deduplicated by key);
        with ``mode="incremental"`` only what changed since the last run (see sync.reading).
        Consent by lists always reads in full (membership changes are not row changes)."""
        self._update(phase="reading", done=0, total=0, message="", force=True)
        members = self._memberships()
        if members:
            mode = "plain"
        reader = self.reader = Reader(self.services.dataverse, self.services.state, self.services.env_key,
                                      mode=mode, include_inactive=self.config.dynamics.include_inactive,
                                      fingerprint=settings_fingerprint(self.config))
        seen: dict[tuple[str, str], CrmRecord] = {}
        for ep in plan_mod.build_plan(self.config):
            for page in reader.pages(ep):
                for row in page:
                    rid = str(row.get(ep.primary_key, "")).lower()
                    lists = tuple(lid for lid, ids in members.items() if rid in ids)
                    rec = plan_mod.row_to_record(ep, row, lists)
                    seen[(rec.entity, rec.id)] = rec
                self._update(done=len(seen), message=ep.entity_set)
                if self._cancelled():
                    return list(seen.values())
        return list(seen.values())

    # ------------------------------------------------------------ verdicts

    def classify(self, records: list[CrmRecord], prior: dict[tuple[str, str], PriorState],
                 config: Config | None = None, *, full: bool = False) -> list[RecordVerdict]:
        vm = _verdicts_module()
        # every email a sync left on a Dotdigital contact, not only the ones records hold now
        synced = self.services.state.synced_emails(self.services.env_key)
        settings = vm.VerdictSettings.from_config(config or self.config, full=full, synced_emails=synced)
        verdicts = vm.classify(records, prior, settings, processes=PROCESSES)
        self.held = set() if full else self._hold_refused(verdicts)
        for v in verdicts:  # list membership, when core left it to us
            if v.payload is not None and v.record.lists and "lists" not in v.payload:
                ids = sorted({self.list_ids[lid] for lid in v.record.lists if lid in self.list_ids})
                if ids:
                    v.payload["lists"] = ids
        return verdicts

    def _hold_refused(self, verdicts: list[RecordVerdict]) -> set[tuple[str, str]]:
        """Records Dotdigital refused for good last time (suppressed, invalid email or
        number) and unchanged since: not sent again, shown as skipped "failed"."""
        failures = self.services.state.failures(self.services.env_key)
        held = set()
        for v in verdicts:
            f = failures.get(v.key) if v.verdict in SENT else None
            if f and f[1] == v.field_hash and f[0] and all(c.lower() in NO_RETRY for c in f[0]):
                v.verdict, v.reason, v.payload = Verdict.SKIP.value, Reason.FAILED.value, None
                held.add(v.key)
        return held

    def preview(self) -> Preview:
        with self._wired():
            return self._preview()

    def _preview(self) -> Preview:
        needs_lookup = self.config.consent.mode == "lists" and any(
            s.dotdigital_list_id is None for s in self.config.consent.lists)
        cfg = self.ensure_remote(create=False) if needs_lookup else self.config
        records = self.read_records()
        self._update(phase="checking", total=len(records), done=0, force=True)
        verdicts = self.classify(records, self._prior(), cfg)
        summary = _verdicts_module().summarize(verdicts)
        self._update(phase="done", done=len(verdicts), message="preview", force=True)
        return Preview(verdicts, summary)

    def _prior(self) -> dict[tuple[str, str], PriorState]:
        """The state of the last sync, with SMS opt-outs made in Dotdigital since read back."""
        st, env = self.services.state, self.services.env_key
        prior = st.prior(env)
        refresh_sms_opt_outs(self.services.dotdigital, st, env, prior)
        return prior

    # ------------------------------------------------------------ Dotdigital setup

    def ensure_remote(self, create: bool = True) -> Config:
        """Create missing data fields and lists in Dotdigital (``create``), and return the
        config with the lists' Dotdigital ids filled in. ``create=False`` (the preview) only
        looks lists up by name, so unchanged records hash the same as in a sync."""
        dd = self.services.dotdigital
        before = _count(dd, "calls")
        minimum = ensure_fields(dd, self.config) if create else 0
        cfg, list_ids, lists_minimum = resolve_lists(dd, self.config, create)
        self.list_ids.update(list_ids)
        self.setup_calls += _count(dd, "calls") - before
        self.setup_minimum += minimum + lists_minimum
        return cfg

    # ------------------------------------------------------------ sync

    def _runner(self, on_done: Callable[[InFlight, list[Outcome]], None]) -> ImportRunner:
        return ImportRunner(self.services.dotdigital, self.services.state, self.services.env_key,
                            max_in_flight=self.config.sync.imports_in_flight, policy=self.poll,
                            cancel=self.cancel, clock=self.clock, on_done=on_done,
                            on_tick=lambda: self._update())

    def resume(self) -> int:
        """Finish what a killed run left in flight. Returns the number of batches resumed."""
        st, env = self.services.state, self.services.env_key
        st.mark_interrupted(env)
        runner = self._runner(lambda job, outcomes: None)
        resumed = 0
        for b in st.open_batches(env):
            if b.import_id:
                runner.track(b.run_id, b.batch_no, b.keys, b.import_id)
                resumed += 1
            else:
                st.abandon_batch(b.run_id, b.batch_no)
        if resumed:
            self._update(phase="waiting", message=f"finishing {resumed} batch(es) of an interrupted run",
                         force=True)
        runner.drain()
        return resumed

    @contextmanager
    def _wired(self) -> Iterator[None]:
        """While running, the connectors' waits (throttling, backoff) stop on our cancel and
        are reported as progress messages."""
        saved = []

        def chained(before: Any) -> Callable[[float, str], None]:
            def on_wait(seconds: float, why: str) -> None:
                if before is not None:
                    before(seconds, why)
                self._update(message=why, force=True)
            return on_wait

        tokens = getattr(self.services.dataverse, "tokens", None)  # a device-code sign-in
        for obj in (getattr(self.services.dataverse, "pacer", None),
                    getattr(self.services.dotdigital, "pacer", None), tokens):
            if obj is None or not hasattr(obj, "cancel"):
                continue
            saved.append((obj, obj.cancel, getattr(obj, "on_wait", None)))
            obj.cancel = self.cancel
            if hasattr(obj, "on_wait"):
                obj.on_wait = chained(obj.on_wait)
        try:
            yield
        finally:
            for obj, cancel, on_wait in saved:
                obj.cancel = cancel
                if hasattr(obj, "on_wait"):
                    obj.on_wait = on_wait

    def sync(self, full: bool = False) -> RunSummary:
        """One run: finish an interrupted run's imports, then read, classify, send, record."""
        with self.services.state.exclusive(), self._wired():
            return self._sync(full)

    def _sync(self, full: bool) -> RunSummary:
        t0 = self.clock()
        st, env = self.services.state, self.services.env_key
        dv, dd = self.services.dataverse, self.services.dotdigital
        dv0, dd0 = _count(dv, "requests"), _count(dd, "calls")
        resumed, cancelled = 0, False
        try:
            resumed = self.resume()
        except Cancelled:
            cancelled = True
        vm = _verdicts_module()
        run_id = st.start_run(env, {"config": to_dict(self.config), "full": full},
                              str(getattr(vm, "PHONENUMBERS_VERSION", "")) or _pn_version())
        summary = RunSummary(run_id, resumed_batches=resumed)
        status = "error"
        try:
            if cancelled or self._cancelled():
                status = "cancelled"
                return summary
            cfg = self.ensure_remote()
            records = self.read_records("full" if full else "incremental")
            if self._cancelled():
                status = "cancelled"
                return summary
            self._update(phase="checking", total=len(records), done=0, message="", force=True)
            prior = self._prior()
            verdicts = self.classify(records, prior, cfg, full=full)
            carried = self._carry(records, prior, verdicts)
            if carried.pop("held"):  # a changed record meets one not read: decide on all, as the preview
                records = self.read_records("full")
                if self._cancelled():
                    status = "cancelled"
                    return summary
                verdicts = self.classify(records, prior, cfg, full=full)
                carried = {"unchanged": 0, "skipped": 0}
            self._send(run_id, verdicts, summary)
            summary.read = dict(self.reader.methods) if self.reader else {}
            summary.unchanged += carried["unchanged"]
            summary.skipped += carried["skipped"]
            if not self._cancelled() and self.reader is not None:
                self.reader.commit()  # the imports are done: the next run starts from here
            if not self._cancelled() and self.selected_lists:
                self.mirrored = mirror_lists(self.services.dotdigital, self.selected_lists,
                                             self.members, self.list_ids, st.prior(env))
                summary.removed_from_lists = sum(len(m.removed) for m in self.mirrored)
            status = "cancelled" if self._cancelled() else "ok"
            return summary
        except Cancelled:  # a connector's wait was cut short: state is consistent, stop here
            status = "cancelled"
            return summary
        except KeyboardInterrupt:  # Ctrl-C: the journal lets the next run finish what is in flight
            status = "cancelled"
            raise
        finally:
            summary.status = status
            summary.seconds = self.clock() - t0
            summary.dataverse_requests = _count(dv, "requests") - dv0
            summary.dotdigital_calls = _count(dd, "calls") - dd0
            counts = {k: getattr(summary, k) for k in
                      ("created", "updated", "unchanged", "skipped", "failed")}
            counts["failure_codes"] = summary.failure_codes
            counts["seconds"] = round(summary.seconds, 2)  # the run history shows what the run said
            st.finish_run(run_id, status, counts, dataverse_requests=summary.dataverse_requests,
                          dotdigital_calls=summary.dotdigital_calls)
            self._update(phase="done", message=status, force=True)

    def _carry(self, records: list[CrmRecord], prior: dict[tuple[str, str], PriorState],
               verdicts: list[RecordVerdict]) -> dict[str, int]:
        """After an incremental read: guard the identifiers of records not read, and count
        those records by their last outcome (``held``: records the guard stopped)."""
        reader = self.reader
        if reader is None or not reader.incremental:
            return {"unchanged": 0, "skipped": 0, "held": 0}
        read = {(r.entity, r.id.lower()) for r in records}
        gone = {(e, i.lower()) for e, i in reader.deleted} | {(e, i.lower()) for e, i in reader.out_of_scope}
        unread = {k for k in prior if (k[0], k[1].lower()) not in read and (k[0], k[1].lower()) not in gone}
        held = hold_known_identifiers(verdicts, prior, unread)
        return {**carried_counts(prior, unread), "held": held}

    def _send(self, run_id: int, verdicts: list[RecordVerdict], summary: RunSummary) -> None:
        st, env = self.services.state, self.services.env_key
        to_send = [v for v in verdicts if v.verdict in SENT and v.payload is not None]
        # Records Dotdigital rejected last time go first.
        to_send.sort(key=lambda v: 0 if (v.prior and v.prior.outcome == "failed") else 1)
        rest: list[Outcome] = []
        held: list[Outcome] = []
        for v in verdicts:
            if v.verdict in SENT and v.payload is not None:
                continue
            if v.verdict == Verdict.UNCHANGED.value:
                summary.unchanged += 1
                rest.append(Outcome(v.record.entity, v.record.id, "unchanged", v.reason))
            elif v.key in self.held:
                summary.skipped += 1
                held.append(Outcome(v.record.entity, v.record.id, "skip", v.reason))
            else:
                summary.skipped += 1
                rest.append(Outcome(v.record.entity, v.record.id, "skip", v.reason))
        st.record_outcomes(env, run_id, rest)
        st.record_outcomes(env, run_id, held, update_records=False)  # they stay "failed"
        rest += held
        done = len(rest)
        self._update(phase="sending", done=done, total=len(verdicts), unchanged=summary.unchanged,
                     skipped=summary.skipped, force=True)
        self._rate.restart(done)

        def on_done(job: InFlight, outcomes: list[Outcome]) -> None:
            for o in outcomes:
                if o.outcome == "created":
                    summary.created += 1
                elif o.outcome == "updated":
                    summary.updated += 1
                else:
                    summary.failed += 1
                    for code in o.failure_codes:
                        summary.failure_codes[code] = summary.failure_codes.get(code, 0) + 1
            self._update(done=self.progress.done + len(outcomes), created=summary.created,
                         updated=summary.updated, failed=summary.failed)

        runner = self._runner(on_done)
        for no, chunk in enumerate(plan_mod.batches(to_send, self.config.sync.batch_size), 1):
            if self._cancelled():
                break
            runner.send(run_id, no, chunk)
        if not self._cancelled():
            self._update(phase="waiting", force=True)
        runner.drain()


def _pn_version() -> str:
    try:
        import phonenumbers

        return str(phonenumbers.__version__)
    except Exception:  # pragma: no cover
        return ""


__all__ = ["Engine", "Preview", "RunSummary"]
