"""Sign-in modals (screens.md "Sign-in modals"): a missing secret is asked for in a masked modal
and handed back to the connecting worker; a device-code sign-in shows the URL and code, and its
Cancel sets the sign-in's cancel Event. Fakes call the hooks; the last test is the real sandbox."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from textual.widgets import Input

from dynsync_tui import logs
from dynsync_tui import paths as paths_mod
from dynsync_tui.core.config import Config, DotdigitalSettings, DynamicsSettings, dumps
from dynsync_tui.tui.screens.sign_in import DeviceCodeScreen, SecretPromptScreen
from tests.tui.fakes import fake_services
from tests.tui.flows import settle, text_of

PROMPT = "The Dynamics client secret (DYNSYNC_CLIENT_SECRET is not set): "
URL = "https://microsoft.com/devicelogin"
FLOW = {"user_code": "KX7Q-P2LM", "verification_uri": URL, "expires_in": 900,
        "message": f"To sign in, use a web browser to open the page {URL} and enter the code KX7Q-P2LM."}


async def wait_for(app: Any, pilot: Any, what: Any, timeout: float = 10.0) -> Any:
    """Pause until ``what`` (a screen class, or a callable) holds; returns the screen."""
    for _ in range(int(timeout / 0.05)):
        ok = isinstance(app.screen, what) if isinstance(what, type) else what()
        if ok:
            return app.screen
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}; screen is {type(app.screen).__name__}")


def connected(app: Any) -> Any:
    return lambda: type(app.screen).__name__ == "ConnectScreen" and "✓" in text_of(app, "#result")


async def test_prompt_returns_the_typed_secret_to_the_worker(tui_app) -> None:
    got: list[str] = []
    workers: list[str] = []

    def connect(cfg: Any, *, prompt: Any = None, **_: Any) -> Any:
        workers.append(threading.current_thread().name)
        got.append(prompt(PROMPT))
        return fake_services()

    app = tui_app(connect=connect)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+r")
        screen = await wait_for(app, pilot, SecretPromptScreen)
        assert "Dynamics client secret" in text_of(app, ".title")
        assert app.screen.focused is screen.query_one("#secret", Input)
        assert screen.query_one("#secret", Input).password  # masked
        await pilot.press("enter")  # empty: refused inline, the modal stays
        assert text_of(app, "#error") == "Type the secret, or Cancel."
        await pilot.press(*"s3cret-Value")
        await pilot.press("enter")
        await wait_for(app, pilot, connected(app))
        await settle(app, pilot)
        assert text_of(app, "#status") == "Connected."
    assert got == ["s3cret-Value"] and workers[0] != threading.main_thread().name
    assert logs.scrub_secrets("secret s3cret-Value here") == "secret *** here"
    assert "s3cret-Value" not in dumps(app.config)


async def test_prompt_cancel_is_a_one_line_cancelled_status(tui_app) -> None:
    def connect(cfg: Any, *, prompt: Any = None, **_: Any) -> Any:
        prompt(PROMPT)
        raise AssertionError("a cancelled prompt raises")

    app = tui_app(connect=connect)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+r")
        await wait_for(app, pilot, SecretPromptScreen)
        await pilot.press(*"half")
        await pilot.press("escape")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ConnectScreen"
        status = text_of(app, "#status")
        assert status == "Cancelled: not connected (the Dynamics client secret was not given).", status
        assert text_of(app, "#result") == "✗ Not connected."


async def test_device_code_modal_shows_the_code_and_cancel_sets_the_event(tui_app) -> None:
    events: list[threading.Event] = []

    def connect(cfg: Any, *, on_device_code: Any = None, cancel: Any = None, **_: Any) -> Any:
        events.append(cancel)
        on_device_code(FLOW["message"], dict(FLOW))  # returns at once; msal would poll now
        if cancel.wait(10):
            raise RuntimeError("Sign-in cancelled")
        raise AssertionError("Cancel did not set the Event")

    app = tui_app(connect=connect)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+r")
        screen = await wait_for(app, pilot, DeviceCodeScreen)
        assert text_of(app, "#code") == "KX7Q-P2LM" and text_of(app, "#url") == URL
        assert screen.query_one("#code").allow_select  # the code can be selected and copied
        assert not events[0].is_set()
        await pilot.click("#cancel")
        await wait_for(app, pilot, lambda: type(app.screen).__name__ == "ConnectScreen")
        await settle(app, pilot)
        assert events[0].is_set()
        assert text_of(app, "#status") == "Cancelled: not connected (the device-code sign-in was cancelled)."


async def test_device_code_modal_closes_when_the_sign_in_completes(tui_app) -> None:
    approved = threading.Event()

    def connect(cfg: Any, *, on_device_code: Any = None, cancel: Any = None, **_: Any) -> Any:
        on_device_code(FLOW["message"], dict(FLOW))
        assert approved.wait(10)
        return fake_services()

    app = tui_app(connect=connect)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+r")
        await wait_for(app, pilot, DeviceCodeScreen)
        approved.set()  # the admin signs in in a browser
        await wait_for(app, pilot, connected(app))
        await settle(app, pilot)


async def test_a_wait_outside_a_sync_is_a_toast(tui_app) -> None:
    def connect(cfg: Any, *, on_wait: Any = None, **_: Any) -> Any:
        on_wait(2.0, "Dataverse throttled, resuming in 2 s")
        return fake_services()

    app = tui_app(connect=connect)
    async with app.run_test(size=(100, 32), notifications=True) as pilot:
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert [n.message for n in app._notifications] == ["Dataverse throttled, resuming in 2 s"]


async def test_connects_without_hooks_still_work(tui_app) -> None:
    app = tui_app(connect=lambda cfg: fake_services())  # a connect that takes only the config
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert "✓" in text_of(app, "#result")


# ---------------------------------------------------------------- the real sandbox

sandbox_mod = pytest.importorskip("dynsync_tui.sandbox")


@pytest.fixture
def sandbox(tmp_path: Any) -> Any:
    sb = sandbox_mod.Sandbox(tmp_path / "sandbox", size=30)
    sb.start()
    yield sb
    sb.stop()


def device_code_config(info: Any) -> Config:
    """Real mode pointed at the sandbox, as an admin would write it for `dynsync sandbox`."""
    return Config(dynamics=DynamicsSettings(environment_url=info.dataverse_url, authority=info.authority,
                                            tenant_id=info.tenant_id, client_id=info.client_id,
                                            ca_file=str(info.ca_file), auth="device_code"),
                  dotdigital=DotdigitalSettings(api_user=info.api_user, endpoint=info.dotdigital_url,
                                                ca_file=str(info.ca_file)))


async def test_device_code_and_password_prompt_on_the_sandbox(tui_app, sandbox, tmp_path, monkeypatch) -> None:
    """Real mode (auth = "device_code") against the sandbox over HTTPS, through the CLI's connect:
    the Dotdigital password is typed in the modal, the device code is approved, the test passes."""
    from dynsync_tui import cli

    for name in ("DYNSYNC_CLIENT_SECRET", "DYNSYNC_DOTDIGITAL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    info = sandbox.info
    paths = paths_mod.resolve(tmp_path / "home")
    app = tui_app(config=device_code_config(info),
                  connect=lambda c, **hooks: cli._connect(c, paths, None, None, **hooks))
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+r")
        screen = await wait_for(app, pilot, SecretPromptScreen)
        assert "Dotdigital API password" in text_of(app, ".title")
        screen.query_one("#secret", Input).value = info.api_password
        await pilot.press("enter")
        await wait_for(app, pilot, DeviceCodeScreen)
        code = text_of(app, "#code")
        assert "devicelogin" in text_of(app, "#url")
        assert sandbox.approve_device_code(code) == 1
        await wait_for(app, pilot, connected(app), timeout=30)
        await settle(app, pilot)
        result = text_of(app, "#result")
        assert "Dynamics: connected as" in result and "Dotdigital: account" in result, result
    assert paths.token_cache.stat().st_mode & 0o777 == 0o600
    assert info.api_password not in dumps(app.config)


async def test_device_code_cancel_on_the_sandbox_then_sign_in(tui_app, sandbox, tmp_path, monkeypatch) -> None:
    """Cancel stops msal's real polling (one line in the status); the next test signs in afresh."""
    from dynsync_tui import cli

    monkeypatch.setenv("DYNSYNC_DOTDIGITAL_PASSWORD", sandbox.info.api_password)
    paths = paths_mod.resolve(tmp_path / "home")
    app = tui_app(config=device_code_config(sandbox.info),
                  connect=lambda c, **hooks: cli._connect(c, paths, None, None, **hooks))
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+r")
        await wait_for(app, pilot, DeviceCodeScreen)
        await pilot.press("escape")
        await pilot.pause(0.05)
        assert text_of(app, "#state").startswith("Cancelling…")
        await wait_for(app, pilot, lambda: type(app.screen).__name__ == "ConnectScreen")
        await settle(app, pilot)
        assert text_of(app, "#status") == "Cancelled: not connected (the device-code sign-in was cancelled)."
        await pilot.press("ctrl+r")
        await wait_for(app, pilot, DeviceCodeScreen)
        assert sandbox.approve_device_code(text_of(app, "#code")) == 1
        await wait_for(app, pilot, connected(app), timeout=30)
        await settle(app, pilot)
