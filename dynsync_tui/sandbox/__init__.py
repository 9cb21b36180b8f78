"""The built-in sandbox: Microsoft token endpoint, Dataverse Web API and Dotdigital API
emulated over HTTPS on 127.0.0.1, with persistent data in ``home/sandbox.db``."""

from dynsync_tui.sandbox.app import Sandbox, SandboxInfo, serve
from dynsync_tui.sandbox.csvload import SandboxDataError

__all__ = ["Sandbox", "SandboxDataError", "SandboxInfo", "serve"]
