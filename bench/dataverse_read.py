"""Read every sandbox contact through DataverseClient.iter_pages and through a bare httpx loop
over the same pages; compare records/s and count requests.

    python bench/dataverse_read.py            # 100,000 contacts
    python bench/dataverse_read.py --quick    # 20,000 contacts, same measurement

Each reader runs ``--rounds`` times, alternating, and the best round of each counts (the
sandbox shares the machine). Last line: ``ratio=… requests=… min_requests=…`` where ratio is
connector records/s ÷ bare records/s and min_requests = ceil(N/5000) + metadata calls.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import httpx

from dynsync_tui.connectors.auth import ConfidentialTokens
from dynsync_tui.connectors.dataverse import DEFAULT_HEADERS, DataverseClient, odata_query
from dynsync_tui.connectors.http import USER_AGENT, ssl_context
from dynsync_tui.sandbox import Sandbox

SELECT = ["contactid", "firstname", "lastname", "emailaddress1", "mobilephone", "telephone1",
          "address1_country", "statecode", "modifiedon", "_parentcustomerid_value"]
PAGE = 5000
METADATA_CALLS = 1  # entity("contact"): the entity set name and primary key


def read_connector(dv: DataverseClient, entity_set: str, primary: str) -> int:
    n = 0
    for page in dv.iter_pages(entity_set, select=SELECT, orderby=primary):
        n += len(page)
    return n


def read_bare(base_url: str, ca_file: str, token: str, entity_set: str, primary: str) -> tuple[int, int]:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "User-Agent": USER_AGENT,
               "Prefer": f"odata.maxpagesize={PAGE}", **DEFAULT_HEADERS}
    n = requests = 0
    with httpx.Client(verify=ssl_context(ca_file), headers=headers, timeout=130) as c:
        url: str | None = f"{base_url}{entity_set}?{odata_query({'$select': ','.join(SELECT), '$orderby': primary})}"
        while url:
            r = c.get(url)
            requests += 1
            r.raise_for_status()
            data = r.json()
            n += len(data["value"])
            url = data.get("@odata.nextLink")
    return n, requests


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20,000 contacts instead of 100,000")
    ap.add_argument("--size", type=int, help="number of sandbox contacts (overrides --quick)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds per reader (best counts)")
    ap.add_argument("--home", type=Path, help="sandbox home (default: a temporary folder)")
    args = ap.parse_args(argv)
    size = args.size or (20_000 if args.quick else 100_000)

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
            best_conn = best_bare = math.inf
            conn_requests = bare_requests = rows = 0
            for rnd in range(max(1, args.rounds)):
                before = dv.requests
                t = time.perf_counter()
                rows = read_connector(dv, meta.entity_set, meta.primary_id)
                best_conn = min(best_conn, time.perf_counter() - t)
                conn_requests = dv.requests - before
                t = time.perf_counter()
                bare_rows, bare_requests = read_bare(dv.base_url, info.ca_file, tokens.token(),
                                                     meta.entity_set, meta.primary_id)
                best_bare = min(best_bare, time.perf_counter() - t)
                if bare_rows != rows:
                    print(f"row counts differ: connector {rows}, bare {bare_rows}", file=sys.stderr)
                    return 1
            dv.close()
    conn_rps, bare_rps = rows / best_conn, rows / best_bare
    requests = metadata_requests + conn_requests
    min_requests = math.ceil(rows / PAGE) + METADATA_CALLS
    print(f"records={rows} connector_records_per_s={conn_rps:.0f} bare_records_per_s={bare_rps:.0f} "
          f"bare_requests={bare_requests}")
    print(f"ratio={conn_rps / bare_rps:.3f} requests={requests} min_requests={min_requests}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
