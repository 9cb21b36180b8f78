"""The reliability harness, shared by tests/reliability and bench/faults.py: a seeded sandbox,
a sync under a fault plan, and the checks (final Dotdigital state, duplicates, stored reasons).

A run "survives" a fault kind when the first sync under the faults finishes (status ok, no
exception), nothing it marked as sent is missing from Dotdigital, every skipped or failed record
has a stored reason, and — after the storm passes (faults cleared) and the sync is run again
until nothing is left failed — Dotdigital holds exactly what a fault-free run leaves.

The clients' waits are shortened (backoff base 20 ms, read timeout 1 s, no 429 jitter) so
a storm takes seconds, not minutes; what is retried, and how often, is unchanged.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import signal
import subprocess
import sys
import time
import types
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from dynsync_tui import paths as paths_mod
from dynsync_tui.connectors import dotdigital as dd_mod
from dynsync_tui.connectors.http import RetryPolicy
from dynsync_tui.core.config import Config, ListSelection
from dynsync_tui.core.mappings import Mapping
from dynsync_tui.sandbox import Sandbox
from dynsync_tui.sync.engine import Engine
from dynsync_tui.sync.imports import PollPolicy
from dynsync_tui.sync.services import build_services
from dynsync_tui.sync.state import StateStore

SEED = 20261203
LISTS = ("Newsletter – UK", "Contacts in Germany")  # one static, one dynamic list of the seed
CLIENT_TIMEOUT = 1.0  # seconds: the read timeout the "slow" faults overrun
FAST_RETRY = RetryPolicy(attempts=6, base=0.02, factor=2.0, cap=0.2)
DV = r"/api/data/v9\.2/(contacts|leads|lists|listmembers)\?"  # Dataverse record and list reads
PUT_IMPORT = r"/contacts/v3/import$"
IMPORT_STATUS = r"/contacts/v3/import/[0-9a-f-]+$"
DD = r"/contacts/v3/import|/v2/(data-fields|address-books)"  # every Dotdigital call of a sync


def _f(method: str, path: str, status: int = 0, **kw: Any) -> dict[str, Any]:
    return {"method": method, "path_regex": path, "status": status, "times": -1, **kw}


HTML = "<html><body><h1>502 Bad Gateway</h1></body></html>"
KINDS: dict[str, list[dict[str, Any]]] = {
    "429 throttling": [
        _f("GET", DV, 429, rate=0.25, retry_after=0.05, name="Dataverse 429 Retry-After"),
        _f("*", DD, 429, rate=0.2, retry_after=0.05, name="Dotdigital 429 Retry-After"),
        _f("*", DD, 429, rate=0.05, ratelimit_reset=1, name="Dotdigital 429 X-RateLimit-Reset"),
    ],
    "500/503": [
        _f("GET", DV, 503, rate=0.15, name="Dataverse 503"),
        _f("GET", DV, 500, rate=0.1, name="Dataverse 500"),
        _f("*", DD, 503, rate=0.15, name="Dotdigital 503"),
        _f("*", DD, 500, rate=0.1, name="Dotdigital 500"),
    ],
    "dropped connection": [
        _f("GET", DV, drop=True, rate=0.15, name="Dataverse drop"),
        _f("*", DD, drop=True, rate=0.15, name="Dotdigital drop before"),
        _f("PUT", PUT_IMPORT, drop=True, after=True, rate=0.2, name="import done, answer dropped"),
    ],
    "slow response": [
        _f("GET", DV, delay=CLIENT_TIMEOUT + 0.4, rate=0.05, name="Dataverse slow"),
        _f("GET", IMPORT_STATUS, delay=CLIENT_TIMEOUT + 0.4, rate=0.05, name="status slow"),
        _f("PUT", PUT_IMPORT, delay=CLIENT_TIMEOUT + 0.4, after=True, rate=0.15,
           name="import done, answer late"),
    ],
    "truncated/non-JSON": [
        _f("GET", DV, truncate=True, rate=0.1, name="Dataverse truncated"),
        _f("GET", DV, 200, body=HTML, rate=0.05, name="Dataverse 200 HTML"),
        _f("*", DD, 502, body=HTML, rate=0.1, name="Dotdigital 502 HTML"),
        _f("GET", IMPORT_STATUS, truncate=True, rate=0.1, name="status truncated"),
        _f("PUT", PUT_IMPORT, truncate=True, rate=0.15, name="import done, answer truncated"),
        _f("PUT", PUT_IMPORT, 200, body=HTML, rate=0.1, name="import 200 HTML"),
    ],
    "token expiry": [
        _f("GET", DV, every=4, expire_token=True, name="token expired"),
    ],
    "import stuck": [
        _f("PUT", PUT_IMPORT, hold=1.5, rate=0.3, name="import stuck processing"),
    ],
    "row failures": [
        _f("PUT", PUT_IMPORT, row_failures=0.05, rate=0.5, name="import rows failed"),
    ],
}


def all_kinds() -> list[dict[str, Any]]:
    """Every kind at once; the rates are halved so a single request still gets through."""
    out = []
    for entries in KINDS.values():
        for e in entries:
            e = dict(e)
            if "rate" in e:
                e["rate"] = round(e["rate"] / 2, 3)
            out.append(e)
    return out


@contextlib.contextmanager
def no_jitter() -> Iterator[None]:
    """Dotdigital adds up to 2 s of jitter to each 429 wait: none here."""
    saved = dd_mod.random
    dd_mod.random = types.SimpleNamespace(uniform=lambda a, b: 0.0)  # type: ignore[assignment]
    try:
        yield
    finally:
        dd_mod.random = saved


def start_sandbox(home: Path, size: int, seed: int = SEED) -> Sandbox:
    sb = Sandbox(home, size=size, seed=seed, import_delay=0.01, reset=True)
    sb.start()
    return sb


def make_config(sb: Sandbox) -> Config:
    cfg = Config()
    cfg.mappings += [Mapping("FIRSTNAME", "contact", "firstname"), Mapping("LASTNAME", "contact", "lastname")]
    cfg.dynamics.page_size = 200
    cfg.sync.batch_size = 100
    by_name = {r["listname"]: r["listid"] for r in sb.records("list")}
    cfg.consent.mode = "lists"
    cfg.consent.lists = [ListSelection(by_name[n], n, dotdigital_list_name=f"Dynamics {n}") for n in LISTS]
    return cfg


def connect(sb: Sandbox, home: Path, cfg: Config) -> Any:
    services = build_services(cfg, paths_mod.resolve(home), sandbox_info=sb.info)
    for client in (services.dataverse, services.dotdigital):
        client.retry = FAST_RETRY
        client._http.timeout = httpx.Timeout(CLIENT_TIMEOUT, connect=5.0)
    return services


def sync_once(sb: Sandbox, home: Path, cfg: Config) -> Any:
    services = connect(sb, home, cfg)
    try:
        engine = Engine(cfg, services, poll=PollPolicy(first=0.05, shortest=0.02, longest=0.5))
        return engine.sync(), services.state.prior(services.env_key), services.state.failures(services.env_key)
    finally:
        services.close()


def contacts(sb: Sandbox) -> dict[str, tuple]:
    """Dotdigital's contacts by email: identifiers, data fields, list names, channel statuses."""
    out = {}
    for c in sb.dotdigital_contacts():
        ids = c["identifiers"]
        fields = tuple(sorted((k, v) for k, v in c["dataFields"].items() if v not in (None, "")))
        out[ids.get("email") or f"#{c['contactId']}"] = (
            ids.get("mobileNumber"), fields, tuple(sorted(x["name"] for x in c["lists"])),
            c["channelProperties"]["email"]["status"], c["channelProperties"]["sms"]["status"])
    return out


def duplicates(sb: Sandbox, prior: dict) -> int:
    """Contacts sharing an email or a mobile, plus CRM records sent as two contacts and
    contacts claimed by two records."""
    people = sb.dotdigital_contacts()
    dup = 0
    for ident in ("email", "mobileNumber"):
        seen = Counter(c["identifiers"].get(ident) for c in people if c["identifiers"].get(ident))
        dup += sum(n - 1 for n in seen.values())
    claimed = Counter(p.contact_id for p in prior.values()
                      if p.outcome in ("created", "updated", "unchanged") and p.contact_id is not None)
    dup += sum(n - 1 for n in claimed.values())
    return dup


def problems(sb: Sandbox, prior: dict, failures: dict) -> list[str]:
    """What is wrong with the state DB against Dotdigital after one run."""
    emails = {c["identifiers"].get("email"): c for c in sb.dotdigital_contacts()}
    out = []
    for key, p in prior.items():
        if p.outcome in ("skip", "failed") and not p.reason:
            out.append(f"{key}: {p.outcome} with no stored reason")
        if p.outcome == "failed" and not failures.get(key, ((),))[0]:
            out.append(f"{key}: failed with no failure code")
        if p.outcome in ("created", "updated", "unchanged"):
            c = emails.get(p.email)
            if c is None or c["contactId"] != p.contact_id:
                out.append(f"{key}: marked {p.outcome} but contact {p.contact_id} ({p.email}) is not in Dotdigital")
    return out


@dataclass
class Reference:
    state: dict[str, tuple]
    requests: int
    sent: int


def reference(root: Path, size: int, seed: int = SEED) -> Reference:
    """The fault-free run: what Dotdigital holds after it, and the requests it took."""
    sb = start_sandbox(root / "ref-sandbox", size, seed)
    try:
        before = len(sb.request_log)
        summary, prior, failures = sync_once(sb, root / "ref-home", make_config(sb))
        assert summary.status == "ok" and not problems(sb, prior, failures), "the fault-free run failed"
        return Reference(contacts(sb), len(sb.request_log) - before, summary.created + summary.updated)
    finally:
        sb.stop()


@dataclass
class Result:
    kind: str
    injected: int
    survived: bool
    lost: int
    duplicates: int
    extra_calls: int
    runs: int
    seconds: float
    why: list[str] = dataclasses.field(default_factory=list)


def run_under(kind: str, plan: list[dict[str, Any]], root: Path, size: int, ref: Reference,
              seed: int = SEED, max_reruns: int = 2) -> Result:
    """One sync under ``plan``, then reruns without faults until nothing is left failed."""
    sb = start_sandbox(root / "sandbox", size, seed)
    why: list[str] = []
    t0 = time.monotonic()
    try:
        cfg = make_config(sb)
        before = len(sb.request_log)
        sb.faults.seed(seed)
        sb.faults.load(plan)
        with no_jitter():
            try:
                summary, prior, failures = sync_once(sb, root / "home", cfg)
                if summary.status != "ok":
                    why.append(f"first run ended {summary.status}")
            except Exception as exc:  # not survived: say why
                summary, why = None, [f"first run raised {type(exc).__name__}: {exc}"]
        injected = sum(sb.faults.report().values())
        sb.faults.clear()
        if summary is not None:
            why += problems(sb, prior, failures)[:5]
        lost_silently = sum("not in Dotdigital" in w for w in why)
        runs = 1
        while runs <= max_reruns and (summary is None or summary.failed or summary.status != "ok"):
            summary, prior, failures = sync_once(sb, root / "home", cfg)
            runs += 1
            if summary.failed == 0:
                why += [f"after rerun: {p}" for p in problems(sb, prior, failures)[:5]]
        final = contacts(sb)
        lost = sum(1 for email, row in ref.state.items() if final.get(email) != row)
        extra = sum(1 for email in final if email not in ref.state)
        dups = duplicates(sb, prior) + extra
        if lost or dups:
            why.append(f"final state differs: {lost} lost or changed, {dups} duplicates/extra")
        return Result(kind, injected, not why, max(lost, lost_silently), dups,
                      len(sb.request_log) - before - ref.requests, runs, time.monotonic() - t0, why)
    finally:
        sb.stop()



# ---------------------------------------------------------------- the kill test

KILL_CONFIG = "[sync]\nbatch_size = 100\n"  # ~16 imports of the CLI's 3k seed: many points to die at


def _dynsync(home: Path) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("dynsync")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "dynsync_tui"]
    env = {**os.environ, "DYNSYNC_HOME": str(home)}
    return subprocess.Popen(cmd + ["sync", "--sandbox", "--yes", "--json"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def full_run(home: Path) -> float:
    t0 = time.monotonic()
    proc = _dynsync(home)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return time.monotonic() - t0


def new_home(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.toml").write_text(KILL_CONFIG, encoding="utf-8")
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


def kill_trial(home: Path, seed: int, seconds: float, kills: int) -> int:
    """Start ``dynsync sync`` ``kills`` times, SIGKILL each at a seeded random point of a run
    that takes ``seconds`` uninterrupted. → how many were killed (the rest finished first)."""
    rng = random.Random(seed)
    killed = 0
    for _ in range(kills):
        proc = _dynsync(home)
        try:
            proc.wait(timeout=rng.uniform(0.15, 0.9) * seconds)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            killed += 1
        else:
            assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
    return killed
