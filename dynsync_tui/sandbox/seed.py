"""Deterministic, realistic and deliberately messy seed data for the sandbox.

``generate(seed, size)`` returns ``{entity: [record, ...]}`` with records shaped as the
Web API returns them (lookups as ``_x_value`` plus a ``x@type`` marker in
``_x_value@Microsoft.Dynamics.CRM.lookuplogicalname``). Same seed and size → same data.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from xml.sax.saxutils import quoteattr

LOOKUP_TYPE = "@Microsoft.Dynamics.CRM.lookuplogicalname"

FIRST = ("Ada Oliver Amelia Jack Isla Harry Mia Noah Sophie Liam Emma Lukas Hannah Leon Lea "
         "Paul Chloé Hugo Léa Louis Siobhán Cian Aoife Seán Priya Arjun Ananya Rohan Wei "
         "Mei Hiroshi Yuki Lars Ingrid Sven Fatima Omar Aisha Thabo Naledi Jan Sanne Daan "
         "Lucía Mateo Sofía Carlos Olivia William Charlotte James Grace Ethan Zoë Björn").split()
LAST = ("Smith Jones Taylor Brown Williams Wilson Evans O'Neil Murphy Kelly Müller Schmidt "
        "Schneider Fischer Weber Martin Bernard Dubois Moreau Patel Sharma Singh Chen Wang "
        "Tanaka Sato Johansson Andersson Khan Ahmed Naidoo Dlamini de Vries Jansen García "
        "López Fernández Johnson Miller Davis Quill Nguyen MacDonald Ó Briain").split()
DOMAINS = ("example.org", "example.com", "example.net", "gmail.com", "outlook.com",
           "contoso.com", "fabrikam.co.uk", "northwind.de", "web.de", "orange.fr")
COMPANY_A = ("Northwind Contoso Fabrikam Tailspin Woodgrove Litware Adatum Proseware "
             "Wingtip Fourth Coffee Lucerne Margie Trey Alpine Blue Yonder").split()
COMPANY_B = ("Ltd", "GmbH", "SARL", "Inc", "Pty Ltd", "BV", "Holdings", "Traders", "& Co")

# region → (country spellings, mobile generator, landline generator, international prefix)
COUNTRY_NAMES = {
    "GB": ("United Kingdom", "UK", "GB", "England", "Great Britain", "united kingdom"),
    "US": ("United States", "USA", "US", "United States of America"),
    "DE": ("Germany", "Deutschland", "DE"), "FR": ("France", "FR"),
    "IE": ("Ireland", "IE", "Éire"), "AU": ("Australia", "AU"),
    "NL": ("Netherlands", "Nederland", "NL"), "ES": ("Spain", "España", "ES"),
    "IN": ("India", "IN"), "ZA": ("South Africa", "ZA"),
}
REGION_WEIGHTS = (("GB", 40), ("US", 14), ("DE", 10), ("FR", 7), ("IE", 6), ("AU", 6),
                  ("NL", 5), ("ES", 5), ("IN", 4), ("ZA", 3))
_REGIONS = [r for r, _ in REGION_WEIGHTS]
_CUM = [sum(w for _, w in REGION_WEIGHTS[: i + 1]) for i in range(len(REGION_WEIGHTS))]
CALLING = {"GB": "44", "US": "1", "DE": "49", "FR": "33", "IE": "353", "AU": "61",
           "NL": "31", "ES": "34", "IN": "91", "ZA": "27"}


def _digits(rng: random.Random, n: int) -> str:
    return str(rng.randrange(10**n)).zfill(n)


def _national_mobile(rng: random.Random, region: str) -> str:
    """A plausible mobile in national format (trunk prefix included where used)."""
    d = _digits
    if region == "GB":
        return f"07{rng.choice('45789')}{d(rng, 2)} {d(rng, 6)}"
    if region == "US":
        area = rng.choice(("212", "415", "646", "312", "617", "305"))
        return f"({area}) {rng.randint(2, 9)}{d(rng, 2)}-{d(rng, 4)}"
    if region == "DE":
        return f"01{rng.choice(('51', '52', '60', '70', '71', '76'))} {d(rng, 8)}"
    if region == "FR":
        return f"0{rng.choice('67')} {d(rng, 2)} {d(rng, 2)} {d(rng, 2)} {d(rng, 2)}"
    if region == "IE":
        return f"08{rng.choice('35679')} {d(rng, 3)} {d(rng, 4)}"
    if region == "AU":
        return f"04{d(rng, 2)} {d(rng, 3)} {d(rng, 3)}"
    if region == "NL":
        return f"06 {rng.randint(1, 5)}{d(rng, 7)}"
    if region == "ES":
        return f"6{d(rng, 2)} {d(rng, 3)} {d(rng, 3)}"
    if region == "IN":
        return f"{rng.choice('6789')}{d(rng, 4)} {d(rng, 5)}"
    return f"0{rng.choice(('72', '73', '82', '83', '84'))} {d(rng, 3)} {d(rng, 4)}"  # ZA


def _landline(rng: random.Random, region: str) -> str:
    if region == "GB":
        return f"020 7946 {_digits(rng, 4)}"
    if region == "US":
        return f"(212) 555-{_digits(rng, 4)}"
    if region == "DE":
        return f"030 {_digits(rng, 7)}"
    if region == "FR":
        return f"01 {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)}"
    return f"0{_digits(rng, 9)}"


def _international(national: str, region: str) -> str:
    digits = "".join(ch for ch in national if ch.isdigit())
    if region not in ("US", "IN", "ES"):
        digits = digits[1:]  # drop the trunk 0
    return CALLING[region] + digits


def messy_mobile(rng: random.Random, region: str) -> tuple[str | None, str | None]:
    """(value as typed into Dynamics, E.164 digits of the number or None)."""
    nat = _national_mobile(rng, region)
    intl = _international(nat, region)
    roll = rng.random()
    if roll < 0.36:
        return nat, intl
    if roll < 0.52:
        return f"+{CALLING[region]} {nat.lstrip('0') if region not in ('US', 'IN', 'ES') else nat}", intl
    if roll < 0.57 and region in ("GB", "IE", "AU", "FR", "DE", "NL", "ZA"):
        return f"+{CALLING[region]} (0){nat[1:]}", intl
    if roll < 0.62:
        return f"00{intl[:len(CALLING[region])]} {intl[len(CALLING[region]):]}", intl
    if roll < 0.66:
        return f"+{intl}", intl
    if roll < 0.69:
        return f"{nat} ext. {rng.randint(10, 999)}", intl
    if roll < 0.715:
        return f"{intl}.0", intl  # a spreadsheet turned it into a float
    if roll < 0.73:
        return f"{int(intl[:3]) / 100:.2f}E+{len(intl) - 1}", None  # lost digits: 4.47E+11
    if roll < 0.80:
        return None, None
    if roll < 0.82:
        return "", None
    if roll < 0.84:
        return rng.choice(("n/a", "N/A", "-", "none", "TBC", "?")), None
    if roll < 0.90:
        return _landline(rng, region), None  # a landline in the mobile field
    if roll < 0.93:
        return nat[:-3], None  # too short
    if roll < 0.95:
        return f"{nat} / {_national_mobile(rng, region)}", None  # two numbers in one field
    return f"+{intl}", intl


def _email(rng: random.Random, first: str, last: str) -> str | None:
    roll = rng.random()
    local = f"{first}.{last}".lower().replace("'", "").replace(" ", "")
    local = local.translate(str.maketrans("éèóáíúöüäøåç", "eeoaiuouaoac"))
    base = f"{local}{rng.randint(1, 999) if rng.random() < 0.35 else ''}@{rng.choice(DOMAINS)}"
    if roll < 0.08:
        return None
    if roll < 0.10:
        return ""
    if roll < 0.14:
        return f"  {base} "
    if roll < 0.16:
        return f"{base}\u00a0"
    if roll < 0.22:
        return base.upper() if rng.random() < 0.5 else base.title()
    if roll < 0.235:
        return rng.choice((f"{local}@", f"{local}.example.org", f"{local}@@example.org", "unknown"))
    return base


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.start = int(dt.datetime(2023, 1, 1, tzinfo=dt.timezone.utc).timestamp())
        self.span = int(dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc).timestamp()) - self.start

    def guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def when(self) -> tuple[str, str]:
        a, b = sorted((self.rng.randrange(self.span), self.rng.randrange(self.span)))
        return (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.start + a)),
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.start + b)))

    def region(self) -> str:
        return self.rng.choices(_REGIONS, cum_weights=_CUM)[0]

    def country_text(self, region: str) -> str | None:
        r = self.rng.random()
        return None if r < 0.12 else self.rng.choice(COUNTRY_NAMES[region])

    def person(self, pk: str) -> dict:
        rng = self.rng
        first, last = rng.choice(FIRST), rng.choice(LAST)
        region = self.region()
        mobile, _ = messy_mobile(rng, region)
        created, modified = self.when()
        return {
            pk: self.guid(), "firstname": first if rng.random() > 0.03 else None,
            "lastname": last, "fullname": f"{first} {last}",
            "emailaddress1": _email(rng, first, last), "mobilephone": mobile,
            "telephone1": _landline(rng, region) if rng.random() < 0.5 else None,
            "address1_city": None, "address1_postalcode": _digits(rng, 5) if rng.random() < 0.6 else None,
            "address1_country": self.country_text(region),
            "donotbulkemail": rng.random() < 0.06, "donotemail": rng.random() < 0.02,
            "statecode": 1 if rng.random() < 0.05 else 0, "statuscode": 1,
            "createdon": created, "modifiedon": modified, "versionnumber": rng.randrange(10**7),
        }


def _lookup(rec: dict, attr: str, target: str | None, rid: str | None, name: str | None = None) -> None:
    rec[f"_{attr}_value"] = rid
    if rid:
        rec[f"_{attr}_value{LOOKUP_TYPE}"] = target
        rec[f"_{attr}_value@OData.Community.Display.V1.FormattedValue"] = name


def generate(seed: int = 20261203, size: int = 3000) -> dict[str, list[dict]]:
    g = _Gen(seed)
    rng = g.rng
    n_accounts = max(1, size * 800 // 3000)
    n_leads = max(1, size // 3)
    accounts = []
    for _ in range(n_accounts):
        region = g.region()
        created, modified = g.when()
        name = f"{rng.choice(COMPANY_A)} {rng.choice(COMPANY_B)}"
        accounts.append({
            "accountid": g.guid(), "name": name, "accountnumber": f"ACC-{rng.randrange(10**6):06d}",
            "emailaddress1": f"info@{name.split()[0].lower()}{rng.randint(1, 99)}.example.com"
            if rng.random() < 0.7 else None,
            "telephone1": _landline(rng, region), "telephone2": messy_mobile(rng, region)[0],
            "address1_country": g.country_text(region), "donotbulkemail": rng.random() < 0.05,
            "numberofemployees": rng.randint(1, 5000), "statecode": 1 if rng.random() < 0.04 else 0,
            "statuscode": 1, "createdon": created, "modifiedon": modified,
        })
    contacts = []
    for i in range(size):
        c = g.person("contactid")
        roll = rng.random()
        if roll < 0.85:
            acc = rng.choice(accounts)
            _lookup(c, "parentcustomerid", "account", acc["accountid"], acc["name"])
        elif roll < 0.88 and contacts:
            par = rng.choice(contacts)
            _lookup(c, "parentcustomerid", "contact", par["contactid"], par["fullname"])
        else:
            _lookup(c, "parentcustomerid", None, None)
        if contacts and rng.random() < 0.02:  # family members sharing a mobile
            c["mobilephone"] = rng.choice(contacts)["mobilephone"]
        contacts.append(c)
    for acc in accounts:
        if rng.random() < 0.6:
            pc = rng.choice(contacts)
            _lookup(acc, "primarycontactid", "contact", pc["contactid"], pc["fullname"])
        else:
            _lookup(acc, "primarycontactid", None, None)
    leads = []
    for _ in range(n_leads):
        ld = g.person("leadid")
        ld["statecode"] = rng.choices((0, 1, 2), (80, 12, 8))[0]
        ld["companyname"] = f"{rng.choice(COMPANY_A)} {rng.choice(COMPANY_B)}"
        ld["subject"] = rng.choice(("Website enquiry", "Trade show", "Webinar", "Referral"))
        if rng.random() < 0.1:  # the same person is also a contact
            twin = rng.choice(contacts)
            ld["emailaddress1"] = twin["emailaddress1"]
        acc = rng.choice(accounts) if rng.random() < 0.4 else None
        _lookup(ld, "parentaccountid", "account", acc and acc["accountid"], acc and acc["name"])
        pc = rng.choice(contacts) if rng.random() < 0.2 else None
        _lookup(ld, "parentcontactid", "contact", pc and pc["contactid"], pc and pc["fullname"])
        leads.append(ld)
    lists, members = _lists(g, contacts, accounts, leads)
    return {"account": accounts, "contact": contacts, "lead": leads, "list": lists,
            "listmember": members}


def fetchxml(entity: str, conditions: list[tuple[str, str, str | None]]) -> str:
    conds = "".join(
        f"<condition attribute={quoteattr(a)} operator={quoteattr(op)}"
        + (f" value={quoteattr(v)}" if v is not None else "") + "/>"
        for a, op, v in conditions
    )
    return (f'<fetch version="1.0" output-format="xml-platform" mapping="logical" distinct="false">'
            f'<entity name="{entity}"><all-attributes/><order attribute="{entity}id"/>'
            f'<filter type="and">{conds}</filter></entity></fetch>')


def _lists(g: _Gen, contacts: list, accounts: list, leads: list) -> tuple[list, list]:
    rng = g.rng
    specs = [  # name, dynamic, code, activated, statecode, members or fetch conditions
        ("Newsletter – UK", False, 2, True, 0, 0.2),
        ("Event invitees 2026", False, 2, False, 0, 0.05),
        ("Key accounts", False, 1, True, 0, 0.15),
        ("Trade show leads", False, 4, True, 0, 0.3),
        ("Old campaign (inactive)", False, 2, True, 1, 0.02),
        ("Contacts in Germany", True, 2, True, 0,
         [("address1_country", "eq", "Germany"), ("statecode", "eq", "0")]),
        ("Open leads with a mobile", True, 4, True, 0,
         [("statecode", "eq", "0"), ("mobilephone", "not-null", None)]),
        ("Gmail contacts", True, 2, False, 0, [("emailaddress1", "like", "%@gmail.com")]),
        ("Accounts allowing bulk email", True, 1, True, 0,
         [("donotbulkemail", "eq", "0"), ("statecode", "eq", "0")]),
    ]
    pools = {1: accounts, 2: contacts, 4: leads}
    entity_of = {1: "account", 2: "contact", 4: "lead"}
    lists, members = [], []
    for name, dynamic, code, active, state, spec in specs:
        created, modified = g.when()
        lid = g.guid()
        query = None
        count = 0
        if dynamic:
            query = fetchxml(entity_of[code], spec)
        else:
            pool = pools[code]
            picked = rng.sample(pool, max(1, int(len(pool) * spec)))
            count = len(picked)
            pk = f"{entity_of[code]}id"
            for rec in sorted(picked, key=lambda r: r[pk]):
                members.append({"listmemberid": g.guid(), "_listid_value": lid,
                                "_entityid_value": rec[pk], "entitytype": entity_of[code],
                                "modifiedon": modified})
        lists.append({
            "listid": lid, "listname": name, "type": dynamic, "createdfromcode": code,
            "membercount": count if not dynamic else None, "statecode": state,
            "statuscode": 1 if state == 0 else 2, "lockstatus": False, "purpose": None,
            "query": query, "createdon": created, "modifiedon": modified,
            "esc_activatedforemail": active, "esc_syncinprogress": False,
            "esc_lastsyncedon": None,
        })
    return lists, members
