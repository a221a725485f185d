"""Detection speed: the fewest measured runs at which wfleak flags a small leak, and how often
it raises a false alarm on clean workflows at that many runs."""

from __future__ import annotations

import json
from collections.abc import Sequence

from bench.common import run, table, wfleak

LEAKS = [
    ("one small object per run", "bench/workloads/leak_object.py:LeakObjectWorkflow"),
    ("1 KiB per run", "bench/workloads/leak_kib.py:LeakKibWorkflow"),
]
CLEAN = [
    "samples/clean.py:CleanWorkflow",
    "samples/fixed_global.py:FixedWorkflow",
    "samples/fixed_cache.py:FixedWorkflow",
    "samples/fixed_task.py:FixedWorkflow",
]
"""Clean workflows whose state has settled by the end of the warm-ups. A cache that fills over
its first dozens of runs grows during every run of a short window, exactly as a leak does;
telling the two apart takes the default 50 runs (tests/e2e/test_clean_corpus.py)."""
FILLING = [
    ("samples/warmup_cache.py:WarmupCacheWorkflow", "clean, a cache filling over its first runs")
]
"""Clean too, but their state settles only after the warm-ups: the hard case for stopping
early, measured with ``--iterations auto`` (the fixed-run table leaves them out, see above)."""
WARMUP = 3
MAX_RUNS = 10
TARGET_RUNS = 10


def verdict(target: str, iterations: int) -> str:
    _, output = run(
        wfleak("run", target, "-n", str(iterations), "--warmup", str(WARMUP), "--json", "-")
    )
    result: str = json.loads(output)["verdict"]
    return result


def auto(target: str) -> tuple[str, int]:
    """The verdict of ``--iterations auto`` and the measured runs it used."""
    _, output = run(wfleak("run", target, "-n", "auto", "--warmup", str(WARMUP), "--json", "-"))
    report = json.loads(output)
    return report["verdict"], report["runs_used"]


def fewest_runs(target: str, repeat: int) -> int | None:
    """The fewest measured runs at which every one of ``repeat`` analyses says LEAK."""
    for iterations in range(3, MAX_RUNS + 1):
        if all(verdict(target, iterations) == "leak" for _ in range(repeat)):
            return iterations
    return None


def measure(repeat: int, clean_repeat: int) -> str:
    rows: list[Sequence[object]] = []
    needed: list[int] = []
    for label, target in LEAKS:
        runs = fewest_runs(target, repeat)
        if runs is not None:
            needed.append(runs)
        rows.append(
            (
                f"leak: {label}",
                target,
                f"flagged at {runs} runs (all {repeat})" if runs else f"not within {MAX_RUNS}",
                f"≤ {TARGET_RUNS}",
            )
        )
    at = max(needed, default=MAX_RUNS)
    for target in CLEAN:
        alarms = sum(verdict(target, at) != "ok" for _ in range(clean_repeat))
        rows.append(("clean", target, f"{alarms} false alarms in {clean_repeat} at {at} runs", "0"))
    fixed = table(
        f"4. Detection speed ({WARMUP} warm-ups, then N measured runs)",
        ["workflow", "target", "result", "target"],
        rows,
    )
    return fixed + "\n" + measure_auto(repeat, clean_repeat)


def measure_auto(repeat: int, clean_repeat: int) -> str:
    """``--iterations auto``: the verdict and the runs it took, against the goals (leaks in
    ≤ 10 measured runs, clean workflows OK in ≤ 20, no false alarm)."""
    rows: list[Sequence[object]] = []
    for label, target in LEAKS:
        results = [auto(target) for _ in range(repeat)]
        leaks = sum(v == "leak" for v, _ in results)
        most = max(runs for _, runs in results)
        rows.append(
            (f"leak: {label}", target, f"LEAK {leaks} of {repeat}, at most {most} runs", "≤ 10")
        )
    for label, target in [("clean", t) for t in CLEAN] + [(label, t) for t, label in FILLING]:
        results = [auto(target) for _ in range(clean_repeat)]
        alarms = sum(v != "ok" for v, _ in results)
        most = max(runs for _, runs in results)
        rows.append(
            (
                label,
                target,
                f"{alarms} false alarms in {clean_repeat}, OK at most at {most} runs",
                "0, ≤ 20",
            )
        )
    return table(
        f"4b. Detection with --iterations auto ({WARMUP} warm-ups; looks at 6, 8, 10, …; cap 200)",
        ["workflow", "target", "result", "target"],
        rows,
    )
