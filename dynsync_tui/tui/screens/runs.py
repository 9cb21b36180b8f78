"""Step 7, Runs: history from the state file, and per-record outcomes of a run."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from dynsync_tui.sync.state import KEEP_RUN_RECORDS
from dynsync_tui.tui.messages import RunRecordsLoaded, RunsLoaded, get
from dynsync_tui.tui.screens.base import WizardScreen
from dynsync_tui.tui.widgets.row_table import RowTable

RUN_COLUMNS = ("Run", "Started", "Status", "Created", "Updated", "Unchanged", "Skipped", "Failed", "Seconds")
SHOWN = 2000
RECORD_COLUMNS = (("Entity", 7), ("Record", 20), ("Email", 28), ("Outcome", 9), ("Reason / failure", 30))


def run_seconds(run: Any) -> float | None:
    counts = get(run, "counts") or {}
    seconds = get(counts, "seconds", get(run, "seconds"))
    if isinstance(seconds, int | float):
        return float(seconds)
    try:
        start = datetime.fromisoformat(str(get(run, "started")))
        end = datetime.fromisoformat(str(get(run, "finished")))
    except (TypeError, ValueError):
        return None
    return (end - start).total_seconds()


def run_row(run: Any) -> list[Text]:
    """A RunRow (id, started, finished, status, counts{...}) or a RunSummary-like object."""
    counts = get(run, "counts") or run
    seconds = run_seconds(run)
    cells = [get(run, "id", get(run, "run_id")), str(get(run, "started", "") or "")[:19],
             get(run, "status", "") or "",
             *(f"{get(counts, k, 0) or 0:,}" for k in ("created", "updated", "unchanged", "skipped", "failed")),
             "" if seconds is None else f"{seconds:.1f}"]
    style = "red" if (get(counts, "failed", 0) or 0) else ""
    return [Text("" if c is None else str(c), style=style) for c in cells]


def known_people(state: Any, env_key: str, preview: Any) -> dict[tuple[str, str], tuple[str, str]]:
    """(entity, lower-case id) → (name, email): emails last sent from the state file, names (and
    emails) from the last preview when there is one. Thread side."""
    out: dict[tuple[str, str], tuple[str, str]] = {}
    prior = getattr(state, "prior", None)
    for (entity, rid), p in (prior(env_key) if callable(prior) else {}).items():
        out[(entity, str(rid).lower())] = ("", str(get(p, "email") or ""))
    for v in getattr(preview, "verdicts", None) or ():
        r = v.record
        key = (r.entity, str(r.id).lower())
        out[key] = (str(r.name or ""), out.get(key, ("", ""))[1] or str(v.email or r.email or ""))
    return out


def with_people(records: list[Any], people: dict[tuple[str, str], tuple[str, str]]) -> list[dict[str, Any]]:
    out = []
    for rec in records:
        d = dict(rec) if isinstance(rec, dict) else dict(vars(rec))
        name, email = people.get((str(d.get("entity")), str(d.get("id", "")).lower()), ("", ""))
        d["name"] = d.get("name") or name
        d["email"] = d.get("email") or email
        out.append(d)
    return out


def pruned_text(run_id: Any) -> str:
    """What the records pane says for a run whose per-record rows the state no longer keeps."""
    return (f"Run {run_id}: its per-record outcomes are no longer kept (the state keeps them for "
            f"the last {KEEP_RUN_RECORDS} runs); the run's counts above still stand.")


def record_row(rec: Any) -> list[Text]:
    outcome = get(rec, "verdict", get(rec, "outcome")) or ""
    codes = get(rec, "failure_codes") or get(rec, "failure") or ""
    if isinstance(codes, list | tuple):
        codes = ", ".join(str(c) for c in codes)
    reason = " ".join(str(x) for x in (get(rec, "reason") or "", codes) if x)
    cells = [get(rec, "entity", ""), get(rec, "name") or get(rec, "id", ""), get(rec, "email", "") or "", outcome,
             reason]
    cells = [c if c is None or len(str(c)) <= 28 else str(c)[:27] + "…" for c in cells]
    style = "red" if outcome == "failed" else ""
    return [Text("" if c is None else str(c), style=style) for c in cells]


class RunsScreen(WizardScreen):
    STEP = "runs"
    AUTO_FOCUS = "#runs"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "Reload", id="runs.reload", tooltip="Read the run history again"),
        Binding("s", "retry", "Sync again", id="runs.retry",
                tooltip="Start a sync: records Dotdigital rejected are sent first"),
    ]
    PALETTE: ClassVar[list[tuple[str, str, str]]] = [
        ("reload runs", "Read the run history again", "reload"),
        ("sync again (retry failed)", "Start a sync; rejected records go first", "retry"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[Any] = []

    def compose_body(self) -> ComposeResult:
        yield Static("Run history", classes="title")
        yield RowTable(*RUN_COLUMNS, id="runs")
        yield Static("", id="runs-empty", classes="hint")
        yield Static("Records of the chosen run", classes="title")
        records = RowTable(id="records", zebra_stripes=True)
        for label, width in RECORD_COLUMNS:  # fixed widths: 2,000 rows are not measured, nothing jumps
            records.add_column(label, width=width)
        yield records
        yield Static("s syncs again: failed records Dotdigital may accept go first; those refused for good "
                     "wait until the record changes in Dynamics.", id="retry-hint", classes="hint")

    def action_retry(self) -> None:
        self.dapp.action_goto("sync")
        self.app.call_after_refresh(self.app.get_screen("sync").action_start)

    def on_screen_resume(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        def work() -> None:
            svc = self.dapp.services()
            self.post_message(RunsLoaded(list(svc.state.runs(svc.env_key))))

        self.run_io(work, group="runs", description="Reading the run history failed")

    def on_runs_loaded(self, message: RunsLoaded) -> None:
        self.runs = message.runs
        table = self.query_one("#runs", DataTable)
        table.clear()
        for run in self.runs:
            table.add_row(*run_row(run))
        empty = self.query_one("#runs-empty", Static)
        empty.update("" if self.runs else "No runs yet.")
        empty.display = not self.runs
        if self.runs:
            table.move_cursor(row=0)
            self.open_run(0)

    @on(DataTable.RowSelected, "#runs")
    def _chosen(self, event: DataTable.RowSelected) -> None:
        self.open_run(event.cursor_row)

    def open_run(self, row: int) -> None:
        run_id = get(self.runs[row], "id", get(self.runs[row], "run_id"))

        preview = self.dapp.preview_result

        def work() -> None:
            svc = self.dapp.services()
            people = known_people(svc.state, svc.env_key, preview)
            self.post_message(RunRecordsLoaded(run_id, with_people(list(svc.state.run_records(run_id)), people)))

        self.run_io(work, group="run-records", description="Reading the run's records failed")

    def on_run_records_loaded(self, message: RunRecordsLoaded) -> None:
        """Failed records first, then skips, then the rest; at most SHOWN rows (a DataTable)."""
        table = self.query_one("#records", DataTable)
        table.clear()
        run = next((r for r in self.runs if get(r, "id", get(r, "run_id")) == message.run_id), None)
        if not message.records and get(run, "records_pruned"):
            self.set_status(pruned_text(message.run_id))
            return
        order = {"failed": 0, "skip": 1}
        ranked = sorted(message.records, key=lambda r: order.get(get(r, "verdict", get(r, "outcome")), 2))
        for rec in ranked[:SHOWN]:
            table.add_row(*record_row(rec))
        failed = sum(1 for r in message.records if get(r, "verdict", get(r, "outcome")) == "failed")
        more = len(message.records) - SHOWN
        self.set_status(f"Run {message.run_id}: {len(message.records):,} records, {failed:,} failed (shown first)"
                        + (f"; first {SHOWN:,} shown, {more:,} more" if more > 0 else "") + ".")
