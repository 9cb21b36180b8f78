"""Small modals: a question with buttons (ChoiceScreen), and its yes/no form (ConfirmScreen)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

Choice = tuple[str, str, str, str]  # (id, label, variant, key)


class ChoiceScreen(ModalScreen[Any]):
    """Dismisses with the chosen button's id; escape means ``cancel_id``. ``default`` has focus."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="choice.cancel", tooltip="Close without doing anything"),
    ]
    DEFAULT_CSS = """
    ChoiceScreen { align: center middle; }
    ChoiceScreen > Vertical { width: 64; max-width: 100%; height: auto; border: thick $error;
                              background: $surface; padding: 1 2; }
    ChoiceScreen Horizontal { height: 3; align: right middle; margin-top: 1; }
    ChoiceScreen Button { margin-left: 1; }
    """

    def __init__(self, question: str | Text, choices: list[Choice], *, default: str, cancel_id: str) -> None:
        super().__init__()
        self.question, self.choices, self.default, self.cancel_id = question, choices, default, cancel_id

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question if isinstance(self.question, Text) else Text(self.question), id="question")
            with Horizontal():
                for cid, label, variant, key in self.choices:
                    yield Button(label, id=cid, variant=variant, tooltip=key)  # type: ignore[arg-type]

    def on_mount(self) -> None:
        self.query_one(f"#{self.default}", Button).focus()

    def on_key(self, event: Any) -> None:
        for cid, _label, _variant, key in self.choices:
            if event.key == key:
                event.stop()
                self.dismiss(self.result(cid))

    def result(self, cid: str) -> Any:
        return cid

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self.result(str(event.button.id)))

    def action_cancel(self) -> None:
        self.dismiss(self.result(self.cancel_id))


class ConfirmScreen(ChoiceScreen):
    """Yes/no; dismisses with a bool. ``y`` yes, ``n``/escape no; the safe answer has focus."""

    def __init__(self, question: str | Text, yes: str = "Yes", no: str = "No", *, yes_variant: str = "error",
                 default: str = "no") -> None:
        super().__init__(question, [("yes", f"{yes} (y)", yes_variant, "y"), ("no", f"{no} (n)", "primary", "n")],
                         default=default, cancel_id="no")

    def result(self, cid: str) -> bool:
        return cid == "yes"
