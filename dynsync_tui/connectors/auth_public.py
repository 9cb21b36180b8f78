"""Sign-in as the admin at the terminal (msal public client): device code and interactive
browser, with a token cache persisted to disk (dataverse-api.md §3.5-3.6).

The cache file holds refresh tokens: it is written with mode 0600 in a 0700 folder, atomically
(temp file + rename), and only when msal says its state changed.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

import httpx
import msal

from dynsync_tui.connectors.auth import (
    MsalHttpClient, friendly_msal_error, msal_authority_kwargs, normalise_env_url,
)
from dynsync_tui.connectors.errors import AuthError, Cancelled, one_line

PUBLIC_MODES = ("device_code", "interactive")
DeviceCodeCallback = Callable[[str, dict[str, Any]], None]


class PersistentTokenCache(msal.SerializableTokenCache):
    """An msal token cache backed by one private file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)
        if self.path.is_file():
            try:
                self.deserialize(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                pass  # unreadable or corrupt: start empty, the next save replaces it
        self.has_state_changed = False

    def save(self) -> bool:
        """Write the cache if it changed. Returns whether it wrote."""
        if not self.has_state_changed:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(self.serialize())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.has_state_changed = False
        return True


class PublicTokens:
    """Delegated tokens (``{env}/user_impersonation``) for a person.

    ``token()`` first tries the cache silently (msal refreshes with the refresh token); when that
    gives nothing it signs in: ``device_code`` calls ``on_device_code(message, flow)`` (show the
    URL and code) and polls until approval, expiry or ``cancel``; ``interactive`` opens the browser
    on a localhost redirect. The signed-in username is remembered in ``username``.
    """

    def __init__(self, env_url: str, authority: str, client_id: str, *, mode: str = "interactive",
                 cache_path: str | os.PathLike[str] | None = None, username: str = "",
                 on_device_code: DeviceCodeCallback | None = None, cancel: threading.Event | None = None,
                 interactive_timeout: int = 300, ca_file: str | Path | None = None,
                 http_client: MsalHttpClient | None = None) -> None:
        if mode not in PUBLIC_MODES:
            raise AuthError(f"sign-in mode {mode!r}: must be one of {', '.join(PUBLIC_MODES)}")
        if not client_id:
            raise AuthError("client ID is empty: set [dynamics] client_id (the app registration's Application ID)")
        self.env_url = normalise_env_url(env_url)
        self.scopes = [f"{self.env_url}/user_impersonation"]
        self.authority = authority.rstrip("/")
        self.client_id = client_id
        self.mode = mode
        self.username = username
        self.on_device_code = on_device_code
        self.cancel = cancel
        self.interactive_timeout = interactive_timeout
        self.cache = PersistentTokenCache(cache_path) if cache_path else msal.SerializableTokenCache()
        self.http = http_client or MsalHttpClient(ca_file=ca_file)
        self._app: msal.PublicClientApplication | None = None
        self._force_refresh = False
        self._lock = threading.Lock()
        self.sign_ins = 0

    def _application(self) -> msal.PublicClientApplication:
        if self._app is None:
            try:
                self._app = msal.PublicClientApplication(
                    self.client_id, authority=self.authority, token_cache=self.cache, http_client=self.http,
                    **msal_authority_kwargs(self.authority))
            except (ValueError, httpx.HTTPError) as exc:
                raise AuthError(f"Sign-in failed: authority {self.authority}: {one_line(exc, 200)}") from None
        return self._app

    def _save(self) -> None:
        if isinstance(self.cache, PersistentTokenCache):
            self.cache.save()

    def silent(self) -> dict[str, Any] | None:
        app = self._application()
        accounts = app.get_accounts(username=self.username or None)
        if not accounts:
            return None
        result = app.acquire_token_silent(self.scopes, account=accounts[0], force_refresh=self._force_refresh)
        self._force_refresh = False
        return result if result and "access_token" in result else None

    def token(self) -> str:
        with self._lock:
            try:
                result = self.silent() or self._sign_in()
            except httpx.HTTPError as exc:
                raise AuthError(f"Sign-in failed: cannot reach the token endpoint ({exc.__class__.__name__})") from None
            finally:
                self._save()
        if "access_token" not in result:
            raise friendly_msal_error(result)
        claims = result.get("id_token_claims") or {}
        self.username = claims.get("preferred_username") or self.username
        return result["access_token"]

    def _sign_in(self) -> dict[str, Any]:
        app = self._application()
        self.sign_ins += 1
        if self.mode == "interactive":
            return app.acquire_token_interactive(self.scopes, login_hint=self.username or None,
                                                 timeout=self.interactive_timeout)
        flow = app.initiate_device_flow(scopes=self.scopes)
        if "user_code" not in flow:
            raise friendly_msal_error(flow, context="Device code sign-in")
        if self.on_device_code is not None:
            self.on_device_code(flow.get("message", ""), flow)
        stop = threading.Event()
        watcher = None
        if self.cancel is not None:
            def watch() -> None:
                while not stop.is_set():
                    if self.cancel.wait(0.2):
                        flow["expires_at"] = 0  # msal's documented way to stop polling
                        return
            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
        try:
            result = app.acquire_token_by_device_flow(flow)
        finally:
            stop.set()
        if self.cancel is not None and self.cancel.is_set() and "access_token" not in result:
            raise Cancelled("Sign-in cancelled")
        return result

    def invalidate(self) -> None:
        """The next ``token()`` refreshes with the refresh token instead of the cached token."""
        self._force_refresh = True

    def logout(self) -> None:
        """Forget the signed-in account(s) and delete the cache file."""
        app = self._application()
        for account in app.get_accounts():
            app.remove_account(account)
        if isinstance(self.cache, PersistentTokenCache):
            self.cache.path.unlink(missing_ok=True)
            self.cache.has_state_changed = False


__all__ = ["PUBLIC_MODES", "PersistentTokenCache", "PublicTokens"]
