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
        ({"iterations": 0}, "iterations: expected an integer ≥ 1 or 'auto', got integer 0"),
        ({"warmup": -1}, "warmup: expected an integer ≥ 0, got integer -1"),
        ({"workflow": "per-run"}, "workflow: expected 'shared' or 'fresh', got string 'per-run'"),
        ({"timeout": 0}, "timeout: expected a number > 0, got integer 0"),
        ({"timeout": float("nan")}, "timeout: expected a finite number > 0, got number nan"),
        ({"input": ["q"]}, "input: expected a table of field names to values, got array"),
        ({"max_time": -1}, "max_time: expected a number > 0, got integer -1"),
        ({"iteration": 5}, "unknown option 'iteration' (did you mean 'iterations'?)"),
        ({"cwd": "/nonexistent/dir"}, "No such directory: /nonexistent/dir"),
        ({"cwd": 123}, "cwd must be a path (got 123)"),
        ({"memray": 123}, "memray: expected a path, got integer 123"),
        ({"max_time": "5"}, "max_time: expected a number > 0, got string '5'"),
        ({"max_time": float("inf")}, "max_time: expected a finite number > 0, got number inf"),
        ({"show_secrets": "yes"}, "show_secrets: expected true or false, got string 'yes'"),
        (
            {"input": {"x": object()}},
            "input: holds a value JSON cannot carry (Object of type object is not JSON "
            "serializable)",
        ),
        (
            {"input": {"x": float("nan")}},
            "input: holds NaN or infinity, which is not standard JSON",
        ),
        ({"observer": 5}, "observer must be callable (got 5)"),
    ],
)
@pytest.mark.usefixtures("nothing_left")
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
