"""The index behind the preview table: partitions, filters, search and sort (no Textual)."""

from __future__ import annotations

import json

from dynsync_tui.tui.widgets.preview_index import PreviewIndex, code_of, write_json
from dynsync_tui.tui.widgets.verdict_table import COLUMNS, VerdictTable, row_cells
from tests.tui.fakes import make_verdicts


def test_counts_partition_the_records() -> None:
    verdicts = make_verdicts(300)
    index = PreviewIndex(verdicts)
    counts = dict(index.counts())
    assert sum(counts.values()) == 300
    for code, n in counts.items():
        assert n == sum(1 for v in verdicts if code_of(v) == code)
    assert [c for c, _ in index.counts()][:3] == ["create", "update", "unchanged"]


def test_select_filters_searches_and_sorts() -> None:
    verdicts = make_verdicts(300)
    index = PreviewIndex(verdicts)
    rows = index.select("no_mobile")
    assert rows and all(code_of(verdicts[i]) == "no_mobile" for i in rows)
    assert [verdicts[i].record.name for i in index.select(None, "PERSON107")] == ["Person 107"]
    assert index.select("create", "person107") == []
    by_email = index.select(None, "", "email")
    emails = [verdicts[i].email for i in by_email]
    assert emails == sorted(emails) and len(by_email) == 300
    assert index.select("nope") == []


def test_write_json(tmp_path) -> None:
    index = PreviewIndex(make_verdicts(20))
    write_json(tmp_path / "p.json", index, index.select("create"))
    data = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))
    assert data["total"] == 20 and len(data["records"]) == data["counts"]["create"]
    assert {r["verdict"] for r in data["records"]} == {"create"}


def test_table_columns_fit_any_width() -> None:
    table = VerdictTable()
    for width in (60, 78, 98, 160):
        widths = table._widths(width)
        assert len(widths) == len(COLUMNS)
        assert sum(widths) + len(widths) - 1 <= width
        assert widths[-1] >= 16, "the verdict column keeps room for reason codes"
    v = make_verdicts(8)[7]
    assert row_cells(v)[-1] == v.reason
