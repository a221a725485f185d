"""GitHub Actions output: workflow-command annotations and a Markdown job summary.

Annotations (``::error file=…,line=…::…``) mark the line in the user's code that keeps or
makes the leaked objects, so the pull request shows the leak where it is fixed. The job summary
is Markdown with the top finding's Mermaid diagram, which GitHub renders.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from wfleak.analysis.verdict import format_growth
from wfleak.model import CheckReport, Finding, Frame, TargetResult, TargetStatus
from wfleak.report import diagram, safety
from wfleak.report.junit import finding_text
from wfleak.report.mermaid import render_mermaid
from wfleak.report.ownership import owner_text
from wfleak.report.summary import growth_per_run, status_word, top_finding, totals_line

SUMMARY_MAX_NODES = 14


def _escape_data(text: str) -> str:
    # Control characters first (shown as escapes), then the command's own encoding, which
    # keeps the whole annotation on one log line.
    text = safety.terminal_block(text)
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, message: str, title: str, site: tuple[str, int] | None = None) -> str:
    properties = []
    if site is not None:
        properties += [f"file={_escape_property(site[0])}", f"line={site[1]}"]
    properties.append(f"title={_escape_property(title)}")
    return f"::{level} {','.join(properties)}::{_escape_data(message)}"


def source_site(finding: Finding) -> Frame | None:
    """The user's line for a finding: the one to change, else where the objects were made."""
    if finding.fix_site is not None:
        return finding.fix_site
    return next((frame for frame in finding.allocation_sites if frame.user), None)


def _repository_path(frame: Frame, workdir: str, workspace: Path) -> tuple[str, int] | None:
    if frame.filename.startswith("<"):
        return None
    path = Path(workdir or ".", frame.filename).resolve()
    try:
        return path.relative_to(workspace).as_posix(), frame.lineno
    except ValueError:
        return None


def annotation_lines(check: CheckReport, workspace: Path) -> list[str]:
    lines = []
    for result in check.targets:
        title = f"wfleak: {result.name}"
        if result.status in (TargetStatus.NOT_LOADED, TargetStatus.RUN_FAILED):
            lines.append(command("error", result.message, title))
            continue
        if result.report is None:
            continue
        for warning in result.report.warnings:
            lines.append(command("warning", warning, f"{title}: unsupported release"))
        failing = {v.fingerprint for v in result.violations}
        for violation in result.violations:
            if violation.fingerprint is None:
                lines.append(command("error", violation.message, title))
        for finding in result.report.findings:
            if finding.fingerprint in failing:
                level = "error"
            elif any(a.fingerprint == finding.fingerprint for a in result.accepted):
                continue
            else:
                level = "warning"
            frame = source_site(finding)
            site = _repository_path(frame, result.workdir, workspace) if frame else None
            lines.append(command(level, finding_text(finding), f"{title}: {finding.title}", site))
    return lines


def _cell(text: str) -> str:
    return safety.markdown(text)


def _row(result: TargetResult) -> str:
    icon = {
        TargetStatus.PASSED: "✅",
        TargetStatus.INTERRUPTED: "⏹",
        TargetStatus.INCONCLUSIVE: "?",
    }.get(result.status, "❌")
    growth = growth_per_run(result.report)
    growth_text = format_growth(growth) if growth is not None else ""
    finding = top_finding(result)
    if result.status in (TargetStatus.NOT_LOADED, TargetStatus.RUN_FAILED):
        detail = result.message
    elif result.status is TargetStatus.INCONCLUSIVE:
        detail = "; ".join(v.message for v in result.violations)
    elif finding is not None:
        detail = finding.headline
    else:
        detail = ""
    cells = [icon, safety.code_span(result.name), status_word(result), growth_text, _cell(detail)]
    return "| " + " | ".join(cells) + " |"


def _details(result: TargetResult) -> list[str]:
    finding = top_finding(result)
    if result.status is TargetStatus.INCONCLUSIVE:
        return ["", f"### `{result.name}`: INCONCLUSIVE", ""] + [
            f"- {v.message}" for v in result.violations
        ]
    if finding is None or result.report is None or result.status is TargetStatus.PASSED:
        return []
    name, md = safety.code_span(result.name), safety.markdown
    lines = ["", f"### {name}: {md(finding.headline)}", "", md(finding.summary), ""]
    lines += [f"**Owner:** {md(owner_text(finding))}", ""]
    if finding.explanation:
        lines += [md(finding.explanation), ""]
    if finding.fix:
        lines += [f"**Fix:** {md(finding.fix)}", ""]
    if finding.fix_example:
        example = safety.terminal_block(finding.fix_example)
        fence = "`" * max(3, 1 + max((len(r) for r in re.findall("`+", example)), default=0))
        lines += [f"{fence}python", example, fence, ""]
    if finding.nodes:
        drawn = diagram.build(
            result.report, finding=finding.fingerprint, max_nodes=SUMMARY_MAX_NODES
        )
        lines += ["```mermaid", render_mermaid(drawn).rstrip("\n"), "```"]
    return lines


def job_summary(check: CheckReport) -> str:
    lines = [
        f"## {totals_line(check)}",
        "",
        "| | target | verdict | retained growth per run | top finding |",
        "|---|---|---|---|---|",
        *(_row(result) for result in check.targets),
    ]
    warned = [(r.name, w) for r in check.targets if r.report for w in r.report.warnings]
    if warned:
        lines += [""]
        lines += [f"> **Warning** {safety.code_span(n)}: {safety.markdown(w)}" for n, w in warned]
    for result in check.targets:
        lines += _details(result)
    accepted = [(r.name, a) for r in check.targets for a in r.accepted]
    if accepted:
        lines += ["", "**Accepted findings:**", ""]
        lines += [
            f"- {safety.code_span(name)}: {safety.markdown(a.title)} ({safety.markdown(a.reason)})"
            for name, a in accepted
        ]
    return "\n".join(lines) + "\n"


def workspace() -> Path:
    return Path(os.environ.get("GITHUB_WORKSPACE") or Path.cwd()).resolve()
