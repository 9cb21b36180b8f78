"""Step 6, Sync: run it and watch it; cancel with confirmation; a summary at the end."""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Button, Checkbox, Log, ProgressBar, Static

from dynsync_tui.tui.messages import SyncFinished, SyncLog, SyncProgress, get, one_line
from dynsync_tui.tui.screens.base import WizardScreen
from dynsync_tui.tui.widgets.confirm import ConfirmScreen
from dynsync_tui.tui.widgets.toggles import PlainCheckbox
from dynsync_tui.tui.widgets.wrap_log import WrapLog

PHASE_TEXT = {"reading": "Reading records from Dynamics", "checking": "Checking records",
              "sending": "Sending imports to Dotdigital", "waiting": "Waiting for Dotdigital imports",
              "done": "Done"}
COUNTERS = ("created", "updated", "unchanged", "skipped", "failed")


NOTICE_WORDS = ("throttl", "429", "retry", "resuming", "wait", "rate limit")


def is_notice(text: str) -> bool:
    """Engine messages worth a warning line (throttling, retries), not just the log."""
    low = text.lower()
    return any(w in low for w in NOTICE_WORDS)


def counters_text(source: Any) -> str:
    return "   ".join(f"{name}: {get(source, name, 0) or 0:,}" for name in COUNTERS)


def checked(summary: Any) -> int:
    return sum(int(get(summary, name, 0) or 0) for name in COUNTERS)


def rate_text(records: int, seconds: float) -> str:
    """Records checked over wall time, e.g. '3,656 records checked in 1.2 s (3,047 records/s)'."""
    rate = f" ({records / seconds:,.0f} records/s)" if seconds > 0 else ""
    return f"{records:,} records checked in {seconds:.1f} s{rate}"


def summary_text(summary: Any, cancelled: bool) -> str:
    head = "Cancelled: sync stopped" if cancelled else "Sync finished"
    run = get(summary, "run_id")
    seconds = get(summary, "seconds", 0.0) or 0.0
    return (f"{head}{f' (run {run})' if run is not None else ''} in {seconds:.1f} s — "
            f"{counters_text(summary)}.  [@click=app.goto('runs')]Open the run[/] (F7).")


def log_text(phase: str, message: str) -> str:
    """The log line for an engine message ('' for none): while reading, the engine names the
    entity set it is on ("contacts"), which reads better as a sentence."""
    if phase == "done" or not message:
        return ""
    if phase == "reading" and message.isidentifier():
        return f"Reading {message} from Dynamics…"
    return message


def confirm_text(preview: Any, full: bool, fresh: bool = True) -> str:
    """What the sync is about to do, from the last preview when there is one and nothing
    (a sync, a reconnect) has changed since it was read."""
    lines = ["Send records to Dotdigital now?"]
    if preview is not None and not fresh:
        lines.append("The last preview is older than the last sync: counts are unknown (F5 Preview reads them again).")
    elif preview is not None and hasattr(preview, "counts"):
        counts = dict(preview.counts())
        lines.append(f"From the last preview: {counts.get('create', 0):,} to create, "
                     f"{counts.get('update', 0):,} to update, {counts.get('unchanged', 0):,} unchanged, "
                     f"{sum(n for c, n in counts.items() if c not in ('create', 'update', 'unchanged')):,} skipped.")
    else:
        lines.append("No preview yet: counts are unknown (F5 Preview shows them).")
    lines.append("Full sync: yes (unchanged records are sent again)." if full else "Full sync: no.")
    return "\n".join(lines)


class SyncScreen(WizardScreen):
    STEP = "sync"
    AUTO_FOCUS = "#start"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "start", "Start sync", id="sync.start", tooltip="Start the sync (asks first)"),
        Binding("escape", "cancel", "Cancel sync", id="sync.cancel", tooltip="Cancel the running sync"),
    ]
    PALETTE: ClassVar[list[tuple[str, str, str]]] = [
        ("start sync", "Send the records to Dotdigital", "start"),
        ("cancel sync", "Stop after the current batch", "cancel"),
    ]

    def __init__(self, clock: Any = None) -> None:
        super().__init__()
        self.running = False
        self.cancel_event = threading.Event()
        self._clock = clock
        self._last_phase = ""
        self._started = 0.0
        self._cancel_dialog: ConfirmScreen | None = None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.running  # the footer shows "esc Cancel sync" only while a sync runs
        if action == "start":
            return not self.running
        return super().check_action(action, parameters)

    def _set_running(self, running: bool) -> None:
        self.running = running
        self.query_one("#start", Button).disabled = running
        self.query_one("#cancel", Button).disabled = not running
        self.refresh_bindings()

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="sync-actions"):
            yield Button("Start sync", id="start", variant="success", tooltip="Start the sync (enter)", compact=True)
            yield PlainCheckbox("Full sync: off", id="full", compact=True,
                           tooltip="On: unchanged records are sent again; off: only new and changed ones")
            yield Button("Cancel", id="cancel", variant="error", disabled=True, tooltip="Cancel (escape)", compact=True)
        yield Static("Ready. The preview shows what will be sent.", id="phase")
        yield ProgressBar(total=100, show_eta=True, id="bar", clock=self._clock)  # determinate: no animation while idle
        yield Static("", id="throughput", classes="hint")
        yield Static(counters_text({}), id="counters")
        yield Static("", id="notice")
        yield WrapLog(id="log", max_lines=2000)  # long lines wrap: nothing is cut at 80 or 100
        yield Static("", id="summary")

    def can_leave(self) -> bool:
        return not self.running

    @on(Checkbox.Changed, "#full")
    def _full_changed(self, event: Checkbox.Changed) -> None:
        event.checkbox.label = f"Full sync: {'ON — unchanged records are sent again' if event.value else 'off'}"

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        """Save the config (the sync runs what is on disk), then ask before sending anything."""
        if self.running:
            return
        error = self.dapp.try_save()
        if error:
            self.set_status(f"Not saved, so not synced: {error}", error=True)
            return
        full = self.query_one("#full", Checkbox).value

        def answer(yes: bool | None) -> None:
            if yes:
                self.run_sync(full)

        self.app.push_screen(ConfirmScreen(confirm_text(self.dapp.preview_result, full,
                                                        self.dapp.preview_generation == self.dapp.generation), yes="Sync",
                                           no="Cancel", yes_variant="success"), answer)

    def _show_eta(self, show: bool) -> None:
        for eta in self.query_one("#bar", ProgressBar).query("ETAStatus"):
            eta.display = show

    def run_sync(self, full: bool) -> None:
        if self.running:
            return
        self._set_running(True)
        self.cancel_event = threading.Event()
        self._last_phase = ""
        self._started = time.monotonic()
        self.query_one("#summary", Static).update("")
        self.query_one("#notice", Static).update("")
        self.query_one("#throughput", Static).update("")
        self.query_one("#bar", ProgressBar).update(total=None, progress=0)
        self._show_eta(True)
        log = self.query_one("#log", Log)
        log.clear()  # each run starts a fresh log
        log.write_line("Sync started" + (" (full)" if full else "") + ".", scroll_end=True)
        self.set_status("")
        cancel = self.cancel_event
        last = [""]

        def on_event(p: Any) -> None:  # called on the engine's thread: post, never touch widgets
            self.post_message(SyncProgress(p))
            text = log_text(str(get(p, "phase") or ""), str(get(p, "message") or ""))
            if text and text != last[0]:  # the engine repeats its last message on every event
                last[0] = text
                self.post_message(SyncLog(text, notice=is_notice(text)))

        def work() -> None:
            from dynsync_tui.sync import preflight

            try:
                services = self.dapp.services()
                preflight.check(self.dapp.config, services.dataverse)
                summary = self.dapp.make_engine(on_event=on_event, cancel=cancel).sync(full=full)
            except preflight.PreflightError as exc:
                self.post_message(SyncFinished(None, error=f"pre-flight check: {one_line(exc)} "
                                                           f"({fix_hint(str(exc))})"))
                return
            except Exception as exc:  # noqa: BLE001 - shown as one line
                self.post_message(SyncFinished(None, cancelled=cancel.is_set(), error=one_line(exc)))
                return
            self.post_message(SyncFinished(summary, cancelled=cancel.is_set() or get(summary, "status") == "cancelled"))

        self.run_worker(work, group="sync", thread=True, exclusive=True, exit_on_error=False,
                        description="sync")

    def on_sync_progress(self, message: SyncProgress) -> None:
        p = message.progress
        phase = str(get(p, "phase", ""))
        if phase != self._last_phase:
            self._last_phase = phase
            self.query_one("#log", Log).write_line(f"Phase: {PHASE_TEXT.get(phase, phase)}", scroll_end=True)
        done, total = get(p, "done", 0) or 0, get(p, "total", 0) or 0
        self.query_one("#phase", Static).update(f"{PHASE_TEXT.get(phase, phase)} — {done:,} of {total:,}")
        self.query_one("#bar", ProgressBar).update(total=total or None, progress=done)
        rate, eta = get(p, "throughput", 0.0) or 0.0, get(p, "eta_s")
        parts = [f"{time.monotonic() - self._started:,.0f} s elapsed"]
        if rate > 0:
            parts.append(f"{rate:,.0f} records/s")
        if eta is not None and rate > 0:
            parts.append(f"about {eta:,.0f} s left")
        self.query_one("#throughput", Static).update(" · ".join(parts))
        self.query_one("#counters", Static).update(counters_text(p))

    def on_sync_log(self, message: SyncLog) -> None:
        self.query_one("#log", Log).write_line(message.line, scroll_end=True)
        if message.notice:
            self.query_one("#notice", Static).update(f"⚠ {message.line}")

    def on_sync_finished(self, message: SyncFinished) -> None:
        self._set_running(False)
        self.dapp.generation += 1  # the state changed: the preview reads again when next shown
        dialog, self._cancel_dialog = self._cancel_dialog, None
        if dialog is not None and self.app.screen is dialog:
            dialog.dismiss(False)  # the run ended while the question was up: nothing left to cancel
        log = self.query_one("#log", Log)
        if message.error:
            self.query_one("#phase", Static).update("Sync failed.")
            self.set_status(f"Sync failed: {message.error}", error=True)
            log.write_line(f"Sync failed: {message.error}", scroll_end=True)
            return
        text = summary_text(message.summary, message.cancelled)
        if self.cancel_event.is_set() and not message.cancelled:
            text = "Too late to cancel: the run had already sent everything. " + text
        self.query_one("#phase", Static).update("Cancelled." if message.cancelled else "Done.")
        self.query_one("#counters", Static).update(counters_text(message.summary))
        n = checked(message.summary)
        seconds = float(get(message.summary, "seconds", 0.0) or 0.0) or (time.monotonic() - self._started)
        if not message.cancelled:  # a cancelled run's bar stays where the run stopped
            self.query_one("#bar", ProgressBar).update(total=max(n, 1), progress=max(n, 1))
        self._show_eta(False)  # no countdown after the run: the line below has the real time
        self.query_one("#throughput", Static).update(rate_text(n, seconds))
        self.query_one("#summary", Static).update(text)
        log.write_line(Text.from_markup(text).plain, scroll_end=True)
        self.call_after_refresh(log.scroll_end, animate=False)  # the summary took room: stay at the end

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if not self.running:
            return

        def answer(yes: bool | None) -> None:
            self._cancel_dialog = None
            if yes and self.running:
                self.cancel_event.set()  # the engine stops at its next safe point; the run ends "cancelled"
                self.query_one("#phase", Static).update("Cancelling after the current batch…")
                self.query_one("#log", Log).write_line("Cancelling after the current batch…", scroll_end=True)

        self._cancel_dialog = ConfirmScreen("Cancel the running sync? Records already sent stay sent.",
                                            yes="Cancel sync", no="Keep going")
        self.app.push_screen(self._cancel_dialog, answer)


def fix_hint(text: str) -> str:
    """Where to fix a pre-flight problem."""
    low = text.lower()
    if "consent" in low or "list" in low:
        return "fix it on F4 Lists"
    if "country" in low:
        return "fix it on F2 Country"
    return "fix it on F3 Mappings"
