"""The frame every wizard step shares: header, body, a status line, Back/Next, footer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Static
from textual.worker import Worker, WorkerState

from dynsync_tui.tui.messages import WorkerFailed, one_line

if TYPE_CHECKING:
    from dynsync_tui.tui.app import DynsyncApp

STEPS: tuple[tuple[str, str], ...] = (  # (screen name, short title for the step bar)
    ("connect", "Connect"),
    ("country", "Country"),
    ("mappings", "Mappings"),
    ("lists", "Lists"),
    ("preview", "Preview"),
    ("sync", "Sync"),
    ("runs", "Runs"),
)
STEP_NAMES = tuple(n for n, _ in STEPS)
TYPED_KEYS = {"space", "slash", "question_mark", "delete", "backspace", "home", "end", "left", "right", "enter"}


def typed_actions(bindings: list[Any]) -> set[str]:
    """Actions bound to keys that a focused Input would take for itself (letters, digits,
    space, /, ?, editing keys): the footer hides them while a text box has focus."""
    out = set()
    for b in bindings:
        if isinstance(b, Binding) and any(len(k) == 1 or k in TYPED_KEYS for k in b.key.split(",")):
            out.add(b.action.split("(")[0])
    return out


class WizardScreen(Screen[None]):
    """Subclasses set STEP and implement ``compose_body``."""

    STEP: ClassVar[str] = ""
    # Declared here, before every step's own keys, so the footer lists them first: "^n Next" must
    # stay in view at 80 columns, where the footer drops the keys that do not fit at its right end.
    # The app keeps the same bindings (hidden) for its modals; the ids are shared, so a keymap
    # remaps both.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "app.next", "Next", id="app.next", tooltip="Next step (saves the config)"),
        Binding("question_mark", "app.help", "Help", id="app.help", tooltip="Keys and steps"),
    ]
    PALETTE: ClassVar[list[tuple[str, str, str]]] = []  # (title, help, action) for the palette

    @property
    def dapp(self) -> DynsyncApp:
        return self.app  # type: ignore[return-value]

    @property
    def step_no(self) -> int:
        return STEP_NAMES.index(self.STEP)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (isinstance(self.focused, Input) and action in typed_actions(self.BINDINGS))

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="≡")
        n = self.step_no
        crumbs = "  ".join(
            f"[reverse] {i + 1} {title} [/]" if i == n else f"{i + 1} {title}" for i, (_, title) in enumerate(STEPS)
        )
        yield Static(crumbs, classes="crumbs", markup=True)
        with Vertical(classes="body"):
            yield from self.compose_body()
        with Horizontal(classes="nav"):
            yield Static("", classes="status", id="status")
            yield Button("◀ Back", id="back", disabled=n == 0, tooltip="Previous step (ctrl+b)", compact=True)
            yield Button("Next ▶", id="next", variant="primary", disabled=n == len(STEPS) - 1,
                         tooltip="Next step (ctrl+n)", compact=True)
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def set_status(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#status", Static)
        status.update(Text(text))  # plain text: messages quote config keys such as [[consent.lists]]
        status.set_class(error, "-error")

    def set_next_enabled(self, enabled: bool) -> None:
        if self.step_no < len(STEPS) - 1:
            self.query_one("#next", Button).disabled = not enabled

    def can_leave(self) -> bool:
        return True

    def before_next(self) -> bool:
        """Called on Next; return False to stay (e.g. an invalid mapping set)."""
        return self.commit()

    def commit(self) -> bool:
        """Called whenever the step is left (Next, Back, a step key): copy form values into the
        config; return False (with the error shown) to stay."""
        return True

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.dapp.action_back()

    @on(Button.Pressed, "#next")
    def _next(self) -> None:
        self.dapp.action_next()

    def on_worker_failed(self, message: WorkerFailed) -> None:
        self.set_status(message.text, error=True)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.set_status(one_line(event.worker.error), error=True)

    def run_io(self, fn: Any, *, group: str, description: str = "") -> Worker[Any]:
        """Run blocking ``fn()`` in a thread worker; errors become a WorkerFailed message."""

        def work() -> None:
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - shown to the user as one line
                self.post_message(WorkerFailed(f"{description}: {one_line(exc)}" if description else one_line(exc)))

        return self.run_worker(work, group=group, thread=True, exclusive=True, exit_on_error=False,
                               description=description)
