"""Judging: the verdict over n measured runs (three trend tests and the cycle check), timed in
this process, against the pairwise trend tests wfleak used to run (``bench.baselines``).

The samples are synthetic (a slow leak under noise), since only their number matters here.
"""

from __future__ import annotations

import gc
import random
import time
import tracemalloc
from collections.abc import Callable, Sequence
from functools import partial
from unittest.mock import patch

from bench.baselines import pairwise_trend
from bench.common import ratio, table
from wfleak.analysis.verdict import judge
from wfleak.model import RunSample, Settings, Verdict

MIB = 1024 * 1024
TARGET_SECONDS = 1.0
TARGET_SIZE = 100_000
MIN_WARM = 10


def samples(n: int) -> list[RunSample]:
    rng = random.Random(n)
    return [
        RunSample(
            index=i + 1,
            ok=True,
            duration_s=0.003,
            framework_alive_after_gc=rng.randint(0, 2),
            gc_objects=i // 2 + rng.randint(0, 30),
            traced_bytes=2_000_000 + 700 * i + rng.randint(0, 20_000),
        )
        for i in range(n)
    ]


def _timed(job: Callable[[], Verdict]) -> tuple[float, float, Verdict]:
    """CPU seconds of one untraced call, and peak MiB of a second one under tracemalloc (which
    sees numpy's arrays too, and would slow the first). CPU time, not wall time: judging is one
    thread's work, and on a shared machine the wall clock also counts the other jobs."""
    gc.collect()
    started = time.process_time()
    verdict = job()
    elapsed = time.process_time() - started
    tracemalloc.start()
    job()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return elapsed, peak / MIB, verdict


def _judge(runs: Sequence[RunSample]) -> Verdict:
    return judge(runs, Settings(target="bench", iterations=len(runs), warmup=0), {}, []).verdict


def _judge_pairwise(runs: Sequence[RunSample]) -> Verdict:
    """The same verdict with the trend tests swapped for the pairwise ones."""
    with patch("wfleak.analysis.verdict.trend", pairwise_trend.trend):
        return _judge(runs)


def measure(sizes: Sequence[int], pairwise_up_to: int) -> str:
    _judge(samples(MIN_WARM))  # numpy's import is start-up, not judging
    rows = []
    met: bool | None = None
    for n in sizes:
        runs = samples(n)
        seconds, peak, verdict = _timed(partial(_judge, runs))
        if n <= pairwise_up_to:
            old_seconds, old_peak, old_verdict = _timed(partial(_judge_pairwise, runs))
            if old_verdict != verdict:
                raise AssertionError(f"verdicts differ at {n}: {verdict} vs {old_verdict}")
            baseline = (f"{old_seconds:.2f}", f"{old_peak:.0f}", ratio(seconds, old_seconds))
        else:
            baseline = ("–", "–", "–")
        if n == TARGET_SIZE:
            met = seconds < TARGET_SECONDS
        rows.append((f"{n:,}", verdict.value.upper(), f"{seconds:.3f}", f"{peak:.0f}", *baseline))
    return (
        table(
            "5. Judging n measured runs: wfleak vs the pairwise trend tests (same samples)",
            [
                "runs",
                "verdict",
                "wfleak CPU s",
                "peak MiB",
                "pairwise CPU s",
                "pairwise MiB",
                "ratio",
            ],
            rows,
        )
        + f"\nTarget: {TARGET_SIZE:,} runs judged in < {TARGET_SECONDS:.0f} s: "
        f"{'not measured' if met is None else 'met' if met else 'NOT met'}.\n"
    )
