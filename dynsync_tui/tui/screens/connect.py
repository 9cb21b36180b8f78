"""Step 1, "Account Administration": where data comes from and goes to; Test connection."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static

from dynsync_tui.core.config import AUTH_MODES
from dynsync_tui.tui.messages import Connected, WorkerFailed, get, one_line
from dynsync_tui.tui.screens.base import WizardScreen

AUTH_TEXT = {"client_secret": "Client secret", "certificate": "Certificate",
             "device_code": "Device code", "interactive": "Interactive browser"}
ENTITY_SETS = {"contact": "contacts", "lead": "leads", "account": "accounts"}
FIELDS = (  # (input id, label, section, attribute, placeholder)
    ("env", "Dynamics environment", "dynamics", "environment_url", "https://org.crm.dynamics.com (blank: sandbox)"),
    ("tenant", "Tenant id", "dynamics", "tenant_id", "directory (tenant) id"),
    ("client", "Client id", "dynamics", "client_id", "application (client) id"),
    ("apiuser", "Dotdigital API user", "dotdigital", "api_user", "apiuser-…@apiconnector.com"),
)


def describe_whoami(who: Any, name: str = "") -> str:
    user = get(who, "UserId") or get(who, "user_id") or get(who, "user") or "?"
    org = get(who, "OrganizationId") or get(who, "organization_id") or get(who, "org") or "?"
    name = name or get(who, "fullname") or get(who, "name") or ""
    return f"Dynamics: connected as {name or user} (organisation {org})"


def user_name(dataverse: Any, who: Any) -> str:
    """The signed-in user's full name when Dataverse will say it ('' otherwise)."""
    uid = get(who, "UserId")
    if not uid:
        return ""
    try:
        page = next(iter(dataverse.iter_pages("systemusers", select=["fullname"],
                                              filter=f"systemuserid eq {uid}")), [])
    except Exception:  # noqa: BLE001 - the name is a nicety; the id is shown instead
        return ""
    return str(page[0].get("fullname") or "") if page else ""


def without_source(text: str, source: str) -> str:
    """Drop a leading config-file path from an error when that file does not hold these values."""
    for prefix in (f"{source}: ", f"{source} "):
        if source and text.startswith(prefix):
            return text[len(prefix):]
    return text


def describe_account(info: Any) -> str:
    props = get(info, "properties")
    if isinstance(props, list):
        info = {get(p, "name"): get(p, "value") for p in props}
    name = get(info, "Name") or get(info, "name") or "?"
    host = get(info, "ApiEndpoint") or get(info, "api_endpoint") or ""
    return f"Dotdigital: account {name}" + (f" at {str(host).rstrip('/')}" if host else "")


class ConnectScreen(WizardScreen):
    STEP = "connect"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "test", "Test connection", id="connect.test", tooltip="Sign in to both services"),
    ]
    PALETTE: ClassVar[list[tuple[str, str, str]]] = [
        ("test connection", "Sign in to Dynamics and Dotdigital", "test"),
    ]

    def compose_body(self) -> ComposeResult:
        cfg = self.dapp.config
        with VerticalScroll():
            yield Static("Account Administration", classes="title")
            with Grid(id="connect-form"):
                for fid, label, section, attr, placeholder in FIELDS:
                    yield Label(label)
                    yield Input(getattr(getattr(cfg, section), attr), placeholder=placeholder, id=fid, compact=True)
                yield Label("Sign-in mode")
                yield Select([(AUTH_TEXT[m], m) for m in AUTH_MODES], value=cfg.dynamics.auth,
                             allow_blank=False, id="auth", compact=True)
            yield Static("", id="sandbox-note", classes="hint")
            with Horizontal(id="connect-actions"):
                yield Button("Test connection", id="test", variant="success",
                             tooltip="Sign in to both services (ctrl+r)", compact=True)
            yield Static("Secrets come from DYNSYNC_CLIENT_SECRET and DYNSYNC_DOTDIGITAL_PASSWORD "
                         "(or the sandbox), else you are asked for them; they are never stored.", classes="hint")
            yield Static("Not tested yet.", id="result")

    def on_mount(self) -> None:
        self._note()

    def _note(self) -> None:
        env = self.query_one("#env", Input).value.strip()
        label = self.dapp.sandbox_label or ""
        extra = f" ({label})" if label and label.lower() != "sandbox" else ""
        note = f"Blank environment: the built-in sandbox{extra}." if not env else ""
        self.query_one("#sandbox-note", Static).update(note)

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if event.input.id == "env":
            self._note()

    def apply_form(self) -> bool:
        """Copy the form into the config; False (with the error shown) when a value is wrong."""
        cfg = self.dapp.config
        env = self.query_one("#env", Input).value.strip()
        if env and not env.startswith("https://"):
            self.set_status("Dynamics environment: the URL must start with https://", error=True)
            return False
        before = (cfg.dynamics.environment_url, cfg.dynamics.tenant_id, cfg.dynamics.client_id,
                  cfg.dynamics.auth, cfg.dotdigital.api_user)
        for fid, _label, section, attr, _ph in FIELDS:
            setattr(getattr(cfg, section), attr, self.query_one(f"#{fid}", Input).value.strip())
        cfg.dynamics.auth = str(self.query_one("#auth", Select).value)
        after = (cfg.dynamics.environment_url, cfg.dynamics.tenant_id, cfg.dynamics.client_id,
                 cfg.dynamics.auth, cfg.dotdigital.api_user)
        if before != after:
            self.dapp.reset_services()
            self.dapp.refresh_title()
        return True

    def commit(self) -> bool:
        return self.apply_form()

    @on(Button.Pressed, "#test")
    def action_test(self) -> None:
        if not self.apply_form():
            return
        self.dapp.reset_services()
        self.query_one("#result", Static).update("Testing…")
        self.set_status("")
        entities = self.dapp.config.mapped_entities()

        unsaved = self.dapp.dirty or not self.dapp.config_path.exists()
        sources = {self.dapp.config.source, str(self.dapp.config_path)}

        def work() -> None:
            try:
                svc = self.dapp.services()
                who = svc.dataverse.whoami()
                lines = [describe_whoami(who, user_name(svc.dataverse, who)),
                         describe_account(svc.dotdigital.account_info())]
                counts = [f"{svc.dataverse.count(ENTITY_SETS.get(e, e + 's'), filter='statecode eq 0'):,} {e}s"
                          for e in entities]
            except Exception as exc:  # noqa: BLE001 - one line in words
                reason = self.dapp.sign_in_cancel_reason(exc)
                if reason:  # the person said no: one line, not a failure
                    self.post_message(WorkerFailed(f"Cancelled: not connected ({reason})."))
                    return
                text = one_line(exc)
                if unsaved:  # the values come from this form, not from the file
                    for source in sources:
                        text = without_source(text, source)
                self.post_message(WorkerFailed(f"Test connection failed: {text}"))
                return
            lines.append("Active records of the mapped entities: " + ", ".join(counts)
                         + " (the preview counts those in scope)")
            self.post_message(Connected(lines))

        self.run_io(work, group="connect", description="Test connection failed")

    def on_connected(self, message: Connected) -> None:
        result = self.query_one("#result", Static)
        result.update("✓ " + "\n✓ ".join(message.lines))
        result.set_class(True, "-ok")
        self.set_status("Connected.")

    def on_worker_failed(self, message: Any) -> None:
        self.query_one("#result", Static).update("✗ Not connected.")
        super().on_worker_failed(message)
