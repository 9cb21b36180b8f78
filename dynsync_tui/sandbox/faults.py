"""Fault injection for the sandbox: what goes wrong, where, how often — deterministic with a seed.

A fault plan is a TOML file (``dynsync sandbox --faults plan.toml``) or the same entries as a
list of dicts (``sandbox.faults.load([...])``, or ``faults.add(...)`` one at a time)::

    seed = 7                          # optional: the same seed gives the same faults in the same places

    [[fault]]                         # one table per fault; the first that matches a request fires
    method = "PUT"                    # GET POST PUT PATCH DELETE, or "*" for any
    path_regex = '/contacts/v3/import$'   # searched in the request's path + query
    status = 429                      # the answer sent instead (0: the real answer)
    rate = 0.2                        # fire on this share of matching requests (seeded), or
    every = 10                        # on every 10th matching request
    times = 5                         # fire at most this often (default 1; -1: no limit)
    retry_after = 1.5                 # Retry-After header, seconds
    ratelimit_reset = 2               # X-RateLimit-Limit/Remaining=0/Reset/Scope headers

Other keys, each one kind of trouble:

=================== ==========================================================================
``body``            a string sent as the answer's body (text/html), e.g. a gateway's error page
``delay``           seconds to wait before answering (past the client's timeout: a slow response)
``drop``            close the connection without an answer
``truncate``        announce the whole body, send half of it, close
``after``           with ``drop``/``delay``/``truncate``: the request takes effect first, only
                    the answer is lost or late (a retry then repeats what was already done)
``expire_token``    every issued access token expires just before this request is handled
``hold``            on ``PUT .../contacts/v3/import``: the import stays "NotFinished" this many
                    seconds longer (later imports queue behind it)
``row_failures``    on ``PUT .../contacts/v3/import``: this share of the import's rows (0-1)
                    finishes as per-row failures, the rest is imported
``row_failure_code`` the ``failureCode`` of those rows (default ``"Unknown"``)
``name``            a label for reports
=================== ==========================================================================

A bad plan raises :class:`FaultPlanError` with one line naming the file, the fault and the key.
``injected()`` counts the faults that fired; ``report()`` counts them per fault.
"""

from __future__ import annotations

import random
import re
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "*")
_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "method": (str,), "path_regex": (str,), "status": (int,), "times": (int,),
    "rate": (int, float), "every": (int,), "retry_after": (int, float), "ratelimit_reset": (int, float),
    "body": (str, dict, bytes), "delay": (int, float), "drop": (bool,), "truncate": (bool,),
    "after": (bool,), "expire_token": (bool,), "hold": (int, float), "row_failures": (int, float),
    "row_failure_code": (str,),
}
KEYS = frozenset(_TYPES)


def _describe(types: tuple[type, ...]) -> str:
    if float in types:
        return "a number"
    return {int: "an integer", bool: "true or false"}.get(types[0], "text")


class FaultPlanError(ValueError):
    """A bad fault plan; the message is one line naming the file (if any), the fault and the key."""


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    times: int
    retry_after: float | None = None
    body: Any = None
    delay: float = 0.0
    drop: bool = False
    truncate: bool = False
    rate: float = 1.0
    every: int = 0
    ratelimit_reset: float | None = None
    after: bool = False
    expire_token: bool = False
    hold: float = 0.0
    row_failures: float = 0.0
    row_failure_code: str = "Unknown"
    name: str = ""
    hits: int = 0
    seen: int = 0  # matching requests so far (for ``every``)
    rows_failed: int = 0

    @property
    def label(self) -> str:
        return self.name or f"{self.method} {self.pattern.pattern} {self.status}"


def _check(entry: Any, where: str) -> dict[str, Any]:
    """Validate one plan entry; raise FaultPlanError("<where> key 'k': why")."""
    if not isinstance(entry, dict):
        raise FaultPlanError(f"{where}: must be a table of keys, not {type(entry).__name__}")
    unknown = sorted(set(entry) - KEYS)
    if unknown:
        raise FaultPlanError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(KEYS))})")
    for key in ("method", "path_regex", "status"):
        if key not in entry:
            raise FaultPlanError(f"{where}: missing key {key!r}")
    for key, value in entry.items():
        types = _TYPES[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise FaultPlanError(f"{where}: key {key!r} must be {_describe(types)}, not {value!r}")

    def bad(key: str, why: str) -> FaultPlanError:
        return FaultPlanError(f"{where}: key {key!r} {why}, not {entry[key]!r}")

    if entry["method"].upper() not in METHODS:
        raise bad("method", f"must be one of {', '.join(METHODS)}")
    try:
        re.compile(entry["path_regex"])
    except re.error as exc:
        raise FaultPlanError(f"{where}: key 'path_regex' is not a regular expression ({exc})") from None
    if entry["status"] != 0 and not 100 <= entry["status"] <= 599:
        raise bad("status", "must be 0 (the real answer) or an HTTP status 100-599")
    if entry.get("times", 1) < -1 or entry.get("times", 1) == 0:
        raise bad("times", "must be a positive count or -1 (no limit)")
    for key in ("rate", "row_failures"):
        if key in entry and not 0.0 <= entry[key] <= 1.0:
            raise bad(key, "must be between 0 and 1")
    if entry.get("every", 1) < 1:
        raise bad("every", "must be 1 or more")
    for key in ("retry_after", "ratelimit_reset", "delay", "hold"):
        if entry.get(key, 0) < 0:
            raise bad(key, "must not be negative")
    if ("hold" in entry or "row_failures" in entry) and entry["method"].upper() not in ("PUT", "*"):
        raise bad("method", "must be PUT (or *) for hold / row_failures, which act on imports")
    return entry


def read_plan(path: str | Path) -> tuple[int | None, list[dict[str, Any]]]:
    """Parse and check a TOML fault plan. → (seed or None, entries)."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FaultPlanError(f"{p}: cannot read the fault plan ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise FaultPlanError(f"{p}: the fault plan is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise FaultPlanError(f"{p}: not valid TOML ({exc})") from None
    unknown = sorted(set(raw) - {"seed", "fault"})
    if unknown:
        raise FaultPlanError(f"{p}: unknown key {unknown[0]!r} (a plan holds seed and [[fault]] tables)")
    seed = raw.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise FaultPlanError(f"{p}: key 'seed' must be an integer, not {seed!r}")
    entries = raw.get("fault", [])
    if not isinstance(entries, list):
        raise FaultPlanError(f"{p}: key 'fault' must be an array of tables ([[fault]])")
    for i, entry in enumerate(entries, start=1):
        _check(entry, f"{p}: [[fault]] #{i}")
    return seed, entries


class Faults:
    """Injected failures. ``add`` one per (method, path regex searched in path + query); each
    fires ``times`` times (``times=-1``: until cleared), on a ``rate`` share of the matching
    requests (deterministic: a seeded RNG) or on every ``every``-th one. See the module
    docstring for what each option does."""

    def __init__(self, seed: int = 0) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._seed = seed
        self.expire_tokens: Callable[[], None] | None = None  # wired by the Sandbox
        self._current = threading.local()  # the fault firing on this thread's request

    def seed(self, seed: int) -> None:
        with self._lock:
            self._seed = seed
            self._rng = random.Random(seed)

    def add(self, method: str, path_regex: str, status: int, times: int = 1, *,
            retry_after: float | None = None, body: Any = None, delay: float = 0.0,
            drop: bool = False, truncate: bool = False, rate: float = 1.0, every: int = 0,
            ratelimit_reset: float | None = None, after: bool = False, expire_token: bool = False,
            hold: float = 0.0, row_failures: float = 0.0, row_failure_code: str = "Unknown",
            name: str = "") -> Fault:
        f = Fault(method.upper(), re.compile(path_regex), status, times, retry_after, body, delay,
                  drop, truncate, rate, every, ratelimit_reset, after, expire_token, hold,
                  row_failures, row_failure_code, name)
        with self._lock:
            self._faults.append(f)
        return f

    def load(self, plan: list[dict[str, Any]], *, source: str = "fault plan") -> list[Fault]:
        """Add faults from a plan: each entry holds ``add``'s arguments by name. A bad entry
        raises FaultPlanError (a ValueError) naming the entry and the key; nothing is added."""
        for i, entry in enumerate(plan, start=1):
            _check(entry, f"{source}: fault #{i}")
        return [self.add(**entry) for entry in plan]

    def load_file(self, path: str | Path) -> list[Fault]:
        """Add the faults of a TOML plan (and reseed when it names a seed)."""
        seed, entries = read_plan(path)
        if seed is not None:
            self.seed(seed)
        return self.load(entries, source=str(path))

    def injected(self) -> int:
        with self._lock:
            return sum(f.hits for f in self._faults)

    def report(self) -> dict[str, int]:
        """Label → times fired (row failures count rows)."""
        with self._lock:
            out: dict[str, int] = {}
            for f in self._faults:
                out[f.label] = out.get(f.label, 0) + f.hits + f.rows_failed
            return out

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> int:
        with self._lock:
            return sum(f.times for f in self._faults if f.times > 0)

    def take(self, method: str, target: str) -> Fault | None:
        """The fault that fires on this request, if any (counted as injected)."""
        with self._lock:
            for f in self._faults:
                if f.times != 0 and f.method in ("*", method) and f.pattern.search(target):
                    f.seen += 1
                    if f.every and f.seen % f.every:
                        continue
                    if f.rate < 1.0 and self._rng.random() >= f.rate:
                        continue
                    if f.times > 0:
                        f.times -= 1
                    if not (f.hold or f.row_failures) or f.status or f.drop:
                        f.hits += 1  # import faults count once they act on an import
                    return f
        return None

    # ------------------------------------------------------------ hooks for the server

    def before(self, fault: Fault | None) -> None:
        """Just before a request is handled (on the thread that handles it)."""
        self._current.fault = fault
        if fault is not None and fault.expire_token and self.expire_tokens is not None:
            self.expire_tokens()

    def headers(self, fault: Fault) -> dict[str, str]:
        """Extra headers of an injected error answer."""
        out: dict[str, str] = {}
        if fault.retry_after is not None:
            ra = float(fault.retry_after)
            out["Retry-After"] = str(int(ra) if ra.is_integer() else ra)
        if fault.ratelimit_reset is not None:
            reset = max(1, round(fault.ratelimit_reset))
            out.update({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": str(reset), "X-RateLimit-Scope": "injected"})
        return out

    def handled(self) -> None:
        """After the real handler answered."""
        self._current.fault = None

    def on_import(self, rec: dict[str, Any]) -> None:
        """Called by the Dotdigital account with a new import, before it is queued: when the
        request that started it is under a hold / row_failures fault, apply it."""
        fault = getattr(self._current, "fault", None)
        if fault is None or not (fault.hold or fault.row_failures):
            return
        rows = len(rec.get("_contacts") or [])
        with self._lock:
            failing = sorted(self._rng.sample(range(rows), round(rows * fault.row_failures)))
            fault.hits += 1
            fault.rows_failed += len(failing)
        rec["_at"] = rec.get("_at", 0) + fault.hold
        if failing:
            rec["_row_failures"] = {str(i): fault.row_failure_code for i in failing}


__all__ = ["Fault", "FaultPlanError", "Faults", "KEYS", "read_plan"]
