"""A Log whose lines wrap at its width, again after every resize: no line is ever cut at the
right edge, and there is nothing to scroll sideways (the stock Log never wraps)."""

from __future__ import annotations

import textwrap
from collections import deque
from typing import Any, Self

from textual.events import Resize
from textual.widgets import Log

INDENT = "  "  # continuation lines are indented, so one message still reads as one


def wrap_line(line: str, width: int) -> list[str]:
    if width <= len(INDENT) or len(line) <= width:
        return [line]
    return textwrap.wrap(line, width, subsequent_indent=INDENT, break_on_hyphens=False) or [line]


class WrapLog(Log):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._messages: deque[str] = deque(maxlen=self.max_lines)  # as written, for re-wrapping
        self._wrap_width = 0

    def write_line(self, line: str, scroll_end: bool | None = None) -> Self:
        self._messages.append(line)
        return super().write_lines(wrap_line(line, self._wrap_width), scroll_end)

    def clear(self) -> Self:
        self._messages.clear()
        return super().clear()

    def on_resize(self, event: Resize) -> None:
        width = self.scrollable_content_region.width
        if width == self._wrap_width:
            return
        self._wrap_width = width
        if self._messages:
            at_end = self.is_vertical_scroll_end
            super().clear()
            super().write_lines([part for m in self._messages for part in wrap_line(m, width)], scroll_end=at_end)
