"""Big heap, end to end: one leaked object per run, 20 references deep, in a heap of ~1M
objects. ``wfleak run --iterations 30`` against 33 plain runs followed by
``objgraph.find_backref_chain`` for every leaked object."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from bench.common import PYTHON, ratio, run, table, wfleak

TARGET = "bench/workloads/big_heap.py:BigHeapWorkflow"
ITERATIONS = 30
WARMUP = 3
DEPTH = 20
"""References from the module global down to each leaked object (see the workload)."""


def _leak_finding(report: dict[str, Any]) -> dict[str, Any] | None:
    for finding in report["findings"]:
        nodes = {node["id"]: node for node in finding.get("nodes", [])}
        path = finding.get("path")
        if finding["kind"] == "leak" and path and nodes[path[-1]]["type_name"].endswith("Leaked"):
            return finding
    return None


def measure(objects: int) -> str:
    size = {"WFLEAK_BENCH_OBJECTS": str(objects)}
    baseline, output = run(
        [PYTHON, "-m", "bench.baselines.objgraph_chain", str(ITERATIONS + WARMUP)], **size
    )
    chains = json.loads(output)
    with tempfile.TemporaryDirectory() as scratch:
        report_path = Path(scratch) / "report.json"
        elapsed, _ = run(
            wfleak("run", TARGET, "--iterations", str(ITERATIONS), "--json", str(report_path)),
            **size,
        )
        report = json.loads(report_path.read_text())
    finding = _leak_finding(report)
    # A path of n references has n + 1 nodes; objgraph's chain also lists the module's dict,
    # which wfleak folds into the first hop (``module.RETAINED``).
    true_references = DEPTH + 1
    wfleak_references = len(finding["path"]) - 1 if finding else None
    objgraph_references = [length - 2 for length in chains["chain_lengths"]]
    rows = [
        (
            f"objgraph: {ITERATIONS + WARMUP} runs + find_backref_chain × {chains['leaked']}",
            f"{baseline:.1f}",
            "1.00×",
            "",
            ", ".join(map(str, objgraph_references)),
        ),
        (
            f"wfleak run --iterations {ITERATIONS}: {report['verdict'].upper()}",
            f"{elapsed:.1f}",
            ratio(elapsed, baseline),
            "≤ 1.0× (stretch 0.3×)",
            f"{wfleak_references} ({'' if wfleak_references == true_references else 'NOT '}"
            "shortest)",
        ),
    ]
    summary = finding["summary"] if finding else "no leak finding with a path"
    return (
        table(
            f"2. Big heap, end to end: {objects:,} objects, a leak {DEPTH} references deep",
            ["command", "wall s", "ratio", "target", "path length (module global → leaked)"],
            rows,
        )
        + f"\nwfleak: {summary}\n"
    )
