"""The built-in sandbox: Microsoft token endpoint, Dataverse Web API and Dotdigital API
emulated over HTTPS on 127.0.0.1 (one listener, self-signed certificate made at start),
with persistent data in ``home/sandbox.db`` (0600) and the certificate in ``home/cert.pem``.

    with Sandbox(home, size=3000) as sb:       # or data_dir=DIR (README: "sandbox CSV files"), reset=True
        sb.info                                # SandboxInfo: URLs, ca_file, credentials, org_id

Test hooks: ``faults.add(method, path_regex, status, times, retry_after=, body=, delay=,
drop=, truncate=, rate=)`` / ``faults.load(plan)``; ``expire_tokens()``;
``update_record / insert_record / delete_record / records(entity)``;
``set_sms_status(email, status)``; ``suppress_email(email)``; ``fail_imports(status)``;
``import_delay`` (seconds an import stays NotFinished); ``set_dataverse_limit(n, window_s)``;
``approve_device_code() / decline_device_code()``; ``register_certificate(pem)``;
``dotdigital.rates`` (tier limits), ``dotdigital.enforce_region``;
``dotdigital_contacts()``; ``request_log``; ``connections``.
"""

from dynsync_tui.sandbox.app import Sandbox, SandboxInfo, serve
from dynsync_tui.sandbox.csvload import SandboxDataError

__all__ = ["Sandbox", "SandboxDataError", "SandboxInfo", "serve"]
