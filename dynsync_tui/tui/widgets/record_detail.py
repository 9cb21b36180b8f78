"""The detail pane for one preview record: raw values, corrections, linked values, last sync
state and the exact payload that would be sent."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.widgets import Static

from dynsync_tui.core.reasons import sentence


def detail_text(v: Any | None) -> Text:
    t = Text()
    if v is None:
        t.append("No record selected.", style="dim")
        return t
    r = v.record

    width = max([13, *(len(f"Field {k}") for k in r.fields)])

    def line(label: str, value: Any, style: str = "") -> None:
        t.append(f"{label:<{width}} ", style="bold")  # labels are never cut ("Field FIRSTNAME")
        t.append(f"{'' if value is None else value}\n", style=style)

    line("Record", f"{r.entity} {r.id}")
    line("Name", r.name)
    line("Email (raw)", repr(r.email) if r.email is not None else "(empty)")
    line("Mobile (raw)", repr(r.mobile) if r.mobile is not None else "(empty)")
    if r.country is not None:
        line("Country field", r.country)
    verdict = v.verdict if not v.reason else f"{v.verdict} ({v.reason})"
    line("Verdict", verdict, "bold")
    line("Why", sentence(v.reason or v.verdict), "italic")
    line("Email sent", v.email)
    line("Mobile sent", v.e164)
    for c in v.corrections:
        line("Correction", c, "yellow")
    for k, val in sorted(r.fields.items()):
        line(f"Field {k}", val)
    for k, val in sorted(r.linked.items()):
        line("Linked", f"{k} = {val}")
    p = v.prior
    if p is None:
        line("Last sync", "never synced")
    else:
        line("Last sync", f"{p.outcome or '?'}{f' ({p.reason})' if p.reason else ''}, contact {p.contact_id}, "
             f"email {p.email}, mobile {p.mobile}{', SMS opted out' if p.sms_opted_out else ''}")
    t.append("Payload\n", style="bold")
    t.append(json.dumps(v.payload, indent=2, ensure_ascii=False, default=str) if v.payload else "(nothing is sent)",
             style="dim" if not v.payload else "")
    return t


class RecordDetail(Static):
    DEFAULT_CSS = """
    RecordDetail { height: auto; }
    """

    def show(self, verdict: Any | None) -> None:
        self.update(detail_text(verdict))
