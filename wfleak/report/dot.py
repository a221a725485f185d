"""Graphviz DOT source for a diagram; ``render`` turns it into SVG or PNG with ``dot``."""

from __future__ import annotations

import shutil
import subprocess

from wfleak.errors import UsageError
from wfleak.model import FindingKind
from wfleak.report.diagram import Diagram, escape

_NODE_STYLE = {
    "root": 'shape=box, style="rounded,filled,bold", fillcolor="#dbe9ff", color="#1f4e99"',
    "framework": 'shape=box, style="rounded,filled", fillcolor="#eeeeee", color="#666666"',
    "library": 'shape=box, style="rounded,filled", fillcolor="#ece4ff", color="#5b3fa0"',
    "app": 'shape=box, style="rounded,filled", fillcolor="#fff4d6", color="#a06a00"',
    "other": 'shape=box, style="rounded,filled", fillcolor="#ffffff", color="#999999"',
    "more": 'shape=plaintext, fontcolor="#666666"',
}


def render_dot(diagram: Diagram) -> str:
    lines = [
        "digraph wfleak {",
        f'  label="{escape(diagram.title)}";',
        "  labelloc=t;",
        "  rankdir=TB;",
        '  fontname="Helvetica";',
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    for cluster in diagram.clusters:
        color = "#b00020" if cluster.kind is FindingKind.LEAK else "#b07d00"
        lines.append(f"  subgraph {cluster.id} {{")
        lines.append(f'    label="{escape(cluster.title)}";')
        lines.append(f'    color="{color}";')
        for node in cluster.nodes:
            text = escape(node.title) + "\\n" + escape(node.detail)
            leaked = ', penwidth=3, color="#b00020"' if node.leaked else ""
            lines.append(f'    {node.id} [label="{text}", {_NODE_STYLE[node.kind]}{leaked}];')
        for edge in cluster.edges:
            style = ', color="#b07d00", penwidth=2, constraint=false' if edge.closes_cycle else ""
            lines.append(
                f'    {edge.source} -> {edge.target} [label="{escape(edge.label)}"{style}];'
            )
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


GRAPHVIZ_MISSING = (
    "Graphviz's 'dot' program is needed for {fmt}: install it (apt-get install graphviz, "
    "brew install graphviz) or choose --format dot, mermaid or html"
)


def render_with_graphviz(dot_source: str, fmt: str) -> bytes:
    program = shutil.which("dot")
    if program is None:
        raise UsageError(GRAPHVIZ_MISSING.format(fmt=fmt))
    result = subprocess.run(
        [program, f"-T{fmt}"], input=dot_source.encode(), capture_output=True, check=False
    )
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise UsageError(f"dot could not render the diagram: {message[-1] if message else '?'}")
    return result.stdout
