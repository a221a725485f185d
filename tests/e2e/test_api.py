"""The public API: ``wfleak.analyze`` and ``wfleak.evaluate``, as a script would call them."""

from __future__ import annotations

import pytest

import wfleak
from tests.fixtures.broken import RaisingWorkflow
from wfleak.errors import ExitCode, UsageError
from wfleak.model import StopReason, TargetStatus, Thresholds, Verdict


def test_analyze_returns_the_report_the_cli_prints() -> None:
    report = wfleak.analyze("samples/leaky_global.py:LeakyWorkflow", iterations=12, warmup=2)
    assert report.verdict is Verdict.LEAK
    assert report.findings[0].pattern_id == "WFL001"
    assert report.findings[0].fix_site is not None
    assert report.findings[0].fix_site.filename == "samples/leaky_global.py"
    judgement = wfleak.evaluate(report, Thresholds())
    assert judgement.status is TargetStatus.LEAKING


def test_analyze_takes_an_importable_class_and_keeps_a_failed_run_as_a_report() -> None:
    report = wfleak.analyze(RaisingWorkflow, iterations=6, warmup=0)
    assert report.target == "tests.fixtures.broken:RaisingWorkflow"
    assert report.stop is StopReason.FAILED
    assert (
        report.stop_message
        == "run 1 failed: ValueError: the model said no (tests/fixtures/broken.py:17)"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"iterations": 0}, "iterations must be a whole number of at least 1 (got 0)"),
        ({"warmup": -1}, "warmup must be a whole number of 0 or more (got -1)"),
        ({"workflow": "per-run"}, "workflow must be one of shared, fresh (got 'per-run')"),
        ({"timeout": 0}, "timeout must be more than 0 seconds (got 0)"),
        ({"input": ["q"]}, "input must be a mapping of field names to values"),
        ({"max_time": -1}, "max_time must be more than 0 seconds (got -1)"),
        ({"cwd": "/nonexistent/dir"}, "No such directory: /nonexistent/dir"),
    ],
)
def test_bad_arguments_raise_one_usage_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError) as raised:
        wfleak.analyze("samples/clean.py:CleanWorkflow", **kwargs)  # type: ignore[arg-type]
    assert raised.value.message == message
    assert raised.value.exit_code is ExitCode.USAGE


def test_a_class_defined_in_a_function_cannot_cross_to_the_worker() -> None:
    class Local:
        pass

    with pytest.raises(UsageError, match=r"cannot import .* in a worker process"):
        wfleak.analyze(Local)
