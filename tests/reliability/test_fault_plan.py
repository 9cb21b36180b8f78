"""The fault plan: TOML files and entry lists, what each option does to a request, seeded
determinism, and one-line errors naming the file, the fault and the key."""

from __future__ import annotations

import ssl
import subprocess
import sys

import httpx
import pytest

from dynsync_tui.sandbox.faults import FaultPlanError, Faults, read_plan

from .harness import PUT_IMPORT, connect, make_config, start_sandbox

PLAN = '''
seed = 11
[[fault]]
name = "dd busy"
method = "GET"
path_regex = '/v2/data-fields'
status = 429
times = 1
retry_after = 0.05
ratelimit_reset = 2

[[fault]]
method = "PUT"
path_regex = '/contacts/v3/import$'
status = 0
times = -1
row_failures = 0.5
row_failure_code = "TryLater"
hold = 0.3
'''


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    box = start_sandbox(tmp_path_factory.mktemp("sb"), 200)
    yield box
    box.stop()


@pytest.fixture
def clients(sb, tmp_path):
    services = connect(sb, tmp_path / "home", make_config(sb))
    sb.faults.clear()
    yield services.dataverse, services.dotdigital
    sb.faults.clear()
    services.close()


def people(n: int, tag: str) -> list[dict]:
    return [{"matchIdentifier": "email", "identifiers": {"email": f"{tag}{i}@example.org"}} for i in range(n)]


def test_a_toml_plan_throttles_then_fails_half_the_rows_of_a_held_import(sb, clients, tmp_path):
    dv, dd = clients
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN, encoding="utf-8")
    dd.account_info()  # region discovery first: not part of what is counted
    faults = sb.faults.load_file(plan)
    calls = dd.calls
    dd.data_fields()
    assert dd.calls - calls == 2 and dd.rate_limited >= 1  # one 429, then the answer
    import_id = dd.start_import(people(10, "plan"))
    assert dd.import_status(import_id)["status"] == "NotFinished"  # held past import_delay
    doc = dd.wait_for_import(import_id, first=0.1)
    assert len(doc["failures"]) == 5 and len(doc["created"]) == 5
    assert {f["failures"][0]["failureCode"] for f in doc["failures"]} == {"TryLater"}
    assert sb.faults.report() == {"dd busy": 1, faults[1].label: 1 + 5}  # 1 import, 5 rows


def test_expired_token_is_renewed_once_and_the_read_goes_on(sb, clients):
    dv, _ = clients
    dv.whoami()
    sb.faults.add("GET", "WhoAmI", 0, times=1, expire_token=True)
    before = dv.requests
    assert dv.whoami()["OrganizationId"]
    assert dv.requests - before == 2 and sb.faults.injected() == 1  # a 401, then the answer


def test_an_import_whose_answer_was_dropped_still_happened(sb, clients):
    _, dd = clients
    sb.faults.add("PUT", PUT_IMPORT, 0, times=1, drop=True, after=True)
    before = len(sb.dotdigital_contacts())
    dd.wait_for_import(dd.start_import(people(3, "dropped")), first=0.05)  # resent after the drop
    mine = [c for c in sb.dotdigital_contacts() if c["identifiers"]["email"].startswith("dropped")]
    assert len(mine) == 3 and len(sb.dotdigital_contacts()) == before + 3  # two imports, no duplicate
    assert sum(1 for m, p in sb.request_log if m == "PUT" and "import" in p) >= 2


def test_every_nth_and_seeded_rates_repeat_exactly():
    def fired(seed: int) -> list[bool]:
        f = Faults(seed)
        f.add("GET", "x", 503, times=-1, rate=0.4)
        f.add("GET", "y", 500, times=-1, every=3)
        return [f.take("GET", p) is not None for p in ["/x", "/y"] * 30]
    assert fired(5) == fired(5) != fired(6)
    assert fired(5)[1::2] == [False, False, True] * 10  # every 3rd /y


@pytest.mark.parametrize("text, message", [
    ("[[fault]]\nmethod = 'GET'\nstatus = 500\n", "[[fault]] #1: missing key 'path_regex'"),
    ("[[fault]]\nmethod='GET'\npath_regex='x'\nstatus=500\ncolour=1\n", "#1: unknown key 'colour'"),
    ("[[fault]]\nmethod='GET'\npath_regex='x'\nstatus=500\nrate=2\n", "key 'rate' must be between 0 and 1"),
    ("[[fault]]\nmethod='GET'\npath_regex='x'\nstatus='500'\n", "key 'status' must be an integer"),
    ("[[fault]]\nmethod='GET'\npath_regex='x'\nstatus=500\ndrop='yes'\n", "key 'drop' must be true or false"),
    ("[[fault]]\nmethod='GET'\npath_regex='('\nstatus=500\n", "key 'path_regex' is not a regular expression"),
    ("[[fault]]\nmethod='GET'\npath_regex='x'\nstatus=0\nhold=3\n", "key 'method' must be PUT"),
    ("[[fault]]\nmethod='FETCH'\npath_regex='x'\nstatus=500\n", "key 'method' must be one of"),
    ("seed = 'x'\n", "key 'seed' must be an integer"),
    ("faults = []\n", "unknown key 'faults'"),
    ("[[fault]\n", "not valid TOML"),
])
def test_a_bad_plan_is_one_line_naming_file_and_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FaultPlanError) as err:
        read_plan(path)
    assert message in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)
    f = Faults()
    with pytest.raises(FaultPlanError):
        f.load_file(path)
    assert f.pending() == 0  # nothing half-loaded


def test_load_checks_every_entry_before_adding_any():
    f = Faults()
    with pytest.raises(ValueError, match="fault #2: key 'times'"):
        f.load([{"method": "GET", "path_regex": "a", "status": 500},
                {"method": "GET", "path_regex": "b", "status": 500, "times": 0}])
    assert f.take("GET", "/a") is None


def test_dynsync_sandbox_refuses_a_bad_plan_with_exit_code_2(tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text("[[fault]]\nmethod='GET'\npath_regex='x'\nstatus=500\nrate=-1\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "dynsync_tui", "sandbox", "--faults", str(plan)],
                          capture_output=True, text=True, timeout=60,
                          env={"DYNSYNC_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "key 'rate'" in proc.stderr and str(plan) in proc.stderr
    assert not (tmp_path / "home" / "sandbox" / "sandbox.db").exists()  # nothing written


def test_httpx_sees_the_injected_rate_limit_headers(sb):
    sb.faults.clear()
    sb.faults.add("GET", "account-info", 429, times=1, retry_after=1.5, ratelimit_reset=7)
    ctx = ssl.create_default_context(cafile=str(sb.info.ca_file))
    r = httpx.get(f"{sb.info.dotdigital_url}/v2/account-info", verify=ctx)
    sb.faults.clear()
    assert r.status_code == 429 and r.headers["Retry-After"] == "1.5"
    assert (r.headers["X-RateLimit-Remaining"], r.headers["X-RateLimit-Reset"]) == ("0", "7")
