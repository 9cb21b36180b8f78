"""The config model: strict reading with one-line errors, atomic 0600 saves, round trips."""

import os
import stat

import pytest

from dynsync_tui.core import config as C
from dynsync_tui.core.mappings import Mapping, MappingError, check_mapping


def write(tmp_path, text: str):
    p = tmp_path / "dynsync.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_without_a_file() -> None:
    cfg = C.Config()
    assert cfg.is_sandbox
    assert cfg.validation.default_country == "GB"
    assert {(m.label, m.entity, m.field) for m in cfg.mappings} == {
        ("email", "contact", "emailaddress1"), ("mobileNumber", "contact", "mobilephone"),
        ("email", "lead", "emailaddress1"), ("mobileNumber", "lead", "mobilephone"),
    }
    assert cfg.consent.mode == "none" and not cfg.consent.lists


def test_round_trip_through_save_and_load(tmp_path) -> None:
    cfg = C.Config()
    cfg.dynamics.environment_url = "https://contoso.crm4.dynamics.com"
    cfg.validation.default_country = None
    cfg.mappings.append(Mapping("COMPANY", "contact", "parentcustomerid", "account", "name"))
    cfg.consent = C.ConsentSettings(mode="lists", lists=[C.ListSelection("abc", "News", 7)])
    p = tmp_path / "sub" / "c.toml"
    C.save(cfg, p)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    back = C.load(p)
    assert back.validation.default_country is None
    assert back.mappings[-1].linked_field == "name"
    assert back.consent.lists[0].dotdigital_list_id == 7
    assert C.dumps(back) == C.dumps(cfg)
    assert [f.name for f in tmp_path.joinpath("sub").iterdir()] == ["c.toml"]  # no temp file left


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[dynamics\n", "not valid TOML"),
        ("[nope]\n", "unknown section 'nope'"),
        ("[sync]\nbatchsize = 3\n", "[sync] unknown key 'batchsize'"),
        ("[sync]\nbatch_size = 'x'\n", "[sync] batch_size must be a whole number"),
        ("[sync]\nsync_mobile_changes = 1\n", "must be true or false"),
        ("[sync]\non_email_change = 'merge'\n", "on_email_change must be one of duplicate, update, skip"),
        ("[validation]\ndefault_country = 'XX'\n", "default_country 'XX' is not an ISO country code"),
        ("[dotdigital]\npassword = 'hunter2'\n", "secrets don't belong in the config file"),
        ("[dynamics]\nenvironment_url = 'http://x'\n", "must start with https://"),
        ("[consent]\nmode = 'lists'\n", "needs at least one [[consent.lists]]"),
        (
            "[[mappings]]\nlabel='mobileNumber'\nentity='contact'\nfield='mobilephone'\ndirection='both'\n"
            "[[mappings]]\nlabel='email'\nentity='contact'\nfield='emailaddress1'\n",
            "mobile numbers flow one way only",
        ),
        ("[[mappings]]\nlabel='email'\nentity='contact'\nfield='emailaddress1'\n", "contact has no mobileNumber mapping"),
        (
            "[[mappings]]\nlabel='mobileNumber'\nentity='opportunity'\nfield='mobilephone'\n",
            "entity 'opportunity' must be one of contact, account, lead",
        ),
    ],
)
def test_bad_config_gives_one_line_naming_file_and_key(tmp_path, text, needle) -> None:
    p = write(tmp_path, text)
    with pytest.raises(C.ConfigError) as err:
        C.load(p)
    msg = str(err.value)
    assert needle in msg
    assert str(p) in msg
    assert "\n" not in msg


def test_missing_and_non_utf8_files(tmp_path) -> None:
    with pytest.raises(C.ConfigError, match="no such config file"):
        C.load(tmp_path / "absent.toml")
    p = tmp_path / "latin.toml"
    p.write_bytes(b"[dynamics]\nclient_id = '\xe9'\n")
    with pytest.raises(C.ConfigError, match="not UTF-8"):
        C.load(p)


def test_failed_save_leaves_the_old_file(tmp_path, monkeypatch) -> None:
    p = tmp_path / "c.toml"
    C.save(C.Config(), p)
    before = p.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(C.os, "replace", boom)
    cfg = C.Config()
    cfg.sync.batch_size = 10
    with pytest.raises(OSError):
        C.save(cfg, p)
    assert p.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["c.toml"]


def test_mapping_rules() -> None:
    check_mapping(Mapping("FIRSTNAME", "lead", "firstname"))
    with pytest.raises(MappingError, match="1-20 letters"):
        check_mapping(Mapping("A VERY LONG LABEL NAME!", "contact", "firstname"))
    with pytest.raises(MappingError, match="needs both linked_entity and linked_field"):
        check_mapping(Mapping("COMPANY", "contact", "parentcustomerid", linked_entity="account"))
    m = Mapping("COMPANY", "contact", "parentcustomerid", "account", "name")
    assert m.nav == "parentcustomerid_account" and m.is_linked
    assert Mapping("X", "lead", "parentaccountid", "account", "name").nav == "parentaccountid"


def test_every_country_has_a_name_and_calling_code() -> None:
    from dynsync_tui.core.countries import all_countries

    countries = all_countries()
    assert len(countries) > 200
    assert all(c.name != c.iso and c.calling_code > 0 for c in countries)
    by_iso = {c.iso: c for c in countries}
    assert (by_iso["GB"].name, by_iso["GB"].calling_code) == ("United Kingdom", 44)
    assert by_iso["XK"].name == "Kosovo"


@pytest.mark.parametrize("lists", [[], [C.ListSelection("abc", dotdigital_list_name="Newsletter")]])
def test_saved_config_keeps_one_shape_and_reads_back(tmp_path, lists) -> None:
    """Mappings and consent lists are always [[tables]], however short (tomli_w alone wrote
    short ones as an inline array at the top of the file)."""
    import tomllib

    cfg = C.Config()
    cfg.mappings = [Mapping("email", "contact", "emailaddress1"), Mapping("mobileNumber", "contact", "mobilephone")]
    cfg.consent.lists = lists
    text = C.dumps(cfg)
    assert text.count("[[mappings]]") == 2 and "mappings = [" not in text
    assert text.count("[[consent.lists]]") == len(lists) and "lists = [" not in text
    assert text.index("[sync]") < text.index("[[mappings]]")
    back = C.from_dict(tomllib.loads(text))
    assert (back.mappings, back.consent, back.sync, back.validation) == (cfg.mappings, cfg.consent, cfg.sync, cfg.validation)
