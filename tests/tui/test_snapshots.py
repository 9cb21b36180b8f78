"""One snapshot per screen state in screens.md: 100x32, fake services, no clock in the header,
no cursor blink, no worker running when the picture is taken."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from textual.widgets import DataTable, Input, OptionList

from tests.tui.fakes import fake_services
from tests.tui.flows import settle

SIZE = (100, 32)


def steps(*actions: Any) -> Any:
    """run_before: each action is a key (str) or a callable(app) (sync)."""

    async def run_before(pilot: Any) -> None:
        app = pilot.app
        await settle(app, pilot)
        for action in actions:
            if isinstance(action, str):
                await pilot.press(action)
            else:
                action(app)
            await settle(app, pilot, 0.05)
        await settle(app, pilot, 0.05)

    return run_before


def act(name: str) -> Any:
    """Call the screen's action directly: Button.press() would leave a timed press effect."""
    return lambda app: getattr(app.screen, f"action_{name}")()


def run_sync(app: Any) -> None:
    """Start the sync past its confirmation (the question has its own snapshot)."""
    app.screen.run_sync(False)


def set_value(selector: str, value: Any) -> Any:
    def act(app: Any) -> None:
        app.screen.query_one(selector).value = value

    return act


def broken(cfg: Any) -> Any:
    raise RuntimeError("Dataverse: sign-in failed (401): the client secret is wrong or expired")


def push_secret_prompt(app: Any) -> None:
    from dynsync_tui.tui.screens.sign_in import SecretPromptScreen

    app.push_screen(SecretPromptScreen("The Dotdigital API password (DYNSYNC_DOTDIGITAL_PASSWORD is not set): "))


def push_device_code(app: Any) -> None:
    from dynsync_tui.tui.screens.sign_in import DeviceCodeScreen

    app.push_screen(DeviceCodeScreen("https://microsoft.com/devicelogin", "KX7Q-P2LM", expires_in=900))


NO_LISTS = [SimpleNamespace(id="l1", name="Old promo", dynamic=False, member_type="contact", member_count=3,
                            activated=False, eligible=False, why="not activated for email"),
            SimpleNamespace(id="l2", name="Accounts", dynamic=True, member_type="account", member_count=9,
                            activated=True, eligible=False, why="member type account is not mapped")]

CASES = {
    "connect_initial": ({}, ()),
    "connect_ok": ({}, (act("test"),)),
    "connect_error": ({"connect": broken}, (act("test"),)),
    "country_initial": ({}, ("f2",)),
    "country_search": ({}, ("f2", set_value("#search", "united"))),
    "mappings_table": ({}, ("f3",)),
    "mappings_modal_mobile": ({}, ("f3", lambda app: app.screen.query_one("#mappings", DataTable).move_cursor(row=1),
                                   "e")),
    "lists_table": ({}, ("f4", set_value("#mode-lists", True),
                         lambda app: app.screen.query_one("#lists", DataTable).focus(), "space")),
    "lists_none_eligible": ({"services": fake_services(NO_LISTS)}, ("f4", set_value("#mode-lists", True))),
    "preview_loaded": ({}, ("f5",)),
    "preview_filtered_detail": ({}, ("f5", lambda app: setattr(app.screen.query_one("#reasons", OptionList),
                                                               "highlighted", 5),
                                     lambda app: app.screen.query_one("#reasons", OptionList).action_select(),
                                     lambda app: app.screen.query_one("#records").focus(), "down", "d")),
    "sync_ready": ({}, ("f6",)),
    "sync_confirm": ({}, ("f5", "f6", act("start"))),
    "sync_done": ({}, ("f6", run_sync)),
    "runs_history": ({}, ("f5", "f6", run_sync, "f7")),  # names and emails come from the preview
    "help": ({}, ("question_mark",)),
    "signin_secret_prompt": ({}, (push_secret_prompt, set_value("#secret", "not-the-real-one"))),
    "signin_device_code": ({}, (push_device_code,)),
}
SMALL = {  # the smallest supported terminal, and the light theme
    "preview_80x24": ({}, ("f5",)),
    "mappings_modal_80x24_light": ({}, ("ctrl+t", "f3", "e")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_screen_state(case: str, snap_compare: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.tui.fakes import make_app

    monkeypatch.setattr(Input, "cursor_blink", False)
    kw, actions = CASES[case]
    app = make_app(tmp_path, **kw)
    assert snap_compare(app, terminal_size=SIZE, run_before=steps(*actions))


@pytest.mark.parametrize("case", list(SMALL))
def test_small_terminal(case: str, snap_compare: Any, tmp_path: Any) -> None:
    from tests.tui.fakes import make_app

    kw, actions = SMALL[case]
    assert snap_compare(make_app(tmp_path, **kw), terminal_size=(80, 24), run_before=steps(*actions))
