"""A virtual records table on the Line API: it renders only the visible rows, so a million
preview rows cost what a screenful costs (the idea of Toolong's LogLines)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from dynsync_tui.tui.widgets.preview_index import code_of

# (title, width) — the last column takes the rest.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("Entity", 7), ("Name", 20), ("Email", 28), ("Raw mobile", 18), ("E.164", 16), ("Verdict", 0),
)
VERDICT_STYLE = {"create": "green", "update": "cyan", "unchanged": "bright_black"}


def _fit(text: str, width: int) -> str:
    if len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text.ljust(width)


def row_cells(v: Any) -> list[str]:
    r = v.record
    return [r.entity, r.name or "", v.email or r.email or "", r.mobile or "", v.e164 or "", code_of(v)]


class VerdictTable(ScrollView, can_focus=True):
    """Rows are indices into ``verdicts``; ``set_rows`` swaps the view in O(1)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False, id="table.up", tooltip="Previous record"),
        Binding("down", "cursor(1)", "Down", show=False, id="table.down", tooltip="Next record"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="table.pageup", tooltip="Page up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="table.pagedown", tooltip="Page down"),
        Binding("home", "jump(0)", "First", show=False, id="table.home", tooltip="First record"),
        Binding("end", "jump(-1)", "Last", show=False, id="table.end", tooltip="Last record"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"verdict-table--cursor", "verdict-table--header"}
    DEFAULT_CSS = """
    VerdictTable { height: 1fr; background: $surface; overflow-x: hidden; }
    VerdictTable > .verdict-table--cursor { background: $accent 40%; text-style: bold; }
    VerdictTable:focus > .verdict-table--cursor { background: $accent; }
    VerdictTable > .verdict-table--header { text-style: bold; color: $text-primary; background: $panel; }
    """

    cursor: reactive[int] = reactive(0, always_update=False, repaint=True)

    @dataclass
    class Highlighted(Message):
        table: VerdictTable
        index: int | None  # index into verdicts, None when the view is empty

        @property
        def control(self) -> VerdictTable:
            return self.table

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.verdicts: Sequence[Any] = ()
        self.rows: Sequence[int] = ()

    # ---------------------------------------------------------------- data

    def set_data(self, verdicts: Sequence[Any], rows: Sequence[int] | None = None) -> None:
        self.verdicts = verdicts
        self.set_rows(range(len(verdicts)) if rows is None else rows)

    def set_rows(self, rows: Sequence[int]) -> None:
        self.rows = rows
        self.virtual_size = Size(1, len(rows) + 1)
        self.set_reactive(VerdictTable.cursor, 0)
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()
        self._post_highlight()

    @property
    def current(self) -> int | None:
        if not self.rows:
            return None
        return self.rows[min(self.cursor, len(self.rows) - 1)]

    # ---------------------------------------------------------------- actions

    def watch_cursor(self, _old: int, _new: int) -> None:
        self._scroll_cursor_visible()
        self._post_highlight()

    def _post_highlight(self) -> None:
        self.post_message(self.Highlighted(self, self.current))

    def _scroll_cursor_visible(self) -> None:
        body = max(1, self.scrollable_content_region.height - 1)
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + body:
            self.scroll_to(y=self.cursor - body + 1, animate=False, immediate=True)

    def _move(self, to: int) -> None:
        if self.rows:
            self.cursor = max(0, min(len(self.rows) - 1, to))

    def action_cursor(self, delta: int) -> None:
        self._move(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        body = max(1, self.scrollable_content_region.height - 1)
        self.scroll_to(y=max(0, int(self.scroll_offset.y) + direction * body), animate=False, immediate=True)
        self._move(self.cursor + direction * body)

    def action_jump(self, where: int) -> None:
        self._move(len(self.rows) - 1 if where < 0 else where)

    def on_click(self, event: Any) -> None:
        y = event.y - 1 + int(self.scroll_offset.y)
        if event.y >= 1 and 0 <= y < len(self.rows):
            self.cursor = y

    # ---------------------------------------------------------------- rendering

    def _widths(self, total: int) -> list[int]:
        """Entity, E.164 and Verdict keep their width; name, email and raw mobile share the rest."""
        entity, e164, verdict = COLUMNS[0][1], COLUMNS[4][1], 16
        flex = [w for _, w in COLUMNS[1:4]]
        room = max(12, total - entity - e164 - verdict - len(COLUMNS) + 1)
        if room < sum(flex):
            flex = [max(4, w * room // sum(flex)) for w in flex]
        used = entity + sum(flex) + e164 + len(COLUMNS) - 1
        return [entity, *flex, e164, max(verdict, total - used)]

    def _line(self, cells: list[str], width: int) -> str:
        return " ".join(_fit(c, w) for c, w in zip(cells, self._widths(width), strict=False))

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            style = self.get_component_rich_style("verdict-table--header")
            text = self._line([t for t, _ in COLUMNS], width)
            return Strip([Segment(text[:width].ljust(width), base + style)], width)
        pos = y - 1 + int(self.scroll_offset.y)
        if pos >= len(self.rows):
            return Strip.blank(width, base)
        cells = row_cells(self.verdicts[self.rows[pos]])
        widths = self._widths(width)
        if pos == self.cursor:
            style = base + self.get_component_rich_style("verdict-table--cursor")
            return Strip([Segment(self._line(cells, width), style)]).adjust_cell_length(width, style)
        segs = [Segment(_fit(c, w) + " ", base) for c, w in zip(cells[:-1], widths, strict=False)]
        segs.append(Segment(_fit(cells[-1], widths[-1]), base + Style.parse(VERDICT_STYLE.get(cells[-1], "yellow"))))
        return Strip(segs).adjust_cell_length(width, base)
