"""Mermaid flowchart source: renders directly in GitHub and GitLab Markdown."""

from __future__ import annotations

from wfleak.report.diagram import Diagram
from wfleak.report.safety import mermaid as _text


def render_mermaid(diagram: Diagram) -> str:
    lines = ["flowchart TB"]
    for cluster in diagram.clusters:
        lines.append(f'  subgraph {cluster.id}["{_text(cluster.title)}"]')
        lines.append("    direction TB")
        for node in cluster.nodes:
            lines.append(
                f'    {node.id}["{_text(node.title)}<br/>{_text(node.detail)}"]:::{node.kind}'
            )
            if node.leaked:
                lines.append(f"    style {node.id} stroke:#b00020,stroke-width:3px")
        for edge in cluster.edges:
            arrow = "-.->" if edge.closes_cycle else "-->"
            lines.append(f'    {edge.source} {arrow}|"{_text(edge.label)}"| {edge.target}')
        lines.append("  end")
    lines += [
        "  classDef root fill:#dbe9ff,stroke:#1f4e99,stroke-width:2px",
        "  classDef framework fill:#eeeeee,stroke:#666666",
        "  classDef library fill:#ece4ff,stroke:#5b3fa0",
        "  classDef app fill:#fff4d6,stroke:#a06a00",
        "  classDef other fill:#ffffff,stroke:#999999",
        "  classDef more fill:#ffffff,stroke:#ffffff,color:#666666",
    ]
    return "\n".join(lines) + "\n"
