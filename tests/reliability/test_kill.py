"""The kill test: ``dynsync sync`` (with its built-in sandbox) SIGKILLed at random points of a
run, several seeds, twice per seed; the next run finishes what was left and Dotdigital ends
exactly as after one uninterrupted run, without duplicates, every skip with a stored reason.

The sandbox runs inside the killed process, so each kill also stops the emulated services
mid-request; their data is on disk (``home/sandbox/sandbox.db``) like a real service's."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dynsync_tui.sandbox import Sandbox
from dynsync_tui.sync.state import StateStore

from .harness import contacts, duplicates, problems

SEEDS = (1, 2, 3)  # bench/faults.py --kill-seeds runs more
KILLS_PER_SEED = 2
CONFIG = "[sync]\nbatch_size = 100\n"  # ~16 imports of the 3k seed: many points to die at


def dynsync(home: Path) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("dynsync")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "dynsync_tui"]
    env = {**os.environ, "DYNSYNC_HOME": str(home)}
    return subprocess.Popen(cmd + ["sync", "--sandbox", "--yes", "--json"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def full_run(home: Path) -> float:
    t0 = time.monotonic()
    proc = dynsync(home)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return time.monotonic() - t0


def new_home(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.toml").write_text(CONFIG, encoding="utf-8")
    return path


def final_state(home: Path) -> tuple[dict, int, list[str], list[str]]:
    """(contacts, duplicates, state problems, run statuses) of a home after its runs."""
    sb = Sandbox(home / "sandbox")  # the same seed and size as the CLI's: reopens, not reseeds
    sb.start()
    try:
        with StateStore(home / "state.db") as st:
            env = f"sandbox:{sb.info.org_id}"
            prior, failures = st.prior(env), st.failures(env)
            runs = [r.status for r in st.runs(env)]
        return contacts(sb), duplicates(sb, prior), problems(sb, prior, failures), runs
    finally:
        sb.stop()


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
    rng = random.Random(seed)
    home = new_home(tmp_path / "home")
    killed = 0
    for _ in range(KILLS_PER_SEED):
        proc = dynsync(home)
        try:
            proc.wait(timeout=rng.uniform(0.15, 0.9) * seconds)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            killed += 1
        else:
            assert proc.returncode == 0, proc.stderr.read()  # finished before its kill point
        proc.stderr.close()
    assert killed >= 1
    full_run(home)
    state, dups, issues, runs = final_state(home)
    assert dups == 0 and issues == []
    assert runs[0] == "ok" and set(runs[1:]) <= {"interrupted", "ok"}
    lost = sorted(set(expected) - set(state))
    changed = sorted(e for e in expected if e in state and state[e] != expected[e])
    assert (lost, changed, sorted(set(state) - set(expected))) == ([], [], [])
