"""One self-contained HTML page: the diagram, the memory-per-run plot, and every finding's
explanation and fix. No script and no external resource, so it opens offline."""

from __future__ import annotations

import math
import re
from html import escape

from wfleak.model import Report
from wfleak.report.diagram import Cluster, Diagram
from wfleak.report.ownership import owner_text

BOX_W, BOX_H, GAP = 340, 46, 44
LEAKED_STROKE = "#b00020"
_FILL = {
    "root": ("#dbe9ff", "#1f4e99"),
    "framework": ("#eeeeee", "#666666"),
    "library": ("#ece4ff", "#5b3fa0"),
    "app": ("#fff4d6", "#a06a00"),
    "other": ("#ffffff", "#999999"),
    "more": ("#ffffff", "#bbbbbb"),
}


def _cluster_svg(cluster: Cluster) -> str:
    """Nodes top to bottom in path order; a ring's closing edge curves back up on the right."""
    positions = {node.id: k for k, node in enumerate(cluster.nodes)}
    height = len(cluster.nodes) * (BOX_H + GAP) + 10
    width = BOX_W + 260
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" '
        'font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker>'
        "</defs>",
    ]
    for edge in cluster.edges:
        a, b = positions.get(edge.source), positions.get(edge.target)
        if a is None or b is None:
            continue
        x = 10 + BOX_W / 2
        if edge.closes_cycle or b <= a:
            y1 = a * (BOX_H + GAP) + 5 + BOX_H / 2
            y2 = b * (BOX_H + GAP) + 5 + BOX_H / 2
            right = 10 + BOX_W
            bend = right + 60
            parts.append(
                f'<path d="M{right},{y1} C{bend},{y1} {bend},{y2} {right},{y2}" fill="none" '
                'stroke="#b07d00" stroke-width="2" marker-end="url(#arrow)"/>'
            )
            parts.append(
                f'<text x="{bend + 4}" y="{(y1 + y2) / 2}" fill="#b07d00">'
                f"{escape(edge.label)}</text>"
            )
            continue
        y1 = a * (BOX_H + GAP) + 5 + BOX_H
        y2 = b * (BOX_H + GAP) + 5
        parts.append(
            f'<line x1="{x}" y1="{y1}" x2="{x}" y2="{y2}" stroke="#444" marker-end="url(#arrow)"/>'
        )
        parts.append(f'<text x="{x + 8}" y="{(y1 + y2) / 2 + 4}">{escape(edge.label)}</text>')
    for k, node in enumerate(cluster.nodes):
        fill, stroke = _FILL[node.kind]
        if node.leaked:
            stroke = LEAKED_STROKE
        y = k * (BOX_H + GAP) + 5
        width = 3 if node.leaked else 2 if node.kind == "root" else 1
        parts.append(
            f'<rect x="10" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{width}"/>'
        )
        parts.append(
            f'<text x="20" y="{y + 19}" font-weight="bold">{escape(node.title[:52])}</text>'
        )
        parts.append(f'<text x="20" y="{y + 36}" fill="#555">{escape(node.detail)}</text>')
    parts.append("</svg>")
    return "".join(parts)


PLOT_W, PLOT_H = 680, 240
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 78, 16, 14, 44
TICKS = 4
_LEGEND = {
    "root": "root (module global, class, event loop, shared workflow)",
    "framework": "the workflow engine's objects",
    "library": "other installed packages' objects",
    "app": "your application's objects",
    "other": "Python's own containers, frames and handles",
}


def _nice_step(span: float) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about ``TICKS`` intervals."""
    raw = max(span / TICKS, 1e-9)
    magnitude = 10 ** math.floor(math.log10(raw))
    return float(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw))


_UNITS = ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB"), (1, "B"))


def _axis_unit(span: float) -> tuple[int, str]:
    """The largest binary unit that the values' span still counts in whole ones."""
    return next(((size, name) for size, name in _UNITS if span >= size), (1, "B"))


def _tick_label(value: float, step: float, unit: tuple[int, str]) -> str:
    """A tick in the axis' unit, with as many decimals as the step needs."""
    size, name = unit
    decimals = max(0, -math.floor(math.log10(step / size))) if size > 1 else 0
    return f"{value / size:,.{decimals}f} {name}"


def _memory_plot(report: Report) -> str:
    """Retained bytes after each measured run, with labelled axes and units."""
    values = [r.traced_bytes for r in report.runs]
    if len(values) < 2:
        return "<p>Not enough measured runs for a plot.</p>"
    inner_w = PLOT_W - PLOT_LEFT - PLOT_RIGHT
    inner_h = PLOT_H - PLOT_TOP - PLOT_BOTTOM
    span = max(values) - min(values) or max(abs(max(values)), 1)
    unit = _axis_unit(span)
    # Round steps in the axis' unit: 10, 20, 50 KiB rather than 48.8 KiB.
    step = _nice_step(span / unit[0]) * unit[0]
    low = math.floor(min(values) / step) * step
    high = max(math.ceil(max(values) / step) * step, low + step)
    first_run = report.runs[0].index
    last_run = report.runs[-1].index

    def x(k: int) -> float:
        return PLOT_LEFT + k * inner_w / (len(values) - 1)

    def y(value: float) -> float:
        return PLOT_TOP + inner_h - (value - low) * inner_h / (high - low)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{PLOT_W}" height="{PLOT_H}" '
        f'viewBox="0 0 {PLOT_W} {PLOT_H}" font-family="Helvetica, Arial, sans-serif" '
        'font-size="11" role="img" aria-label="Memory retained after GC per measured run">',
    ]
    tick = low
    while tick <= high + step / 2:
        ty = y(tick)
        parts.append(
            f'<line x1="{PLOT_LEFT}" y1="{ty:.1f}" x2="{PLOT_W - PLOT_RIGHT}" y2="{ty:.1f}" '
            'stroke="#e4e4e4"/>'
            f'<text x="{PLOT_LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end">'
            f"{escape(_tick_label(tick, step, unit))}</text>"
        )
        tick += step
    run_ticks = sorted({0, len(values) // 2, len(values) - 1})
    for k in run_ticks:
        parts.append(
            f'<line x1="{x(k):.1f}" y1="{PLOT_TOP + inner_h}" x2="{x(k):.1f}" '
            f'y2="{PLOT_TOP + inner_h + 5}" stroke="#444"/>'
            f'<text x="{x(k):.1f}" y="{PLOT_TOP + inner_h + 17}" text-anchor="middle">'
            f"{report.runs[k].index}</text>"
        )
    points = " ".join(f"{x(k):.1f},{y(v):.1f}" for k, v in enumerate(values))
    parts += [
        f'<line x1="{PLOT_LEFT}" y1="{PLOT_TOP}" x2="{PLOT_LEFT}" y2="{PLOT_TOP + inner_h}" '
        'stroke="#444"/>',
        f'<line x1="{PLOT_LEFT}" y1="{PLOT_TOP + inner_h}" x2="{PLOT_W - PLOT_RIGHT}" '
        f'y2="{PLOT_TOP + inner_h}" stroke="#444"/>',
        f'<polyline points="{points}" fill="none" stroke="#1f4e99" stroke-width="2"/>',
        f'<text x="{PLOT_LEFT + inner_w / 2}" y="{PLOT_H - 6}" text-anchor="middle">'
        f"measured run (runs {first_run} to {last_run})</text>",
        f'<text x="14" y="{PLOT_TOP + inner_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {PLOT_TOP + inner_h / 2})">retained after GC (bytes)</text>',
        "</svg>",
    ]
    return "".join(parts)


def _legend(diagram: Diagram) -> str:
    """What each colour means, for the kinds of node the diagram draws."""
    nodes = [node for cluster in diagram.clusters for node in cluster.nodes]
    kinds = {node.kind for node in nodes}
    items = [
        f'<li><span class="swatch" style="background:{_FILL[kind][0]};'
        f'border-color:{_FILL[kind][1]}"></span>{escape(label)}</li>'
        for kind, label in _LEGEND.items()
        if kind in kinds and kind in _FILL
    ]
    if any(node.leaked for node in nodes):
        items.append(
            f'<li><span class="swatch" style="border:3px solid {LEAKED_STROKE}"></span>'
            "the leaked object (heavy red border)</li>"
        )
    return f'<ul class="legend">{"".join(items)}</ul>' if items else ""


def inline_markdown(text: str) -> str:
    """Escaped text with Markdown's inline code (the fixes quote code in backticks) as
    ``<code>``; nothing else of Markdown, so no markup from the user's program gets through."""
    return re.sub(r"`([^`\n]+)`", r"<code>\1</code>", escape(text))


def render_html(report: Report, diagram: Diagram) -> str:
    findings = []
    for number, finding in enumerate(report.findings, 1):
        example = f"<pre>{escape(finding.fix_example)}</pre>" if finding.fix_example else ""
        findings.append(
            f"<section><h3>#{number} {escape(finding.kind.value.upper())} "
            f"{escape(finding.pattern_id or '')} {escape(finding.title)}</h3>"
            f"<p>{inline_markdown(finding.summary)}</p>"
            f'<p><b>Owner:</b> <span class="owner {escape(finding.origin.value)}">'
            f"{escape(owner_text(finding))}</span></p>"
            f"<p>{inline_markdown(finding.explanation)}</p>"
            f"<p><b>Fix:</b> {inline_markdown(finding.fix)}</p>{example}"
            + (
                f"<p><b>No path:</b> {escape(finding.unexplained)}</p>"
                if finding.unexplained
                else ""
            )
            + "</section>"
        )
    reasons = "".join(
        f"<li><code>{escape(r.code.value)}</code> {escape(r.message)}</li>" for r in report.reasons
    )
    verdict = f"<h2>Verdict: {escape(report.verdict.value.upper())}</h2>" + (
        f"<ul>{reasons}</ul>" if reasons else ""
    )
    verdict += "".join(
        f'<p class="warning"><b>Warning:</b> {escape(w)}</p>' for w in report.warnings
    )
    clusters = "".join(
        f"<figure><figcaption>{inline_markdown(c.title)}</figcaption>{_cluster_svg(c)}</figure>"
        for c in diagram.clusters
    )
    clusters = _legend(diagram) + clusters if clusters else clusters
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(diagram.title)}</title><style>"
        "body{font-family:Helvetica,Arial,sans-serif;margin:2em;max-width:70em}"
        "figure{margin:1em 0}figcaption{font-weight:bold;margin-bottom:.5em}"
        "pre{background:#f6f6f6;padding:.6em}section{border-top:1px solid #ddd}"
        "code{background:#f3f3f3;padding:0 .2em;border-radius:3px}"
        ".legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:1.2em}"
        ".warning{background:#fff4d6;border-left:4px solid #a06a00;padding:.4em .8em}"
        ".swatch{display:inline-block;width:1em;height:1em;border:1px solid;"
        "border-radius:3px;margin-right:.4em;vertical-align:-.15em}"
        f"</style></head><body><h1>{escape(diagram.title)}</h1>{verdict}"
        f"<h2>Memory retained after GC, per measured run</h2>{_memory_plot(report)}"
        f"<h2>What holds the memory</h2>{clusters or '<p>No finding to draw.</p>'}"
        f"<h2>Findings</h2>{''.join(findings) or '<p>None.</p>'}"
        "</body></html>\n"
    )
