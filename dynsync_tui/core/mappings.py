"""Email data mappings: Dotdigital data label ← mapped entity ← primary CRM field
(optionally → linked CRM field on a related entity). Direction: information flows from CRM.

Two labels are identifiers rather than data fields: ``email`` and ``mobileNumber``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

EMAIL_LABEL = "email"
MOBILE_LABEL = "mobileNumber"
IDENTIFIER_LABELS = (EMAIL_LABEL, MOBILE_LABEL)
ENTITIES = ("contact", "account", "lead")
DIRECTION_FROM_CRM = "from_crm"
DIRECTIONS = (DIRECTION_FROM_CRM, "to_crm", "both")
DIRECTION_TEXT = {DIRECTION_FROM_CRM: "Information flows from CRM",
                  "to_crm": "Information flows to CRM", "both": "Information flows both ways"}
_LABEL_RE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
_LOGICAL_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class MappingError(ValueError):
    """A mapping that breaks a rule, as one line naming the mapping and the fix."""


@dataclass
class Mapping:
    label: str  # Email data label: "email", "mobileNumber" or a Dotdigital data field name
    entity: str  # Mapped entity: contact | account | lead
    field: str  # Primary CRM field (logical name); a lookup when linked_field is set
    linked_entity: str = ""  # Linked CRM field: the related entity ...
    linked_field: str = ""  # ... and its field
    linked_nav: str = ""  # navigation property; resolved from metadata when empty
    direction: str = DIRECTION_FROM_CRM  # Mapping direction
    clear_when_empty: bool = False  # an empty CRM value clears the Dotdigital field

    @property
    def is_mobile(self) -> bool:
        return self.label == MOBILE_LABEL

    @property
    def is_email(self) -> bool:
        return self.label == EMAIL_LABEL

    @property
    def is_linked(self) -> bool:
        return bool(self.linked_field)

    @property
    def nav(self) -> str:
        """The $expand navigation property for a linked field."""
        if self.linked_nav:
            return self.linked_nav
        if self.field == "parentcustomerid" and self.linked_entity:
            return f"parentcustomerid_{self.linked_entity}"
        return self.field

    def describe(self) -> str:
        src = f"{self.entity}.{self.field}"
        if self.is_linked:
            src += f" → {self.linked_entity}.{self.linked_field}"
        return f"{self.label} ← {src}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: v for k, v in d.items() if v not in ("", None) and not (k == "clear_when_empty" and v is False)}


def check_mapping(m: Mapping, where: str = "mapping") -> None:
    """Raise MappingError for a mapping that breaks a rule."""
    if m.label not in IDENTIFIER_LABELS and not _LABEL_RE.match(m.label):
        raise MappingError(
            f"{where}: label {m.label!r}: Dotdigital data labels are 1-20 letters, digits, _ or -"
        )
    if m.entity not in ENTITIES:
        raise MappingError(f"{where}: entity {m.entity!r} must be one of {', '.join(ENTITIES)}")
    if not _LOGICAL_RE.match(m.field or ""):
        raise MappingError(f"{where}: field {m.field!r} must be a CRM logical name such as mobilephone")
    if bool(m.linked_entity) != bool(m.linked_field):
        raise MappingError(f"{where}: a linked field needs both linked_entity and linked_field")
    if m.linked_entity and m.linked_entity not in ENTITIES:
        raise MappingError(f"{where}: linked_entity {m.linked_entity!r} must be one of {', '.join(ENTITIES)}")
    if m.linked_field and not _LOGICAL_RE.match(m.linked_field):
        raise MappingError(f"{where}: linked_field {m.linked_field!r} must be a CRM logical name")
    if m.direction not in DIRECTIONS:
        raise MappingError(f"{where}: direction {m.direction!r} must be \"{DIRECTION_FROM_CRM}\"")
    if m.direction != DIRECTION_FROM_CRM:
        if m.is_mobile:
            raise MappingError(
                f"{where}: direction {m.direction!r}: mobile numbers flow one way only, "
                f"Dynamics → Dotdigital; set direction = \"{DIRECTION_FROM_CRM}\""
            )
        raise MappingError(
            f"{where}: direction {m.direction!r}: dynsync only syncs from CRM; "
            f"set direction = \"{DIRECTION_FROM_CRM}\""
        )


def validate_mappings(mappings: list[Mapping]) -> None:
    """Check each mapping and the set: one mapping per (label, entity); email and mobile
    mapped for every mapped entity (a record syncs only with both)."""
    seen: set[tuple[str, str]] = set()
    for i, m in enumerate(mappings):
        where = f"mappings #{i + 1} ({m.label})"
        check_mapping(m, where)
        if (m.label, m.entity) in seen:
            raise MappingError(f"{where}: {m.label} is mapped twice for {m.entity}; keep one")
        seen.add((m.label, m.entity))
    entities = {m.entity for m in mappings}
    if not entities:
        raise MappingError("mappings: none defined; map at least email and mobileNumber")
    for e in sorted(entities):
        for label in IDENTIFIER_LABELS:
            if (label, e) not in seen:
                raise MappingError(
                    f"mappings: {e} has no {label} mapping; a record syncs only with both "
                    "an email and a mobile number"
                )


def default_mappings() -> list[Mapping]:
    """With no TOML: mobile ← contact/lead mobilephone, email ← emailaddress1."""
    return [
        Mapping(EMAIL_LABEL, "contact", "emailaddress1"),
        Mapping(MOBILE_LABEL, "contact", "mobilephone"),
        Mapping(EMAIL_LABEL, "lead", "emailaddress1"),
        Mapping(MOBILE_LABEL, "lead", "mobilephone"),
    ]


def for_entity(mappings: list[Mapping], entity: str) -> list[Mapping]:
    return [m for m in mappings if m.entity == entity]
