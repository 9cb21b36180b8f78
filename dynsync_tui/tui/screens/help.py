"""The `?` help: wizard steps and keys."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# dynsync — keys

| Step | Key | What |
|---|---|---|
| 1 Connect | `1` / `F1` | Account Administration: where data comes from and goes to; `t` Test connection |
| 2 Country | `2` / `F2` | Default country for numbers without a country code, or Off |
| 3 Mappings | `3` / `F3` | Email data mappings: `a` add, `e` edit, `delete`, `ctrl+s` save |
| 4 Lists | `4` / `F4` | Manage Dynamics list members: `space` picks a list |
| 5 Preview | `5` / `F5` | What would sync or skip and why: `/` search, `s` sort, `d` detail |
| 6 Sync | `6` / `F6` | `enter` start, `escape` cancel (asks first) |
| 7 Runs | `7` / `F7` | History from the state file |

Everywhere: `ctrl+n` next step, `ctrl+b` back, `ctrl+p` command palette, `ctrl+t` light/dark,
`?` this help, `ctrl+q` quit. Number keys work when no text box has focus; F-keys always.

Secrets (client secret, Dotdigital API password) come from `DYNSYNC_CLIENT_SECRET` and
`DYNSYNC_DOTDIGITAL_PASSWORD`; they are never written to the config file.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close", id="help.close", tooltip="Close help"),
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
