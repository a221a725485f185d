"""JUnit XML: one test case per checked target, so CI systems list leaks as test failures.

The shape is the common denominator that Jenkins, GitLab and the GitHub test-report actions
read: ``testsuites > testsuite > testcase`` with ``failure`` for a leak and ``error`` for a
target that could not be checked.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from wfleak.model import CheckReport, Finding, Report, TargetResult, TargetStatus, Violation
from wfleak.report.ownership import owner_text
from wfleak.report.safety import xml
from wfleak.report.summary import status_word


def finding_text(finding: Finding) -> str:
    lines = [
        finding.headline,
        finding.summary,
        f"owner: {owner_text(finding)}",
    ]
    if finding.explanation:
        lines.append(f"why: {finding.explanation}")
    if finding.fix:
        lines.append(f"fix: {finding.fix}")
    if finding.fix_example:
        lines.append(f"example: {finding.fix_example}")
    if finding.unexplained:
        lines.append(f"no path: {finding.unexplained}")
    return "\n".join(lines)


def violation_texts(report: Report | None, violations: list[Violation]) -> list[str]:
    """Each violation as its finding's full text (or its own line when it has no finding)."""
    findings = {f.fingerprint: f for f in report.findings} if report else {}
    texts = []
    for violation in violations:
        finding = findings.get(violation.fingerprint or "")
        texts.append(finding_text(finding) if finding else violation.message)
    return texts


def _failure_text(result: TargetResult) -> str:
    warnings = [f"warning: {w}" for w in (result.report.warnings if result.report else [])]
    return "\n\n".join([*warnings, *violation_texts(result.report, result.violations)])


def _testcase(result: TargetResult) -> ET.Element:
    # Every text goes through safety.xml: one character XML 1.0 forbids (an ESC from a
    # coloured log line in an exception) and CI drops the whole file.
    case = ET.Element(
        "testcase",
        {
            "classname": "wfleak.check",
            "name": xml(result.name),
            "time": f"{result.duration_s:.3f}",
        },
    )
    if result.status in (TargetStatus.LEAKING, TargetStatus.INCONCLUSIVE):
        kind = "INCONCLUSIVE" if result.status is TargetStatus.INCONCLUSIVE else None
        failure = ET.SubElement(
            case,
            "failure",
            {"message": xml(result.violations[0].message), "type": kind or status_word(result)},
        )
        failure.text = xml(_failure_text(result))
    elif result.status in (TargetStatus.NOT_LOADED, TargetStatus.RUN_FAILED):
        error = ET.SubElement(
            case, "error", {"message": xml(result.message), "type": result.status.value}
        )
        error.text = xml(result.message)
    elif result.status is TargetStatus.INTERRUPTED:
        ET.SubElement(case, "skipped", {"message": xml(result.message or "interrupted")})
    output = [f"target: {result.target}", f"verdict: {status_word(result)}"]
    output += [f"warning: {w}" for w in (result.report.warnings if result.report else [])]
    output += [f"accepted: {a.title} ({a.reason})" for a in result.accepted]
    ET.SubElement(case, "system-out").text = xml("\n".join(output))
    return case


def render_junit(check: CheckReport) -> str:
    cases = [_testcase(result) for result in check.targets]
    failures = sum(
        r.status in (TargetStatus.LEAKING, TargetStatus.INCONCLUSIVE) for r in check.targets
    )
    errors = sum(
        r.status in (TargetStatus.NOT_LOADED, TargetStatus.RUN_FAILED) for r in check.targets
    )
    skipped = sum(r.status is TargetStatus.INTERRUPTED for r in check.targets)
    counts = {
        "tests": str(len(cases)),
        "failures": str(failures),
        "errors": str(errors),
        "skipped": str(skipped),
        "time": f"{sum(r.duration_s for r in check.targets):.3f}",
    }
    # junit-10.xsd, which Jenkins validates against, has no `skipped` on <testsuites>.
    totals = {name: value for name, value in counts.items() if name != "skipped"}
    suites = ET.Element("testsuites", {"name": "wfleak", **totals})
    suite = ET.SubElement(suites, "testsuite", {"name": "wfleak check", **counts})
    suite.extend(cases)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
