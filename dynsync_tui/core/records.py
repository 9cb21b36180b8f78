"""The shapes that flow between the rooms: a CRM record as read, the state from the last
sync, and the verdict core gives for the record. Plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ENTITY_PRIORITY = {"contact": 0, "lead": 1, "account": 2}
"""Tie-break order when two records compete for an email or a mobile: Contact, Lead, Account."""


@dataclass(frozen=True, slots=True)
class CrmRecord:
    """One Dynamics record, reduced to what the mappings ask for.

    ``fields`` maps a Dotdigital data label (e.g. ``FIRSTNAME``) to the CRM value, linked
    values included (``None`` when empty or when a lookup points nowhere / at another type).
    ``linked`` keeps the raw linked values by ``lookup.field`` for the preview's detail pane.
    """

    entity: str  # "contact" | "lead" | "account"
    id: str  # the primary key (GUID)
    email: str | None  # raw, as in Dynamics
    mobile: str | None  # raw, as in Dynamics
    modified: str = ""  # ISO-8601 modifiedon, "" when unknown
    name: str = ""  # display name for the preview
    country: str | None = None  # raw value of the record-country field, when configured
    fields: dict[str, Any] = field(default_factory=dict)
    linked: dict[str, Any] = field(default_factory=dict)
    lists: tuple[str, ...] = ()  # ids of the selected Dynamics lists this record belongs to
    consent: bool | None = None  # value of the consent field, when consent is by field


@dataclass(frozen=True, slots=True)
class PriorState:
    """What the state store remembers about a record from the last sync."""

    contact_id: int | None
    email: str | None  # normalised email last sent
    mobile: str | None  # E.164 last sent
    field_hash: str | None
    outcome: str | None = None  # created/updated/unchanged/skip/failed
    reason: str | None = None
    sms_opted_out: bool = False


@dataclass(slots=True)
class RecordVerdict:
    """What the sync will do with one record, and why.

    ``verdict`` is one of create/update/unchanged/skip. ``reason`` is a reason code: on a skip
    it is why; on create/update/unchanged it is an optional flag (e.g. ``email_changed`` on a
    create means "this creates a duplicate contact"; ``mobile_changed`` on an update means
    "the new mobile is not sent").
    """

    record: CrmRecord
    verdict: str
    reason: str | None = None
    email: str | None = None  # normalised email as it would be sent
    e164: str | None = None
    corrections: tuple[str, ...] = ()  # "before → after" lines
    match: str = "email"  # matchIdentifier: "email" | "contactId"
    contact_id: int | None = None
    payload: dict[str, Any] | None = None  # the exact v3 import item that would be sent
    field_hash: str | None = None
    prior: PriorState | None = None
    flags: tuple[str, ...] = ()  # every flag on a non-skip; ``reason`` holds the first

    @property
    def key(self) -> tuple[str, str]:
        return (self.record.entity, self.record.id)

    @property
    def correction(self) -> str:
        return "; ".join(self.corrections)
