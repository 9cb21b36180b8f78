"""Progress events from the engine, and a throttle so a UI gets about ten a second."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

PHASES = ("reading", "checking", "sending", "waiting", "done")
PHASE_TEXT = {
    "reading": "Reading CRM",
    "checking": "Checking records",
    "sending": "Sending to Dotdigital",
    "waiting": "Waiting for Dotdigital",
    "done": "Done",
}


@dataclass(frozen=True, slots=True)
class Progress:
    phase: str  # reading | checking | sending | waiting | done
    done: int = 0
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    throughput: float = 0.0  # records per second
    eta_s: float | None = None
    message: str = ""

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    def line(self) -> str:
        """One human line, for a terminal progress display."""
        text = f"{PHASE_TEXT.get(self.phase, self.phase)}: {self.done}/{self.total}"
        text += (f"  created {self.created} updated {self.updated} unchanged {self.unchanged}"
                 f" skipped {self.skipped} failed {self.failed}")
        if self.throughput:
            text += f"  {self.throughput:.0f}/s"
        if self.eta_s is not None:
            text += f"  ETA {self.eta_s:.0f}s"
        if self.message:
            text += f"  {self.message}"
        return text


class Throttle:
    """Pass events on at most every ``interval`` seconds; phase changes and forced
    (final) events always go through."""

    def __init__(self, callback: Callable[[Progress], None] | None, interval: float = 0.1,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.callback = callback
        self.interval = interval
        self.clock = clock
        self._last_at: float | None = None
        self._last_phase: str | None = None
        self.emitted = 0

    def __call__(self, event: Progress, force: bool = False) -> bool:
        if self.callback is None:
            return False
        now = self.clock()
        due = (force or event.phase != self._last_phase or event.phase == "done"
               or self._last_at is None or now - self._last_at >= self.interval)
        if not due:
            return False
        self._last_at = now
        self._last_phase = event.phase
        self.emitted += 1
        self.callback(event)
        return True


class Rate:
    """Throughput and ETA from the records done since a start time."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.base = 0

    def restart(self, base_done: int = 0) -> None:
        self.started = self.clock()
        self.base = base_done

    def apply(self, p: Progress) -> Progress:
        elapsed = self.clock() - self.started
        moved = p.done - self.base
        if elapsed <= 0 or moved <= 0:
            return p
        rate = moved / elapsed
        left = max(0, p.total - p.done)
        return replace(p, throughput=rate, eta_s=left / rate)


__all__ = ["PHASES", "PHASE_TEXT", "Progress", "Rate", "Throttle"]
