"""The ``wfleak_check`` fixture, run by pytest's own ``pytester`` as a user's suite would."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT

pytest_plugins = ["pytester"]

SUITE = f"""
from wfleak import AllowRule


def test_leaky_workflow(wfleak_check):
    wfleak_check("{ROOT}/samples/leaky_global.py:LeakyWorkflow", iterations=12, warmup=2)


def test_fixed_workflow(wfleak_check):
    report = wfleak_check("{ROOT}/samples/fixed_global.py:FixedWorkflow", iterations=12, warmup=2)
    assert report.verdict.value == "ok"


def test_accepted_leak(wfleak_check):
    wfleak_check(
        "{ROOT}/samples/leaky_global.py:LeakyWorkflow",
        iterations=12,
        warmup=2,
        allow=[AllowRule(reason="history is bounded elsewhere", pattern="WFL001")],
    )


def test_bad_option(wfleak_check):
    wfleak_check("{ROOT}/samples/clean.py:CleanWorkflow", iterations=0)
"""


def test_fixture_fails_leaky_workflows_with_the_finding(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_service=SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=2)
    output = result.stdout.str()
    fix_line = next(
        number
        for number, line in enumerate(
            (ROOT / "samples/leaky_global.py").read_text().splitlines(), 1
        )
        if "HISTORY.append(ctx)" in line
    )
    result.stdout.fnmatch_lines(
        [
            "*wfleak: *samples/leaky_global.py:LeakyWorkflow does not pass (LEAK):",
            "*WFL001 A module global keeps every run's Context, handler or events",
            f"*fix: Remove or bound `HISTORY.append(ctx)` at *samples/leaky_global.py:{fix_line}.*",
        ]
    )
    result.stdout.fnmatch_lines(["*wfleak: iterations: expected an integer ≥ 1, got integer 0"])
    # Failures carry the finding, not a traceback through wfleak.
    assert "wfleak/pytest_plugin.py" not in output
