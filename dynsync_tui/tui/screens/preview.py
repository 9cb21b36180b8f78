"""Step 5, Preview: what the sync would do with each record, and why."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, OptionList, Static

from dynsync_tui.core.config import EMAIL_CHANGE_POLICIES, dumps
from dynsync_tui.core.export import write_csv
from dynsync_tui.tui.messages import (
    Exported,
    PreviewLoaded,
    RowsSelected,
    WorkerFailed,
    one_line,
)
from dynsync_tui.tui.screens.base import WizardScreen
from dynsync_tui.tui.widgets.preview_index import SORT_KEYS, PreviewIndex, write_json
from dynsync_tui.tui.widgets.reason_bars import ALL, ReasonBars
from dynsync_tui.tui.widgets.record_detail import RecordDetail
from dynsync_tui.tui.widgets.verdict_table import VerdictTable

POLICY_TEXT = {
    "duplicate": "a record whose email changed becomes a new Dotdigital contact (the old one stays)",
    "update": "a record whose email changed updates its existing contact's email",
    "skip": "a record whose email changed is skipped until you decide",
}


class PreviewScreen(WizardScreen):
    STEP = "preview"
    AUTO_FOCUS = "#records"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "Reload", show=False, id="preview.reload", tooltip="Read the records again"),
        Binding("slash", "search", "Search", id="preview.search", tooltip="Search name, email or phone"),
        Binding("s", "sort", "Sort", id="preview.sort", tooltip="Cycle sort: entity, email, verdict"),
        Binding("d", "detail", "Detail", id="preview.detail", tooltip="Show or hide the record detail"),
        Binding("escape", "close_detail", "Close", id="preview.close_detail",
                tooltip="Hide the record detail"),
        Binding("x", "export('csv')", "CSV", id="preview.export_csv",
                tooltip="Write the records shown to preview-export.csv beside the config"),
        Binding("j", "export('json')", "Export JSON", show=False, id="preview.export_json",
                tooltip="Write counts and the records shown to preview-export.json beside the config"),
        Binding("p", "policy", "Email policy", id="preview.policy",
                tooltip="Cycle on_email_change: duplicate, update, skip (then re-preview)"),
    ]
    PALETTE: ClassVar[list[tuple[str, str, str]]] = [
        ("reload preview", "Read the records again", "reload"),
        ("search records", "Search name, email or phone", "search"),
        ("toggle detail pane", "Show or hide the record detail", "detail"),
        ("cycle sort", "Sort by entity, email or verdict", "sort"),
        ("export CSV", "Write the records shown to a CSV file", "export('csv')"),
        ("export JSON", "Write counts and the records shown to a JSON file", "export('json')"),
        ("email-change policy", "Cycle on_email_change (duplicate, update, skip)", "policy"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.index: PreviewIndex | None = None
        self.code: str | None = None
        self.query_text = ""
        self.sort = "none"
        self._generation = 0
        self._fingerprint = ""

    def compose_body(self) -> ComposeResult:
        yield ReasonBars(id="reasons")
        with Horizontal(id="toolbar"):
            yield Input(placeholder="/ search name, email or phone", id="search")
            yield Static("", id="view-info")
        yield VerdictTable(id="records")
        with VerticalScroll(id="detail-pane"):
            yield RecordDetail(id="detail")

    def on_screen_resume(self) -> None:
        fingerprint = f"{self.dapp.generation}\n{dumps(self.dapp.config)}"
        if fingerprint != self._fingerprint:
            self._fingerprint = fingerprint
            self.action_reload()

    # ---------------------------------------------------------------- loading

    def action_reload(self) -> None:
        """Save first (the preview shows what a headless run of config.toml would do), check the
        config against Dataverse metadata, then preview."""
        error = self.dapp.try_save()
        if error:
            self.set_status(f"Not saved, so not previewed: {error}", error=True)
            self._fingerprint = ""  # try again when the step is shown next
            return
        self.set_status("Reading records…")

        def work() -> None:
            from dynsync_tui.sync import preflight
            from dynsync_tui.tui.screens.sync import fix_hint

            try:
                preflight.check(self.dapp.config, self.dapp.services().dataverse)
            except preflight.PreflightError as exc:
                self.post_message(WorkerFailed(f"Pre-flight check: {one_line(exc)} ({fix_hint(str(exc))})"))
                return
            preview = self.dapp.make_engine().preview()
            self.post_message(PreviewLoaded(preview.verdicts, None))  # rows first: paint at once
            self.post_message(PreviewLoaded(preview.verdicts, PreviewIndex(preview.verdicts)))

        self.run_io(work, group="preview", description="Preview failed")

    def on_worker_failed(self, message: WorkerFailed) -> None:
        """A failed preview says so first: the counts and rows still shown are the last good ones."""
        stale = "Showing the previous preview. " if self.index is not None else ""
        self.set_status(stale + message.text, error=True)
        message.prevent_default()  # the base screen's handler would show the text alone

    def on_preview_loaded(self, message: PreviewLoaded) -> None:
        if message.index is None:
            self.index = None
            self.query_one("#records", VerdictTable).set_data(message.verdicts)
            self.set_status(f"{len(message.verdicts):,} records read; counting reasons…")
            return
        self.load(message.index)

    def load(self, index: PreviewIndex) -> None:
        self.index = index
        self.dapp.preview_result = index
        self.dapp.preview_generation = self.dapp.generation
        if self.code is not None and self.code not in dict(index.counts()):
            self.code = None  # the reason is gone; search text and sort stay as the boxes show
        self.query_one("#reasons", ReasonBars).show(index.counts(), index.total, index.flags())
        table = self.query_one("#records", VerdictTable)
        if table.verdicts is not index.verdicts or len(table.rows) != index.total:
            table.set_data(index.verdicts)
        self._info()
        if self.code or self.query_text.strip() or self.sort != "none":
            self.reselect()  # the view matches the search box after a reload
        self.set_status(f"{index.total:,} records in scope. Choose a line above to filter; "
                        "enter on a record for its detail.")

    # ---------------------------------------------------------------- filter, search, sort

    @on(OptionList.OptionSelected, "#reasons")
    def _filter(self, event: OptionList.OptionSelected) -> None:
        self.code = None if event.option.id == ALL else event.option.id
        self.reselect()

    @on(Input.Changed, "#search")
    def _search(self, event: Input.Changed) -> None:
        self.query_text = event.value
        self.reselect()

    @on(Input.Submitted, "#search")
    def _search_done(self) -> None:
        self.query_one("#records", VerdictTable).focus()

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_sort(self) -> None:
        self.sort = SORT_KEYS[(SORT_KEYS.index(self.sort) + 1) % len(SORT_KEYS)]
        self.reselect()

    def reselect(self) -> None:
        """Cheap views (a reason, no search, no sort) swap at once; the rest run in a thread."""
        if self.index is None:
            return
        self._generation += 1
        gen, index, code, query, sort = self._generation, self.index, self.code, self.query_text, self.sort
        if not query.strip() and sort == "none":
            self.on_rows_selected(RowsSelected(index.select(code), gen))
            return
        self.query_one("#view-info", Static).update("searching…")

        def work() -> None:
            self.post_message(RowsSelected(index.select(code, query, sort), gen))

        self.run_io(work, group="select", description="Search failed")

    def on_rows_selected(self, message: RowsSelected) -> None:
        if message.generation != self._generation:
            return  # an older search finished after a newer one started
        self.query_one("#records", VerdictTable).set_rows(message.rows)
        self._info()

    def _info(self) -> None:
        table = self.query_one("#records", VerdictTable)
        parts = [f"{len(table.rows):,} of {self.index.total if self.index else 0:,}"]
        if self.code:
            parts.append(f"reason {self.code}")
        if self.sort != "none":
            parts.append(f"sorted by {self.sort}")
        parts.append(f"email change: {self.dapp.config.sync.on_email_change}")
        self.query_one("#view-info", Static).update(" · ".join(parts))

    # ---------------------------------------------------------------- detail

    @on(VerdictTable.Highlighted, "#records")
    def _highlighted(self, event: VerdictTable.Highlighted) -> None:
        pane = self.query_one("#detail-pane")
        if pane.display and self.index is not None:
            v = None if event.index is None else self.index.verdicts[event.index]
            self.query_one("#detail", RecordDetail).show(v)

    def action_detail(self) -> None:
        pane = self.query_one("#detail-pane")
        pane.display = not pane.display
        self.refresh_bindings()
        if pane.display and self.index is not None:
            current = self.query_one("#records", VerdictTable).current
            self.query_one("#detail", RecordDetail).show(None if current is None else self.index.verdicts[current])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "close_detail":
            return bool(self.query_one("#detail-pane").display)
        return super().check_action(action, parameters)

    def action_close_detail(self) -> None:
        if self.query_one("#detail-pane").display:
            self.action_detail()
            self.query_one("#records", VerdictTable).focus()

    def key_enter(self) -> None:
        if self.focused is self.query_one("#records", VerdictTable):
            if not self.query_one("#detail-pane").display:
                self.action_detail()
            self.query_one("#detail-pane").focus()

    # ---------------------------------------------------------------- export, policy

    def action_export(self, kind: str) -> None:
        if self.index is None:
            return
        index, rows = self.index, list(self.query_one("#records", VerdictTable).rows)
        path = (self.dapp.config_path.parent / f"preview-export.{kind}").resolve()

        def work() -> None:
            if kind == "csv":
                write_csv(path, (index.verdicts[i] for i in rows))
            else:
                write_json(path, index, rows)
            self.post_message(Exported(f"Wrote {len(rows):,} records to {path}"))

        self.run_io(work, group="export", description=f"Export to {path} failed")

    def on_exported(self, message: Exported) -> None:
        self.set_status(message.text)
        self.notify(message.text, title="Export")

    def action_policy(self) -> None:
        sync = self.dapp.config.sync
        sync.on_email_change = EMAIL_CHANGE_POLICIES[
            (EMAIL_CHANGE_POLICIES.index(sync.on_email_change) + 1) % len(EMAIL_CHANGE_POLICIES)]
        self.notify(f"Now {sync.on_email_change}: {POLICY_TEXT[sync.on_email_change]}. Saved to "
                    f"{self.dapp.config_path.name} with the preview that follows.", title="Email-change policy")
        self.on_screen_resume()
