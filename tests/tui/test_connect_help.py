"""Pilot tests: Connect's wording (user name, sandbox note, errors without a config path that
holds nothing yet, active-record counts) and the help's keys."""

from __future__ import annotations

from dynsync_tui.core.config import ConfigError
from dynsync_tui.tui.screens.help import HELP
from tests.tui.flows import settle, text_of


async def test_connect_names_the_user_and_active_records(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=(100, 32)) as pilot:
        assert text_of(app, "#sandbox-note") == "Blank environment: the built-in sandbox (sandbox (fake))."
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        result = text_of(app, "#result")
        assert "connected as Alex Admin" in result and "Active records of the mapped entities" in result


async def test_connect_error_without_an_unsaved_config_path(tui_app, tmp_path) -> None:
    path = tmp_path / "config.toml"

    def broken(cfg):
        raise ConfigError(f"{path}: [dotdigital] api_user is empty; set it on Connect")

    app = tui_app(connect=broken)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert text_of(app, "#status") == "Test connection failed: [dotdigital] api_user is empty; set it on Connect"


def test_help_lists_the_real_keys() -> None:
    for key in ("`delete`", "Esc closes", "`ctrl+r`", "F7 Runs", "`esc` closes it", "`home`/`end`"):
        assert key in HELP, key
