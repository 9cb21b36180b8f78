"""The `?` help: wizard steps and keys."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# dynsync — keys  (Esc closes this help)

| Step | Keys |
|---|---|
| F1 Connect | `ctrl+r` Test connection (works while typing in a box) |
| F2 Country | type in the search box, `↓` into the list, `enter` picks the highlighted country |
| F3 Mappings | `a` add, `e`/`enter` edit, `delete` delete (asks first), `home`/`end` first/last row |
| F4 Lists | choose the 'Activated for Email' column; `space`/`enter` pick a list, `m` map it to a Dotdigital list, `r` reload |
| F5 Preview | `enter` on a reason filters; `/` search, `s` sort, `d`/`enter` detail, `esc` closes it, `x` CSV / `j` JSON export, `p` email-change policy, `r` reload |
| F6 Sync | `enter` start (asks first), `esc` cancel a running sync (asks first) |
| F7 Runs | `enter` opens a run, `s` sync again (asks first; rejected records first), `r` reload |

Everywhere: `ctrl+n` Next (saves the config), `ctrl+b` Back, `F1`–`F7` go to a step (or `1`–`7` when no
text box has focus), `ctrl+s` save, `ctrl+p` command palette, `ctrl+t` light/dark, `?` this help,
`ctrl+q` quit (asks when there are unsaved changes). While a text box has focus, letter keys type into
it, so the footer hides them. The header says whether the config file is saved; Preview and Sync
save it first, so a headless `dynsync sync` does the same.

Secrets (client secret, Dotdigital API password) come from `DYNSYNC_CLIENT_SECRET` and
`DYNSYNC_DOTDIGITAL_PASSWORD`, else a masked box asks (`enter` OK, `esc` Cancel; kept for this
session only); they are never written to the config file. Device-code sign-in shows the page and
the code in a box: `c` copies the code, `esc` cancels the sign-in.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close help", id="help.close", tooltip="Close help (esc)"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 100; max-width: 100%; height: auto; max-height: 100%;
                                  border: thick $primary; background: $surface; }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(HELP)

    def action_close(self) -> None:
        self.dismiss(None)
