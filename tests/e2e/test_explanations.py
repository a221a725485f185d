"""A LEAK always comes with a retention path or the reason it has none (issue item: the
aiohttp client session of llama-agents #485 on llama-index-workflows 2.17.1)."""

from __future__ import annotations

import json
import sys

import pytest

from tests.old_releases import release_python, run_wfleak

pytestmark = [pytest.mark.old_release, pytest.mark.slow]

SESSION_IN_STEP = "tests/fixtures/aiohttp_step.py:SessionInStep"


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the reported case is Python 3.11")
def test_a_leak_from_an_aiohttp_session_in_a_step_has_a_path_or_says_why() -> None:
    python = release_python("llama-index-workflows==2.17.1", "aiohttp")
    result = run_wfleak(python, "run", SESSION_IN_STEP, "-n", "10", "--json", "-")
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
