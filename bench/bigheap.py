"""Big heap, end to end: one leaked object per run, 20 references deep, in a heap of ~1M
objects. ``wfleak run --iterations 30`` (3 warm-ups) against what a competent objgraph user
does with the same 33 runs: ``show_growth`` before and after the measured runs, then
``find_backref_chain`` from one leaked object (the baseline), or from three."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from statistics import median
from typing import Any

from bench.common import PYTHON, ratio, run, table, wfleak

TARGET = "bench/workloads/big_heap.py:BigHeapWorkflow"
ITERATIONS = 30
WARMUP = 3
DEPTH = 20
"""References from the module global down to each leaked object (see the workload)."""
TARGET_RATIO = 0.5


def _path_length(finding: dict[str, Any]) -> int | None:
    path = finding.get("path")
    return len(path) - 1 if path else None


def _reaches_leaked(finding: dict[str, Any]) -> bool:
    nodes = {node["id"]: node for node in finding.get("nodes", [])}
    path: list[int] | None = finding.get("path")
    if not path:
        return False
    return str(nodes[path[-1]]["type_name"]).endswith("Leaked")


def _objgraph(chains: int, size: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """Wall time of the whole objgraph process, and what it printed."""
    elapsed, output = run(
        [PYTHON, "-m", "bench.baselines.objgraph_chain", str(WARMUP), str(ITERATIONS), str(chains)],
        size,
    )
    result: dict[str, Any] = json.loads(output)
    return elapsed, result


def _wfleak(size: dict[str, str]) -> tuple[float, dict[str, Any]]:
    with tempfile.TemporaryDirectory() as scratch:
        report_path = Path(scratch) / "report.json"
        elapsed, _ = run(
            wfleak(
                "run",
                TARGET,
                "--iterations",
                str(ITERATIONS),
                "--warmup",
                str(WARMUP),
                "--json",
                str(report_path),
            ),
            size,
        )
        report: dict[str, Any] = json.loads(report_path.read_text())
    return elapsed, report


def measure(objects: int, repeat: int) -> str:
    """Medians of ``repeat`` rounds, each running the three commands one after another, so
    that a change in the machine's load weighs on all three alike."""
    size = {"WFLEAK_BENCH_OBJECTS": str(objects)}
    one_times, three_times, wfleak_times = [], [], []
    for _ in range(repeat):
        seconds, one = _objgraph(1, size)
        one_times.append(seconds)
        seconds, three = _objgraph(3, size)
        three_times.append(seconds)
        seconds, report = _wfleak(size)
        wfleak_times.append(seconds)
    one_chain, three_chains, elapsed = map(median, (one_times, three_times, wfleak_times))
    findings = report["findings"]
    top = findings[0] if findings else None
    to_leaked = next((f for f in findings if _reaches_leaked(f)), None)
    # A path of n references has n + 1 nodes; objgraph's chain also lists the module and its
    # dict, which wfleak folds into the first hop (``module.RETAINED``).
    true_references = DEPTH + 1
    leaked_references = _path_length(to_leaked) if to_leaked else None

    def chains_text(result: dict[str, Any]) -> str:
        return ", ".join(str(length - 2) for length in result["chain_lengths"])

    runs = f"{ITERATIONS + WARMUP} runs + show_growth × 2"
    rows = [
        (
            f"objgraph: {runs} + find_backref_chain × 1",
            f"{one_chain:.1f}",
            "1.00×",
            "",
            chains_text(one),
        ),
        (
            f"objgraph: {runs} + find_backref_chain × 3",
            f"{three_chains:.1f}",
            ratio(three_chains, one_chain),
            "",
            chains_text(three),
        ),
        (
            f"wfleak run --iterations {ITERATIONS}: {report['verdict'].upper()}",
            f"{elapsed:.1f}",
            ratio(elapsed, one_chain),
            f"≤ {TARGET_RATIO}×",
            f"{leaked_references} "
            f"({'' if leaked_references == true_references else 'NOT '}shortest)",
        ),
    ]
    growth = "; ".join(line.split()[0] + " " + line.split()[-1] for line in one["growth"] if line)
    top_text = f"{top['title']}: {top['summary']}" if top else "no finding"
    return (
        table(
            f"2. Big heap, end to end: {objects:,} objects, a leak {DEPTH} references deep "
            f"(baseline: objgraph with one chain; median of {repeat})",
            ["command", "wall s", "ratio", "target", "references, module global → Leaked"],
            rows,
        )
        + f"\nobjgraph's show_growth after the measured runs: {growth}.\n"
        + f"wfleak's top finding ({len(findings)} in all): {top_text}\n"
        + (
            f"wfleak's finding that reaches Leaked: {to_leaked['summary']}\n"
            if to_leaked is not None and to_leaked is not top
            else ""
        )
    )
