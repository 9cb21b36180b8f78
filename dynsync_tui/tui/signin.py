"""The hooks the app hands to ``connect(config, *, prompt, on_device_code, cancel, on_wait)``.

They run on the thread worker that connects (or that first needs a token) and bridge to the UI
with ``app.call_from_thread``: ``prompt`` pushes SecretPromptScreen and waits for its answer;
``on_device_code`` pushes DeviceCodeScreen and returns at once (msal then polls), and the screen
is closed when that sign-in returns or fails (``done``). A typed secret lives only in the
clients built with it: it is registered with logs.add_secrets and stored nowhere else.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any

from dynsync_tui import logs
from dynsync_tui.tui.screens.sign_in import (
    DeviceCodeScreen,
    SecretPromptScreen,
    prompt_parts,
)

HOOKS = ("prompt", "on_device_code", "cancel", "on_wait")


class SignInCancelled(Exception):
    """The person cancelled a secret prompt; the message says what was not given."""


def accepted_hooks(connect: Callable[..., Any]) -> set[str]:
    """The hook names ``connect`` takes (fakes in tests may take none)."""
    try:
        params = inspect.signature(connect).parameters.values()
    except (TypeError, ValueError):
        return set()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return set(HOOKS)
    return {p.name for p in params if p.name in HOOKS}


class SignInHooks:
    """One connect's hooks and its cancel Event (set by the device-code modal's Cancel)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.cancel = threading.Event()
        self.services: Any = None
        self._device_open = False  # worker side: a device-code modal was asked for
        self._device_screen: DeviceCodeScreen | None = None  # UI side

    def kwargs_for(self, connect: Callable[..., Any]) -> dict[str, Any]:
        hooks = {"prompt": self.prompt, "on_device_code": self.on_device_code, "cancel": self.cancel,
                 "on_wait": self.on_wait}
        names = accepted_hooks(connect)
        return {k: v for k, v in hooks.items() if k in names}

    # ---------------------------------------------------------------- worker side

    def prompt(self, text: str) -> str:
        """Ask for a missing secret in a modal; blocks this worker until OK or Cancel."""
        value = self._ask(lambda: SecretPromptScreen(text))
        if not value:
            what = prompt_parts(text)[0]
            raise SignInCancelled(f"{what[:1].lower()}{what[1:]} was not given")
        logs.add_secrets(value)
        return value

    def on_device_code(self, message: str, flow: dict[str, Any]) -> None:
        self._device_open = True
        self._ui(self._show_device_code, message, dict(flow))

    def on_wait(self, seconds: float, why: str) -> None:
        self._ui(self._wait_toast, seconds, why)

    def done(self) -> None:
        """A sign-in (or the connect) returned or failed: close the device-code modal."""
        if self._device_open:
            self._device_open = False
            self._ui(self._close_device_code)

    def watch(self, services: Any) -> None:
        """Close the device-code modal whenever a token call ends (a sign-in happens on the
        first request, or mid-run once the refresh token has expired)."""
        self.services = services
        tokens = getattr(getattr(services, "dataverse", None), "tokens", None)
        inner = getattr(tokens, "token", None)
        if getattr(tokens, "mode", None) != "device_code" or not callable(inner):
            return

        def token() -> str:
            try:
                return inner()
            finally:
                self.done()

        tokens.token = token

    def _ask(self, make_screen: Callable[[], Any]) -> Any:
        """Push a modal from this thread and wait for its answer (None when the app closes)."""
        from textual.worker import NoActiveWorker, get_current_worker

        answered = threading.Event()
        box: list[Any] = []

        def answer(value: Any) -> None:
            box.append(value)
            answered.set()

        self._ui(lambda: self.app.push_screen(make_screen(), answer))
        while not answered.wait(0.1):
            try:
                stopped = get_current_worker().is_cancelled
            except NoActiveWorker:
                stopped = False
            if stopped or not self.app.is_running:
                break
        return box[0] if box else None

    def _ui(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> None:
        if threading.get_ident() == getattr(self.app, "_thread_id", None):
            fn(*args, **kw)
            return
        try:
            self.app.call_from_thread(fn, *args, **kw)
        except RuntimeError:  # the app is not running any more
            pass

    # ---------------------------------------------------------------- UI side

    def _show_device_code(self, message: str, flow: dict[str, Any]) -> None:
        self._close_device_code()  # an earlier code (expired) gives way to the new one
        self._device_screen = DeviceCodeScreen.from_flow(message, flow, on_cancel=self.cancel_sign_in)
        self.app.push_screen(self._device_screen)

    def _wait_toast(self, seconds: float, why: str) -> None:
        if getattr(self.app.screen, "running", False):  # a running sync's log says it already
            return
        self.app.notify(why or f"Waiting {seconds:.0f} s", title="Waiting", severity="warning",
                        timeout=max(3.0, min(seconds, 10.0)))

    def _close_device_code(self) -> None:
        screen, self._device_screen = self._device_screen, None
        if screen is not None:
            screen.finish()

    def cancel_sign_in(self) -> None:
        """Stop the device-code polling: our Event, and the one a running Engine lent the tokens."""
        self.cancel.set()
        tokens = getattr(getattr(self.services, "dataverse", None), "tokens", None)
        lent = getattr(tokens, "cancel", None)
        if isinstance(lent, threading.Event):
            lent.set()

    def cancel_reason(self, exc: BaseException) -> str:
        """'' unless ``exc`` ended a sign-in the person cancelled; else what was cancelled."""
        if isinstance(exc, SignInCancelled):
            return str(exc)
        if self.cancel.is_set():
            return "the device-code sign-in was cancelled"
        return ""
