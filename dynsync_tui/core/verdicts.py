"""The verdict engine: for every record, what the sync will do, why, and the exact v3 item.

Three passes, all pure (payloads are built only for records that will be sent):
1. per record (``check_record``): email, mobile, consent;
2. across records (``resolve_conflicts``): one winner per email, then one per mobile — most
   recently modified, ties Contact > Lead > Account, then the lowest id;
3. per winner (``apply_state``): the state rules against the last sync (email change policy,
   mobile change, SMS opt-out, unchanged hash) and the exact v3 import item. Matched by email,
   a record is an update when its email is one a sync left on a Dotdigital contact
   (``synced_emails``: any record's, including an address this record had before), else a create.
``summarize`` gives counts (a partition), flags and samples for the preview and JSON output.

Emails: trimmed (Unicode spaces and invisible characters too) and lower-cased. A blank value is
``no_email``. A value without exactly one "@", a non-empty local part and a dotted domain, with
spaces inside, or with non-ASCII characters (Dotdigital refuses those as InvalidEmail) is
``invalid_email``: it is shown, but there is nothing to sync it by.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from dynsync_tui.core.mappings import IDENTIFIER_LABELS
from dynsync_tui.core.phone import PHONENUMBERS_VERSION, normalise_mobile
from dynsync_tui.core.reasons import Reason, Verdict, sentence
from dynsync_tui.core.records import ENTITY_PRIORITY, CrmRecord, PriorState, RecordVerdict

CREATE, UPDATE, UNCHANGED, SKIP = (v.value for v in (Verdict.CREATE, Verdict.UPDATE, Verdict.UNCHANGED, Verdict.SKIP))
R = Reason
SAMPLES_PER_CODE = 5


@dataclass
class VerdictSettings:
    default_country: str | None = "GB"  # None: validation off
    use_record_country: bool = False
    on_email_change: str = "duplicate"  # duplicate | update | skip
    sync_mobile_changes: bool = False
    consent_mode: str = "none"  # none | lists | field
    list_map: dict[str, int] = field(default_factory=dict)  # Dynamics list id → Dotdigital list id
    clear_when_empty: frozenset[str] = frozenset()  # data labels an empty CRM value clears
    full: bool = False  # resend everything: nothing is "unchanged"
    # emails Dotdigital holds as contacts, as the syncs left them (the state's synced_emails;
    # when empty, with_state takes the emails the records last sent)
    synced_emails: frozenset[str] = frozenset()

    @classmethod
    def from_config(cls, cfg: Any, *, full: bool = False,
                    synced_emails: Iterable[str] = ()) -> VerdictSettings:
        return cls(
            default_country=cfg.validation.default_country,
            use_record_country=bool(cfg.validation.record_country_field),
            on_email_change=cfg.sync.on_email_change,
            sync_mobile_changes=cfg.sync.sync_mobile_changes,
            consent_mode=cfg.consent.mode,
            list_map={s.dynamics_list_id: s.dotdigital_list_id for s in cfg.consent.lists
                      if s.dotdigital_list_id is not None},
            clear_when_empty=frozenset(m.label for m in cfg.mappings if m.clear_when_empty),
            full=full,
            synced_emails=frozenset(synced_emails),
        )


def with_state(settings: VerdictSettings, prior: Mapping[tuple[str, str], PriorState]) -> VerdictSettings:
    """The settings plus the emails the state knows as Dotdigital contacts: a record sent with
    one of them updates that contact (Dotdigital matches by email), whoever synced it. Settings
    that already have ``synced_emails`` (the state's full record of them, which also knows the
    addresses records moved away from) are kept as they are; otherwise the emails the records
    last sent stand in."""
    if settings.synced_emails or not prior:
        return settings
    return dataclasses.replace(settings, synced_emails=frozenset(p.email for p in prior.values() if p.email))


_SPACE = re.compile(r"\s")
_emails: dict[str, str | None] = {}
_EMAIL_CACHE_LIMIT = 1 << 20


def clear_email_cache() -> None:
    """Forget memoised emails (benchmarks measure cold runs)."""
    _emails.clear()


def normalise_email(raw: Any) -> str | None:
    """Trimmed, lower-cased email; None when blank or not shaped like an address."""
    if raw.__class__ is str:  # the common case first: a memoised text value
        hit = _emails.get(raw, _emails)
        if hit is not _emails:
            return hit  # type: ignore[return-value]
    elif raw is None:
        return None
    elif not isinstance(raw, str):  # a str subclass (a str enum) is read as the text it holds
        raw = str(raw)
    if len(_emails) >= _EMAIL_CACHE_LIMIT:
        _emails.clear()
    out = _emails[raw] = _normalise_email(raw)
    return out


def remember_emails(raws: Iterable[str], results: Iterable[str | None]) -> None:
    """Memoise emails normalised elsewhere (another process)."""
    _emails.update(zip(raws, results))


def make_email_room(n: int) -> None:
    """Empty the email memo now if ``n`` more would overflow it midway."""
    if len(_emails) + n > _EMAIL_CACHE_LIMIT:
        _emails.clear()


def _normalise_email(raw: str) -> str | None:
    s = raw
    if not s.isascii():
        s = "".join(c for c in s if unicodedata.category(c) != "Cf")
    s = s.strip().lower()
    if not s or s.count("@") != 1 or _SPACE.search(s) or not s.isascii():
        return None
    local, _, domain = s.partition("@")
    if not local or "." not in domain or domain[0] == "." or domain[-1] == "." or ".." in domain:
        return None
    return s


def _is_blank_email(raw: Any) -> bool:
    """Nothing there at all (as opposed to something that is not a usable address)."""
    if raw is None:
        return True
    text = "".join(c for c in str(raw) if unicodedata.category(c) not in ("Cf", "Zs", "Cc"))
    return not text.strip()


def _data_fields(record: CrmRecord, clear: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, value in record.fields.items():
        if label in IDENTIFIER_LABELS:
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            if label in clear:
                out[label] = None  # the mapping says an empty CRM value clears the field
        else:
            out[label] = value
    return out


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
try:  # the same encoder made once, not once per call (nothing we hash can be circular)
    from json.encoder import c_make_encoder, encode_basestring

    _encode_parts = c_make_encoder(None, str, encode_basestring, None, ":", ",", True, False, True)
except (ImportError, TypeError):  # pragma: no cover - a Python without the C encoder
    _encode_parts = None


def _to_json(value: Any) -> str:
    if _encode_parts is None:  # pragma: no cover
        return _ENCODER.encode(value)
    return "".join(_encode_parts(value, 0))


def field_hash(email: str, e164: str, data: dict[str, Any], lists: list[int]) -> str:
    """A stable hash of the record's content as Dotdigital would hold it: the identifiers'
    values, the data fields and the lists, never the volatile parts (match identifier,
    contact id, whether the mobile is sent this time)."""
    text = _to_json([email, e164, data, lists])
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _digits(e164: str | None) -> str:
    return (e164 or "").lstrip("+")


def _consent_reason(record: CrmRecord, mode: str) -> str | None:
    if mode == "lists" and not record.lists:
        return R.NOT_IN_LIST.value
    if mode == "field" and record.consent is not True:
        return R.NO_CONSENT.value
    return None


def check_record(record: CrmRecord, prior: PriorState | None, settings: VerdictSettings) -> RecordVerdict:
    """Pass 1, one record on its own: consent first (a record outside the chosen lists is
    out of scope, whatever its data), then email, then mobile. A record that passes comes back
    as a *candidate* (verdict ``create``, no payload yet) for the cross-record rules. The email
    and number are worked out either way, for the preview's detail pane."""
    email = normalise_email(record.email)
    phone = normalise_mobile(record.mobile, settings.default_country,
                             record.country if settings.use_record_country else None)
    e164 = phone.e164
    mode = settings.consent_mode
    reason = None if mode == "none" else _consent_reason(record, mode)
    if reason is None:
        if email is None:
            reason = R.NO_EMAIL.value if _is_blank_email(record.email) else R.INVALID_EMAIL.value
        elif e164 is None:
            reason = phone.reason
    return RecordVerdict(record, SKIP if reason else CREATE, reason, email, e164, phone.corrections,
                         "email", None, None, None, prior)


def apply_state(v: RecordVerdict, s: VerdictSettings) -> None:
    """Pass 3, for a candidate that won its contests: the state rules against the last sync
    (email change policy, mobile change, SMS opt-out, unchanged) and the v3 import item."""
    record, prior, email, e164 = v.record, v.prior, v.email, v.e164
    assert email is not None and e164 is not None
    existing = prior is not None and (prior.contact_id is not None or bool(prior.email))
    flags: list[str] = []
    # Matched by email, Dotdigital updates the contact that holds the email, else creates one.
    known = email in s.synced_emails
    taken = known and (prior is None or prior.email != email)  # held by another contact
    match, contact_id, verdict = "email", None, UPDATE if known else CREATE
    send_mobile, mobile_pending = True, False
    if existing:
        assert prior is not None
        same_mobile = _digits(prior.mobile) == _digits(e164)
        send_mobile = not prior.mobile or s.sync_mobile_changes
        mobile_pending = send_mobile and not same_mobile  # Dotdigital holds another (or no) mobile
        if prior.mobile and not same_mobile and not s.sync_mobile_changes:
            flags.append(R.MOBILE_CHANGED.value)
        if prior.email and prior.email != email:
            if s.on_email_change == "skip":
                v.verdict, v.reason = SKIP, R.EMAIL_CHANGE_HELD.value
                return
            if s.on_email_change == "update" and prior.contact_id is not None and not taken:
                match, contact_id, verdict = "contactId", prior.contact_id, UPDATE
            else:  # another contact: the old one keeps its mobile, so never resend that one
                if not known:  # a new contact (a known email, even one this record had before, is not)
                    flags.insert(0, R.EMAIL_CHANGED.value)
                send_mobile = send_mobile and not same_mobile
        if prior.sms_opted_out:
            flags.append(R.SMS_OPTED_OUT.value)
    data = _data_fields(record, s.clear_when_empty)
    lists = sorted({s.list_map[i] for i in record.lists if i in s.list_map})
    digest = field_hash(email, e164, data, lists)
    v.flags = tuple(flags)
    v.reason = flags[0] if flags else None
    v.field_hash = digest
    # Not unchanged after a failure, nor after losing the email to another record (whose data
    # went onto the contact with that email meanwhile), nor with a mobile still to send.
    if (existing and not s.full and prior is not None and prior.field_hash == digest and not mobile_pending
            and prior.outcome != "failed" and prior.reason != R.DUPLICATE_EMAIL.value):
        v.verdict = UNCHANGED
        return
    identifiers: dict[str, Any] = {"contactId": contact_id} if contact_id is not None else {}
    identifiers["email"] = email
    if send_mobile:
        identifiers["mobileNumber"] = e164
    item: dict[str, Any] = {"matchIdentifier": match, "identifiers": identifiers}
    if data:
        item["dataFields"] = data
    if lists:
        item["lists"] = lists
    v.verdict, v.match, v.contact_id, v.payload = verdict, match, contact_id, item


def _beats(a: CrmRecord, b: CrmRecord) -> bool:
    """True when ``a`` wins over ``b``: most recently modified, then Contact > Lead > Account,
    then the lowest id."""
    if a.modified != b.modified:
        return a.modified > b.modified
    pa, pb = ENTITY_PRIORITY.get(a.entity, 9), ENTITY_PRIORITY.get(b.entity, 9)
    if pa != pb:
        return pa < pb
    return a.id.lower() < b.id.lower()


def _contest(verdicts: list[RecordVerdict], candidates: list[int], key: str, reason: str) -> list[int]:
    """One winner per email (``key="email"``) or per E.164; the others become skips with ``reason``.
    Returns the survivors. Values are counted first (in C), so only the records that share
    one are compared, mostly on ``modified`` alone."""
    values = list(map(attrgetter(key), map(verdicts.__getitem__, candidates)))
    counts = Counter(values)
    if len(counts) == len(values):
        return candidates
    shared = {value for value, n in counts.items() if n > 1}
    contested = [(i, value) for i, value in zip(candidates, values) if value in shared]
    records = [verdicts[i].record for i, _ in contested]
    modified = list(map(attrgetter("modified"), records))
    best: dict[str, int] = {}  # value → position in ``contested`` of the best so far
    losers: list[int] = []
    for pos, (i, value) in enumerate(contested):
        j = best.setdefault(value, pos)
        if j == pos:
            continue
        mine, theirs = modified[pos], modified[j]
        if mine > theirs if mine != theirs else _beats(records[pos], records[j]):
            best[value] = pos
            losers.append(contested[j][0])
        else:
            losers.append(i)
    for i in losers:
        verdicts[i].verdict, verdicts[i].reason = SKIP, reason
    lost = set(losers)
    return [i for i in candidates if i not in lost]


def resolve_conflicts(verdicts: list[RecordVerdict]) -> list[int]:
    """Pass 2, in place: duplicate email in source, then mobile shared with another record.
    Returns the positions of the candidates that won."""
    candidates = [i for i, v in enumerate(verdicts) if v.verdict != SKIP]
    candidates = _contest(verdicts, candidates, "email", R.DUPLICATE_EMAIL.value)
    return _contest(verdicts, candidates, "e164", R.SHARED_MOBILE.value)


def check_all(records: Iterable[CrmRecord], prior: Mapping[tuple[str, str], PriorState],
              settings: VerdictSettings) -> list[RecordVerdict]:
    """Pass 1 over every record (``settings`` already ``with_state``)."""
    if not prior:  # a first sync: no state to look up
        return [check_record(r, None, settings) for r in records]
    get = prior.get
    return [check_record(r, get((r.entity, r.id)), settings) for r in records]


def finish(verdicts: list[RecordVerdict], settings: VerdictSettings) -> list[RecordVerdict]:
    """Passes 2 and 3, in place (``settings`` already ``with_state``)."""
    for i in resolve_conflicts(verdicts):
        apply_state(verdicts[i], settings)
    return verdicts


def classify(records: Iterable[CrmRecord], prior: Mapping[tuple[str, str], PriorState],
             settings: VerdictSettings, *, processes: int = 1) -> list[RecordVerdict]:
    """Every record's verdict, in input order. With ``processes`` > 1 the costly part is
    shared with forked workers when that is worth it and safe (see ``core.parallel``)."""
    if processes > 1:
        from dynsync_tui.core.parallel import classify_parallel

        return classify_parallel(records, prior, settings, processes)
    settings = with_state(settings, prior)
    return finish(check_all(records, prior, settings), settings)


@dataclass
class Summary:
    total: int
    counts: dict[str, int]  # a partition: create/update/unchanged and each skip reason
    flags: dict[str, int]  # flag code → count over the non-skips
    samples: dict[str, list[dict[str, Any]]]  # code → up to 5 records
    phonenumbers: str = PHONENUMBERS_VERSION

    def to_json(self) -> dict[str, Any]:
        codes = list(self.counts) + [c for c in self.flags if c not in self.counts]
        return {
            "total": self.total, "counts": dict(self.counts), "flags": dict(self.flags),
            "samples": {k: list(v) for k, v in self.samples.items()},
            "sentences": {c: sentence(c) for c in codes},
            "phonenumbers": self.phonenumbers,
        }


def _sample(v: RecordVerdict) -> dict[str, Any]:
    r = v.record
    return {"entity": r.entity, "id": r.id, "email": v.email or r.email, "raw_mobile": r.mobile}


def summarize(verdicts: Iterable[RecordVerdict]) -> Summary:
    counts: dict[str, int] = {}
    flags: dict[str, int] = {}
    samples: dict[str, list[dict[str, Any]]] = {}
    total = 0

    def note(code: str, bucket: dict[str, int], v: RecordVerdict) -> None:
        bucket[code] = bucket.get(code, 0) + 1
        got = samples.setdefault(code, [])
        if len(got) < SAMPLES_PER_CODE:
            got.append(_sample(v))

    for v in verdicts:
        total += 1
        if v.verdict == SKIP:
            note(v.reason or SKIP, counts, v)
        else:
            note(v.verdict, counts, v)
            for flag in v.flags:
                note(flag, flags, v)
    return Summary(total, counts, flags, samples)
