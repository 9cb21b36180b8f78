"""Step 6, Sync: run it and watch it; cancel with confirmation; a summary at the end."""

from __future__ import annotations

import threading
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


def summary_text(summary: Any, cancelled: bool) -> str:
    head = "Sync cancelled" if cancelled else "Sync finished"
    run = get(summary, "run_id")
    seconds = get(summary, "seconds", 0.0) or 0.0
    return (f"{head}{f' (run {run})' if run is not None else ''} in {seconds:.1f} s — "
            f"{counters_text(summary)}.  [@click=app.goto('runs')]Open the run[/] (7).")


class SyncScreen(WizardScreen):
    STEP = "sync"
    AUTO_FOCUS = "#start"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "start", "Start sync", id="sync.start", tooltip="Start the sync"),
        Binding("escape,c", "cancel", "Cancel sync", id="sync.cancel", tooltip="Cancel the running sync"),
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

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="sync-actions"):
            yield Button("Start sync", id="start", variant="success", tooltip="Start the sync (enter)", compact=True)
            yield Checkbox("Full sync (resend unchanged records)", id="full", compact=True)
            yield Button("Cancel", id="cancel", variant="error", disabled=True, tooltip="Cancel (escape)", compact=True)
        yield Static("Ready. The preview shows what will be sent.", id="phase")
        yield ProgressBar(total=100, show_eta=True, id="bar", clock=self._clock)  # determinate: no animation while idle
        yield Static("", id="throughput", classes="hint")
        yield Static(counters_text({}), id="counters")
        yield Static("", id="notice")
        yield Log(id="log", max_lines=2000)
        yield Static("", id="summary")

    def can_leave(self) -> bool:
        return not self.running

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        if self.running:
            return
        self.running = True
        self.cancel_event = threading.Event()
        self._last_phase = ""
        self.query_one("#start", Button).disabled = True
        self.query_one("#cancel", Button).disabled = False
        self.query_one("#summary", Static).update("")
        self.query_one("#notice", Static).update("")
        self.query_one("#bar", ProgressBar).update(total=None, progress=0)
        full = self.query_one("#full", Checkbox).value
        self.query_one("#log", Log).write_line("Sync started" + (" (full)" if full else "") + ".")
        self.set_status("")
        cancel = self.cancel_event

        last = [""]

        def on_event(p: Any) -> None:  # called on the engine's thread: post, never touch widgets
            self.post_message(SyncProgress(p))
            text = "" if get(p, "phase") == "done" else str(get(p, "message") or "")
            if text and text != last[0]:  # the engine repeats its last message on every event
                last[0] = text
                self.post_message(SyncLog(text, notice=is_notice(text)))

        def work() -> None:
            try:
                summary = self.dapp.make_engine(on_event=on_event, cancel=cancel).sync(full=full)
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
            self.query_one("#log", Log).write_line(f"Phase: {PHASE_TEXT.get(phase, phase)}")
        done, total = get(p, "done", 0) or 0, get(p, "total", 0) or 0
        self.query_one("#phase", Static).update(f"{PHASE_TEXT.get(phase, phase)} — {done:,} of {total:,}")
        self.query_one("#bar", ProgressBar).update(total=total or None, progress=done)
        rate, eta = get(p, "throughput", 0.0) or 0.0, get(p, "eta_s")
        self.query_one("#throughput", Static).update(
            f"{rate:,.0f} records/s" + (f", about {eta:,.0f} s left" if eta is not None else ""))
        self.query_one("#counters", Static).update(counters_text(p))

    def on_sync_log(self, message: SyncLog) -> None:
        self.query_one("#log", Log).write_line(message.line)
        if message.notice:
            self.query_one("#notice", Static).update(f"⚠ {message.line}")

    def on_sync_finished(self, message: SyncFinished) -> None:
        self.running = False
        self.dapp.generation += 1  # the state changed: the preview reads again when next shown
        self.query_one("#start", Button).disabled = False
        self.query_one("#cancel", Button).disabled = True
        log = self.query_one("#log", Log)
        if message.error:
            self.query_one("#phase", Static).update("Sync failed.")
            self.set_status(f"Sync failed: {message.error}", error=True)
            log.write_line(f"Sync failed: {message.error}")
            return
        text = summary_text(message.summary, message.cancelled)
        self.query_one("#phase", Static).update("Cancelled." if message.cancelled else "Done.")
        self.query_one("#counters", Static).update(counters_text(message.summary))
        self.query_one("#summary", Static).update(text)
        log.write_line(Text.from_markup(text).plain)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if not self.running:
            return

        def answer(yes: bool | None) -> None:
            if yes and self.running:
                self.cancel_event.set()
                self.query_one("#log", Log).write_line("Cancelling after the current batch…")

        self.app.push_screen(ConfirmScreen("Cancel the running sync? Records already sent stay sent.",
                                           yes="Cancel sync", no="Keep going"), answer)
