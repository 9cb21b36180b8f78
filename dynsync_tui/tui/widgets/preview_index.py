"""Filter, search and sort over a list of RecordVerdicts by index. Plain Python (no Textual):
the screen runs it in a thread worker, the table only ever sees index sequences."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dynsync_tui.core.reasons import Verdict, sentence

VERDICT_ORDER = ("create", "update", "unchanged")
SORT_KEYS = ("none", "entity", "email", "verdict")


def code_of(v: Any) -> str:
    """The partition code of a verdict: the verdict, or the reason code on a skip."""
    if v.verdict == Verdict.SKIP:
        return v.reason or "skip"
    return v.verdict


class PreviewIndex:
    """Indices of verdicts per code, built once; searches build a haystack lazily."""

    def __init__(self, verdicts: Sequence[Any]) -> None:
        self.verdicts = verdicts
        by: dict[str, list[int]] = {}
        for i, v in enumerate(verdicts):
            c = (v.reason or "skip") if v.verdict == "skip" else v.verdict
            lst = by.get(c)
            if lst is None:
                by[c] = [i]
            else:
                lst.append(i)
        self.by_code = by
        self._hay: list[str] | None = None

    @property
    def total(self) -> int:
        return len(self.verdicts)

    def counts(self) -> list[tuple[str, int]]:
        """(code, count), verdicts first in wizard order, then skip reasons by size."""
        head = [(c, len(self.by_code[c])) for c in VERDICT_ORDER if c in self.by_code]
        rest = sorted(((c, len(ix)) for c, ix in self.by_code.items() if c not in VERDICT_ORDER),
                      key=lambda t: (-t[1], t[0]))
        return head + rest

    def flags(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in VERDICT_ORDER:
            for i in self.by_code.get(c, ()):
                r = self.verdicts[i].reason
                if r:
                    out[r] = out.get(r, 0) + 1
        return out

    def haystack(self) -> list[str]:
        if self._hay is None:
            self._hay = [
                f"{v.record.name}\t{v.record.email or ''}\t{v.record.mobile or ''}\t{v.e164 or ''}".lower()
                for v in self.verdicts
            ]
        return self._hay

    def select(self, code: str | None = None, query: str = "", sort: str = "none") -> Sequence[int]:
        rows: Sequence[int] = self.by_code.get(code, []) if code else range(self.total)
        q = query.strip().lower()
        if q:
            hay = self.haystack()
            rows = [i for i in rows if q in hay[i]]
        if sort != "none":
            rows = sorted(rows, key=self._sort_key(sort))
        return rows

    def _sort_key(self, sort: str) -> Any:
        vs = self.verdicts
        if sort == "entity":
            return lambda i: (vs[i].record.entity, vs[i].record.name)
        if sort == "email":
            return lambda i: (vs[i].email or vs[i].record.email or "~")
        return lambda i: code_of(vs[i])


def describe(code: str) -> str:
    return sentence(code)


def write_json(path: Path, index: PreviewIndex, rows: Sequence[int]) -> None:
    """Counts, flags and the records shown (the CSV columns), written atomically."""
    from dynsync_tui.core.export import CSV_HEADER, row_values

    data = {"total": index.total, "counts": dict(index.counts()), "flags": index.flags(),
            "records": [dict(zip(CSV_HEADER, row_values(index.verdicts[i]), strict=True)) for i in rows]}
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
