"""Every growing signal is accounted for: ``merge_explanations`` and the report built from
the phases' results."""

from __future__ import annotations

from dataclasses import replace

from tests.factories import KIB, leak, runs, settings
from wfleak.analysis.verdict import judge
from wfleak.model import (
    Environment,
    Finding,
    FindingKind,
    Reason,
    ReasonCode,
    Report,
    Verdict,
)
from wfleak.phases.explain import ExplainResult
from wfleak.phases.measure import MeasureResult
from wfleak.phases.report import (
    PhaseResults,
    build_report,
    merge_explanations,
    unaccounted_findings,
)
from wfleak.phases.trace import TraceResult
from wfleak.phases.warmup import WarmupResult

ENVIRONMENT = Environment(python="3.11", platform="linux", wfleak="0")


def report_of(measure: MeasureResult, explain: ExplainResult, traced: bool = True) -> Report:
    results = PhaseResults(
        warmup=WarmupResult(done=3),
        measure=measure,
        trace=TraceResult(runs=4 if traced else 0),
        explain=explain,
    )
    return build_report(settings(len(measure.runs)), ENVIRONMENT, results)


def test_growth_the_explained_findings_do_not_cover_keeps_a_finding_naming_the_remainder() -> None:
    """One Context per run in one list (2 KiB each) and 64 KiB of bytes per run in another."""
    measured = MeasureResult(runs=runs(12, retained=list(range(12)), bytes_per_run=66 * KIB))
    report = report_of(measured, ExplainResult(findings=[leak(count=12, size=2 * KIB)]))
    assert report.verdict is Verdict.LEAK
    fingerprints = [f.fingerprint for f in report.findings]
    assert fingerprints == [leak().fingerprint, "unaccounted-memory-growth"]
    remainder = report.findings[1]
    assert remainder.bytes_per_run == 64 * KIB
    assert remainder.summary.startswith("+64.0 KiB/run not accounted for by the findings above")


def test_explained_findings_that_cover_the_growth_replace_the_trend_findings() -> None:
    measured = MeasureResult(runs=runs(12, retained=list(range(12)), bytes_per_run=2 * KIB))
    report = report_of(measured, ExplainResult(findings=[leak(count=12, size=2 * KIB)]))
    assert [f.fingerprint for f in report.findings] == [leak().fingerprint]
    # Per-run rates, from the path group's count and size.
    assert report.findings[0].objects_per_run == 1
    assert report.findings[0].bytes_per_run == 2 * KIB


def test_a_leak_left_without_a_path_says_why() -> None:
    measured = MeasureResult(runs=runs(12, bytes_per_run=8 * KIB))
    why = "no retention path found: none of the 3 leaked objects examined is reachable"
    report = report_of(measured, ExplainResult(unexplained=why))
    (finding,) = report.findings
    assert finding.kind is FindingKind.LEAK
    assert finding.unexplained == why


def test_an_error_while_explaining_is_a_reason_and_the_leak_stays() -> None:
    measured = MeasureResult(runs=runs(12, retained=list(range(0, 24, 2))))
    message = "explaining the leak failed: MemoryError: "
    failed = ExplainResult(
        notes=[message],
        reasons=[Reason(ReasonCode.EXPLANATION_FAILED, message)],
        unexplained=message,
    )
    report = report_of(measured, failed)
    assert report.verdict is Verdict.LEAK
    assert [r.code for r in report.reasons] == [ReasonCode.EXPLANATION_FAILED]
    assert report.findings[0].unexplained == message
    assert report.notes == [message]


def test_an_analysis_that_never_traced_says_so_on_its_leaks() -> None:
    measured = MeasureResult(runs=runs(12, bytes_per_run=8 * KIB))
    report = report_of(measured, ExplainResult(), traced=False)
    assert report.findings[0].unexplained == "not explained: the analysis ended before tracing"


def test_merge_keeps_every_cycle_and_only_the_uncovered_trend_leaks() -> None:
    assessment = judge(
        runs(12, bytes_per_run=100 * KIB, cycle_bytes=70 * KIB), settings(12), {}, []
    )
    kinds = sorted(f.kind.value for f in assessment.findings)
    assert kinds == ["cycle", "leak"]
    covered = merge_explanations(assessment.findings, [leak(bytes_per_run=100 * KIB)], None)
    assert sorted(f.fingerprint for f in covered) == sorted([leak().fingerprint, "cycle-garbage"])


def test_two_holders_of_the_same_objects_explain_their_memory_once() -> None:
    """A global and a registry both keep each run's Context (2 KiB): 2 KiB per run, not 4."""
    measured = MeasureResult(runs=runs(12, retained=list(range(12)), bytes_per_run=4 * KIB))
    registry = leak("WFL001", count=12, size=2 * KIB)
    history = leak("WFL002", count=12, size=2 * KIB)
    registry = replace(registry, also_held_by=[history.fingerprint])
    history = replace(history, also_held_by=[registry.fingerprint])
    report = report_of(measured, ExplainResult(findings=[registry, history]))
    remainder = next(f for f in report.findings if f.fingerprint == "unaccounted-memory-growth")
    assert remainder.bytes_per_run == 2 * KIB
    assert "they explain +2.0 KiB/run" in remainder.summary
    # Holders of different objects each explain their own.
    apart = report_of(
        measured,
        ExplainResult(
            findings=[
                leak("WFL001", count=12, size=2 * KIB),
                leak("WFL002", count=12, size=2 * KIB),
            ]
        ),
    )
    assert "unaccounted-memory-growth" not in [f.fingerprint for f in apart.findings]


def test_growth_python_never_allocated_is_said_to_be_outside_it() -> None:
    """64 KiB per run that tracemalloc saw only 1 KiB of: C code's own allocations."""
    generic = [
        Finding(
            kind=FindingKind.LEAK,
            title="Memory retained after GC grows with every run",
            summary="",
            fingerprint="retained-memory-growth",
            bytes_per_run=66 * KIB,
        )
    ]
    explained = [leak(count=12, size=2 * KIB, bytes_per_run=2 * KIB)]
    (native,) = unaccounted_findings(generic, explained, 256, python_bytes_per_run=1 * KIB)
    assert "Python's allocators grew by only +1.0 KiB/run" in native.summary
    assert "--memray FILE" in native.summary
    (python,) = unaccounted_findings(generic, explained, 256, python_bytes_per_run=66 * KIB)
    (untraced,) = unaccounted_findings(generic, explained, 256)
    for remainder in (python, untraced):
        assert "outside" not in remainder.summary
        assert remainder.bytes_per_run == 64 * KIB
