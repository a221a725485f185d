"""``judge``: four outcomes from the per-run samples, and never OK without evidence."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.factories import KIB, runs, settings
from wfleak.analysis.trend import MIN_POINTS
from wfleak.analysis.verdict import judge
from wfleak.model import FindingKind, ReasonCode, RunSample, Verdict


def codes(assessment: object) -> list[ReasonCode]:
    return [r.code for r in getattr(assessment, "reasons")]  # noqa: B009


def test_ten_quiet_runs_are_ok_without_reasons() -> None:
    assessment = judge(runs(10), settings(), {}, [])
    assert assessment.verdict is Verdict.OK
    assert assessment.reasons == []


def test_retained_framework_objects_after_five_runs_are_a_leak_without_a_trend_test() -> None:
    """leaky_global -n 5: 20, 40, 60, 80, 100 retained framework objects."""
    measured = runs(5, retained=[20, 40, 60, 80, 100])
    assessment = judge(measured, settings(5), {"Context": 5, "StartEvent": 5}, [])
    assert assessment.verdict is Verdict.LEAK
    (finding,) = assessment.findings
    assert finding.fingerprint == "retained-framework-objects"
    assert finding.objects_per_run == 20
    # It stays LEAK, and says that the trend tests could not run.
    assert codes(assessment) == [ReasonCode.TOO_FEW_RUNS]


def test_two_runs_can_show_direct_retention() -> None:
    assessment = judge(runs(2, retained=[7, 14]), settings(2), {}, [])
    assert assessment.verdict is Verdict.LEAK


@pytest.mark.parametrize("series", [[5, 5, 5, 5, 5], [0, 3, 3, 3, 3], [4, 2, 6, 4, 8]])
def test_retention_that_does_not_rise_with_every_run_is_not_direct_evidence(
    series: list[int],
) -> None:
    assessment = judge(runs(5, retained=series), settings(5), {}, [])
    assert assessment.findings == []
    assert assessment.verdict is Verdict.INCONCLUSIVE


def test_bytes_growth_in_five_runs_is_inconclusive_saying_how_many_runs_are_needed() -> None:
    """64 KiB of bytes per run, no framework object kept: only the trend can tell."""
    assessment = judge(runs(5, bytes_per_run=64 * KIB), settings(5), {}, [])
    assert assessment.verdict is Verdict.INCONCLUSIVE
    (reason,) = assessment.reasons
    assert reason.code is ReasonCode.TOO_FEW_RUNS
    assert f"run at least {MIN_POINTS} iterations" in reason.message
    assert reason.message.startswith("5 measured runs")


def test_the_same_growth_over_enough_runs_is_a_leak() -> None:
    assessment = judge(runs(MIN_POINTS, bytes_per_run=64 * KIB), settings(MIN_POINTS), {}, [])
    assert assessment.verdict is Verdict.LEAK
    assert assessment.reasons == []


def test_no_measured_run_is_inconclusive_not_ok() -> None:
    assessment = judge([], settings(), {}, [])
    assert assessment.verdict is Verdict.INCONCLUSIVE
    assert codes(assessment) == [ReasonCode.NO_MEASURED_RUNS]


def test_runs_that_failed_before_making_anything_are_inconclusive() -> None:
    measured = runs(10, ok=False, framework_created=0, error="ValueError: no API key")
    assessment = judge(measured, settings(), {}, [])
    assert assessment.verdict is Verdict.INCONCLUSIVE
    assert codes(assessment) == [ReasonCode.RUNS_FAILED]


def test_failed_runs_that_ran_are_judged_like_the_others() -> None:
    measured = runs(10, ok=False, cycle_bytes=90 * KIB, cycle_objects=179)
    measured = [
        r.__class__(**{**r.__dict__, "cycle_framework_types": {"Context": 1}}) for r in measured
    ]
    assessment = judge(measured, settings(), {}, [])
    assert assessment.verdict is Verdict.CYCLE
    assert [f.kind for f in assessment.findings] == [FindingKind.CYCLE]
    assert assessment.findings[0].bytes_per_run == 90 * KIB


def _with_bytes(kib: list[int]) -> list[RunSample]:
    return [
        replace(run, traced_bytes=10_000_000 + k * KIB)
        for run, k in zip(runs(len(kib)), kib, strict=True)
    ]


def test_growth_at_the_threshold_but_within_the_noise_is_inconclusive_not_ok() -> None:
    # +512 B per run over eight runs, +939 B in the second half, but p = 0.023: the runs
    # neither show a leak nor rule one out.
    measured = _with_bytes([0, 3, 1, 4, 2, 5, 3, 6])
    assessment = judge(measured, settings(8), {}, [])
    assert assessment.findings == []
    assert assessment.verdict is Verdict.INCONCLUSIVE
    (reason,) = assessment.reasons
    assert reason.code is ReasonCode.GROWTH_UNCERTAIN
    assert reason.message.startswith("retained memory rose +512 B per run over 8 measured runs")
    assert "--iterations 50" in reason.message


def test_noise_without_a_rise_at_the_threshold_is_ok() -> None:
    # The same spread, no rise over all the runs (+85 B per run, under the 256 B threshold).
    assessment = judge(_with_bytes([0, 3, 1, 2, 0, 3, 1, 2]), settings(8), {}, [])
    assert assessment.verdict is Verdict.OK
    assert assessment.reasons == []
