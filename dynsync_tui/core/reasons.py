"""Stable verdict and reason codes, each with the sentence the admin reads.

The codes are part of the headless interface (JSON output, CSV export, run history):
extend, never rename.
"""

from __future__ import annotations

from enum import Enum


class Verdict(str, Enum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    SKIP = "skip"


class Reason(str, Enum):
    NO_EMAIL = "no_email"
    INVALID_EMAIL = "invalid_email"
    NO_MOBILE = "no_mobile"
    INVALID_MOBILE = "invalid_mobile"
    NOT_MOBILE = "not_mobile"
    NO_COUNTRY_CODE = "no_country_code"
    NOT_IN_LIST = "not_in_list"
    NO_CONSENT = "no_consent"
    DUPLICATE_EMAIL = "duplicate_email"
    SHARED_MOBILE = "shared_mobile"
    EMAIL_CHANGED = "email_changed"
    MOBILE_CHANGED = "mobile_changed"
    SMS_OPTED_OUT = "sms_opted_out"
    EMAIL_CHANGE_HELD = "email_change_held"
    FAILED = "failed"


SENTENCES: dict[str, str] = {
    Verdict.CREATE: "New contact: will be created in Dotdigital.",
    Verdict.UPDATE: "Existing contact: its data fields will be updated.",
    Verdict.UNCHANGED: "Nothing changed since the last sync: nothing is sent.",
    Reason.NO_EMAIL: "No email address: a record syncs only with both an email and a mobile number.",
    Reason.INVALID_EMAIL: "Email address is malformed or has characters Dotdigital rejects (e.g. non-ASCII).",
    Reason.NO_MOBILE: "No mobile number: a record syncs only with both an email and a mobile number.",
    Reason.INVALID_MOBILE: "Invalid mobile number for its country: invalid numbers don't sync.",
    Reason.NOT_MOBILE: "Not a mobile number (landline, toll-free, premium or shared-cost).",
    Reason.NO_COUNTRY_CODE: "No country code (validation is off): Dotdigital would reject it.",
    Reason.NOT_IN_LIST: "Not a member of any selected marketing list.",
    Reason.NO_CONSENT: "No consent: the consent field is not set.",
    Reason.DUPLICATE_EMAIL: "Duplicate email in source: another record with this email wins.",
    Reason.SHARED_MOBILE: "Mobile shared with another record: Dotdigital allows a mobile on one contact only.",
    Reason.EMAIL_CHANGED: "Email changed since the last sync: syncing would create a duplicate contact.",
    Reason.MOBILE_CHANGED: "Mobile changed since the last sync: mobile changes are not synced.",
    Reason.SMS_OPTED_OUT: "SMS opted out in Dotdigital: left unchanged, never re-subscribed.",
    Reason.EMAIL_CHANGE_HELD: "Email changed since the last sync: held (on_email_change = \"skip\").",
    Reason.FAILED: "Dotdigital rejected this record in the last sync.",
}


def sentence(code: str) -> str:
    """The human sentence for a verdict or reason code (the code itself if unknown)."""
    return SENTENCES.get(code, code)
