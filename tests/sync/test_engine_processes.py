"""The engine asks core for verdicts with several processes (core decides when to fork)."""

from __future__ import annotations

from dynsync_tui.core import parallel
from dynsync_tui.core.verdicts import VerdictSettings, classify
from dynsync_tui.sync import engine as engine_mod

from .conftest import Rig
from .fakes import contact_rows


def test_the_engine_classifies_with_its_processes(tmp_path, monkeypatch) -> None:
    calls = []
    real = parallel.classify_parallel

    def spy(records, prior, settings, processes=2, **kw):  # type: ignore[no-untyped-def]
        calls.append((len(records), processes))
        return real(records, prior, settings, processes, **kw)

    monkeypatch.setattr(parallel, "classify_parallel", spy)
    monkeypatch.setattr(engine_mod, "PROCESSES", 3)
    rig = Rig(tmp_path, contact_rows(6))
    try:
        engine = rig.engine()
        records = engine.read_records()
        verdicts = engine.classify(records, {}, rig.config)
    finally:
        rig.state.close()
    assert calls == [(6, 3)]
    serial = classify(records, {}, VerdictSettings.from_config(rig.config))  # small: done here alike
    assert [(v.verdict, v.reason) for v in verdicts] == [(v.verdict, v.reason) for v in serial]
