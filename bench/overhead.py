"""Run overhead: ``wfleak run`` on a clean workflow against running the same workflow plainly.

Both are whole processes timed from start to exit: wfleak runs 3 warm-ups and 100 measured
runs; the plain script imports the same module and runs the same workflow 103 times.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from statistics import median

from bench.common import PYTHON, median_time, ratio, table, wfleak

TARGET = "samples/clean.py:CleanWorkflow"
ITERATIONS = 100
WARMUP = 3
TARGET_RATIO = 1.5


def measure(repeat: int) -> str:
    plain = median_time(
        [PYTHON, "-m", "bench.baselines.plain_runs", TARGET, str(ITERATIONS + WARMUP)], repeat
    )
    run = ["run", TARGET, "-n", str(ITERATIONS), "--warmup", str(WARMUP)]
    default = median_time(wfleak(*run), repeat)
    with_memray = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as scratch:
            recording = str(Path(scratch) / "runs.bin")
            with_memray.append(median_time(wfleak(*run, "--memray", recording), 1))
    memray = median(with_memray)
    rows = [
        ("plain script, 103 runs", f"{plain:.2f}", "1.00×", ""),
        ("wfleak run (defaults)", f"{default:.2f}", ratio(default, plain), f"≤ {TARGET_RATIO}×"),
        ("wfleak run --memray", f"{memray:.2f}", ratio(memray, plain), "reported"),
    ]
    return table(
        f"1. Run overhead: {TARGET}, {ITERATIONS} measured runs (median of {repeat})",
        ["command", "wall s", "ratio", "target"],
        rows,
    )
