"""Where dynsync keeps its files.

Everything (config, sync state, token cache, the sandbox's database) lives under one home:
the platform's directories by default, or ``DYNSYNC_HOME=DIR`` for all of them at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP = "dynsync"


@dataclass(frozen=True)
class Paths:
    config_file: Path
    state_file: Path
    token_cache: Path
    sandbox_dir: Path
    log_dir: Path

    def ensure(self) -> None:
        """Create the parent folders, private to the user (0700)."""
        for p in (self.config_file.parent, self.state_file.parent, self.token_cache.parent,
                  self.sandbox_dir, self.log_dir):
            p.mkdir(parents=True, exist_ok=True, mode=0o700)


def resolve(home: str | os.PathLike[str] | None = None) -> Paths:
    """Paths from ``home``, else ``$DYNSYNC_HOME``, else the platform directories."""
    home = home or os.environ.get("DYNSYNC_HOME")
    if home:
        h = Path(home).expanduser().resolve()
        return Paths(h / "config.toml", h / "state.db", h / "token_cache.json", h / "sandbox", h / "logs")
    return Paths(
        Path(platformdirs.user_config_dir(APP)) / "config.toml",
        Path(platformdirs.user_data_dir(APP)) / "state.db",
        Path(platformdirs.user_cache_dir(APP)) / "token_cache.json",
        Path(platformdirs.user_data_dir(APP)) / "sandbox",
        Path(platformdirs.user_log_dir(APP)),
    )
