"""Bad input that is caught before anything connects: the config file, the command-line
country, the state file, the sandbox's CSV data. Each is one line naming the file or flag and
the key, exit code 2, and nothing written (no state rows, no config, no export)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from .conftest import snapshot, state_rows

MAPS = "[[mappings]]\nlabel='email'\nentity='contact'\nfield='emailaddress1'\n"
MOBILE_BOTH = "[[mappings]]\nlabel='mobileNumber'\nentity='contact'\nfield='mobilephone'\ndirection='both'\n"

# (id, config text or None, extra argv, what the line must say)
CONFIG_CASES = [
    ("malformed_toml", "[sync\nbatch_size = 1\n", [], "not valid TOML"),
    ("unknown_section", "[dotdigitall]\napi_user = 'x'\n", [], "unknown section 'dotdigitall'"),
    ("unknown_key", "[dynamics]\nclientid = 'abc'\n", [], "[dynamics] unknown key 'clientid'"),
    ("wrong_type_int", "[dynamics]\npage_size = '5000'\n", [], "[dynamics] page_size must be a whole number"),
    ("wrong_type_bool", "[dynamics]\ninclude_inactive = 'yes'\n", [], "include_inactive must be true or false"),
    ("wrong_type_table", "mappings = 'email'\n", [], "[[mappings]] must be an array of tables"),
    ("out_of_range", "[sync]\nimports_in_flight = 0\n", [], "imports_in_flight must be 1 to 25"),
    ("unknown_country", "[validation]\ndefault_country = 'XX'\n", [], "default_country 'XX' is not an ISO"),
    ("mobile_direction", MAPS + MOBILE_BOTH, [], "set direction = \"from_crm\""),
    ("secret_in_toml", "[dotdigital]\napi_password = 'hunter22'\n", [], "secrets don't belong"),
    ("unknown_country_flag", None, ["--country", "ZZ"], "--country 'ZZ': not an ISO country code"),
]


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("inputs-home")


def _check_refused(res, needle: str, *where: str) -> str:
    assert res.code == 2, (res.code, res.err)
    line = res.line
    assert needle in line
    for w in where:
        assert w in line, (w, line)
    return line


@pytest.mark.parametrize("command", ["preview", "sync"])
@pytest.mark.parametrize(("text", "argv", "needle"), [c[1:] for c in CONFIG_CASES],
                         ids=[c[0] for c in CONFIG_CASES])
def test_bad_config_or_flag(run_cli, home, tmp_path, command, text, argv, needle) -> None:
    cfg = tmp_path / "dynsync.toml"
    export = tmp_path / "out.csv"
    args = [command, "--sandbox", *argv]
    if text is not None:
        cfg.write_text(text, encoding="utf-8")
        args += ["--config", str(cfg)]
    args += ["--export", str(export)] if command == "preview" else ["--yes"]
    before = snapshot(home, cfg)
    res = run_cli(home, *args)
    _check_refused(res, needle, *([str(cfg)] if text is not None else []))
    assert snapshot(home, cfg) == before
    assert not export.exists()
    assert not state_rows(home / "state.db").get("runs")


def test_config_that_is_not_utf8(run_cli, home, tmp_path) -> None:
    cfg = tmp_path / "latin1.toml"
    cfg.write_bytes("[dotdigital]\napi_user = 'Jos\u00e9'\n".encode("latin-1"))
    before = snapshot(home, cfg)
    _check_refused(run_cli(home, "preview", "--config", str(cfg)), "save it as UTF-8", str(cfg))
    assert snapshot(home, cfg) == before


def _future_state(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('schema_version', '99')")
    db.commit()
    db.close()


def _not_sqlite(path: Path) -> None:
    path.write_text("entity,id\ncontact,1\n", encoding="utf-8")


def _under_a_file(path: Path) -> None:
    path.parent.write_text("a file, not a folder\n")


STATE_CASES = [
    ("not_sqlite", "state.db", _not_sqlite, "not a dynsync state file"),
    ("future_schema", "state.db", _future_state, "newer dynsync (schema 99"),
    ("under_a_file", "blocker/state.db", _under_a_file, "cannot open the state file"),
]


@pytest.mark.parametrize("command", ["preview", "sync"])
@pytest.mark.parametrize(("name", "make", "needle"), [c[1:] for c in STATE_CASES],
                         ids=[c[0] for c in STATE_CASES])
def test_unusable_state_file(run_cli, home, tmp_path, command, name, make, needle) -> None:
    state = tmp_path / name
    make(state)
    blocker = state.parent if name.startswith("blocker") else state
    before = blocker.read_bytes()
    export = tmp_path / "out.csv"
    extra = ["--export", str(export)] if command == "preview" else ["--yes"]
    res = run_cli(home, command, "--sandbox", "--state", str(state), *extra)
    _check_refused(res, needle, str(state))
    assert blocker.read_bytes() == before, "the state file must be left as it was"
    assert not export.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file: permission denied can't happen")
def test_state_file_without_permission(run_cli, home, tmp_path) -> None:
    state = tmp_path / "state.db"
    _future_state(state)
    state.chmod(0o000)
    try:
        res = run_cli(home, "preview", "--sandbox", "--state", str(state))
        _check_refused(res, "state file", str(state))
    finally:
        state.chmod(0o600)


CSV_CASES = [
    ("missing_column", b"emailaddress1,firstname\nann@example.com,Ann\n",
     "contacts.csv: line 1: missing required column 'mobilephone'"),
    ("unknown_column", b"emailaddress1,mobilephone,shoe_size\nann@example.com,07700900123,9\n",
     "unknown column 'shoe_size'"),
    ("bad_encoding", b"emailaddress1,mobilephone,firstname\nann@example.com,07700900123,Jos\xe9\n",
     "contacts.csv: line 2: not UTF-8"),
    ("ragged_row", b"emailaddress1,mobilephone\nann@example.com,07700900123,extra\n",
     "contacts.csv: line 2: 3 values for 2 columns"),
]


@pytest.mark.parametrize(("content", "needle"), [c[1:] for c in CSV_CASES], ids=[c[0] for c in CSV_CASES])
def test_bad_sandbox_csv(run_cli, home, tmp_path, content, needle) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "contacts.csv").write_bytes(content)
    export = tmp_path / "out.csv"
    res = run_cli(home, "preview", "--sandbox", "--data", str(data), "--export", str(export))
    _check_refused(res, needle, str(data / "contacts.csv"))
    assert not export.exists()
    assert not state_rows(home / "state.db").get("runs")


def test_missing_data_folder(run_cli, home, tmp_path) -> None:
    res = run_cli(home, "preview", "--sandbox", "--data", str(tmp_path / "nope"))
    _check_refused(res, "no such folder", str(tmp_path / "nope"))


@pytest.mark.parametrize("argv", [["--country", "ZZ", "preview"], ["preview", "--country", "ZZ"]],
                         ids=["before_command", "after_command"])
def test_flags_count_before_or_after_the_command(run_cli, home, argv) -> None:
    """A flag given before the command is not silently dropped by the command's defaults."""
    _check_refused(run_cli(home, *argv, "--sandbox"), "--country 'ZZ'")


@pytest.mark.parametrize(("name", "needle"), [("nope/out.csv", "does not exist"), ("out.txt", "must end in .csv"),
                                              ("folder.csv", "is a folder")])
def test_bad_export_path_is_refused_before_anything_connects(run_cli, tmp_path, name, needle) -> None:
    (tmp_path / "folder.csv").mkdir()
    home = tmp_path / "fresh-home"
    res = run_cli(home, "preview", "--sandbox", "--export", str(tmp_path / name))
    _check_refused(res, needle, "--export")
    assert not list(home.glob("sandbox/**/sandbox.db")), "the sandbox must not have been started"


def test_export_folder_that_cannot_be_written_is_one_line(tmp_path, monkeypatch) -> None:
    import tempfile

    from dynsync_tui.core.export import ExportError, write_csv

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(ExportError, match=r"--export .*out\.csv: cannot write \(Permission denied\)"):
        write_csv(tmp_path / "out.csv", [])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_sandbox_port_out_of_range(run_cli, home, port) -> None:
    _check_refused(run_cli(home, "sandbox", "--port", port), "--port")


@pytest.mark.parametrize("code", ["", "  ", "XX"])
def test_a_country_flag_that_names_no_country_is_refused(run_cli, home, code) -> None:
    _check_refused(run_cli(home, "preview", "--sandbox", "--country", code), f"--country {code!r}")


@pytest.mark.parametrize(("name", "needle"), [("nope/state.db", "does not exist"), ("folder", "is a folder")])
@pytest.mark.parametrize("command", ["preview", "sync"])
def test_bad_state_path_is_refused_and_nothing_is_created(run_cli, tmp_path, command, name, needle) -> None:
    (tmp_path / "folder").mkdir()
    home = tmp_path / "fresh-home"
    extra = ["--yes"] if command == "sync" else []
    res = run_cli(home, command, "--sandbox", *extra, "--state", str(tmp_path / name))
    _check_refused(res, needle, "--state")
    assert not (tmp_path / "nope").exists()
