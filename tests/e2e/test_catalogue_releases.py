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
TWO_STEPS = "tests/fixtures/release_truth.py:TwoSteps"
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


# WFL104: the StopEvent stays in ``Context._in_progress``, up to llama-index-core 0.12.5 only.


def test_the_stop_event_stays_in_progress_on_0_12_5() -> None:
    measured = truth((CORE_STOP_IN_PROGRESS,), TRUTH, "reused-context")
    assert measured["held_by_stop"]["_in_progress"] == measured["runs"]


def test_0_12_6_releases_the_stop_event_but_the_broker_log_still_keeps_it() -> None:
    measured = truth((CORE_STOP_RELEASED,), TRUTH, "reused-context")
    assert "_in_progress" not in measured["held_by_stop"]
    assert measured["held_by_stop"] == {"_broker_log": measured["runs"]}


# A reused Context keeps its runs' finished step tasks in ``Context._tasks`` before 0.12.25.


def test_a_reused_context_keeps_the_finished_step_tasks_before_0_12_25() -> None:
    before = truth((CORE_STOP_RELEASED,), TRUTH, "reused-context")
    assert before["held_by_task"]["_tasks"] >= before["runs"]
    fixed = truth((CORE_TASKS_RELEASED,), TRUTH, "reused-context")
    assert fixed["held_by_task"] == {}


# WFL103: a timer scheduled in a step pins the whole run on llama-index-workflows 2.14.0 to 2.17.1.


@ONLY_311
def test_an_aiohttp_session_in_a_step_pins_every_run_on_2_17_1_only() -> None:
    pinned = truth(WORKFLOWS_RUN_PINNED, TRUTH, "aiohttp")
    assert pinned["start_events_alive"] == pinned["runs"]
    released = truth(WORKFLOWS_RUN_RELEASED, TRUTH, "aiohttp")
    assert released["start_events_alive"] == 0
    # The session and connector the workflow keeps in ``self.session``: the latest only.
    assert (released["sessions_alive"], released["connectors_alive"]) == (1, 1)


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


# WFL105: the workflow server's in-memory store keeps every completed run before 0.2.0.


def test_the_servers_memory_store_keeps_every_run_before_0_2_0() -> None:
    unbounded = truth((SERVER_UNBOUNDED,), SERVER)
    assert unbounded["default"] == unbounded["bounded"] == unbounded["requests"]
    bounded = truth((SERVER_BOUNDED,), SERVER)
    assert bounded["bounded"] == 2
    # 0.2.0's default bound is 1000 completed runs: below it, the store still grows.
    assert bounded["default"] == bounded["requests"]
