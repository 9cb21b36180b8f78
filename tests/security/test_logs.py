"""The run log's masking and secret scrubbing as units, and the request lines the HTTP hooks
write (through a mock transport: no network)."""

from __future__ import annotations

import logging
import os
import re
import stat

import httpx
import pytest

from dynsync_tui import logs
from dynsync_tui.connectors.http import loggable_path, make_client


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("mobile=+447700900333", "mobile=+44*******333"),
        ("mobile +44 7700 900333 and", "mobile +44*******333 and"),
        ("07700 900333", "0*******333"),
        ("email=alice@example.com", "email=a***@example.com"),
        ("to bob.smith+news@mail.example.co.uk.", "to b***@mail.example.co.uk."),
        ("/v2/contacts/alice%40example.com", "/v2/contacts/a***%40example.com"),
        ("broken: ann@ only", "broken: a***@ only"),
        ("josé@exämple.de", "j***@exämple.de"),
        ("email=ann.o'neil@example.com", "email=a***@example.com"),  # an apostrophe is allowed
        ("eq 'ann@example.com'", "eq 'a***@example.com'"),
        ("raw 4.47700900333E+11 from a spreadsheet", "raw 4********333 from a spreadsheet"),
    ],
)
def test_pii_is_masked(raw: str, masked: str) -> None:
    assert logs.mask_pii(raw) == masked


@pytest.mark.parametrize(
    "kept",
    [
        "contact 01234567-89ab-4def-8123-456789012345 read",  # a GUID that starts with digits
        "run 12 took 1534ms, 3656 records, 25 pages",
        "modifiedon gt 2026-12-03 at 16:42:49",
        "GET /api/data/v9.2/contacts 200 19ms on 127.0.0.1:45123",
    ],
)
def test_ids_counts_and_dates_are_not_masked(kept: str) -> None:
    assert logs.mask_pii(kept) == kept


def test_secrets_are_scrubbed_even_with_log_pii() -> None:
    logs.add_secrets("s3cr3t-value-xyz")
    text = ("Authorization: Bearer abc.def-ghi client_secret=s3cr3t-value-xyz&x=1 "
            "token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln password: hunter22")
    out = logs.scrub_secrets(text)
    for secret in ("s3cr3t-value-xyz", "abc.def-ghi", "eyJhbGciOiJSUzI1NiJ9", "hunter22"):
        assert secret not in out
    assert logs.scrub_secrets("sent Bearer abc.def-ghi") == "sent Bearer ***"


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("dynsync", logging.INFO, __file__, 1, msg, args, None)


def test_filter_masks_unless_pii_and_always_scrubs() -> None:
    logs.add_secrets("pa55word-sandbox")
    masked, plain = _record("%s %s", "alice@example.com", "pa55word-sandbox"), _record(
        "%s %s", "alice@example.com", "pa55word-sandbox")
    logs.PiiFilter().filter(masked)
    logs.PiiFilter(pii=True).filter(plain)
    assert masked.getMessage() == "a***@example.com ***"
    assert plain.getMessage() == "alice@example.com ***"


def test_log_file_is_private_and_closes(tmp_path) -> None:
    run = logs.start(tmp_path / "logs", "unit")
    try:
        logs.log.info("mobile %s", "+447700900333")
    finally:
        run.close()
    assert run.path is not None and run.path.parent == tmp_path / "logs"
    assert stat.S_IMODE(run.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(run.path.parent.stat().st_mode) == 0o700
    text = run.path.read_text(encoding="utf-8")
    assert "+44*******333" in text and "7700900333" not in text
    assert not logs.log.handlers, "close() detaches the handlers"


def test_unwritable_log_folder_costs_the_file_not_the_run(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    run = logs.start(blocker / "logs", "unit")
    try:
        logs.log.info("still fine")
    finally:
        run.close()
    assert run.path is None


def test_loggable_path_keeps_only_harmless_query_values() -> None:
    url = httpx.URL("https://h/api/data/v9.2/contacts?$select=a,b&$filter=emailaddress1 eq 'x@y.com'"
                    "&$skiptoken=abc&$orderby=contactid")
    assert loggable_path(url) == "/api/data/v9.2/contacts?$select=a,b&$filter=…&$skiptoken=…&$orderby=contactid"


def test_request_lines_carry_no_headers_or_bodies(tmp_path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        status = 429 if request.url.path.endswith("busy") else 200
        return httpx.Response(status, headers={"Retry-After": "3"}, json={"access_token": "tok-123456"})

    run = logs.start(tmp_path, "unit")
    try:
        with make_client("https://example.test", transport=httpx.MockTransport(handler),
                         headers={"Authorization": "Bearer very-secret-token"}) as client:
            client.post("/oauth2/v2.0/token", data={"client_secret": "shh-123456"})
            client.get("/v2/contacts/ann@example.com/busy", params={"$select": "x", "$filter": "y"})
    finally:
        run.close()
    text = run.path.read_text(encoding="utf-8")
    assert "POST /oauth2/v2.0/token 200" in text
    assert "GET /v2/contacts/a***@example.com/busy?$select=x&$filter=… 429" in text
    assert "retry-after=3" in text
    for leak in ("very-secret-token", "Bearer", "shh-123456", "tok-123456", "ann@example.com"):
        assert leak not in text


def test_verbose_echoes_the_masked_log_and_errors_are_logged(tmp_path, monkeypatch, capsys) -> None:
    from dynsync_tui import cli

    monkeypatch.setenv("DYNSYNC_HOME", str(tmp_path))
    monkeypatch.setenv("DYNSYNC_CLIENT_SECRET", "env-secret-4711")
    assert cli.main(["preview", "--sandbox", "--verbose"]) == 0
    err = capsys.readouterr().err
    assert "GET /api/data/v9.2/contacts?$select=" in err and "end: exit code 0" in err
    assert re.search(r"email=\w\*\*\*@", err)
    assert cli.main(["preview", "--sandbox", "--country", "ZZ"]) == 2
    [refused] = sorted((tmp_path / "logs").glob("*.log"))[-1:]
    text = refused.read_text(encoding="utf-8")
    assert "ERROR dynsync: --country 'ZZ'" in text and "end: exit code 2" in text
    run = logs.start(tmp_path / "logs", "unit")  # the secrets in the environment are blanked
    try:
        logs.log.info("leak? %s", "env-secret-4711")
    finally:
        run.close()
    assert "leak? ***" in run.path.read_text(encoding="utf-8")


def test_waits_are_logged(tmp_path) -> None:
    from dynsync_tui.connectors.http import Pacer

    run = logs.start(tmp_path, "unit")
    try:
        Pacer(sleep=lambda _s: None).wait(2.5, "Dotdigital throttled (429), resuming in 3 s")
    finally:
        run.close()
    assert "wait 2.5s: Dotdigital throttled (429), resuming in 3 s" in run.path.read_text(encoding="utf-8")


def test_internal_error_goes_to_private_files_masked(tmp_path, monkeypatch, capsys) -> None:
    from dynsync_tui import cli

    def boom(*_a):
        raise RuntimeError("bug near ann@example.com")

    monkeypatch.setenv("DYNSYNC_HOME", str(tmp_path))
    monkeypatch.setitem(cli.COMMANDS, "preview", boom)
    assert cli.main(["preview"]) == cli.EXIT_INTERNAL
    assert "Traceback" not in capsys.readouterr().err
    crash = tmp_path / "logs" / "crash.log"
    assert stat.S_IMODE(crash.stat().st_mode) == 0o600 and "RuntimeError" in crash.read_text()
    [run_log] = (tmp_path / "logs").glob("dynsync-*.log")
    assert "internal error: RuntimeError: bug near a***@example.com" in run_log.read_text(encoding="utf-8")


def test_old_run_logs_are_pruned(tmp_path) -> None:
    for i in range(5):
        old = tmp_path / f"dynsync-2026010{i}-000000-1-sync.log"
        old.write_text("x")
        os.utime(old, (1_700_000_000 + i, 1_700_000_000 + i))
    (tmp_path / "crash.log").write_text("kept")
    run = logs.start(tmp_path, "unit", keep=3)
    run.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["crash.log", "dynsync-20260103-000000-1-sync.log", "dynsync-20260104-000000-1-sync.log",
                     run.path.name]
