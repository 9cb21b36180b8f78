"""Sandbox fixtures: one seeded sandbox per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dynsync_tui.sandbox import Sandbox

from .helpers import Dd, Dv


@pytest.fixture(scope="module")
def sb(tmp_path_factory) -> Iterator[Sandbox]:
    box = Sandbox(tmp_path_factory.mktemp("sandbox"), import_delay=0.05)
    box.start()
    yield box
    box.stop()


@pytest.fixture(scope="module")
def dv(sb) -> Dv:
    return Dv(sb)


@pytest.fixture(scope="module")
def dd(sb) -> Dd:
    return Dd(sb)
