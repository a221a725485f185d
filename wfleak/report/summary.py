"""The compact ``wfleak check`` log: one line per target, then its top finding's path and fix.

Written for a CI log: plain text reads well without colour, and rich drops the colour by
itself when the stream is not a terminal or ``NO_COLOR`` is set.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from wfleak.analysis.verdict import format_growth
from wfleak.model import CheckReport, Finding, Report, TargetResult, TargetStatus
from wfleak.report.ownership import owner_text
from wfleak.report.safety import terminal as _t

_MARK = {
    TargetStatus.PASSED: ("✓", "green"),
    TargetStatus.LEAKING: ("✗", "bold red"),
    TargetStatus.NOT_LOADED: ("!", "bold red"),
    TargetStatus.RUN_FAILED: ("!", "bold red"),
    TargetStatus.INTERRUPTED: ("-", "yellow"),
    TargetStatus.INCONCLUSIVE: ("?", "bold magenta"),
}
_WORD = {
    TargetStatus.NOT_LOADED: "ERROR",
    TargetStatus.RUN_FAILED: "FAILED",
    TargetStatus.INTERRUPTED: "STOPPED",
    TargetStatus.INCONCLUSIVE: "INCONCLUSIVE",
}


def growth_per_run(report: Report | None) -> float | None:
    """The retained-memory slope, when any run was measured."""
    if report is None or not report.runs:
        return None
    for trend in report.trends:
        if trend.metric == "retained memory":
            return trend.slope
    return None


def status_word(result: TargetResult) -> str:
    if result.status in _WORD:
        return _WORD[result.status]
    return result.report.verdict.value.upper() if result.report else result.status.value


def top_finding(result: TargetResult) -> Finding | None:
    """The finding behind the first violation, else the report's first finding."""
    if result.report is None:
        return None
    by_fingerprint = {f.fingerprint: f for f in result.report.findings}
    for violation in result.violations:
        if violation.fingerprint in by_fingerprint:
            return by_fingerprint[violation.fingerprint]
    return result.report.findings[0] if result.report.findings else None


def target_line(result: TargetResult, name_width: int = 0) -> Text:
    mark, style = _MARK[result.status]
    line = Text()
    line.append(f"{mark} ", style=style)
    line.append(f"{_t(result.name):<{name_width}}  ", style="bold")
    line.append(f"{status_word(result):<6}", style=style)
    growth = growth_per_run(result.report)
    if growth is not None:
        line.append(f"  {format_growth(growth)}/run")
    finding = top_finding(result)
    if result.status in (TargetStatus.NOT_LOADED, TargetStatus.RUN_FAILED):
        line.append(f"  {_t(result.message)}")
    elif result.status is TargetStatus.INCONCLUSIVE:
        line.append(f"  {_t(result.violations[0].message)}" if result.violations else "")
    elif result.violations and finding is not None:
        line.append(f"  {_t(finding.headline)}")
    elif result.violations:
        line.append(f"  {_t(result.violations[0].message)}")
    return line


def render_target(result: TargetResult, console: Console, name_width: int = 0) -> None:
    console.print(target_line(result, name_width), soft_wrap=True)
    for warning in result.report.warnings if result.report is not None else []:
        console.print(Text(f"    warning: {_t(warning)}", style="yellow"), soft_wrap=True)
    finding = top_finding(result)
    if result.status is TargetStatus.INCONCLUSIVE:
        finding = None
    if finding is not None and result.status is not TargetStatus.PASSED:
        console.print(Text(f"    {_t(finding.summary)}"), soft_wrap=True)
        console.print(Text(f"    owner: {_t(owner_text(finding))}"), soft_wrap=True)
        if finding.fix:
            console.print(Text(f"    fix: {_t(finding.fix)}"), soft_wrap=True)
    # The status line already names the top finding, or else the first violation.
    on_status_line = finding.fingerprint if finding is not None else None
    for index, more in enumerate(result.violations):
        if more.fingerprint == on_status_line or (on_status_line is None and index == 0):
            continue
        console.print(Text(f"    also: {_t(more.message)}"), soft_wrap=True)
    for accepted in result.accepted:
        console.print(
            Text(f"    accepted: {_t(accepted.title)} ({_t(accepted.reason)})", style="dim"),
            soft_wrap=True,
        )


def totals_line(check: CheckReport) -> str:
    counts = {status: 0 for status in TargetStatus}
    for result in check.targets:
        counts[result.status] += 1
    total = len(check.targets)
    parts = [f"{counts[TargetStatus.PASSED]} of {total} passed"]
    if counts[TargetStatus.LEAKING]:
        parts.append(f"{counts[TargetStatus.LEAKING]} failed")
    if counts[TargetStatus.INCONCLUSIVE]:
        parts.append(f"{counts[TargetStatus.INCONCLUSIVE]} inconclusive")
    unchecked = counts[TargetStatus.NOT_LOADED] + counts[TargetStatus.RUN_FAILED]
    if unchecked:
        parts.append(f"{unchecked} could not be checked")
    if counts[TargetStatus.INTERRUPTED]:
        parts.append("interrupted")
    return "wfleak check: " + ", ".join(parts)
