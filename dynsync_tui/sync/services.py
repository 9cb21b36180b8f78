"""The connections a sync needs, built from a Config (+ a running sandbox's info) and the
secrets in the environment. Secrets are passed to the clients and kept nowhere else."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping
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


Prompt = Callable[[str], str]
"""Asks the person at the terminal for a secret (the caller passes a getpass-based one, or None)."""


def _secret(secrets: Mapping[str, str] | None, name: str, what: str, src: str,
            prompt: Prompt | None = None) -> str:
    source = secrets if secrets is not None else os.environ
    value = (source.get(name) or "").strip()
    if not value and prompt is not None:
        try:
            value = (prompt(f"{what[0].upper()}{what[1:]} ({name} is not set): ") or "").strip()
        except (EOFError, KeyboardInterrupt):
            value = ""
    if not value:
        raise ConfigError(f"{src}: {what} is not set; export {name}=… (secrets never go in the config file)")
    return value


def env_key_for(env_url: str, api_user: str) -> str:
    return f"{env_url.rstrip('/').lower()}|{api_user.lower()}"


def authority_for(dyn: Any) -> str:
    """``[dynamics] authority``, else the tenant-specific Microsoft Entra authority."""
    return (dyn.authority or f"{AUTHORITY_HOST}/{dyn.tenant_id}").rstrip("/")


def stderr_device_code(message: str, flow: dict[str, Any]) -> None:
    """The default for headless device-code sign-in: show msal's message (URL + code)."""
    print(message or f"Sign in at {flow.get('verification_uri')} with the code {flow.get('user_code')}",
          file=sys.stderr, flush=True)


def _tokens(config: Config, paths: Any, secrets: Mapping[str, str] | None, *,
            prompt: Prompt | None, on_device_code: Any, cancel: threading.Event | None) -> Any:
    """The Dataverse token provider for ``[dynamics] auth``."""
    from dynsync_tui.connectors.auth import ConfidentialTokens, certificate_credential
    from dynsync_tui.connectors.auth_public import PublicTokens

    src, dyn = config.source, config.dynamics
    ca = dyn.ca_file or None
    authority = authority_for(dyn)
    if dyn.auth in ("device_code", "interactive"):
        return PublicTokens(dyn.environment_url, authority, dyn.client_id, mode=dyn.auth,
                            cache_path=paths.token_cache, on_device_code=on_device_code or stderr_device_code,
                            cancel=cancel, ca_file=ca)
    if dyn.auth == "certificate":
        if not dyn.certificate_path:
            raise ConfigError(f"{src}: [dynamics] certificate_path is empty (auth = \"certificate\")")
        source = secrets if secrets is not None else os.environ
        credential: Any = certificate_credential(dyn.certificate_path, dyn.certificate_thumbprint,
                                                 source.get(CERT_PASSPHRASE_ENV) or None)
    else:
        credential = _secret(secrets, CLIENT_SECRET_ENV, "the Dynamics client secret", src, prompt)
    return ConfidentialTokens(dyn.environment_url, authority, dyn.client_id, credential, ca_file=ca)


def build_services(config: Config, paths: Any, *, sandbox_info: Any = None,
                   secrets: Mapping[str, str] | None = None, prompt: Prompt | None = None,
                   on_device_code: Any = None, cancel: threading.Event | None = None,
                   on_wait: Callable[[float, str], None] | None = None) -> Services:
    """Connect to the sandbox (``sandbox_info`` given) or to the configured Dynamics
    environment and Dotdigital account. Raises ConfigError (one line) when a setting or a
    secret is missing.

    ``prompt(text) -> str`` is asked for a secret missing from the environment (None: no
    terminal, so a missing secret is an error). ``on_device_code(message, flow)`` shows the
    device-code sign-in message (default: stderr). ``cancel`` stops a device-code sign-in and
    every connector wait; ``on_wait(seconds, why)`` hears of each wait ("throttled, resuming in
    N s") outside a run. While an Engine runs, its own cancel stands in for ``cancel`` and its
    progress events are told of each wait as well (both restored after the run)."""
    from dynsync_tui.connectors.auth import ConfidentialTokens
    from dynsync_tui.connectors.dataverse import DataverseClient
    from dynsync_tui.connectors.dotdigital import DotdigitalClient

    src = config.source
    dyn, dd = config.dynamics, config.dotdigital
    if sandbox_info is not None:
        info = sandbox_info
        tokens = ConfidentialTokens(info.dataverse_url, info.authority, info.client_id,
                                    info.client_secret, ca_file=info.ca_file)
        dataverse = DataverseClient(info.dataverse_url, tokens, ca_file=info.ca_file,
                                    page_size=dyn.page_size, cancel=cancel, on_wait=on_wait)
        dotdigital = DotdigitalClient(info.api_user, info.api_password, endpoint=info.dotdigital_url,
                                      ca_file=info.ca_file, cancel=cancel, on_wait=on_wait)
        env_key, label = f"sandbox:{info.org_id}", f"Sandbox (org {info.org_id})"
    else:
        if not dyn.environment_url:
            raise ConfigError(f"{src}: [dynamics] environment_url is empty (or use --sandbox)")
        if not dyn.tenant_id and not dyn.authority:
            raise ConfigError(f"{src}: [dynamics] tenant_id is empty; set your Entra tenant id")
        if not dyn.client_id:
            raise ConfigError(f"{src}: [dynamics] client_id is empty; set the app registration's "
                              "Application (client) ID")
        if not dd.api_user:
            raise ConfigError(f"{src}: [dotdigital] api_user is empty; set the Dotdigital API user")
        tokens = _tokens(config, paths, secrets, prompt=prompt, on_device_code=on_device_code, cancel=cancel)
        password = _secret(secrets, DOTDIGITAL_PASSWORD_ENV, "the Dotdigital API password", src, prompt)
        dataverse = DataverseClient(dyn.environment_url, tokens, ca_file=dyn.ca_file or None,
                                    page_size=dyn.page_size, cancel=cancel, on_wait=on_wait)
        dotdigital = DotdigitalClient(dd.api_user, password, endpoint=dd.endpoint, region_url=dd.region_url,
                                      ca_file=dd.ca_file or None, cancel=cancel, on_wait=on_wait)
        env_key = env_key_for(dyn.environment_url, dd.api_user)
        label = dyn.environment_url.removeprefix("https://").rstrip("/")
    state = StateStore(paths.state_file)
    return Services(dataverse, dotdigital, state, env_key, label)


__all__ = ["CLIENT_SECRET_ENV", "DOTDIGITAL_PASSWORD_ENV", "Prompt", "Services", "authority_for", "build_services",
           "env_key_for", "stderr_device_code"]
