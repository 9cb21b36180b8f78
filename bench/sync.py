"""Benchmark: one full sync of a fresh sandbox of N records (default 100k; --quick 10k).

The sandbox runs in a child process so the peak RSS measured is the sync's own.

Dotdigital minimum calls = setup + 2 × imports, where
  imports = ceil(records sent / batch size)           (one PUT each)
          + the same number of status polls            (each import seen finished at its first poll)
  setup   = 1 account-info (region discovery)
          + 1 data-fields read when any data field is mapped (+1 per field created)
          + 1 address-books read when lists are selected (+1 per list created).
calls_ratio = Dotdigital calls made ÷ that minimum (goal ≤ 1.05).

Last line: calls_ratio=… dataverse_requests=… seconds=… peak_rss_mb=…
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

from dynsync_tui import paths as paths_mod
from dynsync_tui.core.config import Config
from dynsync_tui.sync.engine import Engine
from dynsync_tui.sync.services import build_services


def _serve(home: str, size: int, conn, stop) -> None:  # child process
    from dynsync_tui.sandbox import Sandbox

    sb = Sandbox(Path(home), reset=True, size=size)
    sb.start()
    try:
        conn.send(sb.info)
        stop.wait()
    finally:
        sb.stop()


def run(size: int, batch_size: int, in_flight: int) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="dynsync-bench-") as home:
        parent, child = ctx.Pipe()
        stop = ctx.Event()
        proc = ctx.Process(target=_serve, args=(str(Path(home) / "sandbox"), size, child, stop), daemon=True)
        proc.start()
        try:
            if not parent.poll(600):
                raise SystemExit("bench: the sandbox did not start within 10 minutes")
            info = parent.recv()
            cfg = Config()
            cfg.sync.batch_size = batch_size
            cfg.sync.imports_in_flight = in_flight
            services = build_services(cfg, paths_mod.resolve(home), sandbox_info=info)
            engine = Engine(cfg, services)
            discovery = 0 if getattr(services.dotdigital, "region_url", "") else 1
            t0 = time.perf_counter()
            summary = engine.sync()
            seconds = time.perf_counter() - t0
            sent = summary.created + summary.updated + summary.failed
            imports = math.ceil(sent / batch_size)
            setup = discovery + engine.setup_minimum
            minimum = setup + 2 * imports
            services.close()
        finally:
            stop.set()
            proc.join(30)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"records in scope: {summary.created + summary.updated + summary.unchanged + summary.skipped + summary.failed}"
          f" (sent {sent}: {summary.created} created, {summary.updated} updated, {summary.failed} failed;"
          f" {summary.skipped} skipped)")
    if summary.failure_codes:
        print("Dotdigital failure codes: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.failure_codes.items())))
    print(f"Dotdigital calls: {summary.dotdigital_calls}; minimum {minimum} = setup {setup} + "
          f"{imports} imports + {imports} status polls (batch size {batch_size})")
    return {"calls_ratio": summary.dotdigital_calls / minimum if minimum else 0.0,
            "dataverse_requests": summary.dataverse_requests, "seconds": seconds, "peak_rss_mb": peak_mb}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10k records instead of 100k")
    ap.add_argument("--size", type=int, help="number of sandbox records (overrides --quick)")
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--in-flight", type=int, default=2)
    args = ap.parse_args(argv)
    size = args.size or (10_000 if args.quick else 100_000)
    r = run(size, args.batch_size, args.in_flight)
    print(f"calls_ratio={r['calls_ratio']:.3f} dataverse_requests={r['dataverse_requests']} "
          f"seconds={r['seconds']:.1f} peak_rss_mb={r['peak_rss_mb']:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
