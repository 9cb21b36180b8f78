"""A seeded sandbox synced under each fault kind alone (3k records) and under all of them at
once (20k records) ends exactly as a fault-free run: same contacts, identifiers, data fields,
list memberships; no duplicates; every skipped or failed record has a stored reason."""

from __future__ import annotations

import pytest

from .conftest import BIG, SMALL
from .harness import HTML, KINDS, PUT_IMPORT, _f, all_kinds, run_under


def check(result) -> None:
    assert result.why == [] and result.survived, result.why
    assert result.injected > 0  # the faults really fired
    assert (result.lost, result.duplicates) == (0, 0)


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_fault_kind_alone(kind, references, tmp_path):
    ref = references(SMALL)
    result = run_under(kind, KINDS[kind], tmp_path, SMALL, ref)
    check(result)
    assert result.extra_calls > 0  # surviving a fault costs requests, never records
    if kind == "row failures":
        assert result.runs == 2  # the failed rows are kept as failed, with codes, and resent
    else:
        assert result.runs == 1  # retried within the run: nothing left for a second one


def test_every_kind_together_on_20k_records(references, tmp_path):
    ref = references(BIG)
    assert len(ref.state) > 1500
    result = run_under("all", all_kinds(), tmp_path, BIG, ref)
    check(result)
    assert result.injected > 100


def test_a_non_json_answer_to_an_import_is_resent_within_the_run(references, tmp_path):
    # Before the fix the connector raised at once and the whole run ended in error.
    plan = [_f("PUT", PUT_IMPORT, 200, body=HTML, every=2, times=2, name="import 200 HTML")]
    result = run_under("import 200 HTML", plan, tmp_path, SMALL, references(SMALL))
    check(result)
    assert result.runs == 1 and result.injected == 2
