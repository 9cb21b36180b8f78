from __future__ import annotations

import pytest

from dynsync_tui.core.config import Config, ConsentSettings, DynamicsSettings, ValidationSettings
from dynsync_tui.core.mappings import Mapping
from dynsync_tui.core.plan import PlanError, batches, build_plan, entity_plan, row_to_record


def linked_config(**kw) -> Config:
    cfg = Config(**kw)
    cfg.mappings = [
        Mapping("email", "contact", "emailaddress1"),
        Mapping("mobileNumber", "contact", "mobilephone"),
        Mapping("FIRSTNAME", "contact", "firstname"),
        Mapping("COMPANY", "contact", "parentcustomerid", "account", "name"),
        Mapping("COMPANYCTRY", "contact", "parentcustomerid", "account", "address1_country"),
        Mapping("email", "lead", "emailaddress1"),
        Mapping("mobileNumber", "lead", "mobilephone"),
    ]
    return cfg


def test_select_expand_and_filter():
    cfg = linked_config(validation=ValidationSettings("GB", "address1_country"),
                        consent=ConsentSettings(mode="field", field="new_smsconsent"))
    contact, lead = build_plan(cfg)
    assert (contact.entity_set, contact.primary_key, contact.orderby) == ("contacts", "contactid", "contactid")
    for col in ("contactid", "emailaddress1", "mobilephone", "firstname", "_parentcustomerid_value",
                "modifiedon", "statecode", "address1_country", "new_smsconsent"):
        assert col in contact.select
    assert len(contact.select) == len(set(contact.select))
    assert contact.expand == {"parentcustomerid_account": ("name", "address1_country")}
    assert contact.filter == "statecode eq 0"
    assert lead.entity_set == "leads" and lead.expand == {}
    q = contact.query()
    assert q["expand"] == {"parentcustomerid_account": ["name", "address1_country"]}


def test_inactive_included_on_request():
    cfg = linked_config(dynamics=DynamicsSettings(include_inactive=True))
    assert entity_plan(cfg, "contact").filter is None


def test_unknown_entity_is_one_line():
    with pytest.raises(PlanError) as err:
        entity_plan(Config(), "opportunity")
    assert "opportunity" in str(err.value)


def row(**extra):
    base = {"contactid": "C1", "emailaddress1": "  ann@example.org ", "mobilephone": "07700 900123",
            "firstname": "Ann", "lastname": "Lee", "fullname": None, "modifiedon": "2026-01-02T03:04:05Z",
            "statecode": 0, "_parentcustomerid_value": "A1",
            "parentcustomerid_account": {"accountid": "A1", "name": "Northwind", "address1_country": "UK"}}
    base.update(extra)
    return base


def test_row_to_record_reads_linked_fields_and_name():
    p = entity_plan(linked_config(), "contact")
    rec = row_to_record(p, row(), lists=("L1",))
    assert (rec.entity, rec.id, rec.email, rec.mobile) == ("contact", "C1", "ann@example.org", "07700 900123")
    assert rec.fields == {"FIRSTNAME": "Ann", "COMPANY": "Northwind", "COMPANYCTRY": "UK"}
    assert rec.linked == {"parentcustomerid.name": "Northwind", "parentcustomerid.address1_country": "UK"}
    assert rec.name == "Ann Lee" and rec.modified == "2026-01-02T03:04:05Z" and rec.lists == ("L1",)
    assert row_to_record(p, row(fullname="Dr Ann Lee")).name == "Dr Ann Lee"


@pytest.mark.parametrize("variant", [
    {"parentcustomerid_account": None, "_parentcustomerid_value": "C9"},  # points at a contact
    {"parentcustomerid_account": None, "_parentcustomerid_value": None},  # points at nothing
    {"_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "contact"},  # annotated type
    {"parentcustomerid_account": {"accountid": "A1", "name": None}},  # target without a name
])
def test_polymorphic_lookup_elsewhere_gives_empty_linked_value(variant):
    p = entity_plan(linked_config(), "contact")
    rec = row_to_record(p, row(**variant))
    assert rec.fields["COMPANY"] is None
    assert rec.fields["FIRSTNAME"] == "Ann"


def test_missing_columns_blank_values_and_consent():
    cfg = linked_config(consent=ConsentSettings(mode="field", field="new_ok"))
    p = entity_plan(cfg, "contact")
    rec = row_to_record(p, {"contactid": "C2", "mobilephone": "  ", "new_ok": True})
    assert rec.email is None and rec.mobile is None and rec.consent is True
    assert rec.fields["COMPANY"] is None and rec.name == ""
    with pytest.raises(PlanError):
        row_to_record(p, {"emailaddress1": "x@y.z"})


def test_account_name_column():
    cfg = Config()
    cfg.mappings = [Mapping("email", "account", "emailaddress1"), Mapping("mobileNumber", "account", "telephone1")]
    p = entity_plan(cfg, "account")
    assert "name" in p.select and p.primary_key == "accountid"
    assert row_to_record(p, {"accountid": "A", "name": "Northwind"}).name == "Northwind"


def test_batches():
    assert [len(b) for b in batches(range(10), 4)] == [4, 4, 2]
    assert list(batches([], 3)) == []
    with pytest.raises(ValueError):
        list(batches([1], 0))
