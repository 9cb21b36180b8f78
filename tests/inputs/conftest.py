"""Bad-input suite helpers: run the real CLI in process (fast) against one home per module,
and snapshot everything a run could write so a test can prove a refused run wrote nothing."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from dynsync_tui import cli

STATE_TABLES = ("records", "runs", "run_records", "batches")


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def line(self) -> str:
        """The one error line (the test fails unless there is exactly one)."""
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, f"expected one line on stderr, got: {self.err!r}"
        assert lines[0].startswith("dynsync: "), lines[0]
        assert "Traceback" not in self.err
        return lines[0]


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """``run_cli(home, *argv) -> Result``: ``dynsync`` with DYNSYNC_HOME=home, no secrets set."""

    def run(home: Path, *argv: str) -> Result:
        for key in [k for k in os.environ if k.startswith("DYNSYNC_")]:
            monkeypatch.delenv(key)
        monkeypatch.setenv("DYNSYNC_HOME", str(home))
        capsys.readouterr()
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def state_rows(path: Path) -> dict[str, int]:
    """Rows per table of a state file (empty when there is none)."""
    if not path.exists():
        return {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        out = {}
        for table in STATE_TABLES:
            try:
                out[table] = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            except sqlite3.Error:
                pass
        return out
    finally:
        db.close()


def snapshot(home: Path, *files: Path) -> dict[str, object]:
    """What a refused run must leave as it was: the given files' bytes, the home's config,
    the rows of the home's state file."""
    return {
        "files": {str(f): f.read_bytes() if f.is_file() else None for f in files},
        "config": (home / "config.toml").read_bytes() if (home / "config.toml").exists() else None,
        "state_rows": {t: n for t, n in state_rows(home / "state.db").items() if n},
    }
