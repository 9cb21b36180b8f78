"""Fixtures: the fault-free reference runs, one per size, shared by the whole session."""

from __future__ import annotations

import pytest

from .harness import Reference, reference

SMALL = 3000  # each fault kind alone (about 270 contacts sent in 3 lists' worth of batches)
BIG = 20_000  # every kind together (about 1,900 contacts sent, 200 requests fault-free)


@pytest.fixture(scope="session")
def references(tmp_path_factory) -> dict[int, Reference]:
    cache: dict[int, Reference] = {}

    def get(size: int) -> Reference:
        if size not in cache:
            cache[size] = reference(tmp_path_factory.mktemp(f"ref{size}"), size)
        return cache[size]

    return get  # type: ignore[return-value]
