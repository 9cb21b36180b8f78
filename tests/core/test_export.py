"""The CSV export is safe to open in a spreadsheet: CRM values never run as formulas."""

from __future__ import annotations

import csv

import pytest

from dynsync_tui.core.export import cell, row_values, write_csv
from dynsync_tui.core.records import CrmRecord
from dynsync_tui.core.verdicts import VerdictSettings, classify


@pytest.mark.parametrize("value, shown", [
    ("=HYPERLINK(\"http://x.example\",\"click\")", "'=HYPERLINK(\"http://x.example\",\"click\")"),
    ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("\t=1+1", "'\t=1+1"),
    ("+44 7411 222333", "+44 7411 222333"),  # a phone number stays as it is
    ("+1 (650) 253-0000", "+1 (650) 253-0000"),
    ("+44 (0)7857 041104 → +44 7857 041104", "+44 (0)7857 041104 → +44 7857 041104"),  # a correction
    ("07411 222333", "07411 222333"),
    ("ann@example.com", "ann@example.com"),
    ("", ""),
])
def test_cells_that_would_start_a_formula_are_made_text(value: str, shown: str) -> None:
    assert cell(value) == shown


def test_the_export_escapes_crm_values_and_json_keeps_them(tmp_path) -> None:
    records = [CrmRecord("contact", "c-1", "=1+2@example.com", "=HYPERLINK(\"x\")"),
               CrmRecord("contact", "c-2", "ann@example.com", "+44 7411 222333")]
    verdicts = classify(records, {}, VerdictSettings())
    path = tmp_path / "out.csv"
    write_csv(path, verdicts)
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert rows[0]["raw_mobile"] == "'=HYPERLINK(\"x\")" and rows[0]["email"] == "'=1+2@example.com"
    assert rows[1]["raw_mobile"] == "+44 7411 222333" and rows[1]["e164"] == "+447411222333"
    assert row_values(verdicts[0])[3] == "=HYPERLINK(\"x\")"  # the JSON copy keeps the value as is
