"""The config model: one TOML file, read with tomllib, validated strictly, saved atomically.

Secrets never live here: the client secret and the Dotdigital API password come from the
environment (``DYNSYNC_CLIENT_SECRET``, ``DYNSYNC_DOTDIGITAL_PASSWORD``) or a prompt.
Every error names the file and the key, and says what would be right.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from dataclasses import MISSING, dataclass, fields
from dataclasses import field as _field
from pathlib import Path
from typing import Any

import tomli_w

from dynsync_tui.core.mappings import (
    DIRECTION_FROM_CRM,
    Mapping,
    MappingError,
    default_mappings,
    validate_mappings,
)

AUTH_MODES = ("client_secret", "certificate", "device_code", "interactive")
EMAIL_CHANGE_POLICIES = ("duplicate", "update", "skip")
CONSENT_MODES = ("none", "lists", "field")
SECRET_KEYS = {"client_secret", "password", "api_password", "secret", "token", "access_token"}


class ConfigError(ValueError):
    """A config problem, as one line that names the file, the key and the fix."""


@dataclass
class DynamicsSettings:
    environment_url: str = ""  # "" means the built-in sandbox
    tenant_id: str = ""
    client_id: str = ""
    auth: str = "client_secret"
    certificate_path: str = ""  # PEM private key or .pfx
    certificate_thumbprint: str = ""
    ca_file: str = ""  # an extra certificate to trust (a standalone sandbox)
    authority: str = ""  # "" = https://login.microsoftonline.com/<tenant_id>; a sandbox or sovereign cloud
    page_size: int = 5000
    include_inactive: bool = False
    activation_column: str = ""  # the list column that says "Activated for Email"


@dataclass
class DotdigitalSettings:
    api_user: str = ""
    endpoint: str = "https://r1-api.dotdigital.com"
    region_url: str = ""  # cached from account-info discovery
    ca_file: str = ""


@dataclass
class ValidationSettings:
    default_country: str | None = "GB"  # None means validation is off ("off" in TOML)
    record_country_field: str = ""  # e.g. "address1_country"; "" means not used


@dataclass
class ListSelection:
    dynamics_list_id: str
    name: str = ""
    dotdigital_list_id: int | None = None
    dotdigital_list_name: str = ""  # created in Dotdigital when no id is known yet


@dataclass
class ConsentSettings:
    mode: str = "none"  # none: every active record is in scope; lists; field
    field: str = ""  # boolean CRM column when mode == "field"
    lists: list[ListSelection] = _field(default_factory=list)


@dataclass
class SyncSettings:
    on_email_change: str = "duplicate"
    sync_mobile_changes: bool = False
    batch_size: int = 1000
    imports_in_flight: int = 2


@dataclass
class Config:
    dynamics: DynamicsSettings = _field(default_factory=DynamicsSettings)
    dotdigital: DotdigitalSettings = _field(default_factory=DotdigitalSettings)
    validation: ValidationSettings = _field(default_factory=ValidationSettings)
    mappings: list[Mapping] = _field(default_factory=default_mappings)
    consent: ConsentSettings = _field(default_factory=ConsentSettings)
    sync: SyncSettings = _field(default_factory=SyncSettings)
    source: str = "<defaults>"  # where it was read from, for error messages

    @property
    def is_sandbox(self) -> bool:
        return not self.dynamics.environment_url

    def mapped_entities(self) -> list[str]:
        seen: list[str] = []
        for m in self.mappings:
            if m.entity not in seen:
                seen.append(m.entity)
        return seen


# ---------------------------------------------------------------- reading


_TYPE_WORDS = {"str": (str, "a string"), "int": (int, "a whole number"), "bool": (bool, "true or false")}


def _check_type(value: Any, annotation: str, where: str, key: str, src: str) -> None:
    parts = [p.strip() for p in str(annotation).split("|")]
    if "None" in parts and value is None:
        return
    for part in parts:
        spec = _TYPE_WORDS.get(part)
        if spec is None:
            return  # a nested type, checked by its own reader
        typ, _ = spec
        if isinstance(value, typ) and not (typ is int and isinstance(value, bool)):
            return
    words = " or ".join(_TYPE_WORDS[p][1] for p in parts if p in _TYPE_WORDS)
    raise ConfigError(f"{src}: [{where}] {key} must be {words}, not {value!r}")


def _section(cls: type, data: Any, where: str, src: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{src}: [{where}] must be a table")
    known = {f.name: f for f in fields(cls)}
    for key, value in data.items():
        if key in SECRET_KEYS:
            raise ConfigError(
                f"{src}: [{where}] {key}: secrets don't belong in the config file; "
                "set DYNSYNC_CLIENT_SECRET / DYNSYNC_DOTDIGITAL_PASSWORD instead"
            )
        if key not in known:
            raise ConfigError(
                f"{src}: [{where}] unknown key '{key}' (known: {', '.join(sorted(known))})"
            )
        _check_type(value, known[key].type, where, key, src)
    for name, f in known.items():
        if f.default is MISSING and f.default_factory is MISSING and name not in data:
            raise ConfigError(f"{src}: [{where}] missing key '{name}'")
    return cls(**data)


def _choice(value: str, allowed: tuple[str, ...], where: str, src: str) -> None:
    if value not in allowed:
        raise ConfigError(f"{src}: {where} must be one of {', '.join(allowed)} (got {value!r})")


def from_dict(data: dict[str, Any], src: str = "<config>") -> Config:
    """Build a validated Config from parsed TOML. Raises ConfigError."""
    known = {"dynamics", "dotdigital", "validation", "mappings", "consent", "sync"}
    for key in data:
        if key not in known:
            raise ConfigError(f"{src}: unknown section '{key}' (known: {', '.join(sorted(known))})")
    cfg = Config(source=src)
    if "dynamics" in data:
        cfg.dynamics = _section(DynamicsSettings, data["dynamics"], "dynamics", src)
        _choice(cfg.dynamics.auth, AUTH_MODES, "[dynamics] auth", src)
        if not 1 <= cfg.dynamics.page_size <= 5000:
            raise ConfigError(f"{src}: [dynamics] page_size must be 1 to 5000")
        if cfg.dynamics.environment_url and not cfg.dynamics.environment_url.startswith("https://"):
            raise ConfigError(f"{src}: [dynamics] environment_url must start with https://")
        if cfg.dynamics.authority and not cfg.dynamics.authority.startswith("https://"):
            raise ConfigError(f"{src}: [dynamics] authority must start with https:// "
                              "(e.g. https://login.microsoftonline.com/<tenant id>)")
    if "dotdigital" in data:
        cfg.dotdigital = _section(DotdigitalSettings, data["dotdigital"], "dotdigital", src)
    if "validation" in data:
        cfg.validation = _section(ValidationSettings, data["validation"], "validation", src)
        code = (cfg.validation.default_country or "").strip()
        cfg.validation.default_country = None if code.lower() in ("off", "") else code.upper()
        _check_country(cfg.validation.default_country, src)
    if "mappings" in data:
        cfg.mappings = _mappings(data["mappings"], src)
    if "consent" in data:
        raw = data["consent"]
        if not isinstance(raw, dict):
            raise ConfigError(f"{src}: [consent] must be a table")
        lists_raw = raw.get("lists", [])
        rest = {k: v for k, v in raw.items() if k != "lists"}
        cfg.consent = _section(ConsentSettings, rest, "consent", src)
        if not isinstance(lists_raw, list):
            raise ConfigError(f"{src}: [[consent.lists]] must be an array of tables")
        cfg.consent.lists = [
            _section(ListSelection, item, f"consent.lists #{i + 1}", src)
            for i, item in enumerate(lists_raw)
        ]
        _choice(cfg.consent.mode, CONSENT_MODES, "[consent] mode", src)
        if cfg.consent.mode == "lists" and not cfg.consent.lists:
            raise ConfigError(f"{src}: [consent] mode = \"lists\" needs at least one [[consent.lists]]")
        if cfg.consent.mode == "field" and not cfg.consent.field:
            raise ConfigError(f"{src}: [consent] mode = \"field\" needs field = \"<boolean column>\"")
    if "sync" in data:
        cfg.sync = _section(SyncSettings, data["sync"], "sync", src)
        _choice(cfg.sync.on_email_change, EMAIL_CHANGE_POLICIES, "[sync] on_email_change", src)
        if not 1 <= cfg.sync.batch_size <= 5000:
            raise ConfigError(f"{src}: [sync] batch_size must be 1 to 5000")
        if not 1 <= cfg.sync.imports_in_flight <= 25:
            raise ConfigError(f"{src}: [sync] imports_in_flight must be 1 to 25")
    return cfg


def _check_country(code: str | None, src: str) -> None:
    if code is None:
        return
    from dynsync_tui.core.countries import is_known_region

    if not is_known_region(code):
        raise ConfigError(
            f"{src}: [validation] default_country {code!r} is not an ISO country code "
            "(use e.g. \"GB\", \"US\", or \"off\")"
        )


def _mappings(raw: Any, src: str) -> list[Mapping]:
    if not isinstance(raw, list):
        raise ConfigError(f"{src}: [[mappings]] must be an array of tables")
    out = [_section(Mapping, item, f"mappings #{i + 1}", src) for i, item in enumerate(raw)]
    try:
        validate_mappings(out)
    except MappingError as exc:
        raise ConfigError(f"{src}: {exc}") from None
    return out


def load(path: str | os.PathLike[str]) -> Config:
    """Read and validate a TOML config. A missing or broken file raises ConfigError."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such config file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return from_dict(data, str(p))


# ---------------------------------------------------------------- writing


def _clean(obj: Any) -> Any:
    """tomli-w can't write None: leave unset keys out."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return obj


def to_dict(cfg: Config) -> dict[str, Any]:
    def section(obj: Any) -> dict[str, Any]:
        return {f.name: getattr(obj, f.name) for f in fields(obj)}

    validation = section(cfg.validation)
    validation["default_country"] = cfg.validation.default_country or "off"
    consent = section(cfg.consent)
    consent["lists"] = [section(s) for s in cfg.consent.lists]
    data = {
        "dynamics": section(cfg.dynamics),
        "dotdigital": section(cfg.dotdigital),
        "validation": validation,
        "consent": consent,
        "sync": section(cfg.sync),
        "mappings": [m.to_dict() for m in cfg.mappings],
    }
    return _clean(data)


def dumps(cfg: Config) -> str:
    """The config as TOML, always in the same shape: sections in order, then consent lists and
    mappings as ``[[…]]`` tables (left to itself, tomli_w writes an array of short tables as
    one inline array, so the file changed shape as mappings came and went)."""
    data = to_dict(cfg)
    mappings = data.pop("mappings", [])
    chunks = []
    for name, section in data.items():
        lists = section.pop("lists", []) if name == "consent" else []
        chunks.append(tomli_w.dumps({name: section}))
        chunks += [f"[[{name}.lists]]\n" + tomli_w.dumps(item) for item in lists]
    chunks += ["[[mappings]]\n" + tomli_w.dumps(m) for m in mappings]
    return "\n".join(c.rstrip("\n") + "\n" for c in chunks)


def save(cfg: Config, path: str | os.PathLike[str]) -> None:
    """Write atomically: a temp file in the same folder, fsync, then rename. Mode 0600."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = dumps(cfg)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = [
    "Config", "ConfigError", "ConsentSettings", "DotdigitalSettings", "DynamicsSettings",
    "ListSelection", "Mapping", "SyncSettings", "ValidationSettings", "DIRECTION_FROM_CRM",
    "dumps", "from_dict", "load", "save", "to_dict",
]
