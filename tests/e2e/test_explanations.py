"""A LEAK always comes with a retention path or the reason it has none (issue item: the
aiohttp client session of llama-agents #485 on llama-index-workflows 2.17.1)."""

from __future__ import annotations

import json
import re
import sys

import pytest

from tests.old_releases import release_python, run_wfleak

pytestmark = [pytest.mark.old_release, pytest.mark.slow]

SESSION_IN_STEP = "tests/fixtures/aiohttp_step.py:SessionInStep"
TWO_HOLDERS = "tests/fixtures/two_holders.py:TwoHoldersWorkflow"


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the reported case is Python 3.11")
def test_a_leak_from_an_aiohttp_session_in_a_step_has_a_path_or_says_why() -> None:
    python = release_python("llama-index-workflows==2.17.1", "aiohttp")
    # A new workflow per run keeps every run for good; with one shared workflow the runs are
    # freed once the dropped sessions' clean-up timers fire (tests/e2e/test_catalogue_releases).
    result = run_wfleak(
        python, "run", SESSION_IN_STEP, "-n", "10", "--workflow", "fresh", "--json", "-"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["environment"]["workflows"] == "2.17.1"
    assert report["verdict"] == "leak"
    leaks = [f for f in report["findings"] if f["kind"] == "leak"]
    assert leaks
    for finding in leaks:
        # Either the references that hold the run, or why there are none: never silence.
        assert finding["path"] or finding["unexplained"], finding
        assert finding["explanation"] or finding["fix"] or finding["unexplained"], finding
    unexplained = [f for f in leaks if not f["path"]]
    if unexplained:
        assert "no path: " in result.stderr
    # The path exists, and reads as the timer's copy of the framework's run variable.
    assert any(
        "<event loop>._scheduled[" in f["summary"]
        and "TimerHandle._context (copied contextvars) → Context[ContextVar 'current_run']"
        in f["summary"]
        for f in leaks
    ), [f["summary"] for f in leaks]


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the old-release venvs are 3.11's")
def test_the_users_holders_and_the_frameworks_keeping_the_same_contexts_are_each_a_finding() -> (
    None
):
    """On llama-index-core 0.12.10.post1 the shared workflow keeps every run's Context; the
    user's global and class registry keep them too: three holders, three findings."""
    python = release_python("llama-index-core==0.12.10.post1")
    result = run_wfleak(python, "run", TWO_HOLDERS, "-n", "12", "--json", "-")
    assert result.returncode == 0, result.stderr
    leaks = [f for f in json.loads(result.stdout)["findings"] if f["kind"] == "leak"]
    heads = [re.split(r"[\[{]", f["summary"].split(" retained via ")[1])[0] for f in leaks]
    assert list(zip([f["origin"] for f in leaks], heads, strict=True)) == [
        ("app", "tests.fixtures.two_holders.Registry.by_run"),
        ("app", "tests.fixtures.two_holders.HISTORY"),
        ("framework", "<shared workflow TwoHoldersWorkflow>._contexts"),
    ]
