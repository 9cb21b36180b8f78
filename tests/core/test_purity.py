"""core/ is pure domain logic: importing every core module pulls in no UI, HTTP or database."""

import pkgutil
import subprocess
import sys

import dynsync_tui.core as core

FORBIDDEN = ("textual", "httpx", "sqlite3", "_sqlite3", "msal", "rich")


def test_core_imports_no_textual_httpx_sqlite_msal() -> None:
    modules = sorted(f"dynsync_tui.core.{m.name}" for m in pkgutil.iter_modules(core.__path__))
    assert len(modules) >= 5, modules
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = [n for n in {FORBIDDEN!r} if n in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core pulled in: {out.stdout.strip()}"


def test_the_check_itself_can_fail() -> None:
    """The same probe sees textual when a module does import it, so the test above is not empty."""
    code = "import sys, textual.app\nprint('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
