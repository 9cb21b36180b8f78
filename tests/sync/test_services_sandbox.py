"""build_services in real mode (no sandbox shortcut) against a running sandbox: each sign-in that
can run headless, the secret prompt, and the connectors' waits reaching progress and cancel."""

from __future__ import annotations

import threading
import time

import pytest

from dynsync_tui import paths as paths_mod
from dynsync_tui.core.config import Config, ConfigError, DotdigitalSettings, DynamicsSettings
from dynsync_tui.sync.engine import Engine
from dynsync_tui.sync.imports import PollPolicy
from dynsync_tui.sync.services import build_services

from .test_sandbox_sync import Sandbox, write_contacts

pytestmark = pytest.mark.skipif(Sandbox is None, reason="sandbox not available")


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    root = tmp_path_factory.mktemp("svc")
    sandbox = Sandbox(root / "sandbox", data_dir=write_contacts(root / "data", 10), import_delay=0.02)
    sandbox.start()
    yield sandbox
    sandbox.stop()


def real_config(info, **dynamics) -> Config:
    """What an admin writes to point dynsync at a standalone sandbox (`dynsync sandbox`)."""
    return Config(
        dynamics=DynamicsSettings(environment_url=info.dataverse_url, authority=info.authority,
                                  tenant_id=info.tenant_id, client_id=info.client_id,
                                  ca_file=str(info.ca_file), **dynamics),
        dotdigital=DotdigitalSettings(api_user=info.api_user, endpoint=info.dotdigital_url,
                                      ca_file=str(info.ca_file)),
        source="real.toml")


def run(cfg, services, **kw):
    return Engine(cfg, services, poll=PollPolicy(first=0.05, shortest=0.02), **kw).sync()


def test_client_secret_from_the_environment_syncs(sb, tmp_path):
    info = sb.info
    cfg = real_config(info)
    secrets = {"DYNSYNC_CLIENT_SECRET": info.client_secret, "DYNSYNC_DOTDIGITAL_PASSWORD": info.api_password}
    services = build_services(cfg, paths_mod.resolve(tmp_path), secrets=secrets)
    try:
        assert services.env_key.startswith(info.dataverse_url.lower())
        summary = run(cfg, services)
        assert summary.status == "ok" and summary.created + summary.updated == 10
    finally:
        services.close()
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("state.db*"))
    assert info.client_secret.encode() not in blob and info.api_password.encode() not in blob


def test_missing_secrets_are_prompted_for_when_a_terminal_is_there(sb, tmp_path):
    info = sb.info
    asked: list[str] = []
    answers = {"client secret": info.client_secret, "password": info.api_password}

    def prompt(text: str) -> str:
        asked.append(text)
        return next(v for k, v in answers.items() if k in text)
    services = build_services(real_config(info), paths_mod.resolve(tmp_path), secrets={}, prompt=prompt)
    try:
        assert services.dataverse.whoami()["OrganizationId"] == info.org_id
        assert services.dotdigital.account_info()["ApiEndpoint"]
    finally:
        services.close()
    assert len(asked) == 2 and "DYNSYNC_CLIENT_SECRET" in asked[0] and "DYNSYNC_DOTDIGITAL_PASSWORD" in asked[1]
    with pytest.raises(ConfigError, match="DYNSYNC_CLIENT_SECRET"):  # no terminal: one line, no prompt
        build_services(real_config(info), paths_mod.resolve(tmp_path), secrets={}, prompt=None)
    with pytest.raises(ConfigError, match="DYNSYNC_CLIENT_SECRET"):  # an empty answer is no secret
        build_services(real_config(info), paths_mod.resolve(tmp_path), secrets={}, prompt=lambda t: "")


def test_certificate_sign_in(sb, tmp_path):
    from connectors.test_auth import _rsa_cert  # tests/ is on sys.path (rootdir packages)

    info = sb.info
    _, _, key_pem, cert_pem, thumb = _rsa_cert(tmp_path)
    assert sb.register_certificate(cert_pem).upper() == thumb
    (tmp_path / "app.pem").write_bytes(key_pem + cert_pem)
    cfg = real_config(info, auth="certificate", certificate_path=str(tmp_path / "app.pem"))
    secrets = {"DYNSYNC_DOTDIGITAL_PASSWORD": info.api_password}
    services = build_services(cfg, paths_mod.resolve(tmp_path), secrets=secrets)
    try:
        assert services.dataverse.whoami()["OrganizationId"] == info.org_id
        assert services.dataverse.tokens.acquired == 1
    finally:
        services.close()


def test_device_code_message_goes_to_the_callback_and_the_cache_is_private(sb, tmp_path):
    info = sb.info
    shown: list[str] = []

    def on_device_code(message: str, flow: dict) -> None:
        shown.append(message)
        sb.approve_device_code(flow["user_code"])  # the admin signs in in a browser
    cfg = real_config(info, auth="device_code")
    paths = paths_mod.resolve(tmp_path)
    services = build_services(cfg, paths, secrets={"DYNSYNC_DOTDIGITAL_PASSWORD": info.api_password},
                              on_device_code=on_device_code)
    try:
        summary = run(cfg, services)
        assert summary.status == "ok" and summary.created + summary.updated + summary.unchanged == 10
    finally:
        services.close()
    assert len(shown) == 1 and "devicelogin" in shown[0]
    assert paths.token_cache.stat().st_mode & 0o777 == 0o600
    # The next start signs in silently from the cache: no second message.
    again = build_services(cfg, paths, secrets={"DYNSYNC_DOTDIGITAL_PASSWORD": info.api_password},
                           on_device_code=on_device_code)
    try:
        assert again.dataverse.whoami() and len(shown) == 1
    finally:
        again.close()


def test_throttled_mid_paging_shows_resuming_and_cancel_ends_the_wait(tmp_path):
    sb = Sandbox(tmp_path / "sandbox", data_dir=write_contacts(tmp_path / "data", 10), import_delay=0.02)
    info = sb.start()
    cfg = real_config(info, page_size=4)  # 10 contacts: three pages
    secrets = {"DYNSYNC_CLIENT_SECRET": info.client_secret, "DYNSYNC_DOTDIGITAL_PASSWORD": info.api_password}
    services = build_services(cfg, paths_mod.resolve(tmp_path), secrets=secrets)
    cancel, messages = threading.Event(), []

    def on_event(p) -> None:
        if "resuming in" in p.message:
            messages.append(p.message)
            cancel.set()  # the admin presses Cancel during the 30 s wait
    sb.faults.add("GET", r"/contacts\?.*(skiptoken|deltatoken)", 429, times=1, retry_after=30)
    try:
        t0 = time.monotonic()
        summary = run(cfg, services, on_event=on_event, cancel=cancel)
        assert time.monotonic() - t0 < 10  # the wait was cut short
        assert summary.status == "cancelled" and summary.created == 0
        assert "throttled" in messages[0] and "resuming in 3" in messages[0]
        st, env = services.state, services.env_key
        assert st.runs(env)[0].status == "cancelled" and st.open_batches(env) == []
        assert st.prior(env) == {} and sb.dotdigital_contacts() == []
        assert not any(st.cursor(env, n) for n in ("sms",))
        services.close()  # the next `dynsync sync` (this client would honour the 30 s pause)
        services = build_services(cfg, paths_mod.resolve(tmp_path), secrets=secrets)
        again = run(cfg, services)  # nothing was committed: a full read, everything sent
        assert again.status == "ok" and again.created == 10 and again.read == {"contact": "full", "lead": "full"}
    finally:
        services.close()
        sb.stop()


def test_waits_outside_a_run_reach_on_wait_and_cancel(sb, tmp_path):
    from dynsync_tui.connectors.errors import Cancelled

    cancel, heard = threading.Event(), []

    def on_wait(seconds: float, why: str) -> None:
        heard.append(why)
        cancel.set()  # "Cancel" in the connect screen
    services = build_services(real_config(sb.info), paths_mod.resolve(tmp_path), sandbox_info=sb.info,
                              cancel=cancel, on_wait=on_wait)
    sb.faults.add("GET", r"/WhoAmI", 429, times=1, retry_after=20)
    try:
        t0 = time.monotonic()
        with pytest.raises(Cancelled):
            services.dataverse.whoami()
        assert time.monotonic() - t0 < 5 and "resuming in" in heard[0]
    finally:
        sb.faults.clear()
        services.close()
