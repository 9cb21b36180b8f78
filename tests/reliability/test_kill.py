"""The kill test: ``dynsync sync`` (with its built-in sandbox) SIGKILLed at random points of a
run, several seeds, twice per seed; the next run finishes what was left and Dotdigital ends
exactly as after one uninterrupted run, without duplicates, every skip with a stored reason.

The sandbox runs inside the killed process, so each kill also stops the emulated services
mid-request; their data is on disk (``home/sandbox/sandbox.db``) like a real service's."""

from __future__ import annotations

import pytest

from .harness import final_state, full_run, kill_trial, new_home

SEEDS = (1, 2, 3)  # bench/faults.py runs more
KILLS_PER_SEED = 2


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    home = new_home(tmp_path_factory.mktemp("kill") / "reference")
    seconds = full_run(home)
    state, dups, issues, runs = final_state(home)
    assert runs == ["ok"] and dups == 0 and issues == [] and len(state) > 1000
    return state, seconds


@pytest.mark.parametrize("seed", SEEDS)
def test_sigkill_at_random_points_then_rerun_ends_as_one_clean_run(seed, uninterrupted, tmp_path):
    expected, seconds = uninterrupted
    home = new_home(tmp_path / "home")
    assert kill_trial(home, seed, seconds, KILLS_PER_SEED) >= 1
    full_run(home)
    state, dups, issues, runs = final_state(home)
    assert dups == 0 and issues == []
    assert runs[0] == "ok" and set(runs[1:]) <= {"interrupted", "ok"}
    lost = sorted(set(expected) - set(state))
    changed = sorted(e for e in expected if e in state and state[e] != expected[e])
    assert (lost, changed, sorted(set(state) - set(expected))) == ([], [], [])
