"""Fakes for the TUI: services and an engine that behave like the contracts in
docs/architecture.md, with deterministic data."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from dynsync_tui.core.config import Config
from dynsync_tui.core.records import CrmRecord, PriorState, RecordVerdict

SKIP_REASONS = ("no_mobile", "invalid_mobile", "not_mobile", "duplicate_email", "no_email")


def make_verdicts(n: int) -> list[RecordVerdict]:
    """n deterministic verdicts: mostly creates, some updates/unchanged, a spread of skips."""
    out: list[RecordVerdict] = []
    for i in range(n):
        entity = ("contact", "lead", "account")[i % 3]
        email = f"person{i}@example.com"
        raw = f"07700 9{i % 100000:05d}"
        rec = CrmRecord(entity, f"00000000-0000-0000-0000-{i:012d}", email, raw,
                        name=f"Person {i}", fields={"FIRSTNAME": f"P{i}"})
        k = i % 10
        if k < 5:
            e164 = f"+4477009{i % 100000:05d}"
            out.append(RecordVerdict(rec, "create", email=email, e164=e164,
                                     corrections=(f"{raw} → {e164}",),
                                     payload={"identifiers": {"email": email, "mobileNumber": e164},
                                              "dataFields": {"FIRSTNAME": f"P{i}"}}))
        elif k == 5:
            out.append(RecordVerdict(rec, "update", email=email, e164=f"+4477009{i % 100000:05d}", contact_id=i,
                                     prior=PriorState(i, email, f"+4477009{i % 100000:05d}", "h", "created"),
                                     payload={"identifiers": {"email": email}}))
        elif k == 6:
            out.append(RecordVerdict(rec, "unchanged", email=email, contact_id=i))
        else:
            out.append(RecordVerdict(rec, "skip", reason=SKIP_REASONS[(i // 10) % len(SKIP_REASONS)],
                                     email=email))
    return out


@dataclass
class FakePreview:
    verdicts: list[RecordVerdict]
    summary: Any = None


@dataclass
class FakeRunSummary:
    run_id: int
    created: int
    updated: int
    unchanged: int
    skipped: int
    failed: int
    seconds: float = 1.5


@dataclass
class FakeState:
    runs_list: list[Any] = field(default_factory=list)
    records: dict[int, list[Any]] = field(default_factory=dict)

    def runs(self, env_key: str) -> list[Any]:
        return list(reversed(self.runs_list))

    def run_records(self, run_id: int) -> list[Any]:
        return self.records.get(run_id, [])


class FakeDataverse:
    def __init__(self, lists: list[Any] | None = None) -> None:
        self._lists = lists if lists is not None else default_lists()

    def whoami(self) -> dict[str, str]:
        return {"UserId": "user-1", "OrganizationId": "org-1"}

    def count(self, entity_set: str, filter: str | None = None) -> int:
        return {"contacts": 1200, "leads": 300, "accounts": 80}.get(entity_set, 0)

    def attributes(self, entity: str) -> list[Any]:
        names = [("emailaddress1", "Email", "String"), ("mobilephone", "Mobile Phone", "Phone"),
                 ("telephone1", "Business Phone", "Phone"), ("firstname", "First Name", "String"),
                 ("lastname", "Last Name", "String"), ("parentcustomerid", "Company Name", "Lookup")]
        return [SimpleNamespace(logical_name=n, display_name=d, type=t, is_text_like=t != "Lookup")
                for n, d, t in names]

    def relationships(self, entity: str) -> list[Any]:
        return [SimpleNamespace(lookup="parentcustomerid", nav="parentcustomerid_account", target="account",
                                target_key="accountid")]

    def iter_pages(self, entity_set: str, *, select: list[str], **kw: Any) -> Any:
        if entity_set == "systemusers":
            yield [{"fullname": "Alex Admin"}]
            return
        numbers = ["07700 900123", "+33 6 12 34 56 78", "+44 7700 900456", "", "0049 171 1234567"] * 20
        yield [{select[0]: n} for n in numbers]

    def activation_columns(self) -> list[Any]:
        return [SimpleNamespace(logical_name="esc_activatedforemail", display_name="Activated for Email",
                                type="Boolean")]

    def lists(self, activation_column: str = "") -> list[Any]:
        """Like the connector: without the column, nobody knows whether a list is activated."""
        if activation_column:
            return self._lists
        return [SimpleNamespace(**{**vars(m), "activated": None}) for m in self._lists]


def default_lists() -> list[Any]:
    def ml(i: int, name: str, dynamic: bool, member: str, count: int, act: bool, ok: bool, why: str = "") -> Any:
        return SimpleNamespace(id=f"list-{i}", name=name, dynamic=dynamic, member_type=member,
                               member_count=count, activated=act, eligible=ok, why=why)

    return [ml(1, "Spring newsletter", True, "contact", 0, True, True),
            ml(2, "Trade show leads", True, "lead", 95, True, True),
            ml(3, "Partner accounts", False, "account", 12, False, False,
               "Static list: only dynamic lists sync, as with the Dotdigital connector.")]


class FakeDotdigital:
    def __init__(self) -> None:
        self.created_fields: list[tuple[str, str]] = []

    def account_info(self) -> dict[str, Any]:
        return {"id": 1, "properties": [{"name": "Name", "value": "Acme Ltd"},
                                         {"name": "ApiEndpoint", "value": "https://r1-api.example/"}]}

    def data_fields(self) -> list[dict[str, str]]:
        return [{"name": "FIRSTNAME", "type": "String"}, {"name": "LASTNAME", "type": "String"}]

    def address_books(self) -> list[dict[str, Any]]:
        return [{"id": 7, "name": "Newsletter"}]

    def create_data_field(self, name: str, type: str) -> None:
        self.created_fields.append((name, type))


def fake_services(lists: list[Any] | None = None) -> Any:
    return SimpleNamespace(dataverse=FakeDataverse(lists), dotdigital=FakeDotdigital(), state=FakeState(),
                           env_key="sandbox-org", label="sandbox")


class FakeEngine:
    """Follows the Engine contract. ``sync`` emits Progress-shaped events from the calling thread
    and records a run in the fake state. ``gate`` (an Event) pauses the sync mid-way for tests."""

    def __init__(self, config: Config, services: Any, *, on_event: Any = None, cancel: Any = None,
                 n: int = 200, gate: threading.Event | None = None) -> None:
        self.config, self.services, self.on_event = config, services, on_event
        self.cancel = cancel or threading.Event()
        self.n, self.gate = n, gate

    def preview(self) -> FakePreview:
        return FakePreview(make_verdicts(self.n))

    def _emit(self, phase: str, done: int, total: int, counts: dict[str, int], message: str = "") -> None:
        if self.on_event:
            self.on_event(SimpleNamespace(phase=phase, done=done, total=total, throughput=100.0, eta_s=1.0,
                                          message=message, **counts))

    def sync(self, full: bool = False) -> FakeRunSummary:
        verdicts = make_verdicts(self.n)
        counts = dict.fromkeys(("created", "updated", "unchanged", "skipped", "failed"), 0)
        key = {"create": "created", "update": "updated", "unchanged": "unchanged", "skip": "skipped"}
        self._emit("reading", 0, self.n, counts, "Reading 200 records")
        done = 0
        for i, v in enumerate(verdicts):
            if self.cancel.is_set():
                break
            if i == self.n // 2 and self.gate is not None:
                self.gate.wait(5)
            counts[key[v.verdict]] += 1
            done = i + 1
            if i % 20 == 19:
                self._emit("sending", done, self.n, counts, f"Batch {i // 20 + 1} sent")
        self._emit("done", done, self.n, counts)  # like the engine: the count where it stopped
        state: FakeState = self.services.state
        run = FakeRunSummary(len(state.runs_list) + 1, **counts)
        state.runs_list.append(SimpleNamespace(id=run.run_id, started=f"2026-12-03T10:0{run.run_id}:00",
                                               status="ok", counts={**counts, "seconds": run.seconds}))
        state.records[run.run_id] = [{"entity": v.record.entity, "id": v.record.id,  # no email: like the state
                                      "verdict": "failed" if i == 3 else v.verdict, "reason": v.reason,
                                      "failure_codes": ["InvalidMobile"] if i == 3 else []}
                                     for i, v in enumerate(verdicts[:50])]
        return run


def make_app(tmp: Path, *, services: Any = None, engine_kw: dict[str, Any] | None = None,
             connect: Any = None, config: Config | None = None, engine_factory: Any = None) -> Any:
    """The app wired to fakes (or to ``connect`` given by a test, e.g. the real sandbox)."""
    from dynsync_tui.paths import resolve
    from dynsync_tui.tui.app import create_app

    svc = services or fake_services()
    kw = engine_kw or {}
    if engine_factory is None and (connect is None or kw):
        engine_factory = lambda cfg, s, **k: FakeEngine(cfg, s, **{**k, **kw})
    return create_app(config=config or Config(), config_path=tmp / "config.toml", paths=resolve(tmp),
                      connect=connect or (lambda cfg: svc), sandbox_label="sandbox (fake)",
                      engine_factory=engine_factory)
