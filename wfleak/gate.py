"""The CI gate: apply thresholds, an allowlist and a baseline to one report.

Pure over the model, like the verdict: the report says what leaks; the gate says whether that
fails the build.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wfleak.analysis.verdict import format_growth
from wfleak.model import (
    Accepted,
    AllowRule,
    FailOn,
    Finding,
    FindingKind,
    Report,
    StopReason,
    TargetStatus,
    Thresholds,
    Violation,
)

OBJECTS_FLOOR = 0.5
"""Objects per run a baseline finding may grow by whatever its rate (one every other run)."""


@dataclass(frozen=True)
class Rate:
    """How fast a finding keeps objects and bytes, per measured run."""

    objects_per_run: float = 0.0
    bytes_per_run: float = 0.0


@dataclass(frozen=True)
class BaselineEntry:
    """What a saved result already knew about one target, as per-run rates (so the number
    of iterations of either run does not matter)."""

    findings: dict[str, Rate] = field(default_factory=dict)
    """Rates by fingerprint."""
    retained_per_run: float = 0.0
    """Framework objects from finished runs still reachable, per measured run."""

    @property
    def fingerprints(self) -> frozenset[str]:
        return frozenset(self.findings)


@dataclass(frozen=True)
class Judgement:
    status: TargetStatus
    violations: list[Violation] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)


def leaked_type(finding: Finding) -> str | None:
    """The type of what a LEAK finding's path ends at."""
    if not finding.path:
        return None
    by_id = {node.id: node for node in finding.nodes}
    node = by_id.get(finding.path[-1])
    return node.type_name if node is not None else None


def _type_matches(wanted: str, actual: str) -> bool:
    # Either side may be qualified: "Context" matches "workflows.context.context.Context".
    return wanted == actual or actual.endswith("." + wanted) or wanted.endswith("." + actual)


def matching_rule(finding: Finding, rules: list[AllowRule]) -> AllowRule | None:
    types = (
        [n.type_name for n in finding.nodes]
        if finding.kind is FindingKind.CYCLE
        else [t for t in [leaked_type(finding)] if t]
    )
    for rule in rules:
        if rule.pattern is not None and rule.pattern == finding.pattern_id:
            return rule
        if rule.type is not None and any(_type_matches(rule.type, t) for t in types):
            return rule
    return None


def retained_objects(report: Report) -> int:
    """Framework objects from finished measured runs still reachable after the last run."""
    return report.runs[-1].framework_alive_after_gc if report.runs else 0


def retained_per_run(report: Report) -> float:
    return retained_objects(report) / len(report.runs) if report.runs else 0.0


def finding_rate(finding: Finding, runs: int) -> Rate:
    """A finding's per-run rates; reports from before they were recorded get them from the
    finding's count and size."""
    objects, size = finding.objects_per_run, finding.bytes_per_run
    if runs and finding.kind is FindingKind.LEAK and finding.path:
        objects = objects or finding.count / runs
        size = size or finding.count * finding.retained_bytes / runs
    return Rate(objects, size)


def baseline_entry(report: Report) -> BaselineEntry:
    runs = len(report.runs)
    return BaselineEntry(
        findings={f.fingerprint: finding_rate(f, runs) for f in report.findings},
        retained_per_run=retained_per_run(report),
    )


def finding_line(finding: Finding) -> str:
    line = f"{finding.headline}: {finding.summary}"
    return f"{line} (no path: {finding.unexplained})" if finding.unexplained else line


def _fails(finding: Finding, fail_on: FailOn) -> bool:
    return finding.kind is FindingKind.LEAK or fail_on is FailOn.CYCLE


def _tolerated(now: float, before: float, tolerance: float, floor: float) -> bool:
    return now <= before * (1 + tolerance) + floor


def _baseline_growth(
    finding: Finding, rate: Rate, known: Rate, thresholds: Thresholds
) -> str | None:
    """Why a finding the baseline knows fails anyway: it grew past its tolerance."""
    tolerance = thresholds.baseline_tolerance
    grew = []
    if not _tolerated(rate.objects_per_run, known.objects_per_run, tolerance, OBJECTS_FLOOR):
        grew.append(
            f"{rate.objects_per_run:.1f} objects/run (baseline {known.objects_per_run:.1f})"
        )
    if not _tolerated(
        rate.bytes_per_run, known.bytes_per_run, tolerance, thresholds.max_growth_bytes
    ):
        grew.append(
            f"{format_growth(rate.bytes_per_run)}/run (baseline "
            f"{format_growth(known.bytes_per_run)}/run)"
        )
    if not grew:
        return None
    return f"{finding.headline} grew past its baseline (tolerance +{tolerance:.0%}): " + ", ".join(
        grew
    )


def _holds_framework_objects(finding: Finding) -> bool:
    """Whether a LEAK finding accounts for retained framework objects: the generic one, or a
    path that ends at a framework object."""
    if finding.kind is not FindingKind.LEAK:
        return False
    if finding.fingerprint == "retained-framework-objects":
        return True
    by_id = {node.id: node for node in finding.nodes}
    leaked = by_id.get(finding.path[-1]) if finding.path else None
    return leaked is not None and leaked.framework


def _inconclusive(report: Report, thresholds: Thresholds, accepted: list[Accepted]) -> Judgement:
    lines = [f"INCONCLUSIVE {r.code.value}: {r.message}" for r in report.reasons]
    if thresholds.allow_inconclusive:
        accepted = accepted + [
            Accepted("inconclusive", line, "allow-inconclusive") for line in lines
        ]
        return Judgement(TargetStatus.PASSED, [], accepted)
    return Judgement(TargetStatus.INCONCLUSIVE, [Violation(line) for line in lines], accepted)


def evaluate(
    report: Report, thresholds: Thresholds, baseline: BaselineEntry | None = None
) -> Judgement:
    """Whether ``report`` passes: every LEAK finding (and CYCLE with ``fail_on=cycle``) fails
    unless an allow rule or the baseline accepts it (an allow rule or a baseline entry accepts
    only the finding it names, and a baseline finding only while it grows no faster than its
    tolerance); so do more retained framework objects than allowed when no LEAK finding
    accounts for them. Without a violation, a report whose evidence is incomplete (its
    reasons) is INCONCLUSIVE unless ``allow_inconclusive``."""
    if report.stop in (StopReason.INTERRUPTED, StopReason.TERMINATED):
        return Judgement(TargetStatus.INTERRUPTED)
    violations: list[Violation] = []
    accepted: list[Accepted] = []
    runs = len(report.runs)
    for finding in report.findings:
        if not _fails(finding, thresholds.fail_on):
            continue
        rule = matching_rule(finding, thresholds.allow)
        known = baseline.findings.get(finding.fingerprint) if baseline is not None else None
        if rule is not None:
            accepted.append(Accepted(finding.fingerprint, finding.title, rule.reason))
        elif known is not None:
            grown = _baseline_growth(finding, finding_rate(finding, runs), known, thresholds)
            if grown is None:
                accepted.append(Accepted(finding.fingerprint, finding.title, "in the baseline"))
            else:
                violations.append(Violation(grown, finding.fingerprint))
        else:
            violations.append(Violation(finding_line(finding), finding.fingerprint))
    retained = retained_objects(report)
    allowed = thresholds.max_retained_objects
    if baseline is not None and runs:
        # Per-run rates, so a longer run of the same code keeps the same allowance.
        rate = baseline.retained_per_run * (1 + thresholds.baseline_tolerance) + OBJECTS_FLOOR
        allowed = max(allowed, int(rate * runs))
    explained = any(_holds_framework_objects(f) for f in report.findings)
    if retained > allowed and not explained:
        violations.append(
            Violation(
                f"{retained} framework objects from finished runs are still reachable after "
                f"a full gc.collect() (allowed: {allowed})"
            )
        )
    if report.stop is not None and report.stop is not StopReason.MAX_TIME:
        return Judgement(TargetStatus.RUN_FAILED, violations, accepted)
    if violations:
        return Judgement(TargetStatus.LEAKING, violations, accepted)
    if report.reasons:
        return _inconclusive(report, thresholds, accepted)
    return Judgement(TargetStatus.PASSED, violations, accepted)
