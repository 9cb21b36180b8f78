"""Preview output for people and scripts: the CSV export and the text summary."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dynsync_tui.core.reasons import Verdict, sentence
from dynsync_tui.core.records import RecordVerdict

CSV_HEADER = ("entity", "id", "email", "raw_mobile", "e164", "verdict", "reason", "correction")


class ExportError(ValueError):
    """The export file could not be written (one line naming the file)."""


_NUMBER_CHARS = frozenset("0123456789 ()+-./→")  # a number or a correction of one: no letters


def cell(value: str) -> str:
    """A CRM value as a spreadsheet will show it, never run it: a value that would start a
    formula (``=``, ``@``, a tab or carriage return, or ``+``/``-`` followed by anything but a
    number written the way phone numbers are) gets a leading apostrophe, which Excel and
    LibreOffice read as "this is text". ``+44 7411 222333`` stays as it is."""
    if value and (value[0] in "=@\t\r" or (value[0] in "+-" and not _NUMBER_CHARS.issuperset(value[1:]))):
        return "'" + value
    return value


def row_values(v: RecordVerdict) -> tuple[str, ...]:
    """The ``CSV_HEADER`` columns of one record, as they are."""
    r = v.record
    return (r.entity, r.id, v.email or "", r.mobile or "", v.e164 or "", v.verdict, v.reason or "",
            v.correction)


def csv_row(v: RecordVerdict) -> tuple[str, ...]:
    """The same columns, safe to open in a spreadsheet."""
    return tuple(map(cell, row_values(v)))


def check_path(path: str | os.PathLike[str]) -> Path:
    """The export path, once it can be a CSV file in an existing folder (checked before a
    preview starts, so a typo does not cost a whole read)."""
    p = Path(path)
    if p.suffix.lower() != ".csv":
        raise ExportError(f"--export {p}: the file name must end in .csv")
    if not p.parent.is_dir():
        raise ExportError(f"--export {p}: folder {p.parent} does not exist")
    if p.is_dir():
        raise ExportError(f"--export {p}: is a folder; give a file name")
    return p


def write_csv(path: str | os.PathLike[str], verdicts: Iterable[RecordVerdict]) -> int:
    """Write one row per record, atomically (temp file + rename). Returns the row count."""
    p = check_path(path)
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_HEADER)
    n = 0
    for v in verdicts:
        w.writerow(csv_row(v))
        n += 1
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(buf.getvalue())
        os.replace(tmp, p)
    except OSError as exc:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise ExportError(f"--export {p}: cannot write ({exc.strerror})") from None
    return n


def summary_lines(summary: Any, label: str = "") -> list[str]:
    """The preview as text: header, then what will be sent and what is skipped (counts, share,
    the sentence for each code), then the flags on records that are still sent."""
    total = summary.total or 0
    head = f"Preview of {total:,} records" + (f" on {label}" if label else "")
    lines = [head + f" (phonenumbers {summary.phonenumbers})"]
    width = max((len(k) for k in (*summary.counts, *getattr(summary, "flags", {}))), default=8)
    positive = [v.value for v in Verdict if v is not Verdict.SKIP]
    skipped = sorted((k for k in summary.counts if k not in positive), key=lambda k: -summary.counts[k])

    def row(code: str, n: int) -> str:
        pct = f"{100 * n / total:5.1f}%" if total else "     -"
        return f"  {code:<{width}} {n:>8,} {pct}  {sentence(code)}"

    groups = [
        ("Will be sent or left as is:", [k for k in positive if k in summary.counts], summary.counts),
        ("Skipped:", skipped, summary.counts),
        ("Flags on records that are still sent:", sorted(getattr(summary, "flags", {}) or {}),
         getattr(summary, "flags", {}) or {}),
    ]
    for title, codes, counts in groups:
        if codes:
            lines += ["", title] + [row(code, counts[code]) for code in codes]
    return lines
