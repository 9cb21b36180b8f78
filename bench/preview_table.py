"""Bench the preview's virtual table with 1,000,000 fake RecordVerdicts, headless.

first_paint_s: from opening the Preview step (engine returns the prepared verdicts at once)
until the table has drawn its first rows. counts_s: until the per-reason counts (the index that
filters use) are ready too; it is built in the worker after the rows are handed over.
page_down_ms / filter_ms: median of the key handling plus drawing every visible table line.
peak_rss_mb: peak resident set of the process (data included; data_rss_mb is after building
the fake verdicts, before the app starts).

Usage: python bench/preview_table.py [--quick]   (--quick: 100,000 rows)
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dynsync_tui.tui.widgets.verdict_table import VerdictTable  # noqa: E402
from tests.tui.fakes import FakePreview, make_app, make_verdicts  # noqa: E402


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def draw(table: VerdictTable) -> None:
    for y in range(table.size.height):
        table.render_line(y)


async def run(n: int, rounds: int) -> dict[str, float]:
    verdicts = make_verdicts(n)
    data_rss = rss_mb()
    first: list[float] = []
    original = VerdictTable.render_line

    def spy(self: VerdictTable, y: int):  # type: ignore[no-untyped-def]
        if y > 0 and self.rows and not first:
            first.append(time.perf_counter())
        return original(self, y)

    VerdictTable.render_line = spy  # type: ignore[method-assign]
    engine_kw = {"n": 0}
    app = make_app(Path(tempfile.mkdtemp()), engine_kw=engine_kw)
    app.engine_factory = lambda cfg, svc, **kw: type("E", (), {"preview": lambda self: FakePreview(verdicts)})()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        t0 = time.perf_counter()
        await pilot.press("f5")
        while not first and time.perf_counter() - t0 < 60:
            await asyncio.sleep(0.002)
        first_paint = first[0] - t0
        while app.screen.index is None and time.perf_counter() - t0 < 60:
            await asyncio.sleep(0.002)
        counts_ready = time.perf_counter() - t0
        VerdictTable.render_line = original  # type: ignore[method-assign]
        screen = app.screen
        table = screen.query_one(VerdictTable)
        table.focus()
        page: list[float] = []
        for _ in range(rounds):
            t = time.perf_counter()
            table.action_page(1)
            draw(table)
            page.append(time.perf_counter() - t)
            await pilot.pause()
        codes = [c for c, _ in screen.index.counts()]
        filt: list[float] = []
        for i in range(rounds):
            t = time.perf_counter()
            screen.code = codes[i % len(codes)] if i % 4 else None
            screen.reselect()
            draw(table)
            filt.append(time.perf_counter() - t)
            await pilot.pause()
        screen.code = None
        screen.reselect()
        await pilot.pause()
        t = time.perf_counter()
        screen.query_one("#search").value = "person12345"
        while len(table.rows) == n and time.perf_counter() - t < 60:
            await asyncio.sleep(0.002)
        search = time.perf_counter() - t
        assert table.rows, "search found nothing"
    return {"first_paint_s": first_paint, "page_down_ms": statistics.median(page) * 1000,
            "filter_ms": statistics.median(filt) * 1000, "search_ms": search * 1000,
            "data_rss_mb": data_rss, "counts_s": counts_ready, "peak_rss_mb": rss_mb(), "rows": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows instead of 1,000,000")
    args = parser.parse_args()
    r = asyncio.run(run(100_000 if args.quick else 1_000_000, 20))
    print(f"rows={r['rows']} counts_s={r['counts_s']:.3f} search_ms={r['search_ms']:.0f} "
          f"data_rss_mb={r['data_rss_mb']:.0f}")
    print(f"first_paint_s={r['first_paint_s']:.3f} page_down_ms={r['page_down_ms']:.2f} "
          f"filter_ms={r['filter_ms']:.2f} peak_rss_mb={r['peak_rss_mb']:.0f}")


if __name__ == "__main__":
    main()
