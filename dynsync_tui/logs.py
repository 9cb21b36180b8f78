"""The run log: one file per run in the log folder (0600 in a 0700 folder), PII masked.

What goes in: every HTTP request (method, path with only harmless query values, status,
milliseconds; see ``connectors/http.py``), every wait (throttling, backoff), reading pages,
the run's start and end with its counts. What never goes in: the Authorization header, secrets,
tokens or the msal cache — nothing logs them, and :func:`scrub_secrets` blanks anything that
looks like one anyway. Emails and phone numbers are masked in every line (``a***@example.com``,
``+44*******333``) by :class:`PiiFilter` unless the user asks for ``--log-pii``.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOGGER = "dynsync"
KEEP_RUNS = 200  # run logs kept in the log folder
SECRET_ENV = ("DYNSYNC_CLIENT_SECRET", "DYNSYNC_DOTDIGITAL_PASSWORD", "DYNSYNC_CERT_PASSPHRASE")
log = logging.getLogger(LOGGER)

# An email (a local part, then @ or its URL form %40, then the domain if there is one: broken
# addresses like "ann@" are masked too). An apostrophe inside the local part (o'neil) belongs to it.
_EMAIL = re.compile(r"(?<![\w.%+-])([\w.%+-])(?:[\w.%+-]|'(?=[\w.%+-]))*(@|%40)((?:[\w-]+\.)*[\w-]+)?")
# A run of digits with the separators people type; masked when it holds 7 digits or more.
_PHONE = re.compile(r"(?<![\w/.:-])(\+)?\(?\d[\d \t\u00a0\u2007\u202f().\-\u2010-\u2015]{5,}\d(?![\w])")
# A number a spreadsheet turned into scientific notation: 4.47700900333E+11.
_SCIENTIFIC = re.compile(r"(?<![\w.])(\d)\.(\d{6,})[eE]\+?\d{1,2}(?![\w.])")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]+")
_JWT = re.compile(r"\beyJ[\w-]{8,}\.[\w-]+\.?[\w-]*")
_SECRET_PAIR = re.compile(
    r"(?i)\b(client_secret|password|api_password|access_token|refresh_token|id_token|"
    r"client_assertion|authorization)(\"?\s*[:=]\s*\"?)[^\s&\",;]+")


def mask_email(match: re.Match[str]) -> str:
    return f"{match.group(1)}***{match.group(2)}{match.group(3) or ''}"


def mask_phone(match: re.Match[str]) -> str:
    """``+447700900333`` → ``+44*******333``; ``07700 900333`` → ``0*******333``."""
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    if len(digits) < 7 or _DATE.search(text):
        return text
    head = 2 if match.group(1) else 1
    return ("+" if match.group(1) else "") + digits[:head] + "*" * (len(digits) - head - 3) + digits[-3:]


def _mask_scientific(match: re.Match[str]) -> str:
    digits = match.group(1) + match.group(2)
    return digits[0] + "*" * (len(digits) - 4) + digits[-3:]


def _mask_piece(text: str) -> str:
    return _PHONE.sub(mask_phone, _SCIENTIFIC.sub(_mask_scientific, _EMAIL.sub(mask_email, text)))


def mask_pii(text: str) -> str:
    """``text`` with emails and phone numbers masked (GUIDs, dates and times left alone)."""
    out, last = [], 0
    for m in _GUID.finditer(text):
        out += [_mask_piece(text[last:m.start()]), m.group(0)]
        last = m.end()
    out.append(_mask_piece(text[last:]))
    return "".join(out)


_SECRETS: set[str] = set()


def add_secrets(*values: str | None) -> None:
    """Blank these exact values in every log line from now on (secrets read at run time)."""
    _SECRETS.update(v for v in values if v and len(v) >= 4)


def scrub_secrets(text: str) -> str:
    """``text`` with known secrets, bearer/basic credentials, JWTs and ``secret=…`` pairs blanked."""
    for s in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(s, "***")
    text = _BEARER.sub(lambda m: f"{m.group(1)} ***", text)
    text = _JWT.sub("***", text)
    return _SECRET_PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


class PiiFilter(logging.Filter):
    """Masks emails and phone numbers (unless ``pii``) and always blanks secrets, in the
    formatted message of every record that passes the handler it is attached to."""

    def __init__(self, *, pii: bool = False) -> None:
        super().__init__()
        self.pii = pii

    def filter(self, record: logging.LogRecord) -> bool:
        msg = scrub_secrets(record.getMessage())
        record.msg, record.args = (msg if self.pii else mask_pii(msg)), None
        if record.exc_info:  # a traceback would carry unmasked values: keep its last line only
            record.msg += f" ({record.exc_info[0].__name__ if record.exc_info[0] else 'error'})"
            record.exc_info, record.exc_text = None, None
        return True


class _Utc(logging.Formatter):
    converter = time.gmtime

    def __init__(self) -> None:
        super().__init__("%(asctime)sZ %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")


@dataclass
class RunLog:
    """The handlers of one run; ``close()`` detaches them."""

    path: Path | None
    filter: PiiFilter
    handlers: list[logging.Handler] = field(default_factory=list)

    def close(self) -> None:
        for h in self.handlers:
            log.removeHandler(h)
            h.close()
        self.handlers.clear()
        if not log.handlers:
            log.setLevel(logging.NOTSET)  # back to quiet: request lines cost nothing again


def _open_private(path: Path) -> Any:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "a", encoding="utf-8")


def prune(log_dir: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` run logs (a scheduled sync must not fill the disk)."""
    runs = sorted(log_dir.glob("dynsync-*.log"), key=lambda p: (p.stat().st_mtime, p.name))
    for old in runs[: max(0, len(runs) - keep)]:
        old.unlink(missing_ok=True)


def start(log_dir: Path, command: str, *, pii: bool = False, verbose: bool = False,
          keep: int = KEEP_RUNS) -> RunLog:
    """Open this run's log file in ``log_dir`` (and, with ``verbose``, echo to stderr), keeping
    the newest ``keep`` run logs. A log folder that cannot be written costs the file, never the run."""
    add_secrets(*(os.environ.get(name) for name in SECRET_ENV))
    filt = PiiFilter(pii=pii)
    run = RunLog(None, filt)
    try:
        log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(log_dir, 0o700)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        path = log_dir / f"dynsync-{stamp}-{os.getpid()}-{command}.log"
        prune(log_dir, keep - 1)
        handler: logging.Handler = logging.StreamHandler(_open_private(path))
        run.path = path
        run.handlers.append(handler)
    except OSError:
        pass
    if verbose:
        run.handlers.append(logging.StreamHandler(sys.stderr))
    for h in run.handlers:
        h.setFormatter(_Utc())
        h.addFilter(filt)
        log.addHandler(h)
    if run.handlers:
        log.setLevel(logging.INFO)
    return run


def event_logger(then: Callable[[Any], None] | None = None) -> Callable[[Any], None]:
    """An engine ``on_event`` callback that logs phase changes and reading progress (pages),
    then hands the event on to ``then`` (e.g. the terminal's progress line)."""
    last: dict[str, Any] = {"phase": None, "message": None}

    def on_event(ev: Any) -> None:
        phase, message = getattr(ev, "phase", ""), getattr(ev, "message", "") or ""
        if phase != last["phase"]:
            log.info("phase %s", phase)
        if phase == "reading" and message:
            log.info("page read: %s, %d records so far", message, ev.done)
        elif message and (phase, message) != (last["phase"], last["message"]):
            log.info("%s %d/%d: %s", phase, ev.done, ev.total, message)
        last["phase"], last["message"] = phase, message
        if then is not None:
            then(ev)

    return on_event


def log_summary(what: str, summary: Any) -> None:
    """A preview's counts, then its samples (entity, id, email, raw mobile) per code: the
    lines most worth masking, and the ones that explain a skip when someone asks why."""
    log.info("%s: %d records, counts %s", what, summary.total, dict(summary.counts))
    for code, rows in (getattr(summary, "samples", None) or {}).items():
        for row in rows:
            log.info("sample %s: %s %s email=%s mobile=%s", code, row.get("entity"), row.get("id"),
                     row.get("email"), row.get("raw_mobile"))


__all__ = ["LOGGER", "PiiFilter", "RunLog", "add_secrets", "event_logger", "log", "log_summary", "mask_pii",
           "scrub_secrets", "start"]
