"""Load sandbox Dynamics data from CSV files (see the README, 'sandbox CSV files').

``load_csv_dir(dir) -> {entity: [record]}``; any problem raises ``SandboxDataError`` with
one line naming the file, the line and the fix.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from pathlib import Path
from typing import Any

from dynsync_tui.sandbox.metadata import ENTITIES, LOOKUP_TYPES
from dynsync_tui.sandbox.seed import LOOKUP_TYPE

FILES = {"account": "accounts.csv", "contact": "contacts.csv", "lead": "leads.csv",
         "list": "lists.csv", "listmember": "listmembers.csv"}
REQUIRED = {"contact": ("emailaddress1", "mobilephone"), "lead": ("emailaddress1", "mobilephone"),
            "account": ("name",), "list": ("listname", "createdfromcode"),
            "listmember": ("listid", "entityid")}
_GUID = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")
_NS = uuid.UUID("5b7c8f4e-2f7a-4c1e-9d51-8a1b0c3d2e4f")
_CODES = {"1": 1, "account": 1, "2": 2, "contact": 2, "4": 4, "lead": 4}
_BOOLS = {"true": True, "yes": True, "1": True, "y": True, "false": False, "no": False, "0": False, "n": False}
_TYPES = {"static": False, "dynamic": True, **_BOOLS}


EXCEL_HIDDEN = "(do not modify)"
"""Prefix of the hidden columns of a Dynamics "Export to Excel" sheet."""


class SandboxDataError(ValueError):
    """Bad sandbox CSV data: one line naming the file, the line and the fix."""


def as_guid(value: str, entity: str) -> str:
    """A GUID as is (lower-case); any other id becomes a stable GUID derived from it."""
    v = value.strip()
    if _GUID.match(v):
        return v.strip("{}").lower()
    return str(uuid.uuid5(_NS, f"{entity}:{v}"))


def _columns(entity: str) -> dict[str, tuple[str, str]]:
    """Accepted header (lower-case logical or display name) → (logical name, type)."""
    out: dict[str, tuple[str, str]] = {}
    for name, disp, typ, _of, _r in ENTITIES[entity].columns:
        out.setdefault(disp.lower(), (name, typ))
    for name, _disp, typ, _of, _r in ENTITIES[entity].columns:
        out[name] = (name, typ)
    out["entitytype"] = ("entitytype", "EntityName")
    return out


def _read(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SandboxDataError(
            f"{path}: line {line}: not UTF-8 text; save the file as 'CSV UTF-8'") from None
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise SandboxDataError(f"{path}: malformed CSV ({exc}); check the quoting") from None


def _convert(value: str, typ: str, where: str, col: str) -> Any:
    v = value.strip()
    if v == "":
        return None
    if typ == "Boolean":
        if v.lower() not in _BOOLS:
            raise SandboxDataError(f"{where}: {col} must be true or false, not {value!r}")
        return _BOOLS[v.lower()]
    if typ in ("Integer", "State", "Status", "BigInt"):
        try:
            return int(float(v))
        except ValueError:
            raise SandboxDataError(f"{where}: {col} must be a whole number, not {value!r}") from None
    if typ in ("Money", "Decimal", "Double"):
        try:
            return float(v)
        except ValueError:
            raise SandboxDataError(f"{where}: {col} must be a number, not {value!r}") from None
    if typ == "DateTime":
        if not re.match(r"^\d{4}-\d{2}-\d{2}", v):
            raise SandboxDataError(f"{where}: {col} must be an ISO date like 2025-05-02T08:14:55Z, not {value!r}")
        return v if "T" in v else v + "T00:00:00Z"
    return value  # strings keep their mess (spaces, NBSP): the sandbox is for rehearsing


def _load_file(entity: str, path: Path) -> list[tuple[int, dict]]:
    rows = _read(path)
    if not rows:
        return []
    accepted = _columns(entity)
    pk = ENTITIES[entity].pk
    header = []
    for i, h in enumerate(rows[0]):
        key = h.strip().lower()
        if key.startswith(EXCEL_HIDDEN):  # Export to Excel: keep the record id, skip the bookkeeping
            key = key[len(EXCEL_HIDDEN):].strip()
            if accepted.get(key, ("",))[0] != pk:
                header.append(("", ""))
                continue
        if key not in accepted:
            raise SandboxDataError(
                f"{path}: line 1: unknown column {h.strip()!r}; use logical names such as "
                f"{', '.join(REQUIRED[entity])} (see the README, 'sandbox CSV files') or remove the column")
        header.append(accepted[key])
    names = [n for n, _t in header]
    for need in REQUIRED[entity]:
        if need not in names:
            raise SandboxDataError(f"{path}: line 1: missing required column {need!r}; add it to the header row")
    out = []
    for lineno, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise SandboxDataError(
                f"{path}: line {lineno}: {len(row)} values for {len(header)} columns; check commas and quotes")
        where = f"{path}: line {lineno}"
        rec: dict[str, Any] = {}
        for (name, typ), value in zip(header, row):
            if not name:
                continue
            if typ in LOOKUP_TYPES:
                rec[f"_{name}_value"] = value.strip() or None
            elif name == pk or (entity == "list" and name in ("type", "createdfromcode")):
                rec[name] = value.strip() or None  # ids and list codes are converted later
            else:
                rec[name] = _convert(value, typ, where, name)
        rec[pk] = as_guid(rec.get(pk) or f"{path.name}:{lineno}", entity)
        out.append((lineno, rec))
    return out


def load_csv_dir(data_dir: Path) -> dict[str, list[dict]]:
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise SandboxDataError(f"{data_dir}: no such folder; give a folder holding contacts.csv etc.")
    raw = {e: _load_file(e, data_dir / f) if (data_dir / f).is_file() else [] for e, f in FILES.items()}
    if not any(raw.values()):
        raise SandboxDataError(f"{data_dir}: no data; add contacts.csv, leads.csv, accounts.csv, "
                               "lists.csv or listmembers.csv")
    owner = {}
    for entity in ("account", "contact", "lead", "list"):
        for lineno, rec in raw[entity]:
            rid = rec[ENTITIES[entity].pk]
            if (entity, rid) in owner:
                raise SandboxDataError(
                    f"{data_dir / FILES[entity]}: line {lineno}: duplicate id {rid}; ids must be unique")
            owner[(entity, rid)] = rec
    for entity in ("account", "contact", "lead"):
        for lineno, rec in raw[entity]:
            _link_lookups(entity, rec, owner, f"{data_dir / FILES[entity]}: line {lineno}")
    lists = {rec["listid"]: rec for _l, rec in raw["list"]}
    for lineno, rec in raw["list"]:
        code = _CODES.get(str(rec.get("createdfromcode") or "").lower())
        if code is None:
            raise SandboxDataError(f"{data_dir / 'lists.csv'}: line {lineno}: createdfromcode must be "
                                   "1 (account), 2 (contact) or 4 (lead)")
        rec["createdfromcode"] = code
        kind = str(rec.get("type") or "static").lower()
        if kind not in _TYPES:
            raise SandboxDataError(f"{data_dir / 'lists.csv'}: line {lineno}: type must be "
                                   "static or dynamic (or false/true)")
        rec["type"] = _TYPES[kind]
        rec.setdefault("statecode", 0)
        rec["statecode"] = rec["statecode"] or 0
    kinds = {1: "account", 2: "contact", 4: "lead"}
    for lineno, rec in raw["listmember"]:
        where = f"{data_dir / 'listmembers.csv'}: line {lineno}"
        lid = as_guid(rec.get("_listid_value") or "", "list")
        lst = lists.get(lid)
        if lst is None:
            raise SandboxDataError(f"{where}: listid {rec.get('_listid_value')!r} is not in lists.csv")
        kind = kinds[lst["createdfromcode"]]
        rec["_listid_value"], rec["entitytype"] = lid, kind
        rec["_entityid_value"] = as_guid(rec.get("_entityid_value") or "", kind)
        if (kind, rec["_entityid_value"]) not in owner:
            raise SandboxDataError(f"{where}: entityid is not a {kind} in {FILES[kind]}")
    for lst in lists.values():
        if lst.get("membercount") is None and not lst["type"]:
            lst["membercount"] = sum(1 for _l, m in raw["listmember"] if m["_listid_value"] == lst["listid"])
    for _l, rec in raw["contact"] + raw["lead"]:
        if rec.get("fullname") is None:
            rec["fullname"] = " ".join(p for p in (rec.get("firstname"), rec.get("lastname")) if p) or None
    for entity in ("account", "contact", "lead"):
        for _l, rec in raw[entity]:
            rec.setdefault("statecode", 0)
            if rec["statecode"] is None:
                rec["statecode"] = 0
    return {e: [rec for _l, rec in rows] for e, rows in raw.items()}


def _link_lookups(entity: str, rec: dict, owner: dict, where: str) -> None:
    ent = ENTITIES[entity]
    for attr in {a for a, _t, _n, _s in ent.lookups}:
        key = f"_{attr}_value"
        value = rec.get(key)
        if not value:
            rec[key] = None
            continue
        targets = [t for a, t, _n, _s in ent.lookups if a == attr]
        hint = (rec.pop(f"{attr}type", None) or "").strip().lower()
        if hint:
            targets = [t for t in targets if t == hint] or targets
        for target in targets:
            rid = as_guid(value, target)
            if (target, rid) in owner:
                rec[key] = rid
                rec[key + LOOKUP_TYPE] = target
                other = owner[(target, rid)]
                rec[key + "@OData.Community.Display.V1.FormattedValue"] = (
                    other.get("name") or other.get("fullname"))
                break
        else:
            raise SandboxDataError(f"{where}: {attr} {value!r} is not a {' or '.join(targets)} in the data; "
                                   "fix the id or leave the cell empty")
    rec.pop("parentcustomeridtype", None)
