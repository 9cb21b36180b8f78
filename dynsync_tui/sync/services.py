"""The connections a sync needs, built from a Config (+ a running sandbox's info) and the
secrets in the environment. Secrets are passed to the clients and kept nowhere else."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dynsync_tui.core.config import Config, ConfigError
from dynsync_tui.sync.state import StateStore

CLIENT_SECRET_ENV = "DYNSYNC_CLIENT_SECRET"
DOTDIGITAL_PASSWORD_ENV = "DYNSYNC_DOTDIGITAL_PASSWORD"
CERT_PASSPHRASE_ENV = "DYNSYNC_CERT_PASSPHRASE"
AUTHORITY_HOST = "https://login.microsoftonline.com"


@dataclass
class Services:
    dataverse: Any  # DataverseClient
    dotdigital: Any  # DotdigitalClient
    state: StateStore
    env_key: str  # what the sync state keys on: one Dataverse org + one Dotdigital account
    label: str  # for humans: "Sandbox (org …)" or the environment host

    def close(self) -> None:
        for obj in (self.dataverse, self.dotdigital, self.state):
            close = getattr(obj, "close", None)
            if callable(close):
                close()


def _secret(secrets: Mapping[str, str] | None, name: str, what: str, src: str) -> str:
    source = secrets if secrets is not None else os.environ
    value = (source.get(name) or "").strip()
    if not value:
        raise ConfigError(f"{src}: {what} is not set; export {name}=… (secrets never go in the config file)")
    return value


def env_key_for(env_url: str, api_user: str) -> str:
    return f"{env_url.rstrip('/').lower()}|{api_user.lower()}"


def build_services(config: Config, paths: Any, *, sandbox_info: Any = None,
                   secrets: Mapping[str, str] | None = None) -> Services:
    """Connect to the sandbox (``sandbox_info`` given) or to the configured Dynamics
    environment and Dotdigital account. Raises ConfigError (one line) when a setting or a
    secret is missing."""
    from dynsync_tui.connectors.auth import ConfidentialTokens, certificate_credential
    from dynsync_tui.connectors.dataverse import DataverseClient
    from dynsync_tui.connectors.dotdigital import DotdigitalClient

    src = config.source
    dyn, dd = config.dynamics, config.dotdigital
    if sandbox_info is not None:
        info = sandbox_info
        tokens = ConfidentialTokens(info.dataverse_url, info.authority, info.client_id,
                                    info.client_secret, ca_file=info.ca_file)
        dataverse = DataverseClient(info.dataverse_url, tokens, ca_file=info.ca_file,
                                    page_size=dyn.page_size)
        dotdigital = DotdigitalClient(info.api_user, info.api_password,
                                      endpoint=info.dotdigital_url, ca_file=info.ca_file)
        env_key, label = f"sandbox:{info.org_id}", f"Sandbox (org {info.org_id})"
    else:
        if not dyn.environment_url:
            raise ConfigError(f"{src}: [dynamics] environment_url is empty (or use --sandbox)")
        if not dyn.tenant_id:
            raise ConfigError(f"{src}: [dynamics] tenant_id is empty; set your Entra tenant id")
        if not dd.api_user:
            raise ConfigError(f"{src}: [dotdigital] api_user is empty; set the Dotdigital API user")
        if dyn.auth == "client_secret":
            credential: Any = _secret(secrets, CLIENT_SECRET_ENV, "the Dynamics client secret", src)
        elif dyn.auth == "certificate":
            if not dyn.certificate_path:
                raise ConfigError(f"{src}: [dynamics] certificate_path is empty (auth = \"certificate\")")
            source = secrets if secrets is not None else os.environ
            credential = certificate_credential(dyn.certificate_path, dyn.certificate_thumbprint,
                                                source.get(CERT_PASSPHRASE_ENV) or None)
        else:
            raise ConfigError(f"{src}: [dynamics] auth = \"{dyn.auth}\" cannot run a headless sync; "
                              "use client_secret or certificate")
        password = _secret(secrets, DOTDIGITAL_PASSWORD_ENV, "the Dotdigital API password", src)
        ca = dyn.ca_file or None
        tokens = ConfidentialTokens(dyn.environment_url, f"{AUTHORITY_HOST}/{dyn.tenant_id}",
                                    dyn.client_id, credential, ca_file=ca)
        dataverse = DataverseClient(dyn.environment_url, tokens, ca_file=ca, page_size=dyn.page_size)
        dotdigital = DotdigitalClient(dd.api_user, password, endpoint=dd.endpoint,
                                      region_url=dd.region_url, ca_file=dd.ca_file or None)
        env_key = env_key_for(dyn.environment_url, dd.api_user)
        label = dyn.environment_url.removeprefix("https://").rstrip("/")
    state = StateStore(paths.state_file)
    return Services(dataverse, dotdigital, state, env_key, label)


__all__ = ["CLIENT_SECRET_ENV", "DOTDIGITAL_PASSWORD_ENV", "Services", "build_services", "env_key_for"]
