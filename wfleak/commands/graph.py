"""``wfleak graph``: draw the reference cycles and retention paths a run found."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wfleak import lifecycle, options
from wfleak.commands import common
from wfleak.commands.signature import Given, command
from wfleak.errors import ExitCode, UsageError
from wfleak.files import read_text
from wfleak.model import Report
from wfleak.options import DiagramFormat

if TYPE_CHECKING:
    from wfleak.report.diagram import Diagram

# The diagram renderers are imported when a diagram is drawn, so that --help answers at once.

EXIT_CODES = (
    "Exit codes: 0 diagram written; 2 usage error, unreadable --from report, or Graphviz "
    "missing for svg/png; 3 the workflow failed, timed out, hung or crashed (the diagram of "
    "what was measured is still written); 130 interrupted (Ctrl-C); 143 terminated (SIGTERM); "
    "129 hung up (SIGHUP)."
)


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


def render(report: Report, fmt: DiagramFormat, drawn: Diagram) -> str | bytes:
    from wfleak.report.dot import render_dot, render_with_graphviz
    from wfleak.report.html import render_html
    from wfleak.report.mermaid import render_mermaid

    if fmt is DiagramFormat.MERMAID:
        return render_mermaid(drawn)
    if fmt is DiagramFormat.HTML:
        return render_html(report, drawn)
    source = render_dot(drawn)
    if fmt is DiagramFormat.DOT:
        return source
    return render_with_graphviz(source, fmt.value)


def load_report(path: Path, target: str | None = None) -> Report:
    """A saved 'run' report, or one target's report from a saved 'check' result."""
    from wfleak.serde import loads_result

    result = loads_result(read_text(path, "a wfleak report"), str(path))
    if isinstance(result, Report):
        if target is not None:
            raise UsageError(
                f"--target picks a target of a 'check' result; {path} is a 'run' report"
            )
        return result
    drawable = {t.name: t.report for t in result.targets if t.report is not None}
    names = ", ".join(drawable) or "none"
    if target is None:
        if len(drawable) == 1:
            return next(iter(drawable.values()))
        raise UsageError(
            f"{path} is a 'check' result with {len(drawable)} analysed targets: "
            f"pick one with --target NAME ({names})"
        )
    if target not in drawable:
        known = [t.name for t in result.targets]
        why = "was not analysed" if target in known else "is not in it"
        raise UsageError(f"target {target!r} {why}: {path} has reports for {names}")
    return drawable[target]


def needs_graphviz(fmt: DiagramFormat) -> bool:
    return fmt in (DiagramFormat.SVG, DiagramFormat.PNG)


GraphTarget = Annotated[
    str | None,
    typer.Argument(
        help="What to analyse, as for 'wfleak run'; leave out with --from.",
        metavar="TARGET",
        show_default=False,
    ),
]


@command("graph", GraphTarget, None)
def graph(target: str | None, given: Given) -> None:
    """Draw the reference cycles and retention paths that the analysis found.

    Runs the analysis (same options as 'wfleak run'), or reads a saved report with --from,
    and writes a diagram: nodes are objects (framework objects grey, your objects yellow,
    roots blue, the leaked object red with its retained size), edges are the references by
    name, and a cycle's closing edge is drawn apart. Output is deterministic.
    """
    output = given[options.OUTPUT]
    from_report = given[options.FROM_REPORT]
    code = ExitCode.OK
    chosen = choose_format(output, given[options.FORMAT])
    if (target is None) == (from_report is None):
        raise UsageError("give a TARGET to analyse or --from REPORT.json, not both")
    check_target = given[options.CHECK_TARGET]
    if check_target is not None and from_report is None:
        raise UsageError("--target NAME picks a target of a 'check' result: give --from too")
    # Before anything runs: an analysis whose diagram cannot be rendered is wasted.
    if needs_graphviz(chosen) and shutil.which("dot") is None:
        from wfleak.report.dot import GRAPHVIZ_MISSING

        raise UsageError(GRAPHVIZ_MISSING.format(fmt=chosen.value))
    common.check_writable(output, "--output")
    if from_report is not None:
        report = load_report(from_report, check_target)
    else:
        assert target is not None
        settings = common.build_settings(target, given, "graph")
        with lifecycle.deferred():
            report = common.analyze_with_progress(settings, given)
        code = common.report_stop(report)
    from wfleak.report import diagram

    drawn = diagram.build(
        report,
        finding=given[options.FINDING],
        depth=given[options.DEPTH],
        max_nodes=given[options.MAX_NODES],
    )
    data = render(report, chosen, drawn)
    common.write_output(data, output)
    if output != "-":
        findings = sum(1 for c in drawn.clusters)
        common.console(stderr=True).print(
            f"wfleak: wrote {output} ({chosen.value}, {findings} finding(s) drawn, "
            f"verdict {report.verdict.value.upper()})",
            markup=False,
        )
    raise typer.Exit(int(code))


COMMAND = graph
EXAMPLES = (
    "wfleak graph samples/leaky_task.py:LeakyWorkflow -o leak.svg",
    "wfleak graph --from report.json -o leak.mmd --finding 1",
    "wfleak graph --from wfleak.json --target history -o history.html",
)
