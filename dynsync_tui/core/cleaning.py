"""Cleaning a raw mobile value before it is parsed.

Each step that changes the value is recorded as a visible "before → after" correction, so the
preview shows exactly what was done. A step that would have to guess (digits lost in scientific
notation, letters in the middle of a number) refuses instead: ``Cleaned.refused`` is set and the
value is reported as an invalid mobile.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

ARROW = " → "

PLACEHOLDERS = frozenset({
    "n/a", "na", "n.a.", "n.a", "none", "null", "nil", "nan", "no", "tbc", "tba", "unknown",
    "not known", "no mobile", "no number", "-", "--", "---", ".", "?", "x", "xx", "xxx",
})

_DASHES = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"})
_SIMPLE = re.compile(r"\+?[0-9]+(?: [0-9]+)*")
_SPREADSHEET_FLOAT = re.compile(r"(\+?[0-9]+)\.0+")
_SCIENTIFIC = re.compile(r"\+?([1-9])(?:[.,]([0-9]+))?[eE]\+?([0-9]{1,2})")
_BRACKET_NOTE = re.compile(r"\s*[(\[{]([^()\[\]{}]*)[)\]}]\s*$")
_TRAILING_HASH = re.compile(r"\s*#+\s*$")
_EXTENSION = re.compile(
    r"[\s,;]*(?:ext(?:ension|n)?\.?|x|#|int\.?|poste|durchwahl|dw)\s*[:.]?\s*[0-9]{1,7}\s*$",
    re.IGNORECASE,
)
_WORD_NOTE = re.compile(r"(?<=[0-9)])\s*(?:[-–—:,;/]\s*|\s+)([^\W\d_][^\d]*)$")
_LEADING_LABEL = re.compile(r"^[^\W\d_][^\d:]{0,24}:\s*(?=[+(0-9])")
_BRACKETED_CODE = re.compile(r"^\(\s*(\+[1-9][0-9]{0,2})\s*\)[\s.-]*")  # "(+44) 7411 …"
_TRUNK_ZERO = re.compile(r"^(\+[1-9][0-9]{0,2})[\s.-]*\(0\)[\s.-]*")
_ALLOWED = re.compile(r"\+?[0-9\s\-./()\[\]]+")
_MAX_NOTE_DIGITS = 4  # a "note" holding a second number is not a note


@dataclass(slots=True)
class Cleaned:
    value: str
    corrections: list[str]
    placeholder: bool = False  # empty or a placeholder: "no mobile", not "invalid"
    refused: bool = False  # cleaning would have to guess: "invalid mobile"


def show(value: str) -> str:
    """A value as the admin should see it: quoted, with invisible characters made visible,
    when it carries surrounding whitespace or non-printable characters."""
    if value == value.strip() and value.isprintable():
        return value
    inner = "".join(c if c.isprintable() and c != "\u00a0" else f"\\u{ord(c):04x}" for c in value)
    return f'"{inner}"'


def _strip_invisible(raw: str) -> str:
    out = []
    for c in raw:
        cat = unicodedata.category(c)
        if cat == "Cf":
            continue
        if cat in ("Zs", "Zl", "Zp", "Cc"):
            out.append(" ")
        elif cat == "Nd" and not c.isascii():
            out.append(str(unicodedata.decimal(c)))
        else:
            out.append(c)
    return "".join(out).translate(_DASHES).strip()


def _has_letter(text: str) -> bool:
    return any(c.isalpha() for c in text)


def _digit_count(text: str) -> int:
    return sum(c.isdigit() for c in text)


def _strip_notes(s: str) -> str:
    """Drop trailing notes, extensions and "#", and a leading "label:", until nothing changes."""
    for _ in range(6):
        before = s
        m = _BRACKET_NOTE.search(s)
        if m and m.start() > 0 and _has_letter(m.group(1)) and _digit_count(m.group(1)) <= _MAX_NOTE_DIGITS:
            s = s[: m.start()]
        m = _EXTENSION.search(s)
        if m and m.start() > 0 and _digit_count(s[: m.start()]) >= 4:
            s = s[: m.start()]
        s = _TRAILING_HASH.sub("", s)
        m = _WORD_NOTE.search(s)
        if m:
            s = s[: m.start()]
        m = _LEADING_LABEL.match(s)
        if m:
            s = s[m.end():]
        s = s.strip()
        if s == before:
            break
    return s


def _expand_scientific(s: str) -> tuple[str | None, bool]:
    """(digits, refused) for spreadsheet scientific notation; (None, False) when it isn't."""
    m = _SCIENTIFIC.fullmatch(s)
    if not m:
        return None, False
    lead, frac, exp = m.group(1), m.group(2) or "", int(m.group(3))
    if len(frac) != exp:  # digits were lost (or it is not a whole number): never guess
        return None, True
    return lead + frac, False


def _idd_to_plus(s: str) -> str:
    """"00" is the international prefix almost everywhere: 0044 … is +44 …"""
    return "+" + s[2:].lstrip(" .-") if s.startswith("00") else s


def clean(raw: str) -> Cleaned:
    """Clean one raw mobile value (see the module doc)."""
    corrections: list[str] = []

    def step(before: str, after: str) -> str:
        if after != before:
            corrections.append(f"{show(before)}{ARROW}{after}")
        return after

    if _SIMPLE.fullmatch(raw):  # the common case: nothing to clean
        return Cleaned(_idd_to_plus(raw), corrections, placeholder=not raw.strip("+0 "))  # all zeros
    s = _strip_invisible(raw)
    if not s or s.casefold() in PLACEHOLDERS or not any(c.isdigit() for c in s):
        return Cleaned(s, corrections, placeholder=True)
    if not _has_letter(s) and _digit_count(s) == s.count("0"):
        return Cleaned(s, corrections, placeholder=True)
    s = step(raw, s)
    s = step(s, _strip_notes(s))
    m = _SPREADSHEET_FLOAT.fullmatch(s)
    if m:
        s = step(s, m.group(1))
    digits, refused = _expand_scientific(s)
    if refused:
        return Cleaned(s, corrections, refused=True)
    if digits is not None:
        s = step(s, digits)
    s = _idd_to_plus(s)
    s = step(s, _BRACKETED_CODE.sub(r"\1 ", s))
    s = step(s, _TRUNK_ZERO.sub(r"\1 ", s))
    if not _ALLOWED.fullmatch(s) or "+" in s[1:]:
        # letters (or other marks) in the middle: the library would skip them, we refuse
        return Cleaned(s, corrections, refused=True)
    return Cleaned(s, corrections)
