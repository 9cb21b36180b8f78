"""HTTP plumbing shared by the connectors: the client factory, TLS trust, and the retry policy.

Waiting is done through a :class:`Pacer`: one place that closes a pause gate on a 429, sleeps
with backoff and jitter, tells the caller (``on_wait(seconds, why)``) so the UI can show
"throttled, resuming in N s", and stops promptly when a cancel event is set.
"""

from __future__ import annotations

import email.utils
import importlib.metadata
import logging
import random
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import httpx

from dynsync_tui.connectors.errors import Cancelled, ConnectorError


def _version() -> str:
    try:
        return importlib.metadata.version("dynsync")
    except importlib.metadata.PackageNotFoundError:
        return "0"


USER_AGENT = f"dynsync/{_version()}"
# The server gives up on a request after ~2 minutes: the read timeout must exceed 120 s.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=130.0, write=30.0, pool=30.0)
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
TRANSIENT_EXCEPTIONS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)

# Request lines go to the run log (dynsync_tui/logs.py masks PII in them). Only these query
# parameters keep their values; others ($filter, $skiptoken, ...) may carry record data.
_log = logging.getLogger("dynsync.http")
SAFE_QUERY_KEYS = frozenset({"$select", "$expand", "$orderby", "$top", "$count", "select", "skip", "take"})

OnWait = Callable[[float, str], None]
Sleep = Callable[[float], None]


def ssl_context(ca_file: str | Path) -> ssl.SSLContext:
    """A TLS context that trusts exactly the certificate(s) in ``ca_file`` and nothing else."""
    path = Path(ca_file)
    if not path.is_file():
        raise ConnectorError(f"CA file {path}: not found (it is written when the sandbox starts)")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_verify_locations(cafile=str(path))
    except (ssl.SSLError, OSError) as exc:
        raise ConnectorError(f"CA file {path}: not a PEM certificate ({exc.__class__.__name__})") from None
    return ctx


def loggable_path(url: httpx.URL) -> str:
    """The URL's path and query keys, with values kept only for :data:`SAFE_QUERY_KEYS`."""
    pairs = [f"{k}={v}" if k in SAFE_QUERY_KEYS else f"{k}=…" for k, v in url.params.multi_items()]
    return url.path + ("?" + "&".join(pairs) if pairs else "")


def _on_request(request: httpx.Request) -> None:
    request.extensions["dynsync_t0"] = time.monotonic()


def _on_response(response: httpx.Response) -> None:
    if not _log.isEnabledFor(logging.INFO):
        return
    request = response.request
    ms = (time.monotonic() - request.extensions.get("dynsync_t0", time.monotonic())) * 1000
    extra = ""
    if response.status_code == 429:
        extra = f" retry-after={response.headers.get('Retry-After', '-')}"
    _log.info("%s %s %s %.0fms%s", request.method, loggable_path(request.url), response.status_code, ms, extra)


def make_client(base_url: str, *, ca_file: str | Path | None = None,
                timeout: httpx.Timeout | float | None = None, auth: httpx.Auth | tuple | None = None,
                headers: dict[str, str] | None = None,
                transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """An ``httpx.Client`` for one service. With ``ca_file`` it trusts only that certificate;
    without, the system's default trust store. Never touches global SSL state.
    ``transport`` is for tests (``httpx.MockTransport``)."""
    verify: ssl.SSLContext | bool = ssl_context(ca_file) if ca_file else True
    merged = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    merged.update(headers or {})
    return httpx.Client(base_url=base_url, verify=verify, timeout=timeout or DEFAULT_TIMEOUT,
                        auth=auth, headers=merged, follow_redirects=False,
                        transport=transport,
                        event_hooks={"request": [_on_request], "response": [_on_response]})


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta seconds or an HTTP date. None if
    absent or unreadable; never negative."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter: base, base*factor, ... capped at ``cap``."""

    attempts: int = 5  # tries in all, the first included
    base: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    jitter: float = 0.25  # up to this fraction is added at random

    def delay(self, retry: int, rng: Callable[[], float] = random.random) -> float:
        """The wait before retry number ``retry`` (1 = the first retry)."""
        d = min(self.cap, self.base * self.factor ** max(0, retry - 1))
        return d + d * self.jitter * rng()


class Pacer:
    """Waits on behalf of one connector: a pause gate shared by its threads, cancel-aware sleep.

    ``sleep`` may be injected (tests pass a recorder); the default sleeps on the cancel event so
    a cancel interrupts the wait at once. ``on_wait(seconds, why)`` is called before each wait.
    """

    def __init__(self, *, sleep: Sleep | None = None, on_wait: OnWait | None = None,
                 cancel: threading.Event | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._sleep = sleep
        self.on_wait = on_wait
        self.cancel = cancel
        self._clock = clock
        self._lock = threading.Lock()
        self._gate_until = 0.0
        self._gate_why = ""
        self.waits = 0
        self.total_wait = 0.0

    def check_cancel(self, cancel: threading.Event | None = None) -> None:
        for ev in (self.cancel, cancel):
            if ev is not None and ev.is_set():
                raise Cancelled("Cancelled while waiting")

    def wait(self, seconds: float, why: str, *, cancel: threading.Event | None = None,
             announce: bool = True) -> None:
        """Sleep ``seconds`` (announced through on_wait unless ``announce`` is False), stopping
        early when this pacer's cancel event, or the one passed, is set."""
        self.check_cancel(cancel)
        if seconds <= 0:
            return
        self.waits += 1
        self.total_wait += seconds
        _log.info("wait %.1fs: %s", seconds, why)
        if announce and self.on_wait is not None:
            self.on_wait(seconds, why)
        events = [ev for ev in (self.cancel, cancel) if ev is not None]
        if self._sleep is not None:
            self._sleep(seconds)
        elif len(events) == 1:
            events[0].wait(seconds)
        elif events:  # two events: wake on either, in short slices
            deadline = time.monotonic() + seconds
            while not any(ev.is_set() for ev in events) and (left := deadline - time.monotonic()) > 0:
                events[0].wait(min(left, 0.1))
        else:
            time.sleep(seconds)
        self.check_cancel(cancel)

    def close_gate(self, seconds: float, why: str) -> None:
        """Hold every request of this connector for ``seconds`` from now."""
        with self._lock:
            until = self._clock() + seconds
            if until > self._gate_until:
                self._gate_until, self._gate_why = until, why

    def at_gate(self) -> None:
        """Called before each request: wait while the gate is closed."""
        with self._lock:
            until, why = self._gate_until, self._gate_why
            remaining = until - self._clock()
        if remaining <= 0:
            self.check_cancel()
            return
        self.wait(remaining, why)
        with self._lock:  # served: an injected sleep moves no clock, so open it explicitly
            if self._gate_until == until:
                self._gate_until = 0.0


__all__ = [
    "DEFAULT_TIMEOUT", "OnWait", "Pacer", "RetryPolicy", "Sleep", "TRANSIENT_EXCEPTIONS",
    "TRANSIENT_STATUSES", "USER_AGENT", "loggable_path", "make_client", "parse_retry_after", "ssl_context",
]
