"""``wfleak graph``: draw the reference cycles and retention paths a run found."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from wfleak.commands import common
from wfleak.errors import ExitCode, UsageError, WfleakError
from wfleak.files import read_text
from wfleak.model import ContextMode, Report, WorkflowMode
from wfleak.report import diagram as diagram_model
from wfleak.report.dot import render_dot, render_with_graphviz
from wfleak.report.html import render_html
from wfleak.report.mermaid import render_mermaid
from wfleak.serde import loads

EXIT_CODES = (
    "Exit codes: 0 diagram written; 2 usage error, unreadable --from report, or Graphviz "
    "missing for svg/png; 3 the workflow failed, timed out, hung or crashed (the diagram of "
    "what was measured is still written); 130 interrupted."
)


class DiagramFormat(StrEnum):
    DOT = "dot"
    SVG = "svg"
    PNG = "png"
    MERMAID = "mermaid"
    HTML = "html"


SUFFIXES = {
    ".dot": DiagramFormat.DOT,
    ".gv": DiagramFormat.DOT,
    ".svg": DiagramFormat.SVG,
    ".png": DiagramFormat.PNG,
    ".mmd": DiagramFormat.MERMAID,
    ".html": DiagramFormat.HTML,
    ".htm": DiagramFormat.HTML,
}


def choose_format(output: str, requested: DiagramFormat | None) -> DiagramFormat:
    if requested is not None:
        return requested
    suffix = Path(output).suffix.lower()
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    raise UsageError(
        f"cannot tell the format from {output!r}: give --format or a name ending in "
        ".dot, .svg, .png, .mmd or .html"
    )


def render(report: Report, fmt: DiagramFormat, drawn: diagram_model.Diagram) -> str | bytes:
    if fmt is DiagramFormat.MERMAID:
        return render_mermaid(drawn)
    if fmt is DiagramFormat.HTML:
        return render_html(report, drawn)
    source = render_dot(drawn)
    if fmt is DiagramFormat.DOT:
        return source
    return render_with_graphviz(source, fmt.value)


def load_report(path: Path) -> Report:
    return loads(read_text(path, "a wfleak report"), str(path))


def graph(
    target: Annotated[
        str | None,
        typer.Argument(
            help="What to analyse, as for 'wfleak run'; leave out with --from.",
            metavar="[TARGET]",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        str,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Where to write the diagram ('-': stdout)."
        ),
    ] = "wfleak.svg",
    fmt: Annotated[
        DiagramFormat | None,
        typer.Option(
            "--format",
            help="dot (Graphviz source), svg or png (need Graphviz's dot), mermaid (renders in "
            "GitHub/GitLab Markdown), html (one offline page). Default: from the output suffix.",
        ),
    ] = None,
    from_report: Annotated[
        Path | None,
        typer.Option("--from", metavar="REPORT.json", help="Draw a saved 'run --json' report."),
    ] = None,
    finding: Annotated[
        str | None,
        typer.Option(
            metavar="ID", help="Draw one finding: its number, pattern id (WFL001) or fingerprint."
        ),
    ] = None,
    depth: Annotated[
        int | None,
        typer.Option(help="Draw at most this many references back from the leaked object.", min=1),
    ] = None,
    max_nodes: Annotated[
        int | None, typer.Option(help="Draw at most this many objects in all.", min=1)
    ] = None,
    iterations: common.Iterations = 50,
    warmup: common.Warmup = 3,
    workflow: common.WorkflowOption = WorkflowMode.SHARED,
    context: common.ContextOption = ContextMode.AUTO,
    runner: common.Runner = False,
    workflow_kwargs: common.WorkflowKwargs = None,
    input_json: common.InputJson = None,
    input_file: common.InputFile = None,
    timeout: common.Timeout = 60.0,
    keep_going: common.KeepGoing = False,
    max_time: common.MaxTime = None,
    trace_frames: common.TraceFrames = 10,
) -> None:
    """Draw the reference cycles and retention paths that the analysis found.

    Runs the analysis (same options as 'wfleak run'), or reads a saved report with --from,
    and writes a diagram: nodes are objects (framework objects grey, your objects yellow,
    roots blue, the leaked object red with its retained size), edges are the references by
    name, and a cycle's closing edge is drawn apart. Output is deterministic.
    """
    code = ExitCode.OK
    try:
        chosen = choose_format(output, fmt)
        if (target is None) == (from_report is None):
            raise UsageError("give a TARGET to analyse or --from REPORT.json, not both")
        common.check_writable(output, "--output")
        if from_report is not None:
            report = load_report(from_report)
        else:
            assert target is not None
            settings = common.build_settings(
                target=target,
                iterations=iterations,
                warmup=warmup,
                workflow=workflow,
                context=context,
                runner=runner,
                workflow_kwargs=workflow_kwargs,
                input_json=input_json,
                input_file=input_file,
                timeout=timeout,
                keep_going=keep_going,
                max_time=max_time,
                trace_frames=trace_frames,
            )
            report = common.analyze_with_progress(settings, max_time)
            code = common.report_stop(report)
        drawn = diagram_model.build(report, finding=finding, depth=depth, max_nodes=max_nodes)
        data = render(report, chosen, drawn)
    except WfleakError as exc:
        common.fail(exc.message, exc.exit_code)
    common.write_output(data, output)
    if output != "-":
        findings = sum(1 for c in drawn.clusters)
        common.console(stderr=True).print(
            f"wfleak: wrote {output} ({chosen.value}, {findings} finding(s) drawn, "
            f"verdict {report.verdict.value.upper()})",
            markup=False,
        )
    raise typer.Exit(int(code))
