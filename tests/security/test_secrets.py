"""Security checks end to end on the sandbox: after a preview with --export and a sync (the
real CLI, in process), no secret or token is in any file dynsync wrote; private files are 0600; the
run logs mask emails and phone numbers unless --log-pii; the sandbox listens on 127.0.0.1 only."""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import os
import re
import socket
import stat
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dynsync_tui import cli
from dynsync_tui.connectors.auth_public import PublicTokens
from dynsync_tui.core.config import Config, save
from dynsync_tui.sandbox import Sandbox

TOKEN = re.compile(rb"sb[xr]\.[\w-]{20,}")  # the sandbox's access and refresh tokens


def run(home: Path, *args: str) -> tuple[int, str]:
    """``dynsync *args`` in this process (so the sandbox it starts can be watched); (code, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("DYNSYNC_")]:
            mp.delenv(key)
        mp.setenv("DYNSYNC_HOME", str(home))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(list(args))
    return code, err.getvalue()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """One home: a saved config, a preview with --export, a sync, a preview with --log-pii.
    Returns the home, the secrets of every sandbox the runs started, and each run's log file."""
    home = tmp_path_factory.mktemp("security-home")
    infos = []
    start = Sandbox.start

    def watched_start(self, *a, **k):
        result = start(self, *a, **k)
        infos.append(self.info)
        return result

    save(Config(), home / "config.toml")
    runs = [("preview", ["preview", "--sandbox", "--export", str(home / "preview.csv")]),
            ("sync", ["sync", "--sandbox", "--yes", "--json"]),
            ("pii", ["preview", "--sandbox", "--log-pii", "--export", str(home / "after.csv")])]
    log_of = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Sandbox, "start", watched_start)
        for name, args in runs:
            before = set((home / "logs").glob("*.log"))
            code, err = run(home, *args)
            assert code in (0, 1), err
            [log_of[name]] = set((home / "logs").glob("*.log")) - before
    assert len(infos) == len(runs)
    return {"home": home, "infos": infos, "logs": log_of}


def written_files(home: Path) -> list[Path]:
    """Everything dynsync wrote in its home, bar the sandbox's own files (the emulated server
    keeps its credentials there, as a real tenant would)."""
    return [p for p in home.rglob("*") if p.is_file() and "sandbox" not in p.relative_to(home).parts]


def test_no_secret_or_token_in_any_written_file(world) -> None:
    home = world["home"]
    files = written_files(home)
    names = {p.name for p in files}
    assert {"config.toml", "state.db", "preview.csv"} <= names
    assert len([p for p in files if p.suffix == ".log"]) >= 3
    secrets = set()
    for info in world["infos"]:
        basic = base64.b64encode(f"{info.api_user}:{info.api_password}".encode())
        secrets |= {info.client_secret.encode(), info.api_password.encode(), basic}
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret not in data, f"a secret is in {path}"
        assert not TOKEN.search(data), f"a bearer token is in {path}"
        if path.suffix == ".log":
            assert b"Bearer" not in data and b"Authorization" not in data, path


def test_state_and_logs_are_private(world) -> None:
    home = world["home"]
    for path in [home / "state.db", *world["logs"].values()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for side in home.glob("state.db-*"):
        assert stat.S_IMODE(side.stat().st_mode) == 0o600, side
    assert stat.S_IMODE((home / "logs").stat().st_mode) == 0o700


def _pii(export: Path) -> tuple[set[str], set[str]]:
    """Emails and phone numbers (E.164, and raw values with 7+ digits) of an exported preview."""
    emails, phones = set(), set()
    with export.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if "@" in row["email"] and len(row["email"].split("@")[0]) > 1:
                emails.add(row["email"])
            for value in (row["e164"], row["raw_mobile"]):
                if len(re.sub(r"\D", "", value)) >= 7 and "E+" not in value.upper():
                    phones.add(value)
    return emails, phones


def test_logs_mask_emails_and_phones_unless_log_pii(world) -> None:
    home, log_of = world["home"], world["logs"]
    emails, phones = _pii(home / "preview.csv")
    assert len(emails) > 100 and len(phones) > 100
    for name in ("preview", "sync"):
        text = log_of[name].read_text(encoding="utf-8")
        assert not [e for e in emails if e in text], f"unmasked email in the {name} log"
        assert not [p for p in phones if p in text], f"unmasked phone number in the {name} log"
    masked = log_of["preview"].read_text(encoding="utf-8")
    assert re.search(r"email=\w\*\*\*@", masked) and re.search(r"mobile=\+?\d+\*{3,}\d{3}\b", masked)
    plain = log_of["pii"].read_text(encoding="utf-8")
    after_emails, _ = _pii(home / "after.csv")
    assert [e for e in after_emails if f"email={e} " in plain], "--log-pii keeps emails as they are"


def test_token_cache_is_created_private(world, tmp_path) -> None:
    cache = tmp_path / "cache" / "token_cache.json"
    with Sandbox(world["home"] / "sandbox") as sb:
        i = sb.info
        tokens = PublicTokens(i.dataverse_url, i.authority, i.client_id, mode="device_code",
                              cache_path=cache, ca_file=i.ca_file,
                              on_device_code=lambda _msg, flow: sb.approve_device_code(flow["user_code"]))
        assert tokens.token()
        secrets = (i.client_secret.encode(), i.api_password.encode())
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.parent.stat().st_mode) == 0o700
    data = cache.read_bytes()
    assert TOKEN.search(data), "the cache holds the refresh token (that is its job)"
    assert not any(s in data for s in secrets)


def _other_local_addresses() -> list[str]:
    """127.0.0.2 (loopback, but not the bound address) and this machine's other IPv4 addresses."""
    found = {"127.0.0.2"}
    try:
        found |= {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    except OSError:
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing address
            found.add(s.getsockname()[0])
        except OSError:
            pass
    return sorted(a for a in found if a != "127.0.0.1" and a != "0.0.0.0")


def _listeners(port: int) -> list[str]:
    """Local addresses listening on ``port`` (Linux /proc/net), as hex pairs ``ADDR``."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.split(":")
            if state == "0A" and int(hexport, 16) == port:
                out.append(addr)
    return out


def test_sandbox_listens_on_loopback_only(world) -> None:
    with Sandbox(world["home"] / "sandbox") as sb:
        port = urlsplit(sb.info.dataverse_url).port
        assert port and urlsplit(sb.info.dataverse_url).hostname == "127.0.0.1"
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass  # reachable where it says
        if Path("/proc/net/tcp").exists():
            assert _listeners(port) == ["0100007F"], "bound to 127.0.0.1 and nothing else"
        for addr in _other_local_addresses():
            with pytest.raises(OSError):
                socket.create_connection((addr, port), timeout=2).close()
