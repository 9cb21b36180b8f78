"""TUI fixtures: fakes by default; ``wizard_connect`` can be overridden (e.g. by a sandbox
fixture returning a real ``connect``) to drive the same flows against the real services."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:  # so tests.tui.fakes / tests.tui.flows import (tests/ is not a package)
    sys.path.insert(0, ROOT)


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Input, "cursor_blink", False)


@pytest.fixture
def wizard_connect() -> Callable[[Any], Any] | None:
    """None: the app uses tests/tui/fakes.py. Override to return a real connect(config)."""
    return None


@pytest.fixture
def tui_app(tmp_path: Path, wizard_connect: Any) -> Callable[..., Any]:
    from tests.tui.fakes import make_app

    def build(**kw: Any) -> Any:
        if wizard_connect is not None:
            kw.setdefault("connect", wizard_connect)
        return make_app(tmp_path, **kw)

    return build
