"""Pilot tests: the flows of screens.md over fake services."""

from __future__ import annotations

import re
import threading
from types import SimpleNamespace

from textual.widgets import (
    Button,
    DataTable,
    Input,
    OptionList,
    RadioSet,
    Select,
    Static,
)

from dynsync_tui.core.config import load
from dynsync_tui.tui.widgets.preview_index import code_of
from dynsync_tui.tui.widgets.verdict_table import VerdictTable
from tests.tui.fakes import FakeEngine, fake_services, make_verdicts
from tests.tui.flows import confirm_sync, drive_full_flow, open_lists, settle, text_of

SIZE = (100, 32)


def counts_in(summary: str) -> dict[str, int]:
    return {k: int(v.replace(",", "")) for k, v in re.findall(r"(\w+): ([\d,]+)", summary)}


async def test_full_flow_to_finished_sync(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        summary = await drive_full_flow(app, pilot)
        got = counts_in(summary)
        runs = app.services().state.runs(app.services().env_key)
        assert runs, "the run is recorded"
        assert {k: runs[0].counts[k] for k in got} == got
        await pilot.press("f7")
        await settle(app, pilot)
        assert app.screen.query_one("#runs", DataTable).row_count == len(runs)


async def test_every_step_by_key_and_at_80x24(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=(80, 24)) as pilot:
        for i, name in enumerate(("Connect", "Country", "Mappings", "Lists", "Preview", "Sync", "Runs")):
            await pilot.press(f"f{i + 1}")
            await settle(app, pilot)
            assert type(app.screen).__name__ == f"{name}Screen"
            nxt = app.screen.query_one("#next", Button)
            assert nxt.region.bottom <= 24 and nxt.region.right <= 80, f"{name}: Next off screen"
        await pilot.press("ctrl+b")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "SyncScreen"


async def test_connect_error_is_one_line(tui_app) -> None:
    def broken(cfg):
        raise RuntimeError("Dataverse: sign-in failed: AADSTS7000215 invalid client secret\n  at line 2")

    app = tui_app(connect=broken)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#test")
        await settle(app, pilot)
        status = text_of(app, "#status")
        assert "AADSTS7000215" in status and "\n" not in status and "Traceback" not in status
        assert "Not connected" in text_of(app, "#result")


async def test_connect_rejects_http_url(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        app.screen.query_one("#env", Input).value = "http://org.example"
        await pilot.click("#test")
        await settle(app, pilot)
        assert "must start with https://" in text_of(app, "#status")
        assert app.config.dynamics.environment_url == ""


async def test_country_search_pick_and_no_match(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await settle(app, pilot)
        search = app.screen.query_one("#search", Input)
        search.value = "france"
        await settle(app, pilot)
        options = app.screen.query_one("#countries", OptionList)
        assert options.option_count == 1 and options.get_option_at_index(0).id == "FR"
        search.focus()
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.config.validation.default_country == "FR"
        search.value = "zzzz"
        await settle(app, pilot)
        assert options.option_count == 0 and "No country matches" in text_of(app, "#no-match")
        search.value = "off"
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.config.validation.default_country is None


async def test_mappings_edit_and_save(tui_app, tmp_path) -> None:
    app = tui_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f3")
        await settle(app, pilot)
        table = app.screen.query_one("#mappings", DataTable)
        table.move_cursor(row=1)  # mobileNumber ← contact.mobilephone
        await pilot.press("e")
        await settle(app, pilot)
        modal = app.screen
        assert modal.query_one("#direction", Select).has_class("-locked")
        assert "Information flows from CRM" in str(modal.query_one("#lock", Static).render())
        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.press("a")
        await settle(app, pilot)
        modal = app.screen
        modal.query_one("#label", Input).value = "bad label!"
        modal.query_one("#field", Select).value = "firstname"
        await pilot.click("#ok")
        await settle(app, pilot)
        assert "Dotdigital data labels are 1-20" in str(modal.query_one("#error", Static).render())
        modal.query_one("#label", Input).value = "FIRSTNAME"
        await pilot.pause(0.3)  # a button ignores clicks while its press effect shows
        await pilot.click("#ok")
        await settle(app, pilot)
        assert table.row_count == 5
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        saved = load(tmp_path / "config.toml")
        assert any(m.label == "FIRSTNAME" and m.field == "firstname" for m in saved.mappings)
        table.move_cursor(row=0)  # delete contact email: the set becomes invalid
        await pilot.press("delete")
        await pilot.pause(0.1)
        await pilot.press("y")
        await settle(app, pilot)
        assert "contact has no email mapping" in text_of(app, "#status")
        await pilot.press("ctrl+n")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "MappingsScreen", "an invalid set blocks Next"


async def test_no_eligible_lists(tui_app) -> None:
    lists = [SimpleNamespace(id="l1", name="Old", dynamic=False, member_type="contact", member_count=3,
                             activated=False, eligible=False, why="not activated for email")]
    app = tui_app(services=fake_services(lists))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        await settle(app, pilot)
        app.screen.query_one("#mode", RadioSet).query_one("#mode-lists").value = True
        await settle(app, pilot)
        assert "No marketing list qualifies" in text_of(app, "#empty")
        assert app.screen.query_one("#next", Button).disabled
        app.screen.query_one("#lists", DataTable).focus()
        await pilot.press("space")
        assert "not activated for email" in text_of(app, "#status")


async def test_pick_lists(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_lists(app, pilot, focus_table=False)
        assert app.screen.query_one("#next", Button).disabled
        app.screen.query_one("#lists", DataTable).focus()
        await pilot.press("space")
        await settle(app, pilot)
        assert [s.dynamics_list_id for s in app.config.consent.lists] == ["list-1"]
        assert not app.screen.query_one("#next", Button).disabled


async def test_preview_filter_search_detail(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f5")
        await settle(app, pilot)
        table = app.screen.query_one(VerdictTable)
        assert len(table.rows) == 200
        reasons = app.screen.query_one("#reasons", OptionList)
        ids = [reasons.get_option_at_index(i).id for i in range(reasons.option_count)]
        reasons.highlighted = ids.index("no_mobile")
        reasons.focus()
        await pilot.press("enter")
        await settle(app, pilot)
        expected = sum(1 for v in make_verdicts(200) if code_of(v) == "no_mobile")
        assert len(table.rows) == expected
        assert all(code_of(table.verdicts[i]) == "no_mobile" for i in table.rows)
        app.screen.query_one("#search", Input).value = "person107"
        await settle(app, pilot, 0.1)
        assert [table.verdicts[i].record.name for i in table.rows] == ["Person 107"]
        table.focus()
        await pilot.press("enter")
        await settle(app, pilot)
        detail = str(app.screen.query_one("#detail").render())
        assert "Person 107" in detail and "(nothing is sent)" in detail


async def test_cancel_sync(tui_app) -> None:
    gate = threading.Event()
    app = tui_app(engine_kw={"gate": gate})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f6")
        await settle(app, pilot)
        await confirm_sync(app, pilot)
        await pilot.pause(0.1)
        await pilot.press("f7")  # leaving is refused while the sync runs
        await pilot.pause()
        assert type(app.screen).__name__ == "SyncScreen"
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert type(app.screen).__name__ == "ConfirmScreen"
        await pilot.press("y")
        await pilot.pause()
        gate.set()
        await settle(app, pilot, 0.1)
        summary = text_of(app, "#summary")
        assert summary.startswith("Cancelled"), summary
        assert sum(counts_in(summary).values()) < 200
        bar = app.screen.query_one("#bar")
        assert bar.percentage is None or bar.percentage < 1, "a cancelled run's bar is not shown full"


async def test_open_failed_record(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f6")
        await settle(app, pilot)
        await confirm_sync(app, pilot)
        await settle(app, pilot, 0.2)
        await pilot.press("f7")
        await settle(app, pilot)
        records = app.screen.query_one("#records", DataTable)
        rows = [[str(c) for c in records.get_row_at(i)] for i in range(records.row_count)]
        failed = [r for r in rows if r[3] == "failed"]
        assert failed and "InvalidMobile" in failed[0][4]


async def test_thread_checks_during_sync(tui_app, monkeypatch) -> None:
    """No widget is refreshed or mounted from a worker thread while a sync runs."""
    from textual.widget import Widget

    app = tui_app(engine_kw={"n": 400})
    offenders: list[str] = []

    def guard(name):
        original = getattr(Widget, name)

        def checked(self, *a, **kw):
            if app._thread_id and threading.get_ident() != app._thread_id:
                offenders.append(f"{type(self).__name__}.{name} from {threading.current_thread().name}")
            return original(self, *a, **kw)

        monkeypatch.setattr(Widget, name, checked)

    for name in ("refresh", "mount", "remove", "set_class", "update" if hasattr(Widget, "update") else "refresh"):
        guard(name)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await settle(app, pilot)
        await pilot.press("f6")
        await settle(app, pilot)
        await confirm_sync(app, pilot)
        await settle(app, pilot, 0.2)
        assert text_of(app, "#summary").startswith("Sync finished")
    assert offenders == []


async def test_palette_knows_the_screen(tui_app) -> None:
    from dynsync_tui.tui.commands import DynsyncCommands

    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await settle(app, pilot)
        provider = DynsyncCommands(app.screen)
        titles = [t for t, _h, _cb in provider._commands()]
        assert "preview: reload preview" in titles and not any(t.startswith("connect:") for t in titles)
        await pilot.press("question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.press("ctrl+t")
        assert app.theme == "textual-light"


def test_fake_engine_follows_the_contract() -> None:
    """Keep the fake honest: the summary adds up to the records it classified."""
    events = []
    eng = FakeEngine(None, fake_services(), on_event=events.append, n=50)
    s = eng.sync()
    assert s.created + s.updated + s.unchanged + s.skipped + s.failed == 50
    assert events[-1].phase == "done"


def test_foreign_share_counts_other_country_codes() -> None:
    from dynsync_tui.tui.screens.country import foreign_share

    share, codes, n = foreign_share(["+44 7700 900123", "0033 6 12 34 56 78", "+49 171 1234567",
                                  "07700 900123", "", "+33 7 11 22 33 44"], 44)
    assert n == 5 and share == 3 / 5 and codes[0] == "+33" and "+49" in codes
    assert foreign_share([], 44) == (0.0, [], 0)


async def test_map_list_to_existing_dotdigital_list(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_lists(app, pilot)
        await pilot.press("space", "m")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "PickerScreen"
        await pilot.press("down", "enter")  # "Newsletter (#7)" after "New list: …"
        await settle(app, pilot)
        sel = app.config.consent.lists[0]
        assert (sel.dotdigital_list_id, sel.dotdigital_list_name) == (7, "Newsletter")
        assert "Newsletter" in str(app.screen.query_one("#lists", DataTable).get_row_at(0)[5])


async def test_preview_export_and_policy(tui_app, tmp_path) -> None:
    import csv
    import json

    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await settle(app, pilot)
        await pilot.press("x", "j")
        await settle(app, pilot, 0.1)
        rows = list(csv.DictReader(open(tmp_path / "preview-export.csv", encoding="utf-8")))
        data = json.loads((tmp_path / "preview-export.json").read_text(encoding="utf-8"))
        assert len(rows) == data["total"] == len(data["records"]) == 200
        assert data["counts"]["create"] == sum(1 for r in rows if r["verdict"] == "create")
        await pilot.press("p")
        await settle(app, pilot)
        assert app.config.sync.on_email_change == "update"
        assert "email change: update" in str(app.screen.query_one("#view-info").render())


async def test_throttling_notice_and_retry_from_runs(tui_app) -> None:
    from dynsync_tui.tui.screens.sync import is_notice

    assert is_notice("Dotdigital throttled (429): resuming in 4 s") and not is_notice("contacts")
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f7")
        await settle(app, pilot)
        assert "No runs yet." in text_of(app, "#runs-empty")
        await pilot.press("s")
        await pilot.pause(0.2)
        await confirm_sync(app, pilot, start=False)  # "Sync again" asks first too
        await settle(app, pilot, 0.1)
        assert type(app.screen).__name__ == "SyncScreen"
        assert text_of(app, "#summary").startswith("Sync finished (run 1)")


def test_run_row_seconds_from_timestamps() -> None:
    from dynsync_tui.tui.screens.runs import run_row

    run = SimpleNamespace(id=3, started="2026-12-03T16:29:11+00:00", finished="2026-12-03T16:29:13.500000+00:00",
                          status="ok", counts={"created": 1603, "failed": 29})
    cells = [str(c) for c in run_row(run)]
    assert cells[:4] == ["3", "2026-12-03T16:29:11", "ok", "1,603"] and cells[-1] == "2.5"


async def test_preview_reads_again_after_a_sync(tui_app) -> None:
    app = tui_app()
    calls = []
    factory = app.engine_factory
    app.engine_factory = lambda *a, **k: calls.append(1) or factory(*a, **k)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await settle(app, pilot)
        await pilot.press("f6")
        await settle(app, pilot)
        await pilot.press("f5")
        await settle(app, pilot)
        assert len(calls) == 1, "no change: the preview is kept"
        await pilot.press("f6")
        await settle(app, pilot)
        await confirm_sync(app, pilot)
        await settle(app, pilot, 0.1)
        await pilot.press("f5")
        await settle(app, pilot)
        assert len(calls) == 3, "after a sync the preview reads again"


async def test_step_keys_keep_what_was_typed(tui_app) -> None:
    app = tui_app()
    async with app.run_test(size=SIZE) as pilot:
        app.screen.query_one("#apiuser", Input).value = "apiuser-1@apiconnector.com"
        await pilot.press("f2")
        await settle(app, pilot)
        assert app.config.dotdigital.api_user == "apiuser-1@apiconnector.com"
        await pilot.press("f1")
        await settle(app, pilot)
        app.screen.query_one("#env", Input).value = "ftp://nope"
        await pilot.press("f2")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ConnectScreen" and "https://" in text_of(app, "#status")


async def test_a_failed_preview_says_the_rows_shown_are_the_previous_ones(tui_app) -> None:
    app = tui_app()
    factory = app.engine_factory
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await settle(app, pilot)
        assert "Showing the previous preview" not in text_of(app, "#status")

        def failing(*a, **k):  # type: ignore[no-untyped-def]
            engine = factory(*a, **k)
            engine.preview = lambda: (_ for _ in ()).throw(OSError("connection reset"))
            return engine

        app.engine_factory = failing
        await pilot.press("r")
        await settle(app, pilot)
        status = text_of(app, "#status")
        assert status.startswith("Showing the previous preview.") and "connection reset" in status
