"""The sign-in modals a connect can open: a secret missing from the environment (masked input,
OK/Cancel) and a device-code sign-in (URL and code, Cancel). Both are pushed by the app on behalf
of a thread worker (tui/signin.py), which waits for the answer; they never run I/O themselves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


def prompt_parts(text: str) -> tuple[str, str]:
    """build_services' prompt text ("The Dynamics client secret (DYNSYNC_CLIENT_SECRET is not
    set): ") → ("The Dynamics client secret", "DYNSYNC_CLIENT_SECRET is not set")."""
    text = text.strip().rstrip(":").strip()
    what, _, why = text.partition(" (")
    return what.strip() or "A secret", why.rstrip(")").strip()


class SecretPromptScreen(ModalScreen[str | None]):
    """Dismisses with the typed secret, or None (Cancel / escape). ``enter`` in the box is OK; an
    empty OK is refused inline."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="secret.cancel", tooltip="Don't connect (no secret given)"),
    ]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.what, self.why = prompt_parts(text)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(self.what), classes="title")
            if self.why:
                yield Static(Text(f"{self.why}: type it here to connect."), id="why")
            yield Input(password=True, placeholder="secret (hidden)", id="secret")
            yield Static("", id="error")
            yield Static("Used for this session only: never written to the config, the logs or the state file.",
                         classes="hint")
            with Horizontal(id="buttons"):
                yield Button("OK (enter)", id="ok", variant="success", tooltip="Use this secret", compact=True)
                yield Button("Cancel (esc)", id="cancel", variant="primary", tooltip="Don't connect",
                             compact=True)

    def on_mount(self) -> None:
        self.query_one("#secret", Input).focus()

    @on(Input.Submitted, "#secret")
    @on(Button.Pressed, "#ok")
    def action_ok(self) -> None:
        value = self.query_one("#secret", Input).value.strip()
        if not value:
            self.query_one("#error", Static).update("Type the secret, or Cancel.")
            return
        self.dismiss(value)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class DeviceCodeScreen(ModalScreen[None]):
    """Shows where to sign in and the code while msal polls. Cancel calls ``on_cancel`` (it sets the
    sign-in's cancel Event) and the screen says "Cancelling…"; the app closes it (``finish``) when
    the sign-in completes or fails. After Cancel, the button closes it at once."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="device.cancel", tooltip="Stop the device-code sign-in"),
        Binding("c", "copy_code", "Copy code", id="device.copy", tooltip="Copy the code to the clipboard"),
    ]

    def __init__(self, url: str, code: str, *, expires_in: int | None = None,
                 on_cancel: Callable[[], Any] | None = None) -> None:
        super().__init__()
        self.url, self.code, self.expires_in, self.on_cancel = url, code, expires_in, on_cancel
        self.cancelled = False
        self._finished = False

    @classmethod
    def from_flow(cls, message: str, flow: dict[str, Any], on_cancel: Callable[[], Any] | None = None
                  ) -> DeviceCodeScreen:
        url = str(flow.get("verification_uri") or flow.get("verification_url") or "")
        if not url:  # msal's message: "To sign in, use a web browser to open the page <url> and enter …"
            url = next((w for w in message.split() if w.startswith("https://")), "the device login page")
        expires = flow.get("expires_in")
        return cls(url, str(flow.get("user_code") or "?"), expires_in=int(expires) if expires else None,
                   on_cancel=on_cancel)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Sign in to Dynamics 365 (device code)", classes="title")
            yield Static("1. Open this page in a browser:", classes="step")
            yield Static(Text(self.url), id="url")
            yield Static("2. Enter this code and sign in:", classes="step")
            yield Static(Text(self.code), id="code")
            minutes = f" The code expires in {self.expires_in // 60} min." if self.expires_in else ""
            yield Static(f"Waiting for the sign-in…{minutes}", id="state")
            yield Static("Select the URL or the code with the mouse, or press c to copy the code.", classes="hint")
            with Horizontal(id="buttons"):
                yield Button("Cancel (esc)", id="cancel", variant="error", tooltip="Stop the sign-in",
                             compact=True)

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def action_copy_code(self) -> None:
        self.app.copy_to_clipboard(self.code)
        self.notify(f"Copied {self.code}", title="Device code")

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if self.cancelled:  # second press: close now, whatever msal is doing
            self.dismiss(None)
            return
        self.cancelled = True
        if self.on_cancel is not None:
            self.on_cancel()
        self.set_class(True, "-cancelling")
        self.query_one("#state", Static).update("Cancelling… the sign-in stops at its next check.")
        self.query_one("#cancel", Button).label = "Close (esc)"

    def finish(self) -> None:
        """The sign-in completed or failed: close (now, or when this screen is on top again)."""
        self._finished = True
        if self.is_current:
            self.dismiss(None)

    def on_screen_resume(self) -> None:
        if self._finished and self.is_current:
            self.dismiss(None)
