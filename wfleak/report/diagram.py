"""The diagram of a report's findings, independent of any output format.

A ``Diagram`` is the part of the findings' subgraphs to draw: chosen findings, cut to a depth
from the leaked object and to a maximum number of nodes, with stable ids so that the same
report always gives byte-identical output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wfleak.analysis.verdict import format_bytes
from wfleak.errors import UsageError
from wfleak.model import Edge, Finding, FindingKind, Node, Report
from wfleak.report import safety


@dataclass(frozen=True)
class DiagramNode:
    id: str
    title: str
    detail: str
    kind: str
    """Whose the object is: ``root``, ``framework``, ``library``, ``app``, ``other`` (the
    interpreter's containers, frames and handles), or ``more`` (an elision marker)."""
    leaked: bool = False
    """The object the finding is about (drawn with a heavy red border)."""


@dataclass(frozen=True)
class DiagramEdge:
    source: str
    target: str
    label: str
    closes_cycle: bool = False


@dataclass(frozen=True)
class Cluster:
    id: str
    title: str
    kind: FindingKind
    nodes: list[DiagramNode] = field(default_factory=list)
    edges: list[DiagramEdge] = field(default_factory=list)


@dataclass(frozen=True)
class Diagram:
    title: str
    clusters: list[Cluster]


def select_findings(report: Report, finding: str | None) -> list[tuple[int, Finding]]:
    """Findings with a subgraph; ``finding`` picks one by number, pattern id or fingerprint."""
    drawable = [(i, f) for i, f in enumerate(report.findings, 1) if f.nodes]
    if finding is None:
        return drawable
    chosen = [(i, f) for i, f in drawable if finding in (str(i), f.pattern_id, f.fingerprint)]
    if not chosen:
        available = ", ".join(f.pattern_id or str(i) for i, f in drawable) or "none"
        raise UsageError(f"No finding {finding!r} to draw (findings with a diagram: {available})")
    return chosen


ORIGIN_KINDS = ("framework", "library", "app")


def _kind(node: Node) -> str:
    if node.root:
        return "root"
    if node.origin in ORIGIN_KINDS:
        return node.origin
    # A report from before nodes carried their owner knows only the framework's.
    return "framework" if node.framework else "other"


def _cut(finding: Finding, depth: int | None) -> tuple[list[Node], list[Edge], int]:
    """Nodes and edges within ``depth`` edges of the leaked object (the path's end)."""
    nodes = {n.id: n for n in finding.nodes}
    if depth is None or finding.kind is FindingKind.CYCLE or len(finding.path) <= depth + 1:
        return list(finding.nodes), list(finding.edges), 0
    keep = set(finding.path[-(depth + 1) :])
    dropped = len(finding.path) - len(keep)
    kept_nodes = [nodes[i] for i in finding.path if i in keep]
    kept_edges = [e for e in finding.edges if e.source in keep and e.target in keep]
    return kept_nodes, kept_edges, dropped


def build(
    report: Report,
    finding: str | None = None,
    depth: int | None = None,
    max_nodes: int | None = None,
) -> Diagram:
    clusters: list[Cluster] = []
    budget = max_nodes
    for number, chosen in select_findings(report, finding):
        prefix = f"f{number}_"
        nodes, edges, dropped = _cut(chosen, depth)
        leaked_id = chosen.path[-1] if chosen.kind is FindingKind.LEAK and chosen.path else None
        if budget is not None:
            if budget <= 0:
                break
            if len(nodes) > budget:
                dropped += len(nodes) - budget
                # Keep the leaked end of the path: it is what the finding is about.
                nodes = nodes[-budget:]
                kept = {n.id for n in nodes}
                edges = [e for e in edges if e.source in kept and e.target in kept]
            budget -= len(nodes)
        diagram_nodes = [_node(prefix, n, n.id == leaked_id, chosen) for n in nodes]
        diagram_edges = [_edge(prefix, e, chosen) for e in edges]
        if dropped:
            more = DiagramNode(
                id=f"{prefix}more",
                title=f"{dropped} more",
                detail="cut by --depth/--max-nodes",
                kind="more",
            )
            diagram_nodes.insert(0, more)
            diagram_edges.insert(0, DiagramEdge(more.id, diagram_nodes[1].id, "…"))
        clusters.append(
            Cluster(
                id=f"cluster_{number}",
                title=_cluster_title(number, chosen),
                kind=chosen.kind,
                nodes=diagram_nodes,
                edges=diagram_edges,
            )
        )
    return Diagram(
        title=f"wfleak: {report.target} ({report.verdict.value.upper()})", clusters=clusters
    )


def _cluster_title(number: int, finding: Finding) -> str:
    return f"#{number} {finding.kind.value.upper()} {finding.headline}"


def _node(prefix: str, node: Node, leaked: bool, finding: Finding) -> DiagramNode:
    detail = format_bytes(node.size)
    if leaked and finding.retained_bytes:
        detail = f"retains {format_bytes(finding.retained_bytes)}"
        if finding.count > 1:
            detail += f" · ×{finding.count}"
    title = (
        node.label if node.label.startswith(node.type_name) else f"{node.type_name}: {node.label}"
    )
    return DiagramNode(
        id=prefix + node.id, title=title, detail=detail, kind=_kind(node), leaked=leaked
    )


def _edge(prefix: str, edge: Edge, finding: Finding) -> DiagramEdge:
    closes = (
        finding.kind is FindingKind.CYCLE and bool(finding.path) and edge.target == finding.path[0]
    )
    return DiagramEdge(prefix + edge.source, prefix + edge.target, edge.label, closes)


def escape(text: str) -> str:
    """A quoted DOT string's text."""
    return safety.dot(text)
