"""``wfleak graph``: every format, from a saved report and from a live run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from tests.conftest import run_cli
from wfleak.model import CheckReport, TargetResult, TargetStatus, Thresholds
from wfleak.report.html import inline_markdown
from wfleak.serde import dumps, loads

HAS_DOT = shutil.which("dot") is not None


@pytest.fixture(scope="module")
def saved_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("graph") / "leaky_task.json"
    result = run_cli("run", "samples/leaky_task.py:LeakyWorkflow", "-n", "8", "--json", str(path))
    assert result.code == 0, result.stderr
    return path


def draw(report: Path, output: Path, *extra: str) -> str:
    result = run_cli("graph", "--from", str(report), "-o", str(output), *extra)
    assert result.code == 0, result.stderr
    assert result.stderr.startswith(f"wfleak: wrote {output}")
    return output.read_text() if output.suffix != ".png" else ""


def test_dot_is_deterministic_and_parses(saved_report: Path, tmp_path: Path) -> None:
    first = draw(saved_report, tmp_path / "a.dot")
    second = draw(saved_report, tmp_path / "b.dot")
    assert first == second
    assert first.startswith("digraph wfleak {")
    assert 'label="._scheduled"' in first or "._scheduled" in first
    assert 'penwidth=3, color="#b00020"' in first  # the leaked object is drawn apart
    if HAS_DOT:
        subprocess.run(["dot", "-Tcanon"], input=first.encode(), check=True, capture_output=True)


def test_mermaid_declares_every_node_it_links(saved_report: Path, tmp_path: Path) -> None:
    text = draw(saved_report, tmp_path / "leak.mmd")
    lines = text.splitlines()
    assert lines[0] == "flowchart TB"
    declared = {
        line.split("[", 1)[0].strip() for line in lines if '["' in line and "-->" not in line
    }
    edges = [line for line in lines if "-->" in line]
    assert edges
    for edge in edges:
        source, rest = edge.strip().split(" ", 1)
        target = rest.rsplit(" ", 1)[1]
        assert source in declared and target in declared
    assert text == draw(saved_report, tmp_path / "again.mmd")


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
def test_svg_is_valid_xml_with_the_labelled_edges(saved_report: Path, tmp_path: Path) -> None:
    text = draw(saved_report, tmp_path / "leak.svg")
    root = ElementTree.fromstring(text)
    assert root.tag.endswith("svg")
    labels = {t.text for t in root.iter() if t.tag.endswith("text")}
    assert "._scheduled" in labels
    assert any(label and label.startswith("._args") for label in labels)


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
def test_png_is_a_png(saved_report: Path, tmp_path: Path) -> None:
    draw(saved_report, tmp_path / "leak.png")
    assert (tmp_path / "leak.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_html_is_one_offline_page(saved_report: Path, tmp_path: Path) -> None:
    text = draw(saved_report, tmp_path / "leak.html")
    assert text.startswith("<!DOCTYPE html>")
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org", "")
    assert text.count("<svg") >= 2  # the diagram and the memory plot
    assert "WFL003" in text and "Fix:" in text
    # The plot has both axes named, with units, and tick labels in bytes and run numbers.
    plot = text[text.index('aria-label="Memory retained after GC per measured run"') :]
    plot = plot[: plot.index("</svg>")]
    assert "retained after GC (bytes)" in plot
    assert "measured run (runs 1 to 8)" in plot
    ticks = re.findall(r'text-anchor="end">([^<]+)</text>', plot)
    assert len(ticks) >= 2 and all(re.fullmatch(r"-?[\d.,]+ (B|KiB|MiB|GiB)", t) for t in ticks)
    # Colours explained; the fixes' code shown as code, not as backticks.
    assert '<ul class="legend">' in text and "the leaked object" in text
    assert "`" not in text.split("<h2>Findings</h2>", 1)[1]


def test_html_shows_quoted_code_as_code() -> None:
    assert inline_markdown("Remove or bound `HISTORY.append(ctx)` at x.py:3") == (
        "Remove or bound <code>HISTORY.append(ctx)</code> at x.py:3"
    )
    # Only inline code: text from the program stays text.
    assert inline_markdown("`<script>` & *x*") == "<code>&lt;script&gt;</code> &amp; *x*"


def test_missing_graphviz_is_one_line_and_exit_2(saved_report: Path, tmp_path: Path) -> None:
    env_path = os.environ["PATH"]
    os.environ["PATH"] = str(tmp_path)  # no dot here
    try:
        result = run_cli("graph", "--from", str(saved_report), "-o", str(tmp_path / "x.svg"))
    finally:
        os.environ["PATH"] = env_path
    assert result.code == 2
    assert result.stderr.strip() == (
        "wfleak: error: Graphviz's 'dot' program is needed for svg: install it (apt-get install "
        "graphviz, brew install graphviz) or choose --format dot, mermaid or html"
    )


def test_one_finding_depth_and_max_nodes(saved_report: Path, tmp_path: Path) -> None:
    full = draw(saved_report, tmp_path / "full.dot")
    one = draw(saved_report, tmp_path / "one.dot", "--finding", "WFL003")
    assert one == full  # the report has that one finding
    shallow = draw(saved_report, tmp_path / "shallow.dot", "--depth", "2")
    assert "more" in shallow and shallow.count(" -> ") < full.count(" -> ")
    capped = draw(saved_report, tmp_path / "capped.dot", "--max-nodes", "3")
    assert capped.count("shape=") == 4  # three objects and the "N more" marker
    result = run_cli(
        "graph", "--from", str(saved_report), "-o", str(tmp_path / "x.dot"), "--finding", "WFL999"
    )
    assert result.code == 2
    assert result.stderr.startswith("wfleak: error: No finding 'WFL999' to draw")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "No such file: {path}"),
        ("", "Not a wfleak report: {path} is empty"),
        (
            '{"schema_version": 1, "verdict": "leak", "runs": [',
            "Not a wfleak report: {path} is not valid JSON",
        ),
        (
            '{"name": "left-pad", "version": "1.0.0"}',
            "Not a wfleak report: {path} has no schema_version/verdict",
        ),
    ],
    ids=["missing", "empty", "truncated", "foreign"],
)
def test_bad_from_file_is_one_line_and_exit_2(
    content: str | None, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "report.json"
    if content is not None:
        path.write_text(content)
    result = run_cli("graph", "--from", str(path), "-o", str(tmp_path / "x.dot"))
    assert result.code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("wfleak: error: " + message.format(path=path))


def test_graph_from_a_live_run(tmp_path: Path) -> None:
    output = tmp_path / "live.mmd"
    result = run_cli("graph", "samples/leaky_global.py:LeakyWorkflow", "-n", "8", "-o", str(output))
    assert result.code == 0, result.stderr
    text = output.read_text()
    assert '-->|".HISTORY"|' in text
    assert ":::root" in text and ":::framework" in text
    assert "stroke:#b00020,stroke-width:3px" in text  # the leaked Context, drawn apart


def test_graph_needs_exactly_one_source(tmp_path: Path) -> None:
    result = run_cli("graph", "-o", str(tmp_path / "x.dot"))
    assert result.code == 2
    assert "give a TARGET to analyse or --from REPORT.json, not both" in result.stderr


def test_missing_graphviz_is_found_before_anything_runs(tmp_path: Path) -> None:
    env_path = os.environ["PATH"]
    os.environ["PATH"] = str(tmp_path)  # no dot here
    try:
        # The target does not even exist: the Graphviz check comes first.
        result = run_cli("graph", "nowhere/missing.py:W", "-o", str(tmp_path / "x.png"))
    finally:
        os.environ["PATH"] = env_path
    assert result.code == 2
    assert result.stderr.startswith("wfleak: error: Graphviz's 'dot' program is needed for png")
    assert not (tmp_path / "x.png").exists()


@pytest.fixture(scope="module")
def saved_check(saved_report: Path) -> Path:
    """A 'check --json' result holding the saved report as its target 'task', beside a target
    that could not be analysed."""
    report = loads(saved_report.read_text())
    check = CheckReport(
        environment=report.environment,
        targets=[
            TargetResult("broken", "flows:Missing", TargetStatus.NOT_LOADED, Thresholds()),
            TargetResult("task", report.target, TargetStatus.LEAKING, Thresholds(), report=report),
        ],
    )
    path = saved_report.with_name("check.json")
    path.write_text(dumps(check))
    return path


def test_graph_from_a_check_result(saved_report: Path, saved_check: Path, tmp_path: Path) -> None:
    by_name = draw(saved_check, tmp_path / "task.dot", "--target", "task")
    only_one = draw(saved_check, tmp_path / "only.dot")  # one target has a report
    assert by_name == only_one == draw(saved_report, tmp_path / "run.dot")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--target", "nope"], "target 'nope' is not in it: {check} has reports for task"),
        (["--target", "broken"], "target 'broken' was not analysed: {check} has reports for task"),
    ],
)
def test_graph_from_a_check_result_names_its_targets(
    saved_check: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    result = run_cli("graph", "--from", str(saved_check), "-o", str(tmp_path / "x.dot"), *extra)
    assert result.code == 2
    assert result.stderr.strip() == "wfleak: error: " + message.format(check=saved_check)


def test_target_needs_a_check_result(saved_report: Path, tmp_path: Path) -> None:
    result = run_cli(
        "graph", "--from", str(saved_report), "-o", str(tmp_path / "x.dot"), "--target", "task"
    )
    assert result.code == 2
    assert "--target picks a target of a 'check' result" in result.stderr
