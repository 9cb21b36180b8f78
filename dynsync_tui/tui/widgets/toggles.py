"""Radio buttons and checkboxes whose state also reads in plain text (● / ○, X / blank), not
only by colour."""

from __future__ import annotations

from textual.widgets import Checkbox, RadioButton


class PlainRadio(RadioButton):
    @property  # type: ignore[override]
    def BUTTON_INNER(self) -> str:
        return "●" if self.value else "○"


class PlainCheckbox(Checkbox):
    @property  # type: ignore[override]
    def BUTTON_INNER(self) -> str:
        return "X" if self.value else " "
