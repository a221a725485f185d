"""The CI gate: apply thresholds, an allowlist and a baseline to one report.

Pure over the model, like the verdict: the report says what leaks; the gate says whether that
fails the build.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class BaselineEntry:
    """What a saved result already knew about one target."""

    fingerprints: frozenset[str] = frozenset()
    retained_objects: int = 0


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


def finding_line(finding: Finding) -> str:
    return f"{finding.headline}: {finding.summary}"


def _fails(finding: Finding, fail_on: FailOn) -> bool:
    return finding.kind is FindingKind.LEAK or fail_on is FailOn.CYCLE


def evaluate(
    report: Report, thresholds: Thresholds, baseline: BaselineEntry | None = None
) -> Judgement:
    """Whether ``report`` passes: every LEAK finding (and CYCLE with ``fail_on=cycle``) fails
    unless an allow rule or the baseline accepts it; so do more retained framework objects than
    allowed when no LEAK finding accounts for them."""
    if report.stop in (StopReason.INTERRUPTED, StopReason.TERMINATED):
        return Judgement(TargetStatus.INTERRUPTED)
    violations: list[Violation] = []
    accepted: list[Accepted] = []
    for finding in report.findings:
        if not _fails(finding, thresholds.fail_on):
            continue
        rule = matching_rule(finding, thresholds.allow)
        if rule is not None:
            accepted.append(Accepted(finding.fingerprint, finding.title, rule.reason))
        elif baseline is not None and finding.fingerprint in baseline.fingerprints:
            accepted.append(Accepted(finding.fingerprint, finding.title, "in the baseline"))
        else:
            violations.append(Violation(finding_line(finding), finding.fingerprint))
    retained = retained_objects(report)
    allowed = thresholds.max_retained_objects
    if baseline is not None:
        allowed = max(allowed, baseline.retained_objects)
    explained = any(f.kind is FindingKind.LEAK for f in report.findings)
    if retained > allowed and not explained:
        violations.append(
            Violation(
                f"{retained} framework objects from finished runs are still reachable after "
                f"a full gc.collect() (allowed: {allowed})"
            )
        )
    if report.stop is not None:
        return Judgement(TargetStatus.RUN_FAILED, violations, accepted)
    return Judgement(
        TargetStatus.LEAKING if violations else TargetStatus.PASSED, violations, accepted
    )
