"""Counts per verdict/reason as an OptionList: bar, count, sentence. Choosing one filters."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from dynsync_tui.core.reasons import sentence

ALL = "__all__"
BAR = 12
COLOURS = {"create": "green", "update": "cyan", "unchanged": "bright_black"}


def bar_line(code: str, count: int, total: int, width: int = BAR) -> Table:
    """Bar, count and share, then the code and its whole sentence, wrapped under itself (a
    hanging indent) when the line is narrower than the sentence."""
    share = count / total if total else 0.0
    filled = round(share * width)
    head = Text(no_wrap=True)
    head.append("█" * filled, style=COLOURS.get(code, "yellow"))
    head.append("░" * (width - filled), style="bright_black")
    head.append(f" {count:>9,} {share:6.1%}  ")
    return hanging(head, Text.assemble((code, "bold"), (f" — {sentence(code)}", "italic")))


def hanging(head: Text, body: Text) -> Table:
    grid = Table.grid(expand=True)
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    grid.add_row(head, body)
    return grid


class ReasonBars(OptionList):
    DEFAULT_CSS = """
    ReasonBars { height: auto; max-height: 8; border: none; padding: 0; }
    ReasonBars:focus { border: none; background-tint: $foreground 5%; }
    """

    def show(self, counts: list[tuple[str, int]], total: int, flags: dict[str, int] | None = None) -> None:
        options = [Option(Text(f"All records: {total:,}  (enter on a line filters the table)", style="bold"), id=ALL)]
        options += [Option(bar_line(code, n, total), id=code) for code, n in counts]
        for code, n in sorted((flags or {}).items()):
            options.append(Option(hanging(Text(f"  flag {code}: {n:,} — ", style="dim"),
                                          Text(sentence(code), style="dim")), disabled=True))
        self.set_options(options)
        self.highlighted = 0
