"""Benchmark: the verdict pipeline against a bare phonenumbers loop, on the same numbers.

Generates N CRM records (default 1,000,000; --quick 100,000) with realistic messy mobile
values: many contacts carry their account's phone through a linked field (the same raw string
repeats), people appear both as a lead and a contact, and values come in spreadsheet, national,
international, annotated and placeholder shapes. Then, on the same raw values:

- bare: ``phonenumbers.parse`` + ``is_valid_number`` + ``format_number(E164)`` for every record;
- pipeline: ``classify`` (clean, normalise, memoise, consent, state, payload, hash, conflicts);
- pipeline_2proc: ``classify_parallel(processes=2)``: this process plus one forked worker.

Memo caches are emptied before every pipeline run; rounds are interleaved and the fastest
time of each kind is kept (the machine may be shared).

Last line: ``ratio=… ratio_2proc=… records=…`` (ratios are records/s over the bare loop's, by
wall time; ``ratio_cpu`` is the one-process ratio by CPU time, which a busy machine disturbs less).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time

import phonenumbers

from dynsync_tui.core.parallel import classify_parallel
from dynsync_tui.core.phone import PHONENUMBERS_VERSION, clear_cache
from dynsync_tui.core.records import CrmRecord
from dynsync_tui.core.verdicts import VerdictSettings, classify, clear_email_cache

GB_MOBILE_PREFIXES = ("74", "75", "77", "78", "79")
JUNK = ("", "   ", "n/a", "-", "0", "TBC", "020 7946 0321", "0800 123 4567", "(650) 253-0000",
        "07411 222333 / 07411 444555", "4.47411E+11", "ask reception")


def _gb_mobile(rng: random.Random) -> str:
    return rng.choice(GB_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _foreign(rng: random.Random) -> str:
    return rng.choice([
        lambda: f"+33 6 {rng.randrange(10**8):08d}",
        lambda: f"+1 (650) {rng.randrange(200, 999)}-{rng.randrange(10**4):04d}",
        lambda: f"0049 151 {rng.randrange(10**8):08d}",
        lambda: f"+353 87 {rng.randrange(10**7):07d}",
    ])()


def _messy(rng: random.Random, nsn: str) -> str:
    """One national significant number (7xxxxxxxxx) written the way people write it."""
    a, b = nsn[:4], nsn[4:]
    return rng.choices([
        f"0{a} {b}", f"0{nsn}", f"+44 {a} {b}", f"+44 (0){a} {b}", f"0044 {a} {b}", f"44{nsn}",
        f"{nsn}.0", f"0{a} {b} ext. 12", f"0{a}-{b[:3]}-{b[3:]}", f"0{a} {b} (work mobile)",
        f" 0{a}\u00a0{b} ", f"0{a} {b}#", f"4.4{nsn}E+11",
    ], weights=[30, 20, 15, 5, 3, 3, 4, 2, 6, 2, 3, 1, 1])[0]


def make_records(n: int, seed: int = 20261203) -> list[CrmRecord]:
    rng = random.Random(seed)
    accounts = [(_messy(rng, _gb_mobile(rng)) if rng.random() < 0.9 else _foreign(rng))
                for _ in range(max(1, n // 25))]
    styles: dict[int, str] = {}
    out: list[CrmRecord] = []
    for i in range(n):
        entity = rng.choices(("contact", "lead", "account"), weights=(60, 30, 10))[0]
        person = i if i == 0 or rng.random() < 0.85 else rng.randrange(i)  # 15% seen before
        roll = rng.random()
        if roll < 0.45:  # the account's phone through a linked field
            mobile = accounts[rng.randrange(len(accounts))]
        elif roll < 0.88:  # the person's own mobile, usually written the same way each time
            if person not in styles:
                prng = random.Random(person * 7919 + seed)
                styles[person] = _gb_mobile(prng) if prng.random() < 0.93 else _foreign(prng)
            own = styles[person]
            mobile = own if own.startswith("+") or own[0] == "0" else _messy(random.Random(person), own)
            if rng.random() < 0.2 and not own.startswith(("+", "0")):
                mobile = _messy(rng, own)  # the same number, written another way this time
        else:
            mobile = rng.choice(JUNK)
        email = f"person{person}@example.com" if rng.random() < 0.97 else "  "
        out.append(CrmRecord(
            entity, f"{i:08x}-0000-4000-8000-{person:012x}", email, mobile,
            modified=f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00Z", name=f"Person {person}",
            fields={"FIRSTNAME": "Person", "LASTNAME": str(person), "CRMID": f"{i:08x}"},
        ))
    return out


def bare_loop(values: list[str | None]) -> int:
    ok = 0
    parse, valid, fmt, e164 = (phonenumbers.parse, phonenumbers.is_valid_number,
                               phonenumbers.format_number, phonenumbers.PhoneNumberFormat.E164)
    for raw in values:
        try:
            n = parse(raw or "", "GB")
        except phonenumbers.NumberParseException:
            continue
        if valid(n):
            fmt(n, e164)
            ok += 1
    return ok


def timed(fn, *args):  # type: ignore[no-untyped-def]
    gc.collect()
    gc.disable()
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        out = fn(*args)
    finally:
        gc.enable()
    return out, (time.perf_counter() - t0, time.process_time() - c0)


def fingerprint(verdicts: list) -> list[tuple]:  # type: ignore[type-arg]
    return [(v.verdict, v.reason, v.field_hash, repr(v.payload)) for v in verdicts]


def cold(fn, *args):  # type: ignore[no-untyped-def]
    """Each pipeline run starts with empty memo caches."""
    clear_cache()
    clear_email_cache()
    return fn(*args)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100,000 records instead of 1,000,000")
    ap.add_argument("--records", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=None, help="rounds, fastest kept (default 3 quick, 1 full)")
    args = ap.parse_args(argv)
    n = args.records or (100_000 if args.quick else 1_000_000)
    records = make_records(n)
    values = [r.mobile for r in records]
    settings = VerdictSettings(default_country="GB")
    distinct = len(set(values))

    best: dict[str, tuple[float, float]] = {}
    keep = lambda k, t: best.__setitem__(k, min(best.get(k, t), t))  # noqa: E731 - fastest wall time
    for _ in range(args.repeat or (3 if args.quick else 1)):  # interleaved rounds
        valid, t = timed(bare_loop, values)
        keep("bare", t)
        one, t = timed(cold, classify, records, {}, settings)
        keep("one", t)
        one = fingerprint(one)  # let the verdicts go: the next run forks this process
        two, t = timed(cold, classify_parallel, records, {}, settings, 2)
        keep("two", t)
        two = fingerprint(two)
    (t_bare, cpu_bare), (t_one, cpu_one), (t_two, _) = best["bare"], best["one"], best["two"]
    same = one == two
    sent = sum(row[0] != "skip" for row in one)
    print(f"phonenumbers {PHONENUMBERS_VERSION}; {n:,} records, {distinct:,} distinct raw mobiles; "
          f"bare valid={valid:,}; pipeline sends {sent:,}; 2-process result identical: {same}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
          file=sys.stderr)
    print(f"bare: {n / t_bare:,.0f} records/s ({t_bare:.2f} s)")
    print(f"pipeline: {n / t_one:,.0f} records/s ({t_one:.2f} s)")
    print(f"pipeline_2proc: {n / t_two:,.0f} records/s ({t_two:.2f} s)")
    print(f"ratio={t_bare / t_one:.2f} ratio_2proc={t_bare / t_two:.2f} records={n} "
          f"bare_rps={n / t_bare:.0f} pipeline_rps={n / t_one:.0f} pipeline_2proc_rps={n / t_two:.0f} "
          f"ratio_cpu={cpu_bare / cpu_one:.2f}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
