"""One self-contained HTML page: the diagram, the memory-per-run plot, and every finding's
explanation and fix. No script and no external resource, so it opens offline."""

from __future__ import annotations

from html import escape

from wfleak.analysis.verdict import format_bytes
from wfleak.model import Report
from wfleak.report.diagram import Cluster, Diagram

BOX_W, BOX_H, GAP = 340, 46, 44
_FILL = {
    "root": ("#dbe9ff", "#1f4e99"),
    "framework": ("#eeeeee", "#666666"),
    "user": ("#fff4d6", "#a06a00"),
    "leaked": ("#ffd9d9", "#b00020"),
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
        y = k * (BOX_H + GAP) + 5
        parts.append(
            f'<rect x="10" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{2 if node.kind in ("root", "leaked") else 1}"/>'
        )
        parts.append(
            f'<text x="20" y="{y + 19}" font-weight="bold">{escape(node.title[:52])}</text>'
        )
        parts.append(f'<text x="20" y="{y + 36}" fill="#555">{escape(node.detail)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _memory_plot(report: Report) -> str:
    values = [r.traced_bytes for r in report.runs]
    if len(values) < 2:
        return "<p>Not enough measured runs for a plot.</p>"
    width, height, pad = 640, 180, 36
    low, high = min(values), max(values)
    span = (high - low) or 1
    points = " ".join(
        f"{pad + k * (width - 2 * pad) / (len(values) - 1):.1f},"
        f"{height - pad - (v - low) * (height - 2 * pad) / span:.1f}"
        for k, v in enumerate(values)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="Helvetica, Arial, sans-serif" font-size="11">'
        f'<polyline points="{points}" fill="none" stroke="#1f4e99" stroke-width="2"/>'
        f'<text x="4" y="{pad - 10}">{escape(format_bytes(high))}</text>'
        f'<text x="4" y="{height - 8}">{escape(format_bytes(low))}</text>'
        f'<text x="{width - 150}" y="{height - 8}">measured run {len(values)}</text>'
        "</svg>"
    )


def render_html(report: Report, diagram: Diagram) -> str:
    findings = []
    for number, finding in enumerate(report.findings, 1):
        example = f"<pre>{escape(finding.fix_example)}</pre>" if finding.fix_example else ""
        findings.append(
            f"<section><h3>#{number} {escape(finding.kind.value.upper())} "
            f"{escape(finding.pattern_id or '')} {escape(finding.title)}</h3>"
            f"<p>{escape(finding.summary)}</p><p>{escape(finding.explanation)}</p>"
            f"<p><b>Fix:</b> {escape(finding.fix)}</p>{example}</section>"
        )
    clusters = "".join(
        f"<figure><figcaption>{escape(c.title)}</figcaption>{_cluster_svg(c)}</figure>"
        for c in diagram.clusters
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(diagram.title)}</title><style>"
        "body{font-family:Helvetica,Arial,sans-serif;margin:2em;max-width:70em}"
        "figure{margin:1em 0}figcaption{font-weight:bold;margin-bottom:.5em}"
        "pre{background:#f6f6f6;padding:.6em}section{border-top:1px solid #ddd}"
        f"</style></head><body><h1>{escape(diagram.title)}</h1>"
        f"<h2>Memory retained after GC, per measured run</h2>{_memory_plot(report)}"
        f"<h2>What holds the memory</h2>{clusters or '<p>No finding to draw.</p>'}"
        f"<h2>Findings</h2>{''.join(findings) or '<p>None: OK.</p>'}"
        "</body></html>\n"
    )
