"""Read every sandbox contact through DataverseClient.iter_pages and through a bare httpx loop
over the same pages; compare records/s and count requests.

    python bench/dataverse_read.py            # 100,000 contacts
    python bench/dataverse_read.py --quick    # 20,000 contacts, same measurement

After one unmeasured warm-up pass, the two readers run side by side, one page each in turn
(so both see the same machine load), ``--rounds`` times. records/s: the best round of each.
Last line: ``ratio=… requests=… min_requests=…``: ratio = the median over rounds of connector
records/s ÷ bare records/s in that round;
requests = the connector's requests (metadata included); min_requests = ceil(N/5000) + metadata calls.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import httpx

from dynsync_tui.connectors.auth import ConfidentialTokens
from dynsync_tui.connectors.dataverse import DEFAULT_HEADERS, DataverseClient, odata_query
from dynsync_tui.connectors.http import USER_AGENT, ssl_context
from dynsync_tui.sandbox import Sandbox

SELECT = ["contactid", "firstname", "lastname", "emailaddress1", "mobilephone", "telephone1",
          "address1_country", "statecode", "modifiedon", "_parentcustomerid_value"]
PAGE = 5000
METADATA_CALLS = 1  # entity("contact"): the entity set name and primary key


def bare_client(ca_file: str, token: str) -> httpx.Client:
    """Nothing but httpx: one client (kept across rounds, as the connector keeps its own),
    fixed headers, one token."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "User-Agent": USER_AGENT,
               "Prefer": f"odata.maxpagesize={PAGE}", **DEFAULT_HEADERS}
    return httpx.Client(verify=ssl_context(ca_file), headers=headers, timeout=130)


def bare_pages(c: httpx.Client, base_url: str, entity_set: str, primary: str,
               counter: list[int]) -> Iterator[list[dict]]:
    """The same pages as the connector reads: GET, JSON, follow the nextLink."""
    url: str | None = f"{base_url}{entity_set}?{odata_query({'$select': ','.join(SELECT), '$orderby': primary})}"
    while url:
        r = c.get(url)
        counter[0] += 1
        r.raise_for_status()
        data = r.json()
        yield data["value"]
        url = data.get("@odata.nextLink")


def interleaved(readers: dict[str, Iterator[list[dict]]]) -> tuple[dict[str, float], dict[str, int]]:
    """Pull one page from each reader in turn, timing each pull: both see the same machine load."""
    seconds = dict.fromkeys(readers, 0.0)
    rows = dict.fromkeys(readers, 0)
    live = dict(readers)
    turn = 0
    while live:
        order = list(live.items())
        turn += 1
        for name, it in order if turn % 2 else order[::-1]:  # take turns going first
            t = time.perf_counter()
            page = next(it, None)
            seconds[name] += time.perf_counter() - t
            if page is None:
                del live[name]
            else:
                rows[name] += len(page)
    return seconds, rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20,000 contacts instead of 100,000")
    ap.add_argument("--size", type=int, help="number of sandbox contacts (overrides --quick)")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default 5; 10 with --quick)")
    ap.add_argument("--home", type=Path, help="sandbox home (default: a temporary folder)")
    args = ap.parse_args(argv)
    size = args.size or (20_000 if args.quick else 100_000)
    rounds = max(1, args.rounds or (10 if args.quick else 5))

    with tempfile.TemporaryDirectory(prefix="dynsync-bench-") as tmp:
        home = args.home or Path(tmp)
        t0 = time.perf_counter()
        with Sandbox(home, reset=True, size=size) as sb:
            info = sb.info
            print(f"sandbox with {size:,} contacts ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            tokens = ConfidentialTokens(info.dataverse_url, info.authority, info.client_id, info.client_secret,
                                        ca_file=info.ca_file)
            dv = DataverseClient(info.dataverse_url, tokens, ca_file=info.ca_file, page_size=PAGE)
            meta = dv.entity("contact")
            metadata_requests = dv.requests
            bare_counter = [0]
            http = bare_client(str(info.ca_file), tokens.token())

            def bare() -> Iterator[list[dict]]:
                return bare_pages(http, dv.base_url, meta.entity_set, meta.primary_id, bare_counter)

            for _ in bare():  # warm-up, not measured: the first pass over the table is slower
                pass
            best_conn = best_bare = math.inf
            ratios: list[float] = []
            conn_requests = bare_requests = rows = 0
            for _ in range(rounds):
                before, bare_counter[0] = dv.requests, 0
                conn = dv.iter_pages(meta.entity_set, select=SELECT, orderby=meta.primary_id)
                seconds, counted = interleaved({"connector": conn, "bare": bare()})
                conn_requests, bare_requests = dv.requests - before, bare_counter[0]
                rows = counted["connector"]
                if counted["bare"] != rows:
                    print(f"row counts differ: {counted}", file=sys.stderr)
                    return 1
                ratios.append(seconds["bare"] / seconds["connector"])  # paired: same load, same pages
                best_conn = min(best_conn, seconds["connector"])
                best_bare = min(best_bare, seconds["bare"])
            dv.close()
            http.close()
    conn_rps, bare_rps = rows / best_conn, rows / best_bare
    requests = metadata_requests + conn_requests
    min_requests = math.ceil(rows / PAGE) + METADATA_CALLS
    print(f"records={rows} connector_records_per_s={conn_rps:.0f} bare_records_per_s={bare_rps:.0f} "
          f"bare_requests={bare_requests}")
    print("per-round ratios: " + " ".join(f"{r:.2f}" for r in ratios), file=sys.stderr)
    print(f"ratio={statistics.median(ratios):.3f} requests={requests} min_requests={min_requests}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
