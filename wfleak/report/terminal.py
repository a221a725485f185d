"""The rich terminal report. Reads the model only; never re-runs any analysis."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from wfleak.analysis.trend import MIN_POINTS
from wfleak.analysis.verdict import format_bytes, format_growth
from wfleak.model import (
    Finding,
    FindingKind,
    MemraySummary,
    Origin,
    Report,
    Settings,
    Trend,
    Verdict,
)
from wfleak.report.ownership import owner_text
from wfleak.report.safety import terminal as _t
from wfleak.report.safety import terminal_block as _block

SPARK = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 60
SERIES_TEXT_WIDTH = 68
"""Columns the series table needs besides the sparkline: metric, growth, test and padding."""
_STYLE = {
    Verdict.LEAK: "bold red",
    Verdict.CYCLE: "bold yellow",
    Verdict.INCONCLUSIVE: "bold magenta",
    Verdict.OK: "bold green",
}
_MEANING = {
    Verdict.LEAK: "objects or memory from finished runs stay reachable after a full GC",
    Verdict.CYCLE: "runs leave reference cycles: memory lingers until the cyclic GC runs",
    Verdict.INCONCLUSIVE: "no leak found, but the evidence cannot support OK",
    Verdict.OK: "nothing from finished runs outlives them",
}


def sparkline(values: Sequence[float], width: int = SPARK_WIDTH) -> str:
    if not values:
        return ""
    if len(values) > width:
        step = len(values) / width
        values = [values[int(i * step)] for i in range(width)]
    low, high = min(values), max(values)
    if high == low:
        return SPARK[0] * len(values)
    scale = (len(SPARK) - 1) / (high - low)
    return "".join(SPARK[int((v - low) * scale)] for v in values)


def _service_mode(settings: Settings) -> str:
    mode = (
        "ASGI app · served by uvicorn on 127.0.0.1, real HTTP"
        if settings.serve
        else "ASGI app · called in-process through its ASGI interface"
    )
    if settings.concurrency > 1:
        mode += f" · {settings.concurrency} requests at once"
    if settings.disconnect_after is not None:
        mode += f" · client leaves after {settings.disconnect_after} chunks"
    return mode


def _header(report: Report) -> Table:
    settings, env = report.settings, report.environment
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim")
    table.add_column()
    table.add_row("target", _t(settings.target))
    versions = f"Python {env.python}"
    if env.llama_index_core:
        versions += f" · llama-index-core {env.llama_index_core}"
    if env.workflows:
        versions += f" · llama-index-workflows {env.workflows}"
    table.add_row("versions", versions)
    if settings.requests:
        table.add_row("mode", _service_mode(settings))
        shown = [r.line for r in settings.requests[:3]]
        more = len(settings.requests) - len(shown)
        table.add_row("requests", ", ".join(shown) + (f" (+{more} more)" if more else ""))
    else:
        mode = (
            "runner (the target performs each run)"
            if settings.runner
            else f"workflow {settings.workflow_mode.value} · context {settings.context_mode.value}"
        )
        table.add_row("mode", mode)
    runs = f"{report.warmup_done} warm-up + {len(report.runs)} measured"
    if settings.auto_iterations:
        runs += f" (auto, at most {settings.max_iterations})"
    elif len(report.runs) != settings.iterations:
        runs += f" (of {settings.iterations})"
    if report.failures:
        runs += f" · {report.failures} failed"
    table.add_row("runs", runs)
    if report.decision:
        table.add_row("decided", report.decision)
    return table


def _verdict_panel(report: Report) -> Panel:
    verdict = report.verdict
    lines = [Text(verdict.name, style=_STYLE[verdict]) + Text(f"  {_MEANING[verdict]}")]
    for finding in report.findings:
        marker = "✗" if finding.kind is FindingKind.LEAK else "↻"
        lines.append(
            Text(f"{marker} {_t(finding.title)}", style=_STYLE[Verdict(finding.kind.value)])
        )
    for reason in report.reasons:
        lines.append(Text(f"? {reason.code.value}: {_t(reason.message)}", style="magenta"))
    if report.stop_message:
        lines.append(Text(f"! incomplete: {_t(report.stop_message)}", style="bold magenta"))
    return Panel(Group(*lines), title="verdict", border_style=_STYLE[verdict].split()[-1])


def _trend_row(trend: Trend, runs: int) -> tuple[str, str]:
    if trend.unit == "bytes":
        slope = f"{format_growth(trend.slope)}/run"
    else:
        slope = f"{trend.slope:+.1f}/run"
    if runs < MIN_POINTS:
        return slope, f"untested (needs {MIN_POINTS} runs)"
    status = "growing" if trend.growing else "flat"
    return slope, f"{status} (p={trend.p_value:.2g})"


def _series(report: Report, width: int) -> Table:
    # The sparkline takes what the text columns leave, so an 80-column CI log stays readable.
    spark_width = max(8, min(SPARK_WIDTH, width - SERIES_TEXT_WIDTH))
    table = Table(title="per measured run (after a full GC)", title_justify="left", box=None)
    table.add_column("metric")
    table.add_column("trend", no_wrap=True)
    table.add_column("growth", justify="right")
    table.add_column("test")
    series = {
        "retained memory": [float(r.traced_bytes) for r in report.runs],
        "retained framework objects": [float(r.framework_alive_after_gc) for r in report.runs],
        "live objects": [float(r.gc_objects) for r in report.runs],
    }
    for trend in report.trends:
        slope, status = _trend_row(trend, len(report.runs))
        style = "red" if trend.growing else ""
        table.add_row(
            trend.metric,
            sparkline(series.get(trend.metric, []), spark_width),
            slope,
            status,
            style=style,
        )
    cycle = [float(r.cycle_bytes) for r in report.runs]
    if cycle:
        ordered = sorted(cycle)
        table.add_row(
            "cycle garbage",
            sparkline(cycle, spark_width),
            f"{format_bytes(ordered[len(ordered) // 2])}/run",
            "freed only by gc.collect()",
        )
    return table


def _finding(finding: Finding) -> Panel:
    body = [Text(_block(finding.summary))]
    body.append(Text("owner: ", style="bold") + Text(_block(owner_text(finding))))
    if finding.explanation:
        body.append(Text(_block(finding.explanation), style="dim"))
    if finding.fix:
        body.append(Text("fix: ", style="bold") + Text(_block(finding.fix)))
    if finding.unexplained:
        body.append(Text("no path: ", style="bold") + Text(_block(finding.unexplained)))
    title = _t(finding.headline)
    style = "red" if finding.kind is FindingKind.LEAK else "yellow"
    return Panel(Group(*body), title=title, title_align="left", border_style=style)


def _types(report: Report) -> Table | None:
    if not report.type_growth:
        return None
    table = Table(title="growing types (first → last measured run)", title_justify="left", box=None)
    table.add_column("type")
    table.add_column("first", justify="right")
    table.add_column("last", justify="right")
    table.add_column("Δ", justify="right")
    for row in report.type_growth:
        table.add_row(_t(row.type_name), str(row.first), str(row.last), f"+{row.delta}")
    return table


def _sites(report: Report) -> Table | None:
    if not report.allocation_sites:
        return None
    table = Table(
        title="growing allocation sites (user code first)", title_justify="left", box=None
    )
    table.add_column("where")
    table.add_column("Δ size", justify="right")
    table.add_column("Δ blocks", justify="right")
    for site in report.allocation_sites:
        where = _t(f"{site.frame.filename}:{site.frame.lineno}")
        table.add_row(
            Text(where, style="bold" if site.frame.user else "dim"),
            format_bytes(site.size_delta),
            f"+{site.count_delta}",
        )
    return table


def _leftovers(report: Report) -> Table | None:
    if not report.leftovers:
        return None
    table = Table(title="asyncio leftovers from measured runs", title_justify="left", box=None)
    table.add_column("kind")
    table.add_column("what")
    table.add_column("count", justify="right")
    for row in report.leftovers:
        if row.kind == "held_until_timer":
            kind = "held until a timer fired (not a leak)"
        elif row.cancelled:
            kind = f"{row.kind} (cancelled, waits for its deadline: not a leak)"
        else:
            kind = row.kind
        table.add_row(kind, _t(row.description), str(row.count))
    return table


def _next_steps(report: Report) -> list[str]:
    steps: list[str] = []
    if report.verdict is Verdict.LEAK:
        steps.append(
            "Cut the reference each finding names (its path and fix above) and run again; "
            "'wfleak graph' draws the path."
        )
    if report.verdict is Verdict.CYCLE:
        steps.append(
            "Break the cycle (see the finding), or call gc.collect() between requests if it "
            "belongs to the framework."
        )
    if report.stop is not None:
        steps.append(
            "Fix the failing run (or pass --keep-going to measure failures too) and run again."
        )
    if report.verdict is not Verdict.OK and report.settings.memray_file is None:
        steps.append(
            "Record the runs with --memray FILE for a flame graph of what stays allocated."
        )
    if report.memray is not None:
        steps.append(f"Leaked allocations as a flame graph: {_t(report.memray.flamegraph_command)}")
    if report.verdict is Verdict.INCONCLUSIVE:
        steps.extend(
            _t(f"{reason.message[:1].upper()}{reason.message[1:]}.") for reason in report.reasons
        )
    if report.verdict is Verdict.OK and report.stop is None:
        steps.append("Guard it in CI so it stays that way.")
    return steps


def memray_title(summary: MemraySummary) -> str:
    """The user's share first, and that it is a share: the recording holds wfleak's own
    allocations too."""
    return (
        f"memray: {format_bytes(summary.user_bytes)} in {summary.user_allocations} allocations "
        "through your project and the framework still alive at the end of the measured runs "
        f"(the user's share of {format_bytes(summary.leaked_bytes)} recorded; wfleak's probes "
        f"{format_bytes(summary.own_bytes)}, no stack or other code "
        f"{format_bytes(summary.other_bytes)})"
    )


def _memray(report: Report) -> Table | None:
    summary = report.memray
    if summary is None:
        return None
    table = Table(
        title=memray_title(summary),
        title_justify="left",
        box=None,
    )
    table.add_column("size", justify="right")
    table.add_column("stack (innermost first)")
    for stack in summary.top_stacks:
        frames = _t(" ← ".join(f"{f.function} {f.filename}:{f.lineno}" for f in stack.stack[:3]))
        table.add_row(format_bytes(stack.size), frames)
    return table


def render(report: Report, console: Console) -> None:
    console.print(Text("wfleak run", style="bold"))
    console.print(_header(report))
    console.print(_verdict_panel(report))
    for warning in report.warnings:
        console.print(Text(f"warning: {_t(warning)}", style="bold yellow"))
    if report.runs:
        console.print(_series(report, console.width))
    for finding in sorted(
        report.findings, key=lambda f: (f.origin is Origin.FRAMEWORK, f.kind is FindingKind.CYCLE)
    ):
        console.print(_finding(finding))
    # Growth tables of a run that does not leak are noise; the JSON keeps them.
    growth = (_types(report), _sites(report)) if report.verdict is Verdict.LEAK else ()
    for section in (*growth, _leftovers(report), _memray(report)):
        if section is not None:
            console.print(section)
    for note in report.notes:
        console.print(Text(f"note: {_t(note)}", style="dim"))
    steps = _next_steps(report)
    if steps:
        console.print(Text("next:", style="bold"))
        for step in steps:
            console.print(Text(f"  • {step}"))
