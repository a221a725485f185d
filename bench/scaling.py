"""Scaling: reverse-index build and path query at 10k to 3M objects, against the naive index
(``gc.get_objects()`` and ``gc.get_referents()`` into a dict of lists)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from bench.common import PYTHON, run, table

MIB = 1024 * 1024
TARGET_BYTES_PER_OBJECT = 80


def _probe(objects: int, method: str) -> dict[str, float]:
    _, output = run([PYTHON, "-m", "bench.heap_probe", str(objects), method])
    result: dict[str, float] = json.loads(output)
    return result


def fitted_exponent(sizes: Sequence[float], times: Sequence[float]) -> float:
    """Least-squares slope of log(time) against log(size): 1.0 is linear."""
    xs = [math.log(s) for s in sizes]
    ys = [math.log(t) for t in times]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def measure(sizes: Sequence[int], naive_up_to: int) -> str:
    rows = []
    ours: list[dict[str, float]] = []
    for size in sizes:
        mine = _probe(size, "wfleak")
        ours.append(mine)
        theirs = _probe(size, "naive") if size <= naive_up_to else None
        heap = mine["heap_objects"]
        per_object = mine["retained_bytes"] / heap
        rows.append(
            (
                f"{size:,}",
                f"{heap:,.0f}",
                f"{mine['build_s']:.2f}",
                f"{theirs['build_s']:.2f}" if theirs else "–",
                f"{mine['build_s'] / theirs['build_s']:.2f}×" if theirs else "–",
                f"{mine['query_s'] * 1000:.1f}",
                f"{theirs['query_s'] * 1000:.1f}" if theirs else "–",
                f"{mine['retained_bytes'] / MIB:.0f} / {mine['peak_bytes'] / MIB:.0f}",
                f"{theirs['retained_bytes'] / MIB:.0f} / {theirs['peak_bytes'] / MIB:.0f}"
                if theirs
                else "–",
                f"{per_object:.0f}",
            )
        )
        if theirs and mine["path_references"] != theirs["path_references"]:
            raise AssertionError(f"paths differ at {size}: {mine} vs {theirs}")
    heaps = [m["heap_objects"] for m in ours]
    exponent = fitted_exponent(heaps, [m["build_s"] for m in ours])
    # Below 100k objects fixed costs dominate, which flattens the fit over all sizes.
    large = [m for m in ours if m["heap_objects"] >= 100_000]
    large_exponent = fitted_exponent(
        [m["heap_objects"] for m in large], [m["build_s"] for m in large]
    )
    query_exponent = fitted_exponent(heaps, [max(m["query_s"], 1e-6) for m in ours])
    return table(
        "3. Scaling: reverse index build and path query (baseline: a naive dict-of-lists index)",
        [
            "objects",
            "heap",
            "build s",
            "naive s",
            "ratio",
            "query ms",
            "naive ms",
            "MiB kept / peak",
            "naive MiB",
            "B/object",
        ],
        rows,
    ) + (
        f"\nFitted exponent (time ∝ heap^k): build k = {exponent:.2f} over all sizes, "
        f"{large_exponent:.2f} from 100k up; query k = {query_exponent:.2f}. Index memory "
        f"target: ≤ {TARGET_BYTES_PER_OBJECT} B per heap object at every size from 1M up "
        "(B/object = RSS kept by the index ÷ heap objects); query target: milliseconds.\n"
    )
