"""Entity metadata the sandbox serves: tables, columns and many-to-one relationships.

Column tuples: (logical name, display name, AttributeType, AttributeOf, IsValidForRead).
Lookup columns are stored on records as ``_<name>_value`` like the Web API returns them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

LOOKUP_TYPES = ("Lookup", "Customer", "Owner")


@dataclass(frozen=True)
class Entity:
    logical: str
    entity_set: str
    pk: str
    primary_name: str
    display: str
    columns: tuple[tuple[str, str, str, str | None, bool], ...]
    # (referencing attribute, referenced entity, navigation property, relationship schema name)
    lookups: tuple[tuple[str, str, str, str], ...] = ()

    def column_types(self) -> dict[str, str]:
        return {c[0]: c[2] for c in self.columns}

    def selectable(self) -> dict[str, str]:
        """Names usable in $select/$filter → the key the record stores them under."""
        out: dict[str, str] = {}
        for name, _disp, typ, _of, readable in self.columns:
            if not readable or typ in ("Virtual", "EntityName", "PartyList"):
                continue
            key = f"_{name}_value" if typ in LOOKUP_TYPES else name
            out[key] = key
        return out

    def navs(self) -> dict[str, tuple[str, str]]:
        """navigation property → (lookup attribute, target entity)."""
        return {nav: (attr, target) for attr, target, nav, _s in self.lookups}


def _c(name: str, disp: str, typ: str = "String", of: str | None = None, read: bool = True):
    return (name, disp, typ, of, read)


def _lookup(name: str, disp: str, typ: str = "Lookup"):
    return (_c(name, disp, typ), _c(f"{name}name", disp, "String", name))


_COMMON_PERSON = (
    _c("firstname", "First Name"), _c("lastname", "Last Name"), _c("fullname", "Full Name"),
    _c("emailaddress1", "Email"), _c("emailaddress2", "Email Address 2"),
    _c("mobilephone", "Mobile Phone"), _c("telephone1", "Business Phone"),
    _c("telephone2", "Home Phone"), _c("jobtitle", "Job Title"),
    _c("address1_line1", "Address 1: Street 1"), _c("address1_city", "Address 1: City"),
    _c("address1_postalcode", "Address 1: ZIP/Postal Code"),
    _c("address1_country", "Address 1: Country/Region"),
    _c("donotbulkemail", "Do not allow Bulk Emails", "Boolean"),
    _c("donotemail", "Do not allow Emails", "Boolean"),
    _c("donotphone", "Do not allow Phone Calls", "Boolean"),
    _c("statecode", "Status", "State"), _c("statuscode", "Status Reason", "Status"),
    _c("createdon", "Created On", "DateTime"), _c("modifiedon", "Modified On", "DateTime"),
    _c("entityimage", "Entity Image", "Virtual"),
    *_lookup("ownerid", "Owner", "Owner"),
    _c("versionnumber", "Version Number", "BigInt"),
)

ENTITIES: dict[str, Entity] = {
    "contact": Entity(
        "contact", "contacts", "contactid", "fullname", "Contact",
        (
            _c("contactid", "Contact", "Uniqueidentifier"), *_COMMON_PERSON,
            *_lookup("parentcustomerid", "Company Name", "Customer"),
            _c("parentcustomeridtype", "Parent Customer Type", "EntityName", "parentcustomerid"),
            _c("gendercode", "Gender", "Picklist"), _c("birthdate", "Birthday", "DateTime"),
            _c("creditlimit", "Credit Limit", "Money"),
            _c("yomifullname", "Yomi Full Name", "String", "fullname"),
        ),
        (
            ("parentcustomerid", "account", "parentcustomerid_account", "contact_customer_accounts"),
            ("parentcustomerid", "contact", "parentcustomerid_contact", "contact_customer_contacts"),
        ),
    ),
    "account": Entity(
        "account", "accounts", "accountid", "name", "Account",
        (
            _c("accountid", "Account", "Uniqueidentifier"), _c("name", "Account Name"),
            _c("accountnumber", "Account Number"), _c("emailaddress1", "Email"),
            _c("telephone1", "Main Phone"), _c("telephone2", "Other Phone"),
            _c("address1_line1", "Address 1: Street 1"), _c("address1_city", "Address 1: City"),
            _c("address1_postalcode", "Address 1: ZIP/Postal Code"),
            _c("address1_country", "Address 1: Country/Region"),
            _c("donotbulkemail", "Do not allow Bulk Emails", "Boolean"),
            _c("numberofemployees", "Number of Employees", "Integer"),
            _c("revenue", "Annual Revenue", "Money"),
            _c("statecode", "Status", "State"), _c("statuscode", "Status Reason", "Status"),
            _c("createdon", "Created On", "DateTime"), _c("modifiedon", "Modified On", "DateTime"),
            _c("entityimage", "Entity Image", "Virtual"),
            *_lookup("primarycontactid", "Primary Contact"),
            *_lookup("ownerid", "Owner", "Owner"),
        ),
        (("primarycontactid", "contact", "primarycontactid", "account_primary_contact"),),
    ),
    "lead": Entity(
        "lead", "leads", "leadid", "fullname", "Lead",
        (
            _c("leadid", "Lead", "Uniqueidentifier"), *_COMMON_PERSON,
            _c("companyname", "Company Name"), _c("subject", "Topic"),
            *_lookup("parentaccountid", "Parent Account for lead"),
            *_lookup("parentcontactid", "Parent Contact for lead"),
        ),
        (
            ("parentaccountid", "account", "parentaccountid", "account_originating_lead"),
            ("parentcontactid", "contact", "parentcontactid", "contact_originating_lead"),
        ),
    ),
    "list": Entity(
        "list", "lists", "listid", "listname", "Marketing List",
        (
            _c("listid", "List", "Uniqueidentifier"), _c("listname", "Name"),
            _c("type", "Type", "Boolean"), _c("createdfromcode", "Targeted At", "Picklist"),
            _c("membercount", "Members Count", "Integer"), _c("statecode", "Status", "State"),
            _c("statuscode", "Status Reason", "Status"), _c("lockstatus", "Locked", "Boolean"),
            _c("purpose", "Purpose", "Memo"), _c("query", "Query", "Memo"),
            _c("modifiedon", "Modified On", "DateTime"), _c("createdon", "Created On", "DateTime"),
            _c("esc_activatedforemail", "Activated for Email", "Boolean"),
            _c("esc_lastsyncedon", "Last Synced with Dotdigital", "DateTime"),
            _c("esc_syncinprogress", "Sync in Progress", "Boolean"),
        ),
    ),
    "listmember": Entity(
        "listmember", "listmembers", "listmemberid", "listmemberid", "Marketing List Member",
        (
            _c("listmemberid", "List Member", "Uniqueidentifier"),
            *_lookup("listid", "List"), *_lookup("entityid", "Member", "Lookup"),
            _c("entitytype", "Member Type", "EntityName", "entityid"),
            _c("modifiedon", "Modified On", "DateTime"),
        ),
        (("listid", "list", "listid", "listmember_list"),),
    ),
}

BY_SET = {e.entity_set: e for e in ENTITIES.values()}
LIST_NAVS = {
    "listcontact_association": "contact",
    "listaccount_association": "account",
    "listlead_association": "lead",
}
MEMBER_CODES = {1: "account", 2: "contact", 4: "lead"}


def _meta_id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "dynsync-sandbox:" + ":".join(parts)))


def _label(text: str) -> dict:
    lab = {"Label": text, "LanguageCode": 1033}
    return {"UserLocalizedLabel": lab, "LocalizedLabels": [lab]}


def entity_definition(ent: Entity) -> dict:
    return {
        "LogicalName": ent.logical, "EntitySetName": ent.entity_set,
        "PrimaryIdAttribute": ent.pk, "PrimaryNameAttribute": ent.primary_name,
        "DisplayName": _label(ent.display), "ChangeTrackingEnabled": True,
        "IsCustomEntity": False, "MetadataId": _meta_id(ent.logical),
    }


def attribute_definitions(ent: Entity) -> list[dict]:
    out = []
    for name, disp, typ, of, read in ent.columns:
        item = {
            "@odata.type": f"#Microsoft.Dynamics.CRM.{_meta_type(typ)}AttributeMetadata",
            "LogicalName": name, "SchemaName": _schema(name), "AttributeType": typ,
            "AttributeTypeName": {"Value": f"{typ}Type"}, "DisplayName": _label(disp),
            "AttributeOf": of, "IsValidForRead": read,
            "IsCustomAttribute": name.startswith("esc_"),
            "MetadataId": _meta_id(ent.logical, name),
        }
        if typ in LOOKUP_TYPES:
            item["Targets"] = sorted({t for a, t, _n, _s in ent.lookups if a == name}) or ["systemuser"]
        out.append(item)
    return out


def relationship_definitions(ent: Entity) -> list[dict]:
    out = []
    for attr, target, nav, schema in ent.lookups:
        out.append({
            "SchemaName": schema, "ReferencingEntity": ent.logical, "ReferencingAttribute": attr,
            "ReferencedEntity": target, "ReferencedAttribute": ENTITIES[target].pk,
            "ReferencingEntityNavigationPropertyName": nav,
            "MetadataId": _meta_id(ent.logical, schema),
        })
    return out


def _meta_type(typ: str) -> str:
    return {"Customer": "Lookup", "Owner": "Lookup", "Uniqueidentifier": "UniqueIdentifier",
            "State": "State", "Status": "Status", "Picklist": "Picklist"}.get(typ, typ)


def _schema(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.split("_"))
