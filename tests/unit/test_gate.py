"""The CI gate over result models: thresholds, allowlist, fail-on and baseline."""

from __future__ import annotations

import pytest

from wfleak.gate import BaselineEntry, evaluate
from wfleak.model import (
    AllowRule,
    Environment,
    FailOn,
    Finding,
    FindingKind,
    Node,
    Report,
    RunSample,
    Settings,
    StopReason,
    TargetStatus,
    Thresholds,
    Verdict,
)


def leak(pattern: str | None = "WFL001", leaked: str = "Context") -> Finding:
    return Finding(
        kind=FindingKind.LEAK,
        title="A module global keeps every run's Context",
        summary="20 × Context retained via app.HISTORY[3] → Context",
        fingerprint=f"module|app|{pattern}|{leaked}",
        pattern_id=pattern,
        path=["n0", "n1", "n2"],
        nodes=[
            Node("n0", "module", "app", 0, root=True),
            Node("n1", "list", "HISTORY", 0),
            Node("n2", leaked, leaked, 0, framework=True),
        ],
    )


def cycle() -> Finding:
    return Finding(
        kind=FindingKind.CYCLE,
        title="Runs leave reference cycles that only the cyclic GC frees",
        summary="40 objects per run are freed only by gc.collect()",
        fingerprint="cycle|Context._workflow",
        pattern_id="WFL107",
        path=["n0", "n1"],
        nodes=[Node("n0", "Context", "ctx", 0), Node("n1", "Workflow", "wf", 0)],
    )


def report(*findings: Finding, retained: int = 0, stop: StopReason | None = None) -> Report:
    verdict = max(
        (Verdict(f.kind.value) for f in findings), key=lambda v: v.severity, default=Verdict.OK
    )
    return Report(
        target="app.py:Flow",
        environment=Environment(python="3.11", platform="linux", wfleak="0"),
        settings=Settings(target="app.py:Flow", iterations=3, warmup=0),
        verdict=verdict,
        runs=[
            RunSample(index=i, ok=True, duration_s=0.01, framework_alive_after_gc=retained)
            for i in (1, 2, 3)
        ],
        findings=list(findings),
        stop=stop,
        stop_message="run 2 failed" if stop else None,
    )


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


def test_baseline_accepts_known_findings_and_fails_new_ones() -> None:
    known = BaselineEntry(fingerprints=frozenset({leak().fingerprint}), retained_objects=60)
    assert evaluate(report(leak(), retained=60), Thresholds(), known).status is (
        TargetStatus.PASSED
    )
    new = leak(pattern="WFL002", leaked="Handler")
    judgement = evaluate(report(leak(), new, retained=60), Thresholds(), known)
    assert judgement.status is TargetStatus.LEAKING
    assert [v.fingerprint for v in judgement.violations] == [new.fingerprint]


def test_baseline_fails_more_retained_objects_than_it_had() -> None:
    baseline = BaselineEntry(retained_objects=2)
    assert evaluate(report(retained=2), Thresholds(), baseline).status is TargetStatus.PASSED
    assert evaluate(report(retained=3), Thresholds(), baseline).status is TargetStatus.LEAKING


def test_stopped_runs_are_a_failed_run_not_a_pass() -> None:
    judgement = evaluate(report(stop=StopReason.FAILED), Thresholds())
    assert judgement.status is TargetStatus.RUN_FAILED
    assert evaluate(report(stop=StopReason.INTERRUPTED), Thresholds()).status is (
        TargetStatus.INTERRUPTED
    )
