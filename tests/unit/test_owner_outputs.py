"""A finding's owner appears in every output: terminal, JSON, JUnit, annotations, summary,
HTML, and the diagrams' colours."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from tests import factories
from wfleak import serde
from wfleak.model import (
    CheckReport,
    Environment,
    Finding,
    Frame,
    Node,
    Origin,
    Report,
    TargetResult,
    TargetStatus,
    Thresholds,
    Violation,
)
from wfleak.report import diagram
from wfleak.report.dot import render_dot
from wfleak.report.github import annotation_lines, job_summary
from wfleak.report.html import render_html
from wfleak.report.junit import render_junit
from wfleak.report.mermaid import render_mermaid
from wfleak.report.ownership import owner_text
from wfleak.report.summary import render_target
from wfleak.report.terminal import render

SITE = Frame("app/flows.py", 15, user=True)
OWNERS: dict[str, tuple[dict[str, object], str]] = {
    "framework": (
        {"origin": Origin.FRAMEWORK, "origin_package": "llama-index-workflows 2.26.1"},
        "framework (llama-index-workflows 2.26.1)",
    ),
    "library": (
        {"origin": Origin.LIBRARY, "origin_package": "aiohttp 3.14.5"},
        "library (aiohttp 3.14.5)",
    ),
    "app": ({"origin": Origin.APP, "fix_site": SITE}, "app (app/flows.py:15)"),
    "unknown": (
        {"origin": Origin.UNKNOWN, "origin_reason": "its module 'x' has no file"},
        "unknown (its module 'x' has no file)",
    ),
}


def _finding(origin: str) -> Finding:
    fields, _text = OWNERS[origin]
    nodes = [
        Node("n0", "module", "module app", 0, root=True),
        Node("n1", "Holder", "Holder", 0, origin=origin if origin != "unknown" else ""),
        Node("n2", "Context", "Context", 100, framework=True, origin="framework"),
    ]
    pattern = "WFL001" if origin == "app" else None
    return replace(factories.leak(pattern, **fields), nodes=nodes)


def _report(origin: str) -> Report:
    return factories.report(_finding(origin))


def _check(origin: str) -> CheckReport:
    finding = _finding(origin)
    result = TargetResult(
        name="flows",
        target="app.py:Flow",
        status=TargetStatus.LEAKING,
        thresholds=Thresholds(),
        violations=[Violation("leaks", finding.fingerprint)],
        report=factories.report(finding),
    )
    return CheckReport(
        environment=Environment(python="3.11", platform="linux", wfleak="0"), targets=[result]
    )


@pytest.mark.parametrize("origin", OWNERS)
def test_owner_text_names_the_owner_and_what_identifies_it(origin: str) -> None:
    assert owner_text(_finding(origin)) == OWNERS[origin][1]


def test_app_owner_without_a_site_says_your_code() -> None:
    assert owner_text(factories.leak(origin=Origin.APP)) == "app (your code)"


@pytest.mark.parametrize("origin", OWNERS)
def test_terminal_shows_the_owner(origin: str) -> None:
    out = io.StringIO()
    render(_report(origin), Console(file=out, width=200, no_color=True))
    assert f"owner: {OWNERS[origin][1]}" in out.getvalue()


@pytest.mark.parametrize("origin", OWNERS)
def test_check_log_shows_the_owner(origin: str) -> None:
    out = io.StringIO()
    render_target(_check(origin).targets[0], Console(file=out, width=200, no_color=True))
    assert f"owner: {OWNERS[origin][1]}" in out.getvalue()


@pytest.mark.parametrize("origin", OWNERS)
def test_json_keeps_origin_package_site_and_reason(origin: str) -> None:
    report = _report(origin)
    data = json.loads(serde.dumps(report))
    (finding,) = data["findings"]
    assert finding["origin"] == origin
    expected = report.findings[0]
    assert finding["origin_package"] == expected.origin_package
    assert finding["origin_reason"] == expected.origin_reason
    assert [n["origin"] for n in finding["nodes"]] == [n.origin for n in expected.nodes]
    assert serde.loads(serde.dumps(report)) == report


@pytest.mark.parametrize("origin", OWNERS)
def test_junit_failure_names_the_owner(origin: str) -> None:
    assert f"owner: {OWNERS[origin][1]}" in render_junit(_check(origin))


@pytest.mark.parametrize("origin", OWNERS)
def test_annotation_names_the_owner(origin: str) -> None:
    lines = annotation_lines(_check(origin), Path.cwd())
    # The command's own encoding keeps the annotation on one line (%0A for newlines).
    assert any(f"owner: {OWNERS[origin][1]}" in line for line in lines), lines


@pytest.mark.parametrize("origin", OWNERS)
def test_step_summary_names_the_owner(origin: str) -> None:
    summary = job_summary(_check(origin))
    text = OWNERS[origin][1]
    assert f"**Owner:** {text}" in summary.replace("\\", "")


@pytest.mark.parametrize("origin", OWNERS)
def test_html_names_the_owner_and_colours_by_origin(origin: str) -> None:
    report = _report(origin)
    page = render_html(report, diagram.build(report))
    assert f'<span class="owner {origin}">' in page
    assert OWNERS[origin][1].replace("'", "&#x27;") in page
    assert "the workflow engine&#x27;s objects" in page
    assert "the leaked object (heavy red border)" in page


@pytest.mark.parametrize("origin", ["framework", "library", "app"])
def test_diagram_nodes_are_coloured_by_origin(origin: str) -> None:
    drawn = diagram.build(_report(origin))
    (cluster,) = drawn.clusters
    assert [n.kind for n in cluster.nodes] == ["root", origin, "framework"]
    assert [n.leaked for n in cluster.nodes] == [False, False, True]
    mermaid = render_mermaid(drawn)
    assert f":::{origin}" in mermaid and f"classDef {origin} " in mermaid
    dot = render_dot(drawn)
    assert dot.count('penwidth=3, color="#b00020"') == 1


def test_a_node_of_the_interpreters_own_is_other() -> None:
    drawn = diagram.build(_report("unknown"))
    (cluster,) = drawn.clusters
    assert cluster.nodes[1].kind == "other"
    assert "classDef other " in render_mermaid(drawn)


def test_old_reports_without_node_origins_still_draw() -> None:
    old = Node("n1", "Context", "Context", 0, framework=True)
    finding = replace(
        factories.leak(),
        nodes=[Node("n0", "module", "m", 0, root=True), old, Node("n2", "x", "x", 0)],
    )
    drawn = diagram.build(factories.report(finding))
    assert [n.kind for n in drawn.clusters[0].nodes] == ["root", "framework", "other"]


OLD_RELEASE = (
    "llama-index-core 0.10.68 is older than wfleak supports (0.11 to 0.14): its workflow "
    "classes may not be recognised and findings may be missing; upgrade it"
)


def _warned_check() -> CheckReport:
    check = _check("app")
    (target,) = check.targets
    assert target.report is not None
    warned = replace(target, report=replace(target.report, warnings=[OLD_RELEASE]))
    return replace(check, targets=[warned])


def test_unsupported_release_is_one_warning_in_every_output() -> None:
    check = _warned_check()
    report = check.targets[0].report
    assert report is not None
    out = io.StringIO()
    render(report, Console(file=out, width=300, no_color=True))
    terminal = out.getvalue()
    assert terminal.count(OLD_RELEASE) == 1 and f"warning: {OLD_RELEASE}" in terminal
    assert "note: llama-index-core" not in terminal
    log = io.StringIO()
    render_target(check.targets[0], Console(file=log, width=300, no_color=True))
    assert f"warning: {OLD_RELEASE}" in log.getvalue()
    assert json.loads(serde.dumps(report))["warnings"] == [OLD_RELEASE]
    assert f"warning: {OLD_RELEASE}" in render_junit(check)
    annotations = annotation_lines(check, Path.cwd())
    assert [a for a in annotations if a.startswith("::warning") and "unsupported release" in a]
    assert "**Warning**" in job_summary(check)
    page = render_html(report, diagram.build(report))
    assert '<p class="warning"><b>Warning:</b> llama-index-core 0.10.68' in page


def test_supported_release_has_no_warning() -> None:
    from wfleak.framework import unsupported_releases

    assert unsupported_releases({"llama-index-core": "0.11.23"}) == []
    assert unsupported_releases({"llama-index-workflows": "2.26.1"}) == []
    assert unsupported_releases({"llama-index-core": "0.10.68"}) == [OLD_RELEASE]
