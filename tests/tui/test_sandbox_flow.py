"""The full wizard against the real sandbox over HTTPS (real msal, paging, v3 imports):
the summary counts equal what the sandbox's Dotdigital account holds afterwards."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dynsync_tui import paths as paths_mod
from tests.tui.flows import drive_full_flow

sandbox_mod = pytest.importorskip("dynsync_tui.sandbox")


@pytest.fixture
def sandbox(tmp_path: Any) -> Any:
    sb = sandbox_mod.Sandbox(tmp_path / "sandbox", size=300, import_delay=0.02)
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
