"""The report: a pure function of the phases' results."""

from __future__ import annotations

from dataclasses import dataclass, field

from wfleak import framework
from wfleak.analysis.explain import CycleSketch, cycle_finding
from wfleak.analysis.verdict import judge
from wfleak.model import (
    Environment,
    Finding,
    FindingKind,
    MemraySummary,
    Report,
    Settings,
    StopReason,
    Verdict,
)
from wfleak.phases.explain import ExplainResult
from wfleak.phases.measure import MeasureResult
from wfleak.phases.settle import SettleResult
from wfleak.phases.trace import TraceResult
from wfleak.phases.warmup import WarmupResult


@dataclass(frozen=True)
class PhaseResults:
    """Everything one analysis found, phase by phase; a phase that did not run is empty."""

    warmup: WarmupResult
    measure: MeasureResult = field(default_factory=lambda: MeasureResult(runs=[]))
    settle: SettleResult = field(default_factory=SettleResult)
    trace: TraceResult = field(default_factory=TraceResult)
    explain: ExplainResult = field(default_factory=ExplainResult)
    memray: MemraySummary | None = None
    stop: StopReason | None = None
    """Why the analysis ended early when no phase says so itself (an interruption)."""
    stop_message: str | None = None


def merge_explanations(
    findings: list[Finding], explained: list[Finding], sketch: CycleSketch | None
) -> list[Finding]:
    """Explained leaks replace the generic ones they account for; the ring joins the CYCLE."""
    merged = list(explained)
    if not explained:
        merged += [f for f in findings if f.kind is FindingKind.LEAK]
    merged += [cycle_finding(f, sketch) for f in findings if f.kind is FindingKind.CYCLE]
    return merged


def build_report(settings: Settings, environment: Environment, results: PhaseResults) -> Report:
    warmup, measure = results.warmup, results.measure
    runs = measure.runs
    # An interruption overrides whatever a phase said; a failed warm-up ends before measuring.
    stop, stop_message = next(
        (
            (reason, message)
            for reason, message in (
                (results.stop, results.stop_message),
                (warmup.stop, warmup.stop_message),
                (measure.stop, measure.stop_message),
            )
            if reason is not None
        ),
        (None, None),
    )
    verdict, trends, findings = judge(runs, settings, measure.retained_by_type, measure.type_growth)
    findings = merge_explanations(findings, results.explain.findings, measure.cycle_sketch)
    return Report(
        target=settings.target,
        environment=environment,
        settings=settings,
        verdict=verdict if runs else Verdict.OK,
        runs=runs,
        warmup_done=warmup.done,
        complete=stop is None
        and (len(runs) == settings.most_iterations or measure.decision is not None),
        stop=stop,
        stop_message=stop_message,
        failures=warmup.failures + measure.failures,
        trends=trends,
        findings=findings,
        type_growth=measure.type_growth,
        allocation_sites=results.trace.allocation_sites,
        leftovers=measure.leftovers,
        notes=[
            *framework.unsupported_releases(
                {
                    "llama-index-core": environment.llama_index_core,
                    "llama-index-workflows": environment.workflows,
                }
            ),
            *results.explain.notes,
        ],
        memray=results.memray,
        runs_used=len(runs),
        decision=measure.decision.reason if measure.decision else None,
    )
