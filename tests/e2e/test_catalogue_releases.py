"""The catalogue's framework entries, each on the real release where it occurs and on the first
release that fixed it.

Every case first measures, with plain gc/weakref (tests/fixtures/release_truth.py and
tests/fixtures/server_releases.py, run in the release's own cached environment), what the runs
really leave alive and which framework attribute holds it; then it asserts that wfleak finds
the same thing, under the entry's id and owner, on the affected release, and does not on the
fixed one. The seed entries (WFL101, WFL102, WFL107) are in tests/e2e/test_old_releases.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.old_releases import ROOT, release_python, run_script, run_wfleak

pytestmark = [pytest.mark.old_release, pytest.mark.slow]

TRUTH = ROOT / "tests/fixtures/release_truth.py"
SERVER = ROOT / "tests/fixtures/server_releases.py"
TRUTH_TARGET = "tests/fixtures/release_truth.py"
TWO_STEPS = f"{TRUTH_TARGET}:TwoSteps"
SERVER_TARGET = "tests/fixtures/server_releases.py"
SESSION_IN_STEP = "tests/fixtures/aiohttp_step.py:SessionInStep"
SERVER_REQUEST = 'POST /workflows/greet/run {"start_event": {"name": "Ada"}}'

CORE_STOP_IN_PROGRESS = "llama-index-core==0.12.5"
CORE_STOP_RELEASED = "llama-index-core==0.12.6"
CORE_TASKS_RELEASED = "llama-index-core==0.12.25"
WORKFLOWS_LAST_BROKER_LOG = "llama-index-workflows==2.8.3"
WORKFLOWS_NO_BROKER_LOG = "llama-index-workflows==2.9.0"
WORKFLOWS_RUN_PINNED = ("llama-index-workflows==2.17.1", "aiohttp")
WORKFLOWS_RUN_RELEASED = ("llama-index-workflows==2.17.3", "aiohttp")
WORKFLOWS_CURRENT = "llama-index-workflows==2.26.1"
SERVER_UNBOUNDED = "llama-agents-server==0.1.3"
SERVER_BOUNDED = "llama-agents-server==0.2.0"

ONLY_311 = pytest.mark.skipif(
    sys.version_info[:2] != (3, 11),
    reason="aiohttp starts its clean-up timer only before Python 3.12.8; measured on 3.11",
)


def truth(requirements: tuple[str, ...], script: Path, *args: str) -> dict[str, Any]:
    result = run_script(release_python(*requirements), script, *args)
    assert result.returncode == 0, result.stderr
    measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def analyse(requirements: tuple[str, ...], target: str, *args: str) -> dict[str, Any]:
    result = run_wfleak(release_python(*requirements), "run", target, *args, "--json", "-")
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def with_pattern(report: dict[str, Any], pattern_id: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["pattern_id"] == pattern_id]


def labels(finding: dict[str, Any]) -> list[str]:
    return [edge["label"] for edge in finding["edges"]]


def assert_framework_finding(finding: dict[str, Any], package: str, version: str) -> None:
    assert finding["kind"] == "leak"
    assert finding["origin"] == "framework"
    if "origin_package" in finding:
        assert finding["origin_package"] == f"{package} {version}"


# A Context reused across runs keeps every event of every run in ``Context._broker_log``.


@pytest.mark.parametrize(
    "requirement", [CORE_STOP_IN_PROGRESS, CORE_STOP_RELEASED, WORKFLOWS_LAST_BROKER_LOG]
)
def test_a_reused_context_keeps_every_event_in_its_broker_log(requirement: str) -> None:
    measured = truth((requirement,), TRUTH, "reused-context")
    runs = measured["runs"]
    assert measured["alive"]["Middle"] == runs
    assert measured["held_by_middle"] == {"_broker_log": runs}
    assert measured["grew"]["_broker_log"] == [3, 3 * runs]  # start, middle, stop: every run


def test_the_broker_log_is_gone_with_the_workflows_2_9_runtime() -> None:
    measured = truth((WORKFLOWS_NO_BROKER_LOG,), TRUTH, "reused-context")
    assert measured["alive"]["Middle"] <= 1  # the latest run's at most
    assert measured["grew"] == {}


@pytest.mark.parametrize(
    ("requirement", "pattern_id", "package"),
    [
        (CORE_STOP_IN_PROGRESS, "WFL110", "llama-index-core"),
        (CORE_STOP_RELEASED, "WFL110", "llama-index-core"),
        (WORKFLOWS_LAST_BROKER_LOG, "WFL108", "llama-index-workflows"),
    ],
)
def test_wfleak_blames_the_broker_log_on_the_framework(
    requirement: str, pattern_id: str, package: str
) -> None:
    report = analyse((requirement,), TWO_STEPS, "-n", "10", "--context", "reuse")
    assert report["verdict"] == "leak"
    (finding,) = [f for f in with_pattern(report, pattern_id) if "._broker_log" in labels(f)]
    assert_framework_finding(finding, package, requirement.split("==")[1])
    assert finding["summary"].startswith("10 × Middle")
    assert "<reused Context>._broker_log" in finding["summary"]
    assert finding["bytes_per_run"] > 20_000  # each run's 20 kB payload
    # The user stored nothing: never "state piles up in a Context" (the app's WFL008).
    assert with_pattern(report, "WFL008") == []


def test_wfleak_finds_no_broker_log_on_the_workflows_2_9_runtime() -> None:
    report = analyse((WORKFLOWS_NO_BROKER_LOG,), TWO_STEPS, "-n", "10", "--context", "reuse")
    assert report["verdict"] != "leak"
    for pattern_id in ("WFL108", "WFL110", "WFL008"):
        assert with_pattern(report, pattern_id) == []


# WFL104: the StopEvent stays in ``Context._in_progress``, up to llama-index-core 0.12.5 only.


def test_the_stop_event_stays_in_progress_on_0_12_5() -> None:
    measured = truth((CORE_STOP_IN_PROGRESS,), TRUTH, "reused-context")
    assert measured["held_by_stop"]["_in_progress"] == measured["runs"]


def test_0_12_6_releases_the_stop_event_but_the_broker_log_still_keeps_it() -> None:
    measured = truth((CORE_STOP_RELEASED,), TRUTH, "reused-context")
    assert "_in_progress" not in measured["held_by_stop"]
    assert measured["held_by_stop"] == {"_broker_log": measured["runs"]}


def test_wfleak_names_the_stop_event_in_progress_on_0_12_5_only() -> None:
    affected = analyse((CORE_STOP_IN_PROGRESS,), TWO_STEPS, "-n", "10", "--context", "reuse")
    (finding,) = with_pattern(affected, "WFL104")
    assert_framework_finding(finding, "llama-index-core", "0.12.5")
    assert "._in_progress" in labels(finding)
    fixed = analyse((CORE_STOP_RELEASED,), TWO_STEPS, "-n", "10", "--context", "reuse")
    assert with_pattern(fixed, "WFL104") == []


# A reused Context keeps its runs' finished step tasks in ``Context._tasks`` before 0.12.25.


def test_a_reused_context_keeps_the_finished_step_tasks_before_0_12_25() -> None:
    before = truth((CORE_STOP_RELEASED,), TRUTH, "reused-context")
    assert before["held_by_task"]["_tasks"] >= before["runs"]
    fixed = truth((CORE_TASKS_RELEASED,), TRUTH, "reused-context")
    assert fixed["held_by_task"] == {}


def test_wfleak_blames_the_kept_step_tasks_on_the_framework_before_0_12_25() -> None:
    affected = analyse((CORE_STOP_RELEASED,), TWO_STEPS, "-n", "10", "--context", "reuse")
    (finding,) = with_pattern(affected, "WFL111")
    assert_framework_finding(finding, "llama-index-core", "0.12.6")
    assert "<reused Context>._tasks" in finding["summary"]
    assert with_pattern(affected, "WFL003") == []  # not a task the user started
    fixed = analyse((CORE_TASKS_RELEASED,), TWO_STEPS, "-n", "10", "--context", "reuse")
    assert with_pattern(fixed, "WFL111") == []


# WFL103: a timer scheduled in a step pins the whole run on llama-index-workflows 2.14.0 to 2.17.1.


@ONLY_311
def test_an_aiohttp_session_in_a_step_pins_every_run_on_2_17_1() -> None:
    # A new workflow per run keeps its session, so every connector's timer lives on, and
    # with it the run the timer's copied contextvars hold.
    fresh = truth(WORKFLOWS_RUN_PINNED, TRUTH, "aiohttp-fresh")
    runs = fresh["runs"]
    assert fresh["after_fired"]["StartEvent"] == runs
    assert fresh["after_fired"]["TCPConnector"] == runs
    # One shared workflow keeps only the latest session: the others' runs are held until
    # their dropped connector's timer fires once more, then freed.
    shared = truth(WORKFLOWS_RUN_PINNED, TRUTH, "aiohttp")
    assert shared["after_runs"]["StartEvent"] == runs
    assert shared["after_fired"]["StartEvent"] == 1


@ONLY_311
def test_2_17_3_releases_the_runs_an_aiohttp_timer_copied() -> None:
    for case in ("aiohttp", "aiohttp-fresh"):
        released = truth(WORKFLOWS_RUN_RELEASED, TRUTH, case)
        assert released["after_runs"]["StartEvent"] == 0, case
        # What the timers still copy is the framework's emptied run holder, until they fire.
        assert released["after_fired"]["RunContextContainer"] <= 1, case


@ONLY_311
def test_wfleak_finds_wfl103_on_2_17_1_and_not_on_2_17_3() -> None:
    affected = analyse(WORKFLOWS_RUN_PINNED, SESSION_IN_STEP, "-n", "10", "--workflow", "fresh")
    assert affected["verdict"] == "leak"
    (finding, *_) = with_pattern(affected, "WFL103")
    assert_framework_finding(finding, "llama-index-workflows", "2.17.1")
    assert "[ContextVar 'current_run']" in labels(finding)
    fixed = analyse(WORKFLOWS_RUN_RELEASED, SESSION_IN_STEP, "-n", "10", "--workflow", "fresh")
    assert fixed["verdict"] != "leak"
    assert with_pattern(fixed, "WFL103") == []


@ONLY_311
def test_on_2_17_3_a_shared_workflows_live_client_timer_is_not_a_leak() -> None:
    # Measured above: once the dropped sessions' timers fire, one RunContextContainer is left,
    # the one the live session's clean-up timer copies again and again.
    report = analyse(WORKFLOWS_RUN_RELEASED, SESSION_IN_STEP, "-n", "10")
    assert report["verdict"] == "ok", [f["summary"] for f in report["findings"]]
    assert any("one timer holds one run's" in note for note in report["notes"]), report["notes"]


# The ``step_worker`` ContextVar: a timer scheduled in a step holds that step's events.


def test_a_timer_in_a_step_holds_the_steps_events_until_it_fires() -> None:
    once = truth((WORKFLOWS_CURRENT,), TRUTH, "timer-once")
    runs = once["runs"]
    assert once["after_runs"] == {"Marked": runs, "Middle": runs}
    assert once["after_fired"] == {"Marked": 0, "Middle": 0}
    assert "workflows.runtime.types.results.StepWorkerContext" in once["copied_vars"]


def test_a_self_rescheduling_timer_in_a_step_holds_them_for_good() -> None:
    periodic = truth((WORKFLOWS_CURRENT,), TRUTH, "timer-periodic")
    runs = periodic["runs"]
    assert periodic["after_fired"] == {"Marked": runs, "Middle": runs}
    # The remedy a user can apply: schedule it with an empty context.
    empty = truth((WORKFLOWS_CURRENT,), TRUTH, "timer-empty-context")
    assert empty["after_runs"] == empty["after_fired"] == {"Marked": 0, "Middle": 0}


def test_cancelling_the_timer_does_not_release_the_events_before_its_deadline() -> None:
    cancelled = truth((WORKFLOWS_CURRENT,), TRUTH, "timer-cancelled")
    assert cancelled["after_cancel"] == cancelled["after_runs"]


def test_the_step_worker_hold_begins_with_the_workflows_2_9_runtime() -> None:
    before = truth((WORKFLOWS_LAST_BROKER_LOG,), TRUTH, "timer-periodic")
    assert before["after_fired"] == {"Marked": 0, "Middle": 0}
    first = truth((WORKFLOWS_NO_BROKER_LOG,), TRUTH, "timer-periodic")
    assert first["after_fired"]["Middle"] == first["runs"]


def test_wfleak_reports_a_self_rescheduling_timer_in_a_step_as_wfl109() -> None:
    report = analyse((WORKFLOWS_CURRENT,), f"{TRUTH_TARGET}:PeriodicTimer", "-n", "10")
    assert report["verdict"] == "leak"
    (finding, *_) = with_pattern(report, "WFL109")
    assert_framework_finding(finding, "llama-index-workflows", "2.26.1")
    assert "._context (copied contextvars)" in labels(finding)
    assert "contextvars.Context()" in finding["fix_example"]
    assert with_pattern(report, "WFL004") == []  # the ContextVar is the framework's


def test_wfleak_calls_a_one_shot_timer_in_a_step_held_until_it_fired() -> None:
    report = analyse((WORKFLOWS_CURRENT,), f"{TRUTH_TARGET}:OneShotTimer", "-n", "10")
    assert [f for f in report["findings"] if f["kind"] == "leak"] == []
    assert any("held until a timer fired" in note for note in report["notes"])


def test_wfleak_finds_no_wfl109_with_an_empty_timer_context() -> None:
    report = analyse((WORKFLOWS_CURRENT,), f"{TRUTH_TARGET}:PeriodicTimerEmptyContext", "-n", "10")
    assert with_pattern(report, "WFL109") == []


# WFL105: the workflow server's in-memory store keeps every completed run before 0.2.0.


def test_the_servers_memory_store_keeps_every_run_before_0_2_0() -> None:
    unbounded = truth((SERVER_UNBOUNDED,), SERVER)
    assert unbounded["default"] == unbounded["bounded"] == unbounded["requests"]
    bounded = truth((SERVER_BOUNDED,), SERVER)
    assert bounded["bounded"] == 2
    # 0.2.0's default bound is 1000 completed runs: below it, the store still grows.
    assert bounded["default"] == bounded["requests"]


def test_wfleak_finds_wfl105_before_0_2_0_and_not_with_its_bound() -> None:
    affected = analyse(
        (SERVER_UNBOUNDED,), f"{SERVER_TARGET}:default_app", "--request", SERVER_REQUEST, "-n", "30"
    )
    assert affected["verdict"] == "leak"
    # The store is reached from the module's server and from its app: a path from each.
    findings = with_pattern(affected, "WFL105")
    assert findings
    for finding in findings:
        assert finding["origin"] == "library"  # the server is not the engine
        assert finding["origin_package"] == "llama-agents-server 0.1.3"
        assert "._workflow_store" in labels(finding)
        assert finding["count"] == 30
    bounded = analyse(
        (SERVER_BOUNDED,), f"{SERVER_TARGET}:bounded_app", "--request", SERVER_REQUEST, "-n", "30"
    )
    assert bounded["verdict"] == "ok", [f["summary"] for f in bounded["findings"]]
