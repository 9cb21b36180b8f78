"""Through the sandbox: a sync killed (SIGKILL) mid-send resumes to exactly what an
uninterrupted run leaves; 429s on the import create no duplicates; email-change policies."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from .test_sandbox_sync import Sandbox, connect, engine_for, write_contacts

pytestmark = pytest.mark.skipif(Sandbox is None, reason="sandbox not available")

CHILD = textwrap.dedent('''
    import json, sys
    from pathlib import Path
    from dynsync_tui import paths
    from dynsync_tui.core.config import Config
    from dynsync_tui.core.mappings import Mapping
    from dynsync_tui.sandbox import SandboxInfo
    from dynsync_tui.sync.engine import Engine
    from dynsync_tui.sync.imports import PollPolicy
    from dynsync_tui.sync.services import build_services

    raw = json.loads(sys.argv[1])
    info = SandboxInfo(**{**raw, "ca_file": Path(raw["ca_file"])})
    cfg = Config()
    cfg.mappings.append(Mapping("FIRSTNAME", "contact", "firstname"))
    cfg.sync.batch_size, cfg.sync.imports_in_flight = 5, 2
    services = build_services(cfg, paths.resolve(sys.argv[2]), sandbox_info=info)
    real, count = services.dotdigital.start_import, [0]

    def start_import(contacts, **kw):
        import_id = real(contacts, **kw)
        count[0] += 1
        print(f"SENT {count[0]}", flush=True)
        return import_id

    services.dotdigital.start_import = start_import
    Engine(cfg, services, poll=PollPolicy(first=0.05, shortest=0.02)).sync()
    print("DONE", flush=True)
''')


def people(sb):
    return sorted((c["identifiers"].get("email"), c["identifiers"].get("mobileNumber"),
                   c["dataFields"].get("FIRSTNAME")) for c in sb.dotdigital_contacts())


def sandbox_with(tmp_path, name, n, delay):
    sb = Sandbox(tmp_path / name, data_dir=write_contacts(tmp_path / "data", n), import_delay=delay)
    sb.start()
    return sb


@pytest.mark.parametrize("kill_after", [1, 3])
def test_killed_run_resumes_to_what_an_uninterrupted_run_leaves(tmp_path, kill_after):
    reference = sandbox_with(tmp_path, "reference", 40, 0.02)
    try:
        cfg, services = connect(reference, tmp_path / "ref-home", first_name=True, batch_size=5)
        engine_for(cfg, services).sync()
        services.close()
        expected = people(reference)
    finally:
        reference.stop()
    assert len(expected) == 40

    sb = sandbox_with(tmp_path, "killed", 40, 0.15)
    try:
        info = {k: str(v) for k, v in dataclasses.asdict(sb.info).items()}
        home = tmp_path / "home"
        child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(info), str(home)],
                                 stdout=subprocess.PIPE, text=True)
        for line in child.stdout:
            if line.strip() == f"SENT {kill_after}":
                os.kill(child.pid, signal.SIGKILL)
                break
        child.wait(30)
        assert child.returncode == -signal.SIGKILL
        assert len(people(sb)) < 40 or kill_after > 1  # the run really was cut short

        cfg, services = connect(sb, home, first_name=True, batch_size=5)
        summary = engine_for(cfg, services).sync()
        runs = services.state.runs(services.env_key)
        assert [r.status for r in runs] == ["ok", "interrupted"]
        assert summary.failed == 0 and summary.status == "ok"
        assert people(sb) == expected  # same contacts, no duplicates
        again = engine_for(cfg, services).sync()
        assert (again.created, again.updated, again.unchanged) == (0, 0, 40)
        services.close()
    finally:
        sb.stop()


def test_two_429s_then_success_creates_no_duplicate(tmp_path, monkeypatch):
    monkeypatch.setattr("dynsync_tui.connectors.dotdigital.random.uniform", lambda a, b: 0.0)  # no jitter
    sb = sandbox_with(tmp_path, "sb", 10, 0.02)
    try:
        sb.faults.add("PUT", r"/contacts/v3/import", 429, times=2, retry_after=0.05)
        cfg, services = connect(sb, tmp_path / "home", batch_size=4)
        summary = engine_for(cfg, services).sync()
        assert (summary.created, summary.failed) == (10, 0)
        assert sb.faults.pending() == 0
        assert len(sb.dotdigital_contacts()) == 10
        services.close()
    finally:
        sb.stop()


@pytest.mark.parametrize("policy, contacts, new_email_on", [
    ("duplicate", 11, "a second contact"),
    ("update", 10, "the same contact"),
    ("skip", 10, None),
])
def test_email_change_under_each_policy(tmp_path, policy, contacts, new_email_on):
    sb = sandbox_with(tmp_path, "sb", 10, 0.02)
    try:
        cfg, services = connect(sb, tmp_path / "home", batch_size=4, on_email_change=policy)
        engine_for(cfg, services).sync()
        before = {c["identifiers"]["email"]: c["contactId"] for c in sb.dotdigital_contacts()}
        sb.update_record("contact", "00000000-0000-4000-8000-000000000004",
                         emailaddress1="renamed@example.org")
        summary = engine_for(cfg, services).sync()
        after = {c["identifiers"]["email"]: c["contactId"] for c in sb.dotdigital_contacts()}
        assert len(after) == contacts
        if policy == "duplicate":
            assert summary.created == 1 and "person4@example.org" in after
            assert after["renamed@example.org"] != before["person4@example.org"]
        elif policy == "update":
            assert summary.updated == 1 and "person4@example.org" not in after
            assert after["renamed@example.org"] == before["person4@example.org"]
        else:
            assert "renamed@example.org" not in after and summary.skipped == 1
        services.close()
    finally:
        sb.stop()
