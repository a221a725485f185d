"""The report: a pure function of the phases' results."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from wfleak import framework
from wfleak.analysis.explain import CycleSketch, cycle_finding
from wfleak.analysis.verdict import decide, format_growth, judge, per_run, thread_note
from wfleak.model import (
    Environment,
    Finding,
    FindingKind,
    MemraySummary,
    Reason,
    ReasonCode,
    Report,
    Settings,
    StopReason,
    WorkflowMode,
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
    probe_failures: list[str] = field(default_factory=list)
    """Probes outside the measured runs that failed (the memray recording)."""
    stop: StopReason | None = None
    """Why the analysis ended early when no phase says so itself (an interruption)."""
    stop_message: str | None = None


UNACCOUNTED_SHARE = 1 / 2
"""Share of the measured per-run memory growth the explained findings may leave unaccounted
for without a finding of its own: their sizes come from ``sys.getsizeof`` of what each path
holds, which misses the allocators' rounding and bookkeeping, and leaves out what the path
shares with other leaked objects (the run's events a timer's copied contextvars also hold)."""


def accounted_bytes_per_run(explained: list[Finding]) -> float:
    """What the explained findings hold per run, findings that keep the same objects counted
    once (by the largest of them): two holders of one run's Context do not explain twice its
    memory."""
    by_fingerprint = {f.fingerprint: f for f in explained}
    group_of: dict[str, str] = {}

    def group(fingerprint: str) -> str:
        while group_of.get(fingerprint, fingerprint) != fingerprint:
            fingerprint = group_of[fingerprint]
        return fingerprint

    for finding in explained:
        for other in finding.also_held_by:
            if other in by_fingerprint:
                group_of[group(other)] = group(finding.fingerprint)
    largest: dict[str, float] = {}
    for finding in explained:
        key = group(finding.fingerprint)
        largest[key] = max(largest.get(key, 0.0), finding.bytes_per_run)
    return sum(largest.values())


def _outside_python(remainder: float, growth: float, python_per_run: float | None) -> str:
    """What to say when most of the unaccounted growth is memory Python's allocators never
    saw: a C library's own allocations (an SSL context's certificates, a native buffer), which
    no size of a Python object counts."""
    if python_per_run is None:
        return ""
    native = growth - max(python_per_run, 0.0)
    if native < remainder * UNACCOUNTED_SHARE:
        return ""
    return (
        f"; while tracing, Python's allocators grew by only {format_growth(python_per_run)}/run, "
        "so most of the rest was allocated outside them, by C code (a native library's "
        "buffers, an SSL context) that the objects above or others keep: --memray FILE records "
        "those allocations with the Python line that made them"
    )


def unaccounted_findings(
    generic: list[Finding],
    explained: list[Finding],
    growth_threshold: float,
    python_bytes_per_run: float | None = None,
) -> list[Finding]:
    """Trend-level findings for the growth the explained findings do not account for."""
    accounted = accounted_bytes_per_run(explained)
    remainders: list[Finding] = []
    for finding in generic:
        if finding.fingerprint != "retained-memory-growth":
            continue
        remainder = finding.bytes_per_run - accounted
        if remainder < max(growth_threshold, finding.bytes_per_run * UNACCOUNTED_SHARE):
            continue
        remainders.append(
            replace(
                finding,
                title="Retained memory grows beyond what the findings above explain",
                summary=f"{format_growth(remainder)}/run not accounted for by the findings "
                f"above (retained memory grows {format_growth(finding.bytes_per_run)}/run, "
                f"they explain {format_growth(accounted)}/run)"
                + _outside_python(remainder, finding.bytes_per_run, python_bytes_per_run),
                fingerprint="unaccounted-memory-growth",
                bytes_per_run=remainder,
            )
        )
    return remainders


def merge_explanations(
    findings: list[Finding],
    explained: list[Finding],
    sketch: CycleSketch | None,
    growth_threshold: float = Settings.growth_bytes_threshold,
    unexplained: str = "",
    workflow_mode: WorkflowMode | None = None,
    python_bytes_per_run: float | None = None,
) -> list[Finding]:
    """Explained leaks replace the generic ones they account for, and only those: growth they
    leave unexplained keeps a finding of its own. Generic leaks left without a path say why
    (``unexplained``). The ring joins the CYCLE."""
    generic = [f for f in findings if f.kind is FindingKind.LEAK]
    merged = list(explained)
    if explained:
        merged += unaccounted_findings(generic, explained, growth_threshold, python_bytes_per_run)
    else:
        merged += [replace(f, unexplained=f.unexplained or unexplained) for f in generic]
    merged += [
        cycle_finding(f, sketch, workflow_mode) for f in findings if f.kind is FindingKind.CYCLE
    ]
    return merged


def _stop(results: PhaseResults) -> tuple[StopReason | None, str | None]:
    # An interruption overrides whatever a phase said; a failed warm-up ends before measuring.
    for reason, message in (
        (results.stop, results.stop_message),
        (results.warmup.stop, results.warmup.stop_message),
        (results.measure.stop, results.measure.stop_message),
    ):
        if reason is not None:
            return reason, message
    return None, None


def _probe_reasons(results: PhaseResults, runs: int) -> list[Reason]:
    reasons = []
    if results.measure.probe_failure is not None:
        judged = (
            "no run was measured before it"
            if not runs
            else f"only the {runs} run{'s' if runs != 1 else ''} measured before it "
            f"{'were' if runs != 1 else 'was'} judged"
        )
        reasons.append(
            Reason(
                ReasonCode.PROBE_FAILED,
                f"{results.measure.probe_failure}: measuring stopped there, and {judged}",
            )
        )
    if results.trace.failure is not None:
        reasons.append(
            Reason(
                ReasonCode.PROBE_FAILED,
                f"{results.trace.failure}: the leak has no allocation sites or retention path",
            )
        )
    reasons += [
        Reason(ReasonCode.PROBE_FAILED, f"{failure}: the report has no memray summary")
        for failure in results.probe_failures
    ]
    return reasons


def _budget_reasons(stop: StopReason | None, message: str | None) -> list[Reason]:
    if stop is StopReason.MAX_TIME:
        return [
            Reason(
                ReasonCode.BUDGET_EXCEEDED,
                f"{message}: only the runs measured so far were judged; give --max-time more "
                "time or run fewer iterations",
            )
        ]
    if stop in (StopReason.INTERRUPTED, StopReason.TERMINATED):
        return [
            Reason(
                ReasonCode.STOPPED,
                f"{message or stop.value}: only the runs measured so far were judged; run it "
                "to the end for a verdict",
            )
        ]
    return []


def stopped(report: Report, stop: StopReason, message: str) -> Report:
    """``report`` as a stop from outside the worker left it: a worker stopped by a signal or
    ``--max-time`` reports an interruption, and only the parent knows which it was. The
    findings stand; the reasons (and so the verdict) follow the stop, as :func:`build_report`
    gives them."""
    reasons = [
        r for r in report.reasons if r.code not in (ReasonCode.BUDGET_EXCEEDED, ReasonCode.STOPPED)
    ]
    reasons += _budget_reasons(stop, message)
    return replace(
        report,
        stop=stop,
        stop_message=message,
        complete=False,
        reasons=reasons,
        verdict=decide(report.findings, reasons),
    )


def build_report(settings: Settings, environment: Environment, results: PhaseResults) -> Report:
    measure = results.measure
    runs = measure.runs
    stop, stop_message = _stop(results)
    assessment = judge(
        runs, settings, measure.retained_by_type, measure.type_growth, results.settle.evidence()
    )
    explained = [per_run(f, len(runs)) for f in results.explain.findings]
    unexplained = results.explain.unexplained or (
        ""
        if results.trace.runs
        else f"not explained: {results.trace.failure or 'the analysis ended before tracing'}"
    )
    findings = merge_explanations(
        assessment.findings,
        explained,
        measure.cycle_sketch,
        settings.growth_bytes_threshold,
        unexplained,
        settings.workflow_mode,
        results.trace.python_bytes_per_run,
    )
    reasons = [
        *assessment.reasons,
        *_probe_reasons(results, len(runs)),
        *_budget_reasons(stop, stop_message),
        *results.explain.reasons,
    ]
    return Report(
        target=settings.target,
        environment=environment,
        settings=settings,
        verdict=decide(findings, reasons),
        runs=runs,
        reasons=reasons,
        warmup_done=results.warmup.done,
        complete=stop is None
        and (len(runs) == settings.most_iterations or measure.decision is not None),
        stop=stop,
        stop_message=stop_message,
        failures=results.warmup.failures + measure.failures,
        trends=assessment.trends,
        findings=findings,
        type_growth=measure.type_growth,
        allocation_sites=results.trace.allocation_sites,
        leftovers=[*measure.leftovers, *results.settle.leftovers()],
        notes=[
            *results.settle.notes(),
            *[note for note in [thread_note(runs), measure.cycle_cut] if note],
            *results.explain.notes,
        ],
        warnings=framework.unsupported_releases(
            {
                "llama-index-core": environment.llama_index_core,
                "llama-index-workflows": environment.workflows,
            }
        ),
        memray=results.memray,
        runs_used=len(runs),
        decision=measure.decision.reason if measure.decision else None,
    )
