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
    result.stdout.fnmatch_lines(
        ["*wfleak: iterations: expected an integer ≥ 1 or 'auto', got integer 0"]
    )
    # Failures carry the finding, not a traceback through wfleak.
    assert "wfleak/pytest_plugin.py" not in output


CLEAN = f"{ROOT}/samples/clean.py:CleanWorkflow"
LEAKY = f"{ROOT}/samples/leaky_global.py:LeakyWorkflow"

LAYERS = f"""
import pytest


def test_from_config(wfleak_check):
    report = wfleak_check("{CLEAN}")
    assert (report.settings.iterations, report.settings.warmup) == (7, 1)


@pytest.mark.wfleak(iterations=8)
def test_marker_beats_config(wfleak_check):
    report = wfleak_check("{CLEAN}")
    assert (report.settings.iterations, report.settings.warmup) == (8, 1)


@pytest.mark.wfleak(iterations=8, warmup=2)
def test_call_beats_marker(wfleak_check):
    report = wfleak_check("{CLEAN}", iterations=6)
    assert (report.settings.iterations, report.settings.warmup) == (6, 2)


@pytest.mark.wfleak(allow=[{{"pattern": "WFL001", "reason": "bounded elsewhere"}}])
def test_marker_allowlist_accepts_the_leak(wfleak_check):
    report = wfleak_check("{LEAKY}", iterations=8)
    assert report.verdict.value == "leak"


def test_configured_target_by_name(wfleak_check):
    report = wfleak_check("fixed")
    assert report.target.endswith("fixed_global.py:FixedWorkflow")
    assert (report.settings.iterations, report.settings.warmup) == (9, 1)


@pytest.mark.wfleak(iteration=5)
def test_misspelt_marker(wfleak_check):
    wfleak_check("{CLEAN}")
"""

PROJECT = f"""
[tool.wfleak]
iterations = 7
warmup = 1

[[tool.wfleak.targets]]
name = "fixed"
target = "{ROOT}/samples/fixed_global.py:FixedWorkflow"
iterations = 9
"""


def test_fixture_reads_the_config_then_the_marker_then_the_call(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyprojecttoml(PROJECT)
    pytester.makepyfile(test_layers=LAYERS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(
        ["*wfleak: @pytest.mark.wfleak: unknown option 'iteration' (did you mean 'iterations'?)"]
    )


def test_command_line_iterations_win_and_skip_skips(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(PROJECT)
    pytester.makepyfile(
        test_cli=f"""
import pytest


@pytest.mark.wfleak(iterations=8)
def test_iterations(wfleak_check):
    assert wfleak_check("{CLEAN}", iterations=20).settings.iterations == 6


def test_without_the_fixture():
    pass
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--wfleak-iterations", "6")
    result.assert_outcomes(passed=2)
    skipped = pytester.runpytest("-p", "no:cacheprovider", "-rs", "--wfleak-skip")
    skipped.assert_outcomes(passed=1, skipped=1)
    skipped.stdout.fnmatch_lines(["SKIPPED*wfleak: skipped by --wfleak-skip"])


def test_bad_command_line_value_and_bad_config_are_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one=f'def test_it(wfleak_check):\n    wfleak_check("{CLEAN}")\n')
    refused = pytester.runpytest("-p", "no:cacheprovider", "--wfleak-iterations", "0")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(
        ["*argument --wfleak-iterations: expected an integer ≥ 1 or 'auto', got integer 0"]
    )
    pytester.makepyprojecttoml("[tool.wfleak]\ntimeout = nan\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*wfleak: pyproject.toml: tool.wfleak.timeout: expected a finite number > 0, got*nan"]
    )
    assert "During handling" not in result.stdout.str()


def test_pytest_help_lists_the_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--wfleak-iterations=N*", "*--wfleak-skip*"])
    markers = pytester.runpytest("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.wfleak(**options): defaults of the wfleak_check*"])
