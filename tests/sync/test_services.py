from __future__ import annotations

import pytest

from dynsync_tui import paths as paths_mod
from dynsync_tui.core.config import Config, ConfigError, DotdigitalSettings, DynamicsSettings
from dynsync_tui.sync.services import build_services

SECRETS = {"DYNSYNC_CLIENT_SECRET": "s3cret-value", "DYNSYNC_DOTDIGITAL_PASSWORD": "pa55word"}


def real_config() -> Config:
    return Config(
        dynamics=DynamicsSettings(environment_url="https://contoso.crm4.dynamics.com",
                                  tenant_id="tenant-1", client_id="client-1"),
        dotdigital=DotdigitalSettings(api_user="apiuser-1@apiconnector.com"),
        source="cfg.toml")


@pytest.mark.parametrize("missing, named", [
    ("DYNSYNC_CLIENT_SECRET", "DYNSYNC_CLIENT_SECRET"),
    ("DYNSYNC_DOTDIGITAL_PASSWORD", "DYNSYNC_DOTDIGITAL_PASSWORD"),
])
def test_missing_secret_is_one_line_naming_the_variable(tmp_path, missing, named):
    secrets = {k: v for k, v in SECRETS.items() if k != missing}
    with pytest.raises(ConfigError) as err:
        build_services(real_config(), paths_mod.resolve(tmp_path), secrets=secrets)
    msg = str(err.value)
    assert named in msg and "\n" not in msg and msg.startswith("cfg.toml")
    assert not (tmp_path / "state.db").exists()


def test_missing_settings_are_named(tmp_path):
    cfg = real_config()
    cfg.dotdigital.api_user = ""
    with pytest.raises(ConfigError, match=r"\[dotdigital\] api_user"):
        build_services(cfg, paths_mod.resolve(tmp_path), secrets=SECRETS)
    cfg = real_config()
    cfg.dynamics.client_id = ""
    with pytest.raises(ConfigError, match=r"\[dynamics\] client_id"):
        build_services(cfg, paths_mod.resolve(tmp_path), secrets=SECRETS)
    cfg = real_config()
    cfg.dynamics.tenant_id = ""
    with pytest.raises(ConfigError, match=r"\[dynamics\] tenant_id"):
        build_services(cfg, paths_mod.resolve(tmp_path), secrets=SECRETS)
    cfg.dynamics.authority = "https://login.microsoftonline.us/tenant-1"  # an authority stands in for it
    build_services(cfg, paths_mod.resolve(tmp_path), secrets=SECRETS).close()


def test_public_client_modes_need_no_client_secret(tmp_path):
    from dynsync_tui.connectors.auth_public import PublicTokens

    for mode in ("device_code", "interactive"):
        cfg = real_config()
        cfg.dynamics.auth = mode
        services = build_services(cfg, paths_mod.resolve(tmp_path), cancel=None,
                                  secrets={"DYNSYNC_DOTDIGITAL_PASSWORD": "pa55word"})
        try:
            tokens = services.dataverse.tokens
            assert isinstance(tokens, PublicTokens) and tokens.mode == mode
            assert tokens.authority == "https://login.microsoftonline.com/tenant-1"
            assert tokens.cache.path == paths_mod.resolve(tmp_path).token_cache
        finally:
            services.close()


def test_real_environment_services_keep_secrets_out_of_state(tmp_path):
    services = build_services(real_config(), paths_mod.resolve(tmp_path), secrets=SECRETS)
    try:
        assert services.env_key == "https://contoso.crm4.dynamics.com|apiuser-1@apiconnector.com"
        assert services.label == "contoso.crm4.dynamics.com"
        run = services.state.start_run(services.env_key, {"config": {"dynamics": {"client_id": "x"}}})
        services.state.finish_run(run, "ok", {})
    finally:
        services.close()
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("state.db*"))
    assert b"s3cret-value" not in blob and b"pa55word" not in blob
