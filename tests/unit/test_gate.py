"""The CI gate over result models: thresholds, allowlist, fail-on, baseline, INCONCLUSIVE."""

from __future__ import annotations

import pytest

from tests.factories import KIB, cycle, leak, report, runs, trend_leak
from wfleak.commands.check import exit_code
from wfleak.errors import ExitCode
from wfleak.gate import BaselineEntry, Rate, baseline_entry, evaluate
from wfleak.model import (
    AllowRule,
    FailOn,
    Reason,
    ReasonCode,
    StopReason,
    TargetResult,
    TargetStatus,
    Thresholds,
)

TOO_FEW = Reason(ReasonCode.TOO_FEW_RUNS, "5 measured runs: run at least 6 iterations")


def test_clean_report_passes() -> None:
    assert evaluate(report(), Thresholds()).status is TargetStatus.PASSED


def test_leak_finding_fails_with_its_text() -> None:
    judgement = evaluate(report(leak()), Thresholds())
    assert judgement.status is TargetStatus.LEAKING
    assert [v.message for v in judgement.violations] == [
        "WFL001 A module global keeps every run's Context: "
        "20 × Context retained via app.HISTORY[3] → Context"
    ]
    assert judgement.violations[0].fingerprint == leak().fingerprint


def test_a_leak_without_a_path_fails_saying_why() -> None:
    finding = trend_leak(unexplained="explaining the leak failed: MemoryError: ")
    (violation,) = evaluate(report(finding), Thresholds()).violations
    assert violation.message.endswith("(no path: explaining the leak failed: MemoryError: )")


@pytest.mark.parametrize(
    ("fail_on", "status"),
    [(FailOn.LEAK, TargetStatus.PASSED), (FailOn.CYCLE, TargetStatus.LEAKING)],
)
def test_cycle_findings_fail_only_with_fail_on_cycle(fail_on: FailOn, status: TargetStatus) -> None:
    assert evaluate(report(cycle()), Thresholds(fail_on=fail_on)).status is status


@pytest.mark.parametrize(
    "rule",
    [
        AllowRule(reason="fixed upstream in 0.12.25", pattern="WFL001"),
        AllowRule(reason="we keep the last run", type="Context"),
        AllowRule(reason="qualified names match too", type="workflows.context.Context"),
    ],
)
def test_allow_rule_accepts_a_finding_with_its_reason(rule: AllowRule) -> None:
    judgement = evaluate(report(leak()), Thresholds(allow=[rule]))
    assert judgement.status is TargetStatus.PASSED
    assert [a.reason for a in judgement.accepted] == [rule.reason]


def test_allow_rule_for_another_pattern_or_type_does_not_accept() -> None:
    rules = [AllowRule(reason="r", pattern="WFL002"), AllowRule(reason="r", type="Handler")]
    assert evaluate(report(leak()), Thresholds(allow=rules)).status is TargetStatus.LEAKING


def test_allow_by_type_matches_any_object_of_a_cycle() -> None:
    rule = AllowRule(reason="known framework cycle", type="Workflow")
    thresholds = Thresholds(fail_on=FailOn.CYCLE, allow=[rule])
    assert evaluate(report(cycle()), thresholds).status is TargetStatus.PASSED


def test_an_allow_rule_accepts_only_the_finding_it_names() -> None:
    """A Context kept in one list (accepted as WFL001) and 64 KiB per run in another: the
    growth the accepted finding does not account for still fails."""
    remainder = trend_leak(
        "unaccounted-memory-growth",
        bytes_per_run=85 * KIB,
        summary="+85.0 KiB/run not accounted for by the findings above",
    )
    rule = AllowRule(reason="known, fixed next sprint", pattern="WFL001")
    judgement = evaluate(report(leak(), remainder, retained=20), Thresholds(allow=[rule]))
    assert judgement.status is TargetStatus.LEAKING
    assert [v.fingerprint for v in judgement.violations] == ["unaccounted-memory-growth"]
    assert [a.fingerprint for a in judgement.accepted] == [leak().fingerprint]


def test_retained_framework_objects_beyond_the_allowance_fail_without_a_finding() -> None:
    judgement = evaluate(report(retained=4), Thresholds())
    assert judgement.status is TargetStatus.LEAKING
    assert judgement.violations[0].message == (
        "4 framework objects from finished runs are still reachable after a full gc.collect() "
        "(allowed: 0)"
    )
    assert evaluate(report(retained=4), Thresholds(max_retained_objects=4)).status is (
        TargetStatus.PASSED
    )


def test_retained_objects_explained_by_a_leak_finding_are_not_counted_twice() -> None:
    judgement = evaluate(report(leak(), retained=60), Thresholds())
    assert len(judgement.violations) == 1


def test_an_accepted_finding_about_other_objects_does_not_hide_retained_framework_objects() -> None:
    bytes_leak = leak("WFL003", "bytes", framework=False)
    rule = AllowRule(reason="a bounded buffer", pattern="WFL003")
    judgement = evaluate(report(bytes_leak, retained=60), Thresholds(allow=[rule]))
    assert judgement.status is TargetStatus.LEAKING
    assert judgement.violations[0].message.startswith("60 framework objects")


def test_baseline_accepts_known_findings_and_fails_new_ones() -> None:
    known = baseline_entry(report(leak(), retained=60))
    assert evaluate(report(leak(), retained=60), Thresholds(), known).status is (
        TargetStatus.PASSED
    )
    new = leak(pattern="WFL002", leaked="Handler")
    judgement = evaluate(report(leak(), new, retained=60), Thresholds(), known)
    assert judgement.status is TargetStatus.LEAKING
    assert [v.fingerprint for v in judgement.violations] == [new.fingerprint]


def test_a_known_leak_that_grows_far_past_its_baseline_fails() -> None:
    """Baseline: 60 retained objects over 10 runs; now 60 000."""
    known = baseline_entry(report(leak(count=60), retained=60))
    now = report(leak(count=60_000), retained=60_000)
    judgement = evaluate(now, Thresholds(), known)
    assert judgement.status is TargetStatus.LEAKING
    (violation,) = judgement.violations
    assert violation.fingerprint == leak().fingerprint
    assert "grew past its baseline (tolerance +25%)" in violation.message
    assert "6000.0 objects/run (baseline 6.0)" in violation.message


@pytest.mark.parametrize(
    ("count", "status"),
    [(75, TargetStatus.PASSED), (90, TargetStatus.LEAKING)],
)
def test_baseline_tolerance_is_a_share_of_the_per_run_rate(
    count: int, status: TargetStatus
) -> None:
    known = BaselineEntry(findings={leak().fingerprint: Rate(6.0, 6.0 * 2 * KIB)})
    thresholds = Thresholds(baseline_tolerance=0.25)
    assert evaluate(report(leak(count=count)), thresholds, known).status is status


def test_baselines_compare_rates_so_the_iteration_count_does_not_matter() -> None:
    known = baseline_entry(report(leak(count=20), measured=runs(10, retained=20)))
    longer = report(leak(count=100), measured=runs(50, retained=100))
    assert evaluate(longer, Thresholds(), known).status is TargetStatus.PASSED


def test_baseline_fails_more_retained_objects_per_run_than_it_had() -> None:
    baseline = BaselineEntry(retained_per_run=0.2)
    assert evaluate(report(retained=2), Thresholds(), baseline).status is TargetStatus.PASSED
    assert evaluate(report(retained=60_000), Thresholds(), baseline).status is (
        TargetStatus.LEAKING
    )


def test_stopped_runs_are_a_failed_run_not_a_pass() -> None:
    judgement = evaluate(report(stop=StopReason.FAILED), Thresholds())
    assert judgement.status is TargetStatus.RUN_FAILED
    assert evaluate(report(stop=StopReason.INTERRUPTED), Thresholds()).status is (
        TargetStatus.INTERRUPTED
    )


def test_an_inconclusive_report_fails_with_its_reasons() -> None:
    judgement = evaluate(report(reasons=[TOO_FEW]), Thresholds())
    assert judgement.status is TargetStatus.INCONCLUSIVE
    assert [v.message for v in judgement.violations] == [
        "INCONCLUSIVE too_few_runs: 5 measured runs: run at least 6 iterations"
    ]


def test_allow_inconclusive_passes_it_and_shows_the_reasons() -> None:
    judgement = evaluate(report(reasons=[TOO_FEW]), Thresholds(allow_inconclusive=True))
    assert judgement.status is TargetStatus.PASSED
    assert [(a.title, a.reason) for a in judgement.accepted] == [
        (
            "INCONCLUSIVE too_few_runs: 5 measured runs: run at least 6 iterations",
            "allow-inconclusive",
        )
    ]


def test_an_accepted_leak_with_too_few_runs_is_inconclusive_not_a_pass() -> None:
    rule = AllowRule(reason="known", pattern="WFL001")
    judgement = evaluate(report(leak(), reasons=[TOO_FEW]), Thresholds(allow=[rule]))
    assert judgement.status is TargetStatus.INCONCLUSIVE


def test_max_time_does_not_blame_the_workflow() -> None:
    budget = Reason(ReasonCode.BUDGET_EXCEEDED, "stopped by --max-time after 5s")
    stopped = report(reasons=[budget], stop=StopReason.MAX_TIME)
    assert evaluate(stopped, Thresholds()).status is TargetStatus.INCONCLUSIVE
    decided = report(leak(), reasons=[budget], stop=StopReason.MAX_TIME)
    assert evaluate(decided, Thresholds()).status is TargetStatus.LEAKING


def _result(status: TargetStatus) -> TargetResult:
    return TargetResult(name=status.value, target="t", status=status, thresholds=Thresholds())


@pytest.mark.parametrize(
    ("statuses", "code"),
    [
        ([TargetStatus.PASSED], ExitCode.OK),
        ([TargetStatus.PASSED, TargetStatus.INCONCLUSIVE], ExitCode.INCONCLUSIVE),
        ([TargetStatus.INCONCLUSIVE, TargetStatus.LEAKING], ExitCode.FINDINGS),
        ([TargetStatus.LEAKING, TargetStatus.RUN_FAILED], ExitCode.WORKFLOW_FAILED),
        ([TargetStatus.RUN_FAILED, TargetStatus.NOT_LOADED], ExitCode.USAGE),
        ([TargetStatus.NOT_LOADED, TargetStatus.INTERRUPTED], ExitCode.INTERRUPTED),
    ],
)
def test_exit_code_precedence_is_130_2_3_1_4(statuses: list[TargetStatus], code: ExitCode) -> None:
    assert exit_code([_result(s) for s in statuses]) is code
    assert int(ExitCode.INCONCLUSIVE) == 4
