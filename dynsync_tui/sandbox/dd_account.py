"""The Dotdigital account behind the sandbox: contacts with unique email and mobile,
data fields, address books, and v3 imports processed by a background thread."""

from __future__ import annotations

import functools
import queue
import re
import threading
import time
import uuid
from typing import Any

import phonenumbers

from dynsync_tui.sandbox.store import Store

MAX_ACTIVE_IMPORTS = 25
MERGE_OPTIONS = ("overwrite", "overwriteIfNotEmpty", "overwriteIfEmpty")
MATCH_IDS = ("email", "mobileNumber", "contactId")
EMAIL_STATUSES = ("subscribed", "unsubscribed", "suppressed")
SMS_STATUSES = ("noSubscription", "subscribed", "unsubscribed", "suppressed")
DEFAULT_FIELDS = (("FIRSTNAME", "String"), ("LASTNAME", "String"), ("FULLNAME", "String"),
                  ("POSTCODE", "String"))
_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def norm_email(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    v = value.strip(" \t\r\n").lower()
    return v if len(v) <= 254 and _EMAIL_RE.match(v) else None


def norm_mobile(value: Any) -> tuple[str, str] | None:
    """E.164 in (with or without '+') → (digits, region), else None."""
    if not isinstance(value, str) or not re.fullmatch(r"\+?[1-9]\d{6,14}", value):
        return None
    return _e164(value.lstrip("+"))


@functools.lru_cache(maxsize=250_000)
def _e164(digits: str) -> tuple[str, str] | None:
    try:
        num = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(num)  # what is_valid_number does, once
    if not region or not phonenumbers.is_valid_number_for_region(num, region):
        return None
    return digits, region


class RowFailure(Exception):
    def __init__(self, code: str, description: str, contact_id: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.contact_id = code, description, contact_id


class DotdigitalAccount:
    def __init__(self, store: Store, import_delay: float = 0.2) -> None:
        self.store = store
        self.import_delay = import_delay
        self.sms_default = "subscribed"  # the account's "Mobile subscription" setting
        self.lock = threading.RLock()
        self.contacts: dict[int, dict] = {c["contactId"]: c for c in store.dd_load("contact")}
        self.by_email = {c["identifiers"]["email"]: i for i, c in self.contacts.items()
                         if c["identifiers"].get("email")}
        self.by_mobile = {c["identifiers"]["mobileNumber"]: i for i, c in self.contacts.items()
                          if c["identifiers"].get("mobileNumber")}
        self.fields = {f["name"]: f for f in store.dd_load("field")}
        self.books = {b["id"]: b for b in store.dd_load("book")}
        self.imports = {i["importId"]: i for i in store.dd_load("import")}
        self.suppressed = {r["email"]: r for r in store.dd_load("suppressed")}  # account-wide
        self.next_contact = max(self.contacts, default=815000) + 1
        self.forced_outcomes: list[str] = []  # next imports end like this (e.g. RejectedByWatchdog)
        self.on_import: Any = None  # called with each new import record before it is queued
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._stopping = threading.Event()

    def init_defaults(self) -> None:
        for name, typ in DEFAULT_FIELDS:
            self.add_field(name, typ)
        for name in ("Newsletter", "Dynamics – Marketing"):
            self.add_book(name)

    # ------------------------------------------------------------ fields and books
    def add_field(self, name: str, typ: str, visibility: str = "Private", default: Any = None) -> dict:
        f = {"name": name.upper(), "type": typ, "visibility": visibility, "defaultValue": default}
        with self.lock:
            self.fields[f["name"]] = f
            self.store.dd_save("field", [(f["name"], f)])
        return f

    def add_book(self, name: str, visibility: str = "Private") -> dict:
        with self.lock:
            bid = max(self.books, default=70010) + 1
            b = {"id": bid, "name": name, "visibility": visibility}
            self.books[bid] = b
            self.store.dd_save("book", [(bid, b)])
        return self.book_view(b)

    def book_view(self, b: dict) -> dict:
        with self.lock:
            n = sum(1 for c in self.contacts.values() if b["id"] in c["lists"])
        return {**b, "contacts": n}

    def remove_from_book(self, book_id: int, contact_ids: list[int]) -> int:
        changed = []
        with self.lock:
            for cid in contact_ids:
                c = self.contacts.get(cid)
                if c and book_id in c["lists"]:
                    c["lists"].remove(book_id)
                    c["updated"] = now_iso()
                    changed.append((cid, c))
            self.store.dd_save("contact", changed)
        return len(changed)

    # ------------------------------------------------------------ contacts
    def view(self, c: dict, *, fields: bool = True, channels: bool = True, lists: bool = True) -> dict:
        out = {k: c[k] for k in ("contactId", "status", "created", "updated")}
        out["identifiers"] = dict(c["identifiers"])
        if fields:
            out["dataFields"] = {name: c["dataFields"].get(name) for name in self.fields}
        if channels:
            out["channelProperties"] = {k: dict(v) for k, v in c["channelProperties"].items()}
        if lists:
            out["lists"] = [{"id": i, "name": self.books.get(i, {}).get("name", ""),
                             "status": "subscribed"} for i in c["lists"]]
        return out

    def suppress(self, email: str, reason: str = "Unsubscribed") -> None:
        """Suppress an email account-wide (an unsubscribe, a hard bounce...)."""
        key = email.strip().lower()
        row = {"email": key, "reason": reason, "dateRemoved": now_iso()}
        with self.lock:
            self.suppressed[key] = row
            cid = self.by_email.get(key)
            saves = []
            if cid is not None:
                c = self.contacts[cid]
                status = "unsubscribed" if reason == "Unsubscribed" else "suppressed"
                c["channelProperties"]["email"]["status"] = status
                c["status"] = _overall(c)
                c["updated"] = row["dateRemoved"]
                saves.append((cid, c))
            self.store.dd_save("suppressed", [(key, row)])
            self.store.dd_save("contact", saves)

    def suppressed_since(self, since: str) -> list[dict]:
        out = []
        for row in sorted(self.suppressed.values(), key=lambda r: r["dateRemoved"]):
            if row["dateRemoved"] >= since:
                cid = self.by_email.get(row["email"])
                out.append({"suppressedContact": {"id": cid, "email": row["email"], "optInType": "Single",
                                                  "emailType": "Html", "dataFields": [],
                                                  "status": row["reason"]},
                            "dateRemoved": row["dateRemoved"], "reason": row["reason"]})
        return out

    def set_sms_status(self, email: str, status: str) -> None:
        with self.lock:
            cid = self.by_email.get(email.strip().lower())
            if cid is None:
                raise KeyError(f"no Dotdigital contact with email {email!r}")
            c = self.contacts[cid]
            c["channelProperties"]["sms"]["status"] = status
            c["status"] = _overall(c)
            c["updated"] = now_iso()
            self.store.dd_save("contact", [(cid, c)])

    def upsert(self, item: Any, merge: str) -> tuple[str, dict]:
        """Apply one import item. → ("created" | "updated", contact) or raises RowFailure."""
        if not isinstance(item, dict) or not isinstance(item.get("identifiers", {}), dict):
            raise RowFailure("ApiSchemaViolation", "The contact is not a valid object.")
        match = item.get("matchIdentifier")
        ids = item.get("identifiers") or {}
        if match not in MATCH_IDS:
            raise RowFailure("InvalidMatchIdentifier", f"matchIdentifier {match!r} is not supported.")
        email = mobile = region = None
        if ids.get("email") not in (None, ""):
            email = norm_email(ids["email"])
            if email is None:
                raise RowFailure("InvalidEmail", "The email address is not valid.")
        if ids.get("mobileNumber") not in (None, ""):
            parsed = norm_mobile(ids["mobileNumber"])
            if parsed is None:
                raise RowFailure("InvalidPhoneNumber", "The mobile number is not a valid E.164 number.")
            mobile, region = parsed
        if email and email in self.suppressed:
            raise RowFailure("GloballySuppressed", "The email address is suppressed in this account.",
                             self.by_email.get(email))
        existing: int | None
        if match == "contactId":
            try:
                existing = int(ids.get("contactId"))
            except (TypeError, ValueError):
                existing = None
            if existing not in self.contacts:
                raise RowFailure("InvalidContactId", "No contact has this contactId.")
        else:
            key = email if match == "email" else mobile
            if key is None:
                raise RowFailure("NoValidIdentifiers", f"The {match} identifier is missing.")
            existing = (self.by_email if match == "email" else self.by_mobile).get(key)
        if existing is None and email is None and mobile is None:
            raise RowFailure("NoValidIdentifiers", "A contact needs an email or a mobile number.")
        for value, index, what in ((email, self.by_email, "email address"),
                                   (mobile, self.by_mobile, "mobile number")):
            owner = index.get(value) if value else None
            if owner is not None and owner != existing:
                raise RowFailure("Duplicate", f"The {what} belongs to another contact ({owner}).",
                                 existing)
        data = self._data_fields(item.get("dataFields"), existing)
        lists = item.get("lists") or []
        if not isinstance(lists, list) or any(i not in self.books for i in lists):
            raise RowFailure("InvalidAddressBookIds", f"Unknown list id in {lists!r}.", existing)
        chan = item.get("channelProperties") or {}
        email_status = (chan.get("email") or {}).get("status")
        sms_status = (chan.get("sms") or {}).get("status")
        if email_status is not None and email_status not in EMAIL_STATUSES:
            raise RowFailure("InvalidContactStatus", f"Email status {email_status!r} is not allowed.", existing)
        if sms_status is not None and sms_status not in SMS_STATUSES:
            raise RowFailure("InvalidContactStatus", f"SMS status {sms_status!r} is not allowed.", existing)
        stamp = now_iso()
        if existing is None:
            cid = self.next_contact
            self.next_contact += 1
            c = {"contactId": cid, "status": "", "created": stamp, "updated": stamp,
                 "identifiers": {}, "dataFields": {}, "lists": [],
                 "channelProperties": {
                     "email": {"emailType": "Html", "optInType": "Single",
                               "status": email_status or ("subscribed" if email else "noSubscription")},
                     "sms": {"countryCode": None,
                             "status": sms_status or (self.sms_default if mobile else "noSubscription")}}}
            self.contacts[cid] = c
            kind = "created"
        else:
            cid, c, kind = existing, self.contacts[existing], "updated"
            if email_status:
                c["channelProperties"]["email"]["status"] = email_status
            if sms_status:
                c["channelProperties"]["sms"]["status"] = sms_status
        if email and c["identifiers"].get("email") != email:
            self.by_email.pop(c["identifiers"].get("email"), None)
            self.by_email[email] = cid
            c["identifiers"]["email"] = email
        if mobile and c["identifiers"].get("mobileNumber") != mobile:
            self.by_mobile.pop(c["identifiers"].get("mobileNumber"), None)
            self.by_mobile[mobile] = cid
            c["identifiers"]["mobileNumber"] = mobile
            c["channelProperties"]["sms"]["countryCode"] = region
        _merge(c["dataFields"], data, merge)
        c["lists"].extend(i for i in lists if i not in c["lists"])
        c["status"] = _overall(c)
        c["updated"] = stamp
        return kind, c

    def _data_fields(self, raw: Any, existing: int | None) -> dict:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise RowFailure("ApiSchemaViolation", "dataFields must be an object.", existing)
        out = {}
        for key, value in raw.items():
            name = str(key).upper()
            if name not in self.fields:
                raise RowFailure("InvalidContact", f"Data field '{key}' does not exist.", existing)
            out[name] = value
        return out

    # ------------------------------------------------------------ imports
    def active_imports(self) -> int:
        return sum(1 for i in self.imports.values() if i["status"] == "NotFinished")

    def start_import(self, contacts: list, merge: str) -> str:
        iid = str(uuid.uuid4())
        rec = {"importId": iid, "status": "NotFinished", "_merge": merge, "_contacts": contacts,
               "_at": time.time()}
        if self.on_import is not None:  # fault injection: hold the import, fail some rows
            self.on_import(rec)
        with self.lock:
            self.imports[iid] = rec
            self.store.dd_save("import", [(iid, rec)])
        self._queue.put(iid)
        return iid

    def import_view(self, iid: str) -> dict | None:
        rec = self.imports.get(iid)
        if rec is None:
            return None
        return {k: v for k, v in rec.items() if not k.startswith("_")}

    def start_worker(self) -> None:
        for iid, rec in self.imports.items():  # imports accepted before a restart still finish
            if rec["status"] == "NotFinished":
                self._queue.put(iid)
        self._stopping.clear()
        self._worker = threading.Thread(target=self._run, name="sandbox-imports", daemon=True)
        self._worker.start()

    def stop_worker(self) -> None:
        if self._worker:  # unfinished imports stay NotFinished in the DB and resume next start
            self._stopping.set()
            self._queue.put(None)
            self._worker.join(timeout=5)
            self._worker = None

    def _run(self) -> None:
        while True:
            iid = self._queue.get()
            if iid is None or self._stopping.is_set():
                return
            rec = self.imports.get(iid)
            if rec is None or rec["status"] != "NotFinished":
                continue
            wait = rec["_at"] + self.import_delay - time.time()
            if wait > 0 and self._stopping.wait(wait):
                return
            try:
                if self.forced_outcomes:
                    with self.lock:
                        rec.update(status=self.forced_outcomes.pop(0))
                        rec.pop("_contacts", None)
                        self.store.dd_save("import", [(iid, rec)])
                    continue
                self._process(rec)
            except Exception as exc:  # keep the worker alive; the import is marked failed
                rec.update(status="Failed", description=f"{type(exc).__name__}: {exc}")
                self.store.dd_save("import", [(iid, rec)])

    def _process(self, rec: dict) -> None:
        created, updated, failures = [], [], []
        summary = {"newContacts": 0, "updatedContacts": 0, "globallySuppressed": 0,
                   "invalidEntries": 0, "duplicateIdentifiers": 0}
        touched: dict[int, dict] = {}
        forced = rec.get("_row_failures") or {}  # injected by a fault plan: index → code
        with self.lock:
            for n, item in enumerate(rec["_contacts"]):
                try:
                    if str(n) in forced:
                        raise RowFailure(forced[str(n)], "Injected row failure.")
                    kind, c = self.upsert(item, rec["_merge"])
                except RowFailure as f:
                    ids = dict(item.get("identifiers") or {}) if isinstance(item, dict) else {}
                    if isinstance(ids.get("mobileNumber"), str):
                        ids["mobileNumber"] = ids["mobileNumber"].lstrip("+")
                    entry = {"matchIdentifier": item.get("matchIdentifier") if isinstance(item, dict) else None,
                             "identifiers": ids,
                             "failures": [{"failureCode": f.code, "description": f.description}]}
                    if f.contact_id is not None:
                        entry["contactId"] = f.contact_id
                    failures.append(entry)
                    bucket = {"Duplicate": "duplicateIdentifiers", "GloballySuppressed": "globallySuppressed"}
                    summary[bucket.get(f.code, "invalidEntries")] += 1
                    continue
                touched[c["contactId"]] = c
                (created if kind == "created" else updated).append(
                    {"contactId": c["contactId"], "identifiers": dict(c["identifiers"])})
                summary["newContacts" if kind == "created" else "updatedContacts"] += 1
            # Contacts on disk before anyone can see the import finished: a process killed
            # in between reprocesses the import on restart (upserts: the same end state).
            self.store.dd_save("contact", touched.items())
            rec.update(status="Finished", summary=summary, created=created, updated=updated,
                       failures=failures)
            rec.pop("_contacts", None)
            self.store.dd_save("import", [(rec["importId"], rec)])


def _merge(target: dict, data: dict, merge: str) -> None:
    for name, value in data.items():
        empty = value is None or value == ""
        if merge == "overwriteIfNotEmpty" and empty:
            continue
        if merge == "overwriteIfEmpty" and target.get(name) not in (None, ""):
            continue
        if value is None:
            target.pop(name, None)
        else:
            target[name] = value


def _overall(c: dict) -> str:
    states = {c["channelProperties"]["email"]["status"], c["channelProperties"]["sms"]["status"]}
    if "subscribed" in states:
        return "subscribed"
    if "unsubscribed" in states:
        return "unsubscribed"
    return "noSubscription"
