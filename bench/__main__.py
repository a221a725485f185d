"""Run the benchmark suite: ``python -m bench`` (add ``--quick`` for a shorter pass).

Every table measures wfleak and its baseline in the same run, on this machine, and reports
ratios, so the numbers compare across machines only as ratios.
"""

from __future__ import annotations

import argparse
import compileall
import os
import sys
import time

from bench import bigheap, detection, judging, overhead, parallel_check, scaling, watch
from bench.common import ROOT, available_bytes, machine, table

ALL = ("overhead", "bigheap", "scaling", "detection", "auto", "judging", "parallel", "watch")
"""``auto`` is table 4b alone (``detection`` prints 4 and 4b)."""


def compile_sources() -> None:
    """Write the bytecode of wfleak and of the benchmark's own modules, as installing a wheel
    does. From an editable install under ``PYTHONDONTWRITEBYTECODE`` (set on some machines and
    CI images) every process would compile them again, a cost neither a user nor the
    baselines pay for their own installed packages."""
    for package in ("wfleak", "bench", "samples"):
        compileall.compile_dir(ROOT / package, quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and sizes")
    parser.add_argument(
        "--only", choices=ALL, action="append", help="run only this benchmark (repeatable)"
    )
    args = parser.parse_args(argv)
    chosen = args.only or list(ALL)
    quick = args.quick
    started = time.perf_counter()
    compile_sources()
    print(table("Machine", ["", "version"], machine()), flush=True)
    if "overhead" in chosen:
        print(overhead.measure(repeat=1 if quick else 3), flush=True)
    if "bigheap" in chosen:
        print(
            bigheap.measure(300_000 if quick else 1_000_000, repeat=1 if quick else 3), flush=True
        )
    if "scaling" in chosen:
        sizes = [10_000, 100_000, 1_000_000] if quick else [10_000, 100_000, 1_000_000, 3_000_000]
        naive_up_to = sizes[-1]
        # A heap of 10M objects and its index take about 3 GiB; the machine may be shared.
        if not quick and available_bytes() > 8 << 30:
            sizes.append(10_000_000)
        print(scaling.measure(sizes, naive_up_to=naive_up_to), flush=True)
    if "detection" in chosen:
        print(
            detection.measure(repeat=1 if quick else 3, clean_repeat=5 if quick else 10),
            flush=True,
        )
    if "auto" in chosen and "detection" not in chosen:
        print(
            detection.measure_auto(repeat=1 if quick else 3, clean_repeat=5 if quick else 10),
            flush=True,
        )
    if "judging" in chosen:
        sizes = [1_000, 100_000] if quick else [1_000, 10_000, 100_000]
        print(judging.measure(sizes, pairwise_up_to=1_000), flush=True)
    if "parallel" in chosen:
        print(parallel_check.measure(len(os.sched_getaffinity(0))), flush=True)
    if "watch" in chosen:
        print(watch.measure(quick=quick), flush=True)
    print(f"Total: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
