"""The Textual app: a factory, global keys, the wizard's navigation. Screens do the work."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from dynsync_tui.core.config import Config
from dynsync_tui.tui.commands import DynsyncCommands
from dynsync_tui.tui.screens.base import STEP_NAMES, WizardScreen
from dynsync_tui.tui.signin import SignInHooks

EngineFactory = Callable[..., Any]


def _default_engine_factory(config: Config, services: Any, **kw: Any) -> Any:
    from dynsync_tui.sync.engine import Engine

    return Engine(config, services, **kw)


def _step_bindings() -> list[BindingType]:
    out: list[BindingType] = []
    for i, name in enumerate(STEP_NAMES):
        tip = f"Go to step {i + 1}: {name}"
        out.append(Binding(f"f{i + 1}", f"goto('{name}')", name.title(), show=False, id=f"goto.f.{name}",
                           tooltip=tip))
        out.append(Binding(str(i + 1), f"goto('{name}')", name.title(), show=False, id=f"goto.{name}",
                           tooltip=tip))
    return out


class DynsyncApp(App[None]):
    TITLE = "dynsync"
    # Every screen's sibling .tcss is loaded once here (rules are rooted at the screen class), so
    # switching steps never re-parses the stylesheet.
    CSS_PATH = ["screens/base.tcss", *(f"screens/{n}.tcss" for n in (*STEP_NAMES, "mapping_edit", "sign_in"))]
    COMMANDS = App.COMMANDS | {DynsyncCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", id="app.quit", tooltip="Quit dynsync"),
        Binding("question_mark", "help", "Help", show=False, id="app.help", tooltip="Keys and steps"),
        Binding("ctrl+t", "toggle_theme", "Theme", show=False, id="app.theme", tooltip="Light / dark theme"),
        Binding("ctrl+s", "save_config", "Save", show=False, id="app.save", tooltip="Save the config file"),
        Binding("ctrl+n", "next", "Next", show=False, id="app.next", tooltip="Next step"),
        Binding("ctrl+b", "back", "Back", show=False, id="app.back", tooltip="Previous step (the Back button)"),
        *_step_bindings(),
    ]

    def __init__(self, *, config: Config, config_path: Path, paths: Any,
                 connect: Callable[..., Any], sandbox_label: str | None = None,
                 engine_factory: EngineFactory | None = None) -> None:
        super().__init__()
        self.config = config
        self.config_path = Path(config_path)
        self.paths = paths
        self._connect = connect
        self.sandbox_label = sandbox_label
        self.engine_factory = engine_factory or _default_engine_factory
        self._services: Any = None
        self._services_lock = threading.Lock()  # held briefly (the UI thread takes it too)
        self._connect_lock = threading.Lock()  # one connect at a time; held while a sign-in modal waits
        self._sign_in = SignInHooks(self)  # the latest connect's hooks and cancel Event
        self.preview_result: Any = None  # the last preview, shared by preview and sync screens
        self.preview_generation = -1  # the generation it was read in (older: a sync ran since)
        self._saved_text = self._disk_text()  # the config as last loaded or saved: tells unsaved changes
        self.generation = 0  # bumped when the connection or the synced data changes: screens reload

    # ---------------------------------------------------------------- services (thread side)

    def services(self) -> Any:
        """Connect on first use (again after a cancelled sign-in). Blocking: thread workers only.

        ``connect`` gets the sign-in hooks it accepts (tui/signin.py): a missing secret is asked
        for in a modal, a device-code sign-in shows its code in one, Cancel stops it."""
        with self._connect_lock:
            with self._services_lock:
                if self._services is not None and not self._sign_in.cancel.is_set():
                    return self._services
            if self._services is not None:  # a cancelled sign-in left them stopped
                self.reset_services()
            with self._services_lock:
                generation, hooks = self.generation, SignInHooks(self)
                self._sign_in = hooks
            try:
                services = self._connect(self.config, **hooks.kwargs_for(self._connect))
            finally:
                hooks.done()
            hooks.watch(services)
            with self._services_lock:
                if self.generation == generation:  # not reset meanwhile (settings changed)
                    self._services = services
            return services

    def sign_in_cancel_reason(self, exc: BaseException) -> str:
        """What the person cancelled when ``exc`` ended a connect ('' when it was no cancel)."""
        return self._sign_in.cancel_reason(exc)

    def reset_services(self) -> None:
        with self._services_lock:
            old, self._services = self._services, None
            self.generation += 1
        close = getattr(old, "close", None)
        if callable(close):
            close()

    def make_engine(self, **kw: Any) -> Any:
        return self.engine_factory(self.config, self.services(), **kw)

    @property
    def environment(self) -> str:
        if self.config.is_sandbox:
            return self.sandbox_label or "sandbox"
        return self.config.dynamics.environment_url

    def _disk_text(self) -> str | None:
        from dynsync_tui.core.config import dumps

        return dumps(self.config)

    @property
    def dirty(self) -> bool:
        """The config differs from what was last read from or written to disk."""
        from dynsync_tui.core.config import dumps

        return dumps(self.config) != self._saved_text

    def refresh_title(self) -> None:
        state = "unsaved changes" if self.dirty else ("saved" if self.config_path.exists() else "defaults")
        self.sub_title = f"{self.environment} · {self.config_path.name} ({state})"

    # ---------------------------------------------------------------- navigation

    def on_mount(self) -> None:
        from dynsync_tui.tui.screens import SCREEN_CLASSES

        self.refresh_title()
        self.set_interval(0.5, self.refresh_title)  # the header says whether the config is saved
        for name, cls in SCREEN_CLASSES.items():
            self.install_screen(cls(), name)
        self.push_screen("connect")

    @property
    def step(self) -> WizardScreen | None:
        screen = self.screen
        return screen if isinstance(screen, WizardScreen) else None

    def action_goto(self, name: str) -> None:
        current = self.step
        if current is None:  # a modal is open
            return
        if current.STEP == name:
            return
        if not current.can_leave():
            self.notify("A sync is running: cancel it first (escape).", severity="warning")
            return
        if not current.commit():
            return
        self.switch_screen(name)

    def action_next(self) -> None:
        current = self.step
        if current is None or current.step_no >= len(STEP_NAMES) - 1:
            return
        if current.query_one("#next").disabled or not current.before_next():
            return
        was_dirty = self.dirty
        error = self.try_save()  # moving on keeps the choices: headless runs see the same config
        if error:
            self.notify(error, title="Not saved", severity="warning")
        elif was_dirty:
            self.notify(f"Saved {self.config_path}", title="Config")
        self.action_goto(STEP_NAMES[current.step_no + 1])  # commit() runs again there: idempotent

    def action_back(self) -> None:
        current = self.step
        if current is not None and current.step_no > 0:
            self.action_goto(STEP_NAMES[current.step_no - 1])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        from textual.widgets import Input

        # "?" goes into a focused text box; the footer does not offer it then
        return not (action == "help" and isinstance(self.focused, Input))

    def action_help(self) -> None:
        from dynsync_tui.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def action_save_config(self) -> None:
        """Validate, then write the TOML; errors as one line."""
        error = self.try_save()
        if error:
            self.notify(error, title="Not saved", severity="error")
        else:
            self.notify(f"Saved {self.config_path}", title="Config")

    def try_save(self) -> str:
        """Validate the config and write it atomically; '' when saved, else the problem in words."""
        from dynsync_tui.core.mappings import MappingError, validate_mappings

        consent = self.config.consent
        if consent.mode == "lists" and not consent.lists:
            return "Lists: pick at least one marketing list, or choose another option."
        if consent.mode == "field" and not consent.field:
            return "Lists: name the consent field, or choose another option."
        try:
            validate_mappings(self.config.mappings)
            self.save_config()
        except (MappingError, OSError) as exc:
            return " ".join(str(exc).split())
        return ""

    def save_config(self) -> None:
        """Write the TOML atomically (core.config.save). Small and local: UI thread is fine."""
        from dynsync_tui.core.config import save

        save(self.config, self.config_path)
        self._saved_text = self._disk_text()
        self.refresh_title()

    async def action_quit(self) -> None:
        """Quit; with unsaved changes ask Save / Discard / Cancel first."""
        from dynsync_tui.tui.widgets.confirm import ChoiceScreen

        step = self.step
        if step is None and self.screen.is_modal:
            step = next((s for s in reversed(self.screen_stack) if isinstance(s, WizardScreen)), None)
        if step is not None:
            step.commit()  # what the form shows counts as a change
        if not self.dirty:
            self.exit()
            return

        def answer(choice: str | None) -> None:
            if choice == "save":
                error = self.try_save()
                if error:
                    self.notify(error, title="Not saved", severity="error")
                    return
                self.exit()
            elif choice == "discard":
                self.exit()

        self.push_screen(ChoiceScreen(f"{self.config_path.name} has unsaved changes. Save them before quitting?",
                                      [("save", "Save (s)", "success", "s"), ("discard", "Discard (d)", "error", "d"),
                                       ("cancel", "Cancel (esc)", "primary", "c")],
                                      default="cancel", cancel_id="cancel"), answer)

    def screen_named(self, name: str) -> Screen[Any]:
        return self.get_screen(name)


def create_app(*, config: Config, config_path: Path, paths: Any, connect: Callable[..., Any],
               sandbox_label: str | None = None, engine_factory: EngineFactory | None = None) -> DynsyncApp:
    """Build the app. ``connect(config, *, prompt=None, on_device_code=None, cancel=None,
    on_wait=None) -> Services`` (the hooks it does not take are not passed: tests' fakes may take
    only the config); tests pass fakes for it and the engine."""
    return DynsyncApp(config=config, config_path=config_path, paths=paths, connect=connect,
                      sandbox_label=sandbox_label, engine_factory=engine_factory)
