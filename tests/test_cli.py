"""The headless interface, end to end: real subprocesses, the sandbox over HTTPS, a real state file."""

import csv
import json
import os
import stat
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dynsync_tui.sandbox import Sandbox


def run(home: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DYNSYNC_")}
    env["DYNSYNC_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "dynsync_tui", *args],
        capture_output=True, text=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home")


def test_preview_json_and_export(home: Path, tmp_path: Path) -> None:
    out_csv = tmp_path / "preview.csv"
    res = run(home, "preview", "--sandbox", "--json", "--export", str(out_csv))
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["total"] > 1000
    assert sum(data["counts"].values()) == data["total"]
    assert data["counts"].get("create", 0) > 0
    # messy seed data exercises the skip reasons
    for reason in ("no_mobile", "invalid_mobile", "no_email"):
        assert data["counts"].get(reason, 0) > 0, reason
    with out_csv.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["entity", "id", "email", "raw_mobile", "e164", "verdict", "reason", "correction"]
    assert len(rows) - 1 == data["total"]
    assert f"Wrote {data['total']:,} rows to {out_csv.resolve()}" in res.stderr  # stdout stays pure JSON
    verdicts = {r[5] for r in rows[1:]}
    assert verdicts <= {"create", "update", "unchanged", "skip"}
    assert all(r[6] for r in rows[1:] if r[5] == "skip"), "every skip carries its reason"
    assert all(r[4].startswith("+") for r in rows[1:] if r[5] == "create")


def test_preview_text_names_reasons_in_words(home: Path) -> None:
    res = run(home, "preview", "--sandbox")
    assert res.returncode == 0, res.stderr
    assert "phonenumbers" in res.stdout
    assert "No mobile number" in res.stdout
    assert re.search(r"Preview of \d{1,3}(,\d{3})+ records", res.stdout)  # numbers read as in the TUI
    assert re.search(r"create +\d{1,3}(,\d{3})+ ", res.stdout)


def test_sync_twice_creates_no_new_contacts_the_second_time(home: Path) -> None:
    first = run(home, "sync", "--sandbox", "--yes", "--json")
    assert first.returncode in (0, 1), first.stderr
    s1 = json.loads(first.stdout)
    with Sandbox(home / "sandbox") as sb:
        contacts_after_first = sb.dotdigital_contacts()
    assert s1["created"] > 0
    assert len(contacts_after_first) >= s1["created"]

    second = run(home, "sync", "--sandbox", "--yes", "--json")
    assert second.returncode in (0, 1), second.stderr
    s2 = json.loads(second.stdout)
    with Sandbox(home / "sandbox") as sb:
        contacts_after_second = sb.dotdigital_contacts()
    assert s2["created"] == 0
    assert s2["unchanged"] >= s1["created"]
    assert len(contacts_after_second) == len(contacts_after_first)
    state = home / "state.db"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("content", "needle"),
    [("[sync\n", "not valid TOML"), ("[sync]\nbatch_size = 0\n", "batch_size")],
)
def test_broken_config_is_one_line_and_exit_2(tmp_path: Path, content: str, needle: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(content)
    res = run(tmp_path / "h", "preview", "--config", str(cfg))
    assert res.returncode == 2
    assert needle in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert "Traceback" not in res.stderr


def test_missing_config_is_exit_2(tmp_path: Path) -> None:
    res = run(tmp_path / "h", "sync", "--yes", "--config", str(tmp_path / "nope.toml"))
    assert res.returncode == 2
    assert "no such config file" in res.stderr


def test_sync_without_yes_and_without_terminal_refuses(tmp_path: Path) -> None:
    res = run(tmp_path / "h", "sync", "--sandbox")
    assert res.returncode == 2
    assert "--yes" in res.stderr


@pytest.mark.parametrize("argv", [["--bogus"], ["frobnicate"], ["preview", "--nope"]])
def test_a_usage_mistake_is_one_line_and_exit_2(tmp_path: Path, argv: list[str]) -> None:
    res = run(tmp_path / "h", *argv)
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "dynsync --help" in res.stderr, res.stderr


def test_preview_into_a_closed_pipe_is_quiet(home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DYNSYNC_")}
    env["DYNSYNC_HOME"] = str(home)
    proc = subprocess.Popen([sys.executable, "-m", "dynsync_tui", "preview", "--sandbox"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before dynsync writes, like `| head -0`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert "Broken pipe" not in err and "Traceback" not in err


def test_preview_signs_in_to_dotdigital_so_a_wrong_password_fails_before_sync(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "sb", size=50) as sb:
        info = sb.info
        cfg = tmp_path / "real.toml"
        cfg.write_text(
            f'[dynamics]\nenvironment_url = "{info.dataverse_url}"\nauthority = "{info.authority}"\n'
            f'client_id = "{info.client_id}"\nca_file = "{info.ca_file}"\n'
            f'[dotdigital]\napi_user = "{info.api_user}"\nendpoint = "{info.dotdigital_url}"\n'
            f'ca_file = "{info.ca_file}"\n', encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("DYNSYNC_")}
        env.update(DYNSYNC_HOME=str(tmp_path / "h"), DYNSYNC_CLIENT_SECRET=info.client_secret,
                   DYNSYNC_DOTDIGITAL_PASSWORD="not-the-password")
        res = subprocess.run([sys.executable, "-m", "dynsync_tui", "preview", "--config", str(cfg)],
                             capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
        assert res.returncode == 3, res.stderr
        assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
        env["DYNSYNC_DOTDIGITAL_PASSWORD"] = info.api_password
        ok = subprocess.run([sys.executable, "-m", "dynsync_tui", "preview", "--config", str(cfg), "--json"],
                            capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
        assert ok.returncode == 0, ok.stderr
        assert json.loads(ok.stdout)["total"] > 0
