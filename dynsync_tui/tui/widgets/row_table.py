"""A row-cursor DataTable where Home/End move to the first/last row (the stock ones scroll sideways)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import DataTable


class RowTable(DataTable[Any]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "first_row", "First row", show=False, id="table.first", tooltip="Go to the first row"),
        Binding("end", "last_row", "Last row", show=False, id="table.last", tooltip="Go to the last row"),
    ]

    def __init__(self, *columns: str, **kw: Any) -> None:
        kw.setdefault("cursor_type", "row")
        super().__init__(**kw)
        if columns:
            self.add_columns(*columns)

    def action_first_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_last_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)
