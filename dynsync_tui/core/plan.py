"""The query plan: what to read from Dataverse for each mapped entity, and how a row read
that way becomes a :class:`CrmRecord`.

Pure: no I/O. The sync engine hands ``EntityPlan.select`` / ``expand`` / ``filter`` /
``orderby`` to ``DataverseClient.iter_pages`` and each row back to :func:`row_to_record`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from dynsync_tui.core.mappings import Mapping, MappingError, for_entity
from dynsync_tui.core.records import CrmRecord

if TYPE_CHECKING:  # pragma: no cover
    from dynsync_tui.core.config import Config


@dataclass(frozen=True, slots=True)
class EntityFacts:
    entity: str
    entity_set: str
    primary_key: str
    name_columns: tuple[str, ...]


ENTITY_FACTS: dict[str, EntityFacts] = {
    "contact": EntityFacts("contact", "contacts", "contactid", ("fullname", "firstname", "lastname")),
    "account": EntityFacts("account", "accounts", "accountid", ("name",)),
    "lead": EntityFacts("lead", "leads", "leadid", ("fullname", "firstname", "lastname")),
}
"""Standard Dataverse table facts (set name and primary key never follow a rule we guess)."""

LOOKUP_TYPE_ANNOTATION = "@Microsoft.Dynamics.CRM.lookuplogicalname"


class PlanError(MappingError):
    """A mapping the planner cannot read, as one line."""


def lookup_column(field_name: str) -> str:
    """The JSON column of a lookup's GUID: ``parentcustomerid`` → ``_parentcustomerid_value``."""
    return f"_{field_name}_value"


@dataclass(frozen=True)
class EntityPlan:
    entity: str
    entity_set: str
    primary_key: str
    select: tuple[str, ...]
    expand: dict[str, tuple[str, ...]]
    filter: str | None
    orderby: str
    mappings: tuple[Mapping, ...]
    name_columns: tuple[str, ...] = ()
    country_field: str = ""
    consent_field: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def query(self) -> dict[str, Any]:
        """Keyword arguments for ``DataverseClient.iter_pages(entity_set, **query)``."""
        return {
            "select": list(self.select),
            "expand": {nav: list(cols) for nav, cols in self.expand.items()},
            "filter": self.filter,
            "orderby": self.orderby,
        }


def _add(cols: list[str], col: str) -> None:
    if col and col not in cols:
        cols.append(col)


def entity_plan(config: Config, entity: str) -> EntityPlan:
    """The plan for one mapped entity of ``config``."""
    facts = ENTITY_FACTS.get(entity)
    if facts is None:
        raise PlanError(f"mappings: entity {entity!r} is not one dynsync can read "
                        f"(known: {', '.join(ENTITY_FACTS)})")
    maps = tuple(for_entity(config.mappings, entity))
    select: list[str] = [facts.primary_key]
    expand: dict[str, list[str]] = {}
    for m in maps:
        if m.is_linked:
            _add(select, lookup_column(m.field))
            cols = expand.setdefault(m.nav, [])
            _add(cols, m.linked_field)
        else:
            _add(select, m.field)
    _add(select, "modifiedon")
    for col in facts.name_columns:
        _add(select, col)
    _add(select, "statecode")
    country = config.validation.record_country_field
    _add(select, country)
    consent = config.consent.field if config.consent.mode == "field" else ""
    _add(select, consent)
    return EntityPlan(
        entity=entity,
        entity_set=facts.entity_set,
        primary_key=facts.primary_key,
        select=tuple(select),
        expand={nav: tuple(cols) for nav, cols in expand.items()},
        filter=None if config.dynamics.include_inactive else "statecode eq 0",
        orderby=facts.primary_key,
        mappings=maps,
        name_columns=facts.name_columns,
        country_field=country,
        consent_field=consent,
    )


def build_plan(config: Config) -> list[EntityPlan]:
    """One plan per mapped entity, in mapping order."""
    return [entity_plan(config, e) for e in config.mapped_entities()]


# ---------------------------------------------------------------- rows → records


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def linked_value(m: Mapping, row: dict[str, Any]) -> Any:
    """The value a linked mapping reads from the expanded object, or None when the lookup
    is empty or (polymorphic) points at another table."""
    kind = row.get(lookup_column(m.field) + LOOKUP_TYPE_ANNOTATION)
    if kind and m.linked_entity and kind != m.linked_entity:
        return None
    target = row.get(m.nav)
    if not isinstance(target, dict):
        return None
    return _clean(target.get(m.linked_field))


def mapping_value(m: Mapping, row: dict[str, Any]) -> Any:
    return linked_value(m, row) if m.is_linked else _clean(row.get(m.field))


def record_name(row: dict[str, Any]) -> str:
    for col in ("fullname", "name"):
        value = _clean(row.get(col))
        if isinstance(value, str):
            return value
    parts = [_clean(row.get(c)) for c in ("firstname", "lastname")]
    return " ".join(p for p in parts if isinstance(p, str))


def _as_bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "y"):
        return True
    if text in ("false", "no", "0", "n", ""):
        return False
    return None


def row_to_record(plan: EntityPlan, row: dict[str, Any], lists: Sequence[str] = ()) -> CrmRecord:
    """A Dataverse row (as read with ``plan``) reduced to a CrmRecord.

    ``fields`` is keyed by data label (identifiers excluded); ``linked`` keeps linked raw
    values keyed ``lookup.field``. ``lists`` are the selected list ids the record belongs to.
    """
    rid = row.get(plan.primary_key)
    if not rid:
        raise PlanError(f"{plan.entity_set}: a row has no {plan.primary_key}")
    email = mobile = None
    fields: dict[str, Any] = {}
    linked: dict[str, Any] = {}
    for m in plan.mappings:
        value = mapping_value(m, row)
        if m.is_linked:
            linked[f"{m.field}.{m.linked_field}"] = value
        if m.is_email:
            email = None if value is None else str(value)
        elif m.is_mobile:
            mobile = None if value is None else str(value)
        else:
            fields[m.label] = value
    country = _clean(row.get(plan.country_field)) if plan.country_field else None
    consent = _as_bool(row.get(plan.consent_field)) if plan.consent_field else None
    return CrmRecord(
        entity=plan.entity,
        id=str(rid),
        email=email,
        mobile=mobile,
        modified=str(row.get("modifiedon") or ""),
        name=record_name(row),
        country=None if country is None else str(country),
        fields=fields,
        linked=linked,
        lists=tuple(lists),
        consent=consent,
    )


# ---------------------------------------------------------------- batching

T = TypeVar("T")


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive chunks of at most ``size`` items (the last may be shorter)."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


__all__ = [
    "ENTITY_FACTS", "EntityFacts", "EntityPlan", "PlanError", "batches", "build_plan",
    "entity_plan", "linked_value", "lookup_column", "mapping_value", "record_name", "row_to_record",
]
