"""Config that is valid on paper but does not fit the Dynamics environment: checked against the
Dataverse metadata before anything is read or sent (dynsync_tui/sync/preflight.py), on the
sandbox. Each is one line naming the mapping, field or list and the fix, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from dynsync_tui.connectors.auth import ConfidentialTokens
from dynsync_tui.connectors.dataverse import DataverseClient
from dynsync_tui.sandbox import Sandbox

from .conftest import snapshot, state_rows

EMAIL = "[[mappings]]\nlabel='email'\nentity='contact'\nfield='emailaddress1'\n"
MOBILE = "[[mappings]]\nlabel='mobileNumber'\nentity='contact'\nfield='mobilephone'\n"


def mobile_from(field: str) -> str:
    return EMAIL + f"[[mappings]]\nlabel='mobileNumber'\nentity='contact'\nfield='{field}'\n"


def company_from(field: str, linked: str) -> str:
    return EMAIL + MOBILE + (f"[[mappings]]\nlabel='COMPANY'\nentity='contact'\nfield='{field}'\n"
                             f"linked_entity='account'\nlinked_field='{linked}'\n")


def consent_list(list_id: str, activation: bool = True) -> str:
    head = "[dynamics]\nactivation_column = 'esc_activatedforemail'\n" if activation else ""
    return head + f"[consent]\nmode = 'lists'\n[[consent.lists]]\ndynamics_list_id = '{list_id}'\n"


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("preflight-home")


@pytest.fixture(scope="module")
def lists(home) -> dict[str, str]:
    """The seed's marketing lists by kind: static, dynamic but not activated, eligible."""
    with Sandbox(home / "sandbox") as sb:
        i = sb.info
        tokens = ConfidentialTokens(i.dataverse_url, i.authority, i.client_id, i.client_secret, ca_file=i.ca_file)
        dv = DataverseClient(i.dataverse_url, tokens, ca_file=i.ca_file)
        found = dv.lists("esc_activatedforemail")
        dv.close()
    pick = {
        "static": next(x for x in found if not x.dynamic and x.member_type == "contact"),
        "not_activated": next(x for x in found if x.dynamic and x.activated is False),
        "eligible": next(x for x in found if x.eligible and x.member_type == "contact"),
        "accounts": next(x for x in found if x.eligible and x.member_type == "account"),
    }
    return {k: f"{v.id}|{v.name}" for k, v in pick.items()}


# (id, config text (list placeholders: {static}, {not_activated}, {eligible}), argv, needles)
CASES = [
    ("missing_field", mobile_from("mobilefone"), [],
     ["mappings #2 (mobileNumber ← contact.mobilefone)", "contact has no readable field 'mobilefone'"]),
    ("date_for_mobile", mobile_from("birthdate"), [],
     ["mappings #2 (mobileNumber ← contact.birthdate)", "DateTime field", "text field such as mobilephone"]),
    ("lookup_for_mobile", mobile_from("parentcustomerid"), [],
     ["contact.parentcustomerid is a Customer field", "text field"]),
    ("missing_linked_field", company_from("parentcustomerid", "nickname"), [],
     ["mappings #3 (COMPANY", "account has no readable field 'nickname'"]),
    ("lookup_without_link", EMAIL + MOBILE + "[[mappings]]\nlabel='COMPANY'\nentity='contact'\nfield='parentcustomerid'\n",
     [], ["mappings #3 (COMPANY", "contact.parentcustomerid is a lookup (Customer)", "choose a Linked CRM field"]),
    ("linked_from_non_lookup", company_from("firstname", "name"), [],
     ["contact.firstname is a String field, not a lookup"]),
    ("missing_country_field", "[validation]\nrecord_country_field = 'address9_country'\n", [],
     ["[validation] record_country_field 'address9_country'", "contact has no such field"]),
    ("country_field_flag", None, ["--record-country", "birthdate"],
     ["record_country_field 'birthdate'", "DateTime", "pick a text column"]),
    ("consent_field_not_boolean", "[consent]\nmode = 'field'\nfield = 'firstname'\n", [],
     ["[consent] field 'firstname'", "String field; pick a Boolean column"]),
    ("static_list", consent_list("{static}"), [],
     ["[[consent.lists]] #1", "{static_name}", "Static list", "Pick another list"]),
    ("not_activated_list", consent_list("{not_activated}"), [],
     ["{not_activated_name}", "Not activated for email", "Pick another list"]),
    ("list_of_unmapped_entity", consent_list("{accounts}"), [],
     ["{accounts_name}", "holds accounts, which have no [[mappings]]", "or remove this list"]),
    ("unknown_list", consent_list("00000000-0000-0000-0000-000000000001"), [],
     ["[[consent.lists]] #1 (00000000-0000-0000-0000-000000000001): no such active marketing list"]),
]


def _fill(text: str, lists: dict[str, str]) -> str:
    for kind, value in lists.items():
        list_id, name = value.split("|", 1)
        text = text.replace("{" + kind + "_name}", name).replace("{" + kind + "}", list_id)
    return text


@pytest.mark.parametrize("command", ["preview", "sync"])
@pytest.mark.parametrize(("text", "argv", "needles"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_config_that_does_not_fit_dynamics(run_cli, home, lists, tmp_path, command, text, argv, needles) -> None:
    cfg = tmp_path / "dynsync.toml"
    export = tmp_path / "out.csv"
    args = [command, "--sandbox", *argv]
    if text is not None:
        cfg.write_text(_fill(text, lists), encoding="utf-8")
        args += ["--config", str(cfg)]
    args += ["--export", str(export)] if command == "preview" else ["--yes"]
    before = snapshot(home, cfg)
    res = run_cli(home, *args)
    assert res.code == 2, (res.code, res.err)
    line = res.line
    for needle in needles:
        assert _fill(needle, lists) in line, (needle, line)
    if text is not None:
        assert str(cfg) in line
    assert snapshot(home, cfg) == before
    assert not export.exists()
    assert not state_rows(home / "state.db").get("runs")


def test_fitting_config_passes_preflight(run_cli, home, lists, tmp_path) -> None:
    """The checks refuse only what is wrong: a linked field and an eligible list preview fine."""
    cfg = tmp_path / "ok.toml"
    cfg.write_text(_fill(consent_list("{eligible}"), lists) + company_from("parentcustomerid", "name")
                   + "[validation]\nrecord_country_field = 'address1_country'\n", encoding="utf-8")
    res = run_cli(home, "preview", "--sandbox", "--config", str(cfg), "--json")
    assert res.code == 0, res.err
    assert '"total"' in res.out


def test_nothing_reached_dotdigital(home) -> None:
    """After every refused sync above, the sandbox's Dotdigital account is still empty."""
    with Sandbox(home / "sandbox") as sb:
        assert sb.dotdigital_contacts() == []
