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

| Step (key) | What |
|---|---|
| F1 Connect | Account Administration: where data comes from and goes to; `t` Test connection |
| F2 Country | Default country for numbers without a country code, or Off |
| F3 Mappings | Email data mappings: `a` add, `e` edit, `delete`, `ctrl+s` save |
| F4 Lists | Manage Dynamics list members: `space` picks a list, `m` maps it to a Dotdigital list |
| F5 Preview | Why records sync or skip: `enter` filters, `/` search, `s` sort, `d` detail, `x`/`j` export |
| F6 Sync | `enter` start, `escape` cancel (asks first) |
| F7 Runs | History from the state file: `enter` opens a run, `s` syncs again (rejected records first) |

On Preview, `p` cycles the email-change policy (duplicate, update, skip) and previews again.

Everywhere: `ctrl+n` next step, `ctrl+b` back, `ctrl+s` save the config, `ctrl+p` command palette,
`ctrl+t` light/dark,
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
