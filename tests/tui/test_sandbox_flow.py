"""The full wizard against the real sandbox over HTTPS (real msal, paging, v3 imports):
the summary counts equal what the sandbox's Dotdigital account holds afterwards."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dynsync_tui import paths as paths_mod
from tests.tui.flows import confirm_sync, drive_full_flow, settle, text_of

sandbox_mod = pytest.importorskip("dynsync_tui.sandbox")


@pytest.fixture
def sandbox(tmp_path: Any, request: Any) -> Any:
    sb = sandbox_mod.Sandbox(tmp_path / "sandbox", size=300, import_delay=getattr(request, "param", 0.02))
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture
def wizard_connect(sandbox: Any, tmp_path: Any) -> Any:
    from dynsync_tui.sync.services import build_services

    return lambda cfg: build_services(cfg, paths_mod.resolve(tmp_path / "home"), sandbox_info=sandbox.info)


def fast_engine(cfg: Any, services: Any, **kw: Any) -> Any:
    from dynsync_tui.sync.engine import Engine
    from dynsync_tui.sync.imports import PollPolicy

    return Engine(cfg, services, poll=PollPolicy(first=0.05, shortest=0.02), **kw)


async def test_full_flow_on_the_sandbox(tui_app: Any, sandbox: Any) -> None:
    app = tui_app(engine_factory=fast_engine)
    async with app.run_test(size=(100, 32)) as pilot:
        summary = await drive_full_flow(app, pilot)
    counts = {k: int(v.replace(",", "")) for k, v in re.findall(r"(\w+): ([\d,]+)", summary)}
    assert counts["created"] > 0
    assert counts["created"] + counts["updated"] == len(sandbox.dotdigital_contacts())


@pytest.mark.parametrize("sandbox", [0.4], indirect=True)  # slow imports: the cancel lands mid-run
async def test_cancel_on_the_sandbox(tui_app: Any, sandbox: Any) -> None:
    from dynsync_tui.core.config import Config

    cfg = Config()
    cfg.sync.batch_size = 20
    app = tui_app(engine_factory=fast_engine, config=cfg)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("f6")
        await settle(app, pilot)
        await confirm_sync(app, pilot)
        for _ in range(200):  # until the first import is on its way
            await pilot.pause(0.05)
            if "Sending" in text_of(app, "#phase") or "Waiting" in text_of(app, "#phase"):
                break
        assert app.screen.running
        await pilot.press("escape")
        await pilot.pause(0.1)
        await pilot.press("y")
        for _ in range(400):
            await pilot.pause(0.05)
            if not app.screen.running:
                break
        summary = text_of(app, "#summary")
        assert summary.startswith("Cancelled"), summary + text_of(app, "#status")
        services = app.services()
        assert services.state.runs(services.env_key)[0].status == "cancelled"
    assert len(sandbox.dotdigital_contacts()) < 300
