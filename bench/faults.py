"""Benchmark: what a sync survives. Each fault kind alone, then all together, on a seeded
sandbox of N records (default 20k; --quick 3k), and SIGKILLs of ``dynsync sync`` at random
points (the CLI's own 3k sandbox; default 5 seeds × 2 kills; --quick 2 seeds).

Columns: the fault kind; injected = faults that actually fired (for row failures: imports hit
+ rows failed; for SIGKILL: kills that landed before the run ended); survived = the first run
under the faults finished, nothing it marked sent was missing, every skipped/failed record
had a stored reason, and after the faults cleared (and a rerun if records were left failed)
Dotdigital held exactly what a fault-free run leaves; lost = records missing or different
against that run; duplicates = contacts sharing an email or mobile, records sent as two
contacts, contacts not in the fault-free run; extra calls = HTTP requests (token, Dataverse,
Dotdigital) beyond the fault-free run's, reruns included (n/a for SIGKILL: the requests of a
killed process are not recorded anywhere); runs = syncs it took.

The clients' waits are shortened (backoff 20 ms, read timeout 1 s, no 429 jitter; see
tests/reliability/harness.py) so a storm takes seconds; what is retried is unchanged.

Last line: survived_pct=… lost=… duplicates=… faults=…
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from reliability.harness import (  # noqa: E402
    KINDS, Result, all_kinds, final_state, full_run, kill_trial, new_home, reference, run_under,
)


def kill_row(root: Path, seeds: int, kills: int) -> Result:
    t0 = time.monotonic()
    ref_home = new_home(root / "kill-reference")
    seconds = full_run(ref_home)
    expected = final_state(ref_home)[0]
    landed = lost = dups = 0
    why: list[str] = []
    for seed in range(1, seeds + 1):
        home = new_home(root / f"kill-{seed}")
        landed += kill_trial(home, seed, seconds, kills)
        full_run(home)
        state, d, issues, _runs = final_state(home)
        lost += sum(1 for e, row in expected.items() if state.get(e) != row)
        dups += d + sum(1 for e in state if e not in expected)
        why += issues[:3]
    if lost or dups:
        why.append(f"{lost} lost, {dups} duplicates")
    return Result(f"SIGKILL ({seeds} seeds x {kills})", landed, not why, lost, dups, -1, kills + 1,
                  time.monotonic() - t0, why)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3k records and 2 kill seeds instead of 20k and 5")
    ap.add_argument("--size", type=int, help="sandbox records for the fault kinds (overrides --quick)")
    ap.add_argument("--kill-seeds", type=int, help="seeds of the SIGKILL test")
    args = ap.parse_args(argv)
    size = args.size or (3000 if args.quick else 20_000)
    seeds = args.kill_seeds or (2 if args.quick else 5)
    rows: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="dynsync-faults-") as tmp:
        root = Path(tmp)
        ref = reference(root / "reference", size)
        print(f"fault-free run: {size} records, {ref.sent} contacts sent, {ref.requests} requests")
        plans = {**KINDS, "all together": all_kinds()}
        for n, (kind, plan) in enumerate(plans.items()):
            rows.append(run_under(kind, plan, root / f"kind{n}", size, ref))
        rows.append(kill_row(root, seeds, 2))
    print(f"{'fault kind':<26}{'injected':>9}  {'survived':<9}{'lost':>5}{'duplicates':>11}"
          f"{'extra calls':>12}{'runs':>5}{'seconds':>9}")
    for r in rows:
        extra = "n/a" if r.extra_calls < 0 else str(r.extra_calls)
        print(f"{r.kind:<26}{r.injected:>9}  {'yes' if r.survived else 'NO':<9}{r.lost:>5}{r.duplicates:>11}"
              f"{extra:>12}{r.runs:>5}{r.seconds:>9.1f}")
    for r in rows:
        for w in r.why:
            print(f"  {r.kind}: {w}")
    survived = 100.0 * sum(r.survived for r in rows) / len(rows)
    print(f"survived_pct={survived:.1f} lost={sum(r.lost for r in rows)} "
          f"duplicates={sum(r.duplicates for r in rows)} faults={sum(r.injected for r in rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
