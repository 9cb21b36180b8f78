from __future__ import annotations

import threading

import pytest

from dynsync_tui.core.config import Config, SyncSettings
from dynsync_tui.core.mappings import Mapping
from dynsync_tui.sync import engine as engine_mod
from dynsync_tui.sync.engine import Engine
from dynsync_tui.sync.imports import PollPolicy
from dynsync_tui.sync.services import Services
from dynsync_tui.sync.state import StateStore

from .fakes import FakeDataverse, FakeDotdigital, contact_rows, fake_verdicts_module


def small_config(batch_size: int = 4, in_flight: int = 2) -> Config:
    cfg = Config(sync=SyncSettings(batch_size=batch_size, imports_in_flight=in_flight))
    cfg.mappings = [Mapping("email", "contact", "emailaddress1"),
                    Mapping("mobileNumber", "contact", "mobilephone"),
                    Mapping("FIRSTNAME", "contact", "firstname")]
    return cfg


class Rig:
    """An engine over fakes, rebuilt per run against the same state file and 'accounts'."""

    def __init__(self, tmp_path, rows, **dd_kwargs) -> None:
        self.path = tmp_path / "state.db"
        self.dv = FakeDataverse({"contacts": rows})
        self.dd = FakeDotdigital(**dd_kwargs)
        self.config = small_config()
        self.events: list = []
        self.state = StateStore(self.path)

    def engine(self, cancel: threading.Event | None = None, on_event=None) -> Engine:
        services = Services(self.dv, self.dd, self.state, "test:env", "Test")
        return Engine(self.config, services, on_event=on_event or self.events.append, cancel=cancel,
                      poll=PollPolicy(first=0.0, shortest=0.0, busy=0.01))


@pytest.fixture
def fake_verdicts(monkeypatch):
    """The engine's unit tests run over a tiny fake of core.verdicts (engine mechanics only)."""
    monkeypatch.setattr(engine_mod, "_verdicts_module", fake_verdicts_module)


@pytest.fixture
def rig(tmp_path, fake_verdicts):
    r = Rig(tmp_path, contact_rows(10, no_mobile=(9,)))
    yield r
    r.state.close()
