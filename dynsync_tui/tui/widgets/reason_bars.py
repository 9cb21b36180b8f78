"""Counts per verdict/reason as an OptionList: bar, count, sentence. Choosing one filters."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from dynsync_tui.core.reasons import sentence

ALL = "__all__"
BAR = 12
COLOURS = {"create": "green", "update": "cyan", "unchanged": "bright_black"}


def bar_line(code: str, count: int, total: int, width: int = BAR) -> Text:
    share = count / total if total else 0.0
    filled = round(share * width)
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("█" * filled, style=COLOURS.get(code, "yellow"))
    text.append("░" * (width - filled), style="bright_black")
    text.append(f" {count:>9,} {share:6.1%}  ")
    text.append(code, style="bold")
    text.append(f" — {sentence(code)}", style="italic")
    return text


class ReasonBars(OptionList):
    DEFAULT_CSS = """
    ReasonBars { height: auto; max-height: 8; border: none; padding: 0; text-wrap: nowrap; text-overflow: ellipsis; }
    ReasonBars:focus { border: none; background-tint: $foreground 5%; }
    """

    def show(self, counts: list[tuple[str, int]], total: int, flags: dict[str, int] | None = None) -> None:
        options = [Option(Text(f"All records: {total:,}  (enter on a line filters the table)", style="bold",
                                no_wrap=True, overflow="ellipsis"), id=ALL)]
        options += [Option(bar_line(code, n, total), id=code) for code, n in counts]
        for code, n in sorted((flags or {}).items()):
            options.append(Option(Text(f"  flag {code}: {n:,} — {sentence(code)}", style="dim", no_wrap=True,
                                       overflow="ellipsis"), disabled=True))
        self.set_options(options)
        self.highlighted = 0
