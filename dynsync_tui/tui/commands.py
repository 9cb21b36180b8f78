"""Command palette: global commands plus the current screen's, titled "<screen>: <what>"."""

from __future__ import annotations

from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider


class DynsyncCommands(Provider):
    def _commands(self) -> list[tuple[str, str, Any]]:
        from dynsync_tui.tui.screens.base import STEP_NAMES, WizardScreen

        app: Any = self.app
        out: list[tuple[str, str, Any]] = []
        screen = self.screen
        if isinstance(screen, WizardScreen):
            for title, help_text, action in screen.PALETTE:
                out.append((f"{screen.STEP}: {title}", help_text, partial(screen.run_action, action)))
        for i, name in enumerate(STEP_NAMES):
            out.append((f"go: {i + 1} {name}", f"Open the {name} step", partial(app.action_goto, name)))
        out.append(("app: help", "Keys and steps", app.action_help))
        out.append(("app: toggle light/dark theme", "Switch theme", app.action_toggle_theme))
        return out

    async def discover(self) -> Hits:
        for title, help_text, cb in self._commands()[:8]:
            yield DiscoveryHit(title, cb, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, cb in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), cb, help=help_text)
