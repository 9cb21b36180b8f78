"""``Sandbox``: the token endpoint, Dataverse and Dotdigital on one HTTPS listener."""

from __future__ import annotations

import secrets
import signal
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dynsync_tui.sandbox.auth import TokenService, aad_error
from dynsync_tui.sandbox.certs import make_server_context
from dynsync_tui.sandbox.csvload import SandboxDataError, load_csv_dir
from dynsync_tui.sandbox.dataverse import DataverseApi, dv_error
from dynsync_tui.sandbox.dd_account import DotdigitalAccount
from dynsync_tui.sandbox.dotdigital import PREFIX as DD_PREFIX
from dynsync_tui.sandbox.dotdigital import REGION as DD_REGION
from dynsync_tui.sandbox.dotdigital import DotdigitalApi, v2_error, v3_error
from dynsync_tui.sandbox.faults import FaultPlanError, Faults
from dynsync_tui.sandbox.metadata import ENTITIES
from dynsync_tui.sandbox.seed import LOOKUP_TYPE, generate
from dynsync_tui.sandbox.server import HttpsApp, Request, Response
from dynsync_tui.sandbox.store import Store

DEFAULT_SIZE = 3000
FORMATTED = "@OData.Community.Display.V1.FormattedValue"


@dataclass(frozen=True)
class SandboxInfo:
    dataverse_url: str
    authority: str
    dotdigital_url: str
    ca_file: Path
    tenant_id: str
    client_id: str
    client_secret: str
    api_user: str
    api_password: str
    org_id: str

    def __repr__(self) -> str:  # keep secrets out of logs and tracebacks
        return (f"SandboxInfo(dataverse_url={self.dataverse_url!r}, authority={self.authority!r}, "
                f"dotdigital_url={self.dotdigital_url!r}, org_id={self.org_id!r})")


class _App(HttpsApp):
    def __init__(self, tenant_id: str) -> None:
        super().__init__()
        self.tenant_id = tenant_id

    def error_for(self, req: Request, status: int, message: str) -> Response:
        path = req.path
        if path.startswith("/api/data/"):
            code = {429: "0x80072322", 503: "0x80040216"}.get(status, "0x80060888")
            return dv_error(status, message, code).response
        if path.startswith((DD_PREFIX + "/contacts/v3", DD_PREFIX + DD_REGION + "/contacts/v3")):
            code = {429: "rateLimit:exceeded", 404: "contacts:notFound"}.get(status, "contacts:error")
            return v3_error(status, code, message).response
        if path.startswith(DD_PREFIX):
            return v2_error(status, message).response
        if path.startswith(f"/{self.tenant_id}/"):
            return aad_error(status, "temporarily_unavailable", 90033, message).response
        return Response(status, {"error": {"code": "", "message": message}})


class Sandbox:
    """The built-in emulator. ``with Sandbox(home) as sb: sb.info ...``"""

    def __init__(self, home: Path, *, data_dir: Path | None = None, reset: bool = False,
                 seed: int = 20261203, size: int | None = None, import_delay: float = 0.2) -> None:
        self.home = Path(home)
        self.data_dir = Path(data_dir) if data_dir else None
        self.reset = reset
        self.seed = seed
        self.size = DEFAULT_SIZE if size is None else size
        self._import_delay = import_delay
        self._info: SandboxInfo | None = None
        self._app: _App | None = None
        self._faults = Faults()

    # ------------------------------------------------------------ lifecycle
    def _open_world(self) -> tuple[Store, bool]:
        """Open home/sandbox.db with this run's Dynamics data. → (store, fresh org?)"""
        records = load_csv_dir(self.data_dir) if self.data_dir else None  # fail before touching the DB
        store = Store(self.home / "sandbox.db")
        source = f"data:{self.data_dir.resolve()}" if self.data_dir else f"seed:{self.seed}:{self.size}"
        fresh = self.reset or store.get_meta("org_id") is None or store.get_meta("source") != source
        if fresh:  # a new organisation with an empty Dotdigital account
            store.wipe()
            for key in ("org_id", "tenant_id", "client_id"):
                store.set_meta(key, str(uuid.uuid4()))
            store.set_meta("api_user", f"apiuser-{secrets.token_hex(6)}@apiconnector.com")
            store.set_meta("source", source)
        if records is not None:  # CSV data is the truth for Dynamics: reload it when it changed
            digest = _digest(records)
            if fresh or store.get_meta("data_digest") != digest:
                store.replace_records(records)
                store.set_meta("data_digest", digest)
            else:
                store.load_records()
        elif fresh:
            store.replace_records(generate(self.seed, self.size))
        else:
            store.load_records()
        return store, fresh

    def start(self, port: int = 0) -> SandboxInfo:
        if self._info:
            return self._info
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        store, fresh = self._open_world()
        self.store = store
        self.account = DotdigitalAccount(store, self._import_delay)
        if fresh:
            self.account.init_defaults()
        meta = {k: store.get_meta(k) or "" for k in ("org_id", "tenant_id", "client_id", "api_user")}
        client_secret = secrets.token_urlsafe(24)  # new each start, never persisted
        api_password = secrets.token_urlsafe(18)
        self.tokens = TokenService(meta["tenant_id"], meta["client_id"], client_secret)
        self.dataverse = DataverseApi(store, self.tokens, meta["org_id"])
        self.dotdigital = DotdigitalApi(self.account, meta["api_user"], api_password)
        app = _App(meta["tenant_id"])
        app.faults = self._faults
        self._faults.expire_tokens = self.tokens.expire_all
        self.account.on_import = self._faults.on_import
        for part in (self.tokens, self.dataverse, self.dotdigital):
            part.register(app.router)
        cert = self.home / "cert.pem"
        try:
            real_port = app.listen(make_server_context(cert), port)
        except OSError:
            store.close()
            raise
        self._app = app
        root = f"https://127.0.0.1:{real_port}"
        self.tokens.base_url = root
        self.tokens.audience = self.dataverse.base_url = root
        self.dotdigital.base_url = root + DD_PREFIX + DD_REGION
        self.account.start_worker()
        self._info = SandboxInfo(
            dataverse_url=root, authority=f"{root}/{meta['tenant_id']}",
            dotdigital_url=root + DD_PREFIX, ca_file=cert, tenant_id=meta["tenant_id"],
            client_id=meta["client_id"], client_secret=client_secret, api_user=meta["api_user"],
            api_password=api_password, org_id=meta["org_id"])
        return self._info

    def stop(self) -> None:
        if self._app:
            self._app.close()
            self._app = None
            self.account.stop_worker()
            self.store.close()
            self._info = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def info(self) -> SandboxInfo:
        if self._info is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        return self._info

    # ------------------------------------------------------------ test hooks
    @property
    def faults(self) -> Faults:
        return self._faults

    @property
    def import_delay(self) -> float:
        """Seconds an import stays NotFinished (set it high to simulate a stuck import)."""
        return self._import_delay

    @import_delay.setter
    def import_delay(self, seconds: float) -> None:
        self._import_delay = seconds
        if self._info:
            self.account.import_delay = seconds

    def fail_imports(self, status: str = "RejectedByWatchdog", times: int = 1) -> None:
        """The next ``times`` imports end as a whole with ``status`` (Failed, RejectedByWatchdog,
        ExceedsAllowedContactLimit) instead of being processed."""
        self.account.forced_outcomes.extend([status] * times)

    @property
    def request_log(self) -> list[tuple[str, str]]:
        return self._app.request_log if self._app else []

    @property
    def connections(self) -> int:
        """TCP connections accepted so far (keep-alive means far fewer than requests)."""
        return self._app.connections if self._app else 0

    def dotdigital_contacts(self) -> list[dict]:
        with self.account.lock:
            return [self.account.view(c) for _i, c in sorted(self.account.contacts.items())]

    def expire_tokens(self) -> None:
        self.tokens.expire_all()

    def records(self, entity: str) -> list[dict]:
        """A copy of every ``entity`` record, in primary key order (for tests)."""
        t = self.store.tables[_entity(entity)]
        return [dict(t.rows[i]) for i in list(t.ids)]

    def update_record(self, entity: str, id: str, **cols: Any) -> None:
        """Edit a Dynamics record as a user would (``modifiedon`` moves unless given).
        Lookups are set by their ``_x_value`` column; the target type is looked up."""
        ent = _entity(entity)
        rec = self.store.tables[ent].rows.get(id.lower())
        if rec is None:
            raise KeyError(f"no {ent} with id {id}")
        self.store.put_record(ent, self._with_lookups(ent, {**rec, "modifiedon": _now()}, cols))

    def insert_record(self, entity: str, **cols: Any) -> str:
        """Create a Dynamics record (active unless ``statecode`` is given). → its id."""
        ent = _entity(entity)
        pk = ENTITIES[ent].pk
        rid = str(cols.pop(pk, None) or uuid.uuid4()).lower()
        base = {pk: rid, "statecode": 0, "createdon": _now(), "modifiedon": _now()}
        self.store.put_record(ent, self._with_lookups(ent, base, cols))
        return rid

    def _with_lookups(self, ent: str, rec: dict, cols: dict) -> dict:
        meta = ENTITIES[ent]
        known = meta.selectable()
        for key, value in cols.items():
            if key not in known and "@" not in key:
                raise KeyError(f"{ent} has no column {key!r} (lookups are set as _<name>_value)")
            rec[key] = value
            attr = key[1:-6] if key.startswith("_") and key.endswith("_value") else ""
            targets = [t for a, t, _n, _s in meta.lookups if a == attr]
            if targets and f"{key}{LOOKUP_TYPE}" not in cols:
                rec.pop(f"{key}{LOOKUP_TYPE}", None)
                rec.pop(f"{key}{FORMATTED}", None)
                for t in targets:
                    other = self.store.tables[t].rows.get(str(value).lower()) if value else None
                    if other is not None:
                        rec[key] = str(value).lower()
                        rec[f"{key}{LOOKUP_TYPE}"] = t
                        rec[f"{key}{FORMATTED}"] = other.get("name") or other.get("fullname")
                        break
        return rec

    def delete_record(self, entity: str, id: str) -> None:
        if not self.store.delete_record(_entity(entity), id.lower()):
            raise KeyError(f"no {entity} with id {id}")

    def set_sms_status(self, email: str, status: str) -> None:
        self.account.set_sms_status(email, status)

    def set_dataverse_limit(self, requests: int | None, window_s: float = 300.0) -> None:
        """Dataverse service protection: past ``requests`` per sliding ``window_s`` seconds,
        answer 429 with Retry-After (``None`` turns it off, the default)."""
        self.dataverse.limit = (requests, window_s) if requests else None

    def suppress_email(self, email: str, reason: str = "HardBounced") -> None:
        """Suppress an email in Dotdigital: imports of it fail with GloballySuppressed."""
        self.account.suppress(email, reason)

    def approve_device_code(self, user_code: str | None = None) -> int:
        """The admin signs in at the device login page (``None``: every pending code)."""
        return self.tokens.decide_device_code(user_code, approve=True)

    def decline_device_code(self, user_code: str | None = None) -> int:
        return self.tokens.decide_device_code(user_code, approve=False)

    def register_certificate(self, cert_pem: bytes) -> str:
        """Upload an app certificate's public part; → the SHA-1 thumbprint (hex) to configure."""
        return self.tokens.register_certificate(cert_pem)


def _entity(name: str) -> str:
    from dynsync_tui.sandbox.metadata import BY_SET
    if name in ENTITIES:
        return name
    if name in BY_SET:
        return BY_SET[name].logical
    raise KeyError(f"unknown entity {name!r}")


def _now() -> str:
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _digest(records: dict[str, list[dict]]) -> str:
    import hashlib
    import json
    return hashlib.sha256(json.dumps(records, sort_keys=True, default=str).encode()).hexdigest()


def serve(home: Path, data_dir: Path | None, reset: bool, port: int = 0,
          faults: Path | None = None) -> int:
    """``dynsync sandbox``: run until Ctrl-C (``faults``: a TOML fault plan). Returns the exit code."""
    try:
        sb = Sandbox(home, data_dir=data_dir, reset=reset)
        if faults is not None:
            sb.faults.load_file(faults)
        info = sb.start(port)
    except (SandboxDataError, FaultPlanError) as exc:
        print(f"dynsync sandbox: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"dynsync sandbox: cannot start: {exc.strerror or exc}", file=sys.stderr)
        return 3
    print(f"""dynsync sandbox is running (data in {sb.home}).
  Dynamics environment URL : {info.dataverse_url}
  Tenant ID                : {info.tenant_id}
  Authority                : {info.authority}
  Client ID                : {info.client_id}
  Client secret            : {info.client_secret}
  Dotdigital API endpoint  : {info.dotdigital_url}
  Dotdigital API user      : {info.api_user}
  Dotdigital API password  : {info.api_password}
  Certificate to trust     : {info.ca_file}
  Organisation ID          : {info.org_id}
The secret and password are new each time the sandbox starts. Press Ctrl-C to stop.""", flush=True)
    def _term(*_a: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("\nstopping the sandbox", flush=True)
    finally:
        sb.stop()
    return 0
