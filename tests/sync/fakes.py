"""Small fakes of the connectors and of the verdict engine, for the engine's unit tests."""

from __future__ import annotations

import hashlib
import itertools
import json
import types
from dataclasses import dataclass, field
from typing import Any

from dynsync_tui.core.records import RecordVerdict


class FakeDataverse:
    def __init__(self, rows: dict[str, list[dict[str, Any]]], page_size: int = 3,
                 lists: list[Any] | None = None, members: dict[str, set[str]] | None = None) -> None:
        self.rows = rows
        self.page_size = page_size
        self._lists = lists or []
        self._members = members or {}
        self.requests = 0
        self.queries: list[tuple[str, dict[str, Any]]] = []

    def iter_pages(self, entity_set, *, select, expand=None, filter=None, orderby=None):
        self.queries.append((entity_set, {"select": select, "expand": expand, "filter": filter}))
        rows = self.rows.get(entity_set, [])
        for i in range(0, max(1, len(rows)), self.page_size):
            self.requests += 1
            yield [dict(r) for r in rows[i:i + self.page_size]]

    def lists(self, activation_column=""):
        self.requests += 1
        return self._lists

    def list_member_ids(self, lst):
        self.requests += 1
        return set(self._members.get(lst.id, set()))


class Boom(Exception):
    def __init__(self, status: int, code: str = "") -> None:
        super().__init__(f"{status} {code}")
        self.status, self.code = status, code


@dataclass
class FakeDotdigital:
    """Upserts by email; rows whose email is in ``reject`` fail with ``reject[email]``.
    An import reports NotFinished for its first ``slow`` status calls."""

    reject: dict[str, str] = field(default_factory=dict)
    slow: int = 0
    busy_once: bool = False
    fields: list[str] = field(default_factory=lambda: ["FIRSTNAME"])
    books: list[dict[str, Any]] = field(default_factory=list)
    people: dict[str, dict[str, Any]] = field(default_factory=dict)  # by email
    imports: dict[str, dict[str, Any]] = field(default_factory=dict)
    sent: list[list[dict[str, Any]]] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    calls: int = 0
    polls: dict[str, int] = field(default_factory=dict)
    max_active: int = 0
    _ids: Any = field(default_factory=lambda: itertools.count(1000))

    def data_fields(self):
        self.calls += 1
        return [{"name": n, "type": "String"} for n in self.fields]

    def create_data_field(self, name, type="String"):
        self.calls += 1
        self.fields.append(name)

    def address_books(self):
        self.calls += 1
        return list(self.books)

    def create_address_book(self, name):
        self.calls += 1
        book = {"id": 70000 + len(self.books), "name": name}
        self.books.append(book)
        return book

    def contacts(self, list_id=None, limit=1000, include=None, modified_since=None):
        self.calls += 1
        for c in self.people.values():
            if list_id is None or list_id in c.get("lists", []):
                item = {"contactId": c["contactId"], "identifiers": c["identifiers"]}
                if include and "sms" in c:
                    item["channelProperties"] = {"sms": {"status": c["sms"]}}
                yield item

    def remove_from_address_book(self, list_id, ids):
        self.calls += 1
        self.removed.extend(ids)
        for c in self.people.values():
            if c["contactId"] in ids and list_id in c.get("lists", []):
                c["lists"] = [x for x in c["lists"] if x != list_id]
        return len(ids)

    def active(self) -> int:
        return sum(1 for d in self.imports.values() if d["status"] == "NotFinished")

    def start_import(self, contacts):
        self.calls += 1
        if self.busy_once:
            self.busy_once = False
            raise Boom(429, "contacts:tooManyActiveImports")
        iid = f"imp-{len(self.imports) + 1}"
        self.sent.append(json.loads(json.dumps(contacts)))
        doc = {"importId": iid, "status": "NotFinished", "created": [], "updated": [], "failures": []}
        for c in contacts:
            ids = c["identifiers"]
            email = ids.get("email")
            if email in self.reject:
                doc["failures"].append({"matchIdentifier": "email", "identifiers": ids,
                                        "failures": [{"failureCode": self.reject[email]}]})
                continue
            if email in self.people:
                self.people[email].update(c)
                doc["updated"].append({"contactId": self.people[email]["contactId"], "identifiers": ids})
            else:
                cid = next(self._ids)
                self.people[email] = dict(c, contactId=cid)
                doc["created"].append({"contactId": cid, "identifiers": ids})
        self.imports[iid] = doc
        self.polls[iid] = 0
        self.max_active = max(self.max_active, self.active())
        return iid

    def import_status(self, iid):
        self.calls += 1
        self.polls[iid] += 1
        doc = self.imports[iid]
        if self.polls[iid] > self.slow:
            doc["status"] = "Finished"
        return dict(doc) if doc["status"] == "Finished" else {"importId": iid, "status": "NotFinished"}


def _hash(rec) -> str:
    return hashlib.sha256(json.dumps([rec.email, rec.mobile, rec.fields], sort_keys=True,
                                     default=str).encode()).hexdigest()[:16]


def fake_classify(records, prior, settings, processes=1):
    """Just enough of core.verdicts: both identifiers or skip; same hash → unchanged."""
    out = []
    for r in records:
        p = prior.get((r.entity, r.id))
        if not r.email:
            out.append(RecordVerdict(r, "skip", "no_email", prior=p))
            continue
        if not r.mobile:
            out.append(RecordVerdict(r, "skip", "no_mobile", prior=p))
            continue
        h = _hash(r)
        email = r.email.strip().lower()
        if p and p.field_hash == h and not settings:
            out.append(RecordVerdict(r, "unchanged", email=email, e164=r.mobile, field_hash=h, prior=p))
            continue
        verdict = "update" if p and p.contact_id else "create"
        ids = {"email": email} if verdict == "update" else {"email": email, "mobileNumber": r.mobile}
        payload = {"matchIdentifier": "email", "identifiers": ids,
                   "dataFields": {k: v for k, v in r.fields.items() if v is not None}}
        out.append(RecordVerdict(r, verdict, email=email, e164=r.mobile, payload=payload,
                                 field_hash=h, contact_id=p.contact_id if p else None, prior=p))
    return out


def fake_verdicts_module():
    class Settings:
        @staticmethod
        def from_config(cfg, full=False, synced_emails=()):
            return full

    def summarize(verdicts):
        counts: dict[str, int] = {}
        for v in verdicts:
            key = v.reason if v.verdict == "skip" else v.verdict
            counts[key] = counts.get(key, 0) + 1
        return types.SimpleNamespace(total=len(verdicts), counts=counts)

    return types.SimpleNamespace(VerdictSettings=Settings, classify=fake_classify,
                                 summarize=summarize, PHONENUMBERS_VERSION="test")


def contact_rows(n: int, *, start: int = 0, no_mobile: tuple[int, ...] = ()) -> list[dict[str, Any]]:
    return [{"contactid": f"c-{i:04d}", "emailaddress1": f"person{i}@example.org",
             "mobilephone": None if i in no_mobile else f"+4477009{i:05d}",
             "firstname": f"P{i}", "lastname": "Lee", "statecode": 0,
             "modifiedon": "2026-01-01T00:00:00Z"} for i in range(start, start + n)]
