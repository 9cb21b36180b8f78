"""Pre-flight checks against the Dataverse metadata, before anything is read or sent.

The config file can be valid TOML with valid rules and still not fit the environment: a mapping
to a column that does not exist, a mobile number taken from a date or a lookup, a consent list
that is static or not activated for email. Each problem is one :class:`PreflightError` line that
names the config file, the mapping or list, and the fix. ``check(config, dataverse)`` is called
by the CLI before a preview or a sync (and may be called by the engine or the TUI).
"""

from __future__ import annotations

from typing import Any

from dynsync_tui.core.config import Config, ConfigError
from dynsync_tui.core.mappings import Mapping

LOOKUP_TYPES = frozenset({"Lookup", "Customer", "Owner"})


class PreflightError(ConfigError):
    """The config does not fit the Dynamics environment (one line: where, what, the fix)."""


def _columns(dataverse: Any, entity: str, cache: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if entity not in cache:
        cache[entity] = {a.logical_name: a for a in dataverse.attributes(entity)}
    return cache[entity]


def _check_mapping(m: Mapping, where: str, dataverse: Any, cache: dict[str, dict[str, Any]]) -> None:
    attr = _columns(dataverse, m.entity, cache).get(m.field)
    if attr is None:
        raise PreflightError(f"{where}: {m.entity} has no readable field {m.field!r}; "
                             f"map {m.label} to an existing {m.entity} column")
    if m.is_linked:
        if attr.type not in LOOKUP_TYPES:
            raise PreflightError(f"{where}: {m.entity}.{m.field} is a {attr.type} field, not a lookup; "
                                 "remove linked_entity/linked_field or pick a lookup column")
        linked = _columns(dataverse, m.linked_entity, cache).get(m.linked_field)
        if linked is None:
            raise PreflightError(f"{where}: {m.linked_entity} has no readable field {m.linked_field!r}; "
                                 f"pick an existing {m.linked_entity} column")
        attr, name = linked, f"{m.linked_entity}.{m.linked_field}"
    elif attr.type in LOOKUP_TYPES and not (m.is_mobile or m.is_email):
        raise PreflightError(f"{where}: {m.entity}.{m.field} is a lookup ({attr.type}): its value is a "
                             "link, not text; choose a Linked CRM field on the record it points to "
                             "(linked_entity/linked_field)")
    else:
        name = f"{m.entity}.{m.field}"
    if (m.is_mobile or m.is_email) and not attr.is_text_like:
        what = "a mobile number" if m.is_mobile else "an email address"
        example = "mobilephone" if m.is_mobile else "emailaddress1"
        raise PreflightError(f"{where}: {name} is a {attr.type} field; {what} must come from a "
                             f"text field such as {example}")


def _check_lists(config: Config, dataverse: Any) -> None:
    consent = config.consent
    if consent.mode != "lists" or not consent.lists:
        return
    found = {lst.id.lower(): lst for lst in dataverse.lists(activation_column=config.dynamics.activation_column)}
    for i, sel in enumerate(consent.lists):
        label = f"{config.source}: [[consent.lists]] #{i + 1} ({sel.name or sel.dynamics_list_id})"
        lst = found.get(sel.dynamics_list_id.lower())
        if lst is None:
            raise PreflightError(f"{label}: no such active marketing list in Dynamics; "
                                 "pick another list or remove this one")
        if not lst.eligible:
            raise PreflightError(f"{label}: list {lst.name!r} cannot be synced: {lst.why} "
                                 "Pick another list or remove this one")
        if lst.member_type and lst.member_type not in config.mapped_entities():
            raise PreflightError(f"{label}: list {lst.name!r} holds {lst.member_type}s, which have no "
                                 f"[[mappings]]; map email and mobileNumber for {lst.member_type} or remove this list")


def _check_field(config: Config, dataverse: Any, cache: dict[str, dict[str, Any]], key: str,
                 column: str, wanted: str) -> None:
    """``column`` must exist on every mapped entity and be of the ``wanted`` kind ("text" or
    an attribute type such as "Boolean")."""
    for entity in config.mapped_entities():
        attr = _columns(dataverse, entity, cache).get(column)
        if attr is None:
            raise PreflightError(f"{config.source}: {key} {column!r}: {entity} has no such field; "
                                 f"pick an existing {entity} column")
        if (not attr.is_text_like) if wanted == "text" else attr.type != wanted:
            raise PreflightError(f"{config.source}: {key} {column!r}: {entity}.{column} is a {attr.type} "
                                 f"field; pick a {wanted} column")


def check(config: Config, dataverse: Any) -> None:
    """Raise PreflightError for the first mapping, field or consent list that does not fit."""
    cache: dict[str, dict[str, Any]] = {}
    for i, m in enumerate(config.mappings):
        _check_mapping(m, f"{config.source}: mappings #{i + 1} ({m.describe()})", dataverse, cache)
    if config.validation.record_country_field:
        _check_field(config, dataverse, cache, "[validation] record_country_field",
                     config.validation.record_country_field, "text")
    if config.consent.mode == "field":
        _check_field(config, dataverse, cache, "[consent] field", config.consent.field, "Boolean")
    _check_lists(config, dataverse)


__all__ = ["PreflightError", "check"]
