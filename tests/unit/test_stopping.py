from __future__ import annotations

import random

from wfleak.analysis.stopping import (
    MIN_FLAT_RUNS,
    decide,
    interim_looks,
    looks,
)
from wfleak.analysis.trend import MIN_POINTS, SIGNIFICANCE
from wfleak.model import RunSample, Settings

SETTINGS = Settings(target="t", iterations="auto", warmup=0)


def runs(
    count: int, retained: int = 0, objects: float = 0.0, growth: float = 0.0, noise: int = 0
) -> list[RunSample]:
    rng = random.Random(count)
    return [
        RunSample(
            index=i,
            ok=True,
            duration_s=0.0,
            framework_alive_after_gc=retained * i,
            gc_objects=int(100 + objects * i) + rng.randint(0, noise),
            traced_bytes=int(10_000 + growth * i) + rng.randint(0, noise * 64),
        )
        for i in range(1, count + 1)
    ]


def test_looks_are_few_and_end_at_the_cap() -> None:
    assert looks(200) == (6, 8, 10, 12, 14, 16, 20, 25, 30, 40, 50, 65, 80, 100, 130, 160, 200)
    assert looks(50)[-1] == 50 and 50 not in looks(50)[:-1]
    assert looks(6) == (6,)
    assert looks(1000)[-1] == 1000 and len(looks(1000)) < 30
    assert interim_looks(200) == 16


def test_framework_objects_retained_across_runs_decide_at_once() -> None:
    assert decide(runs(MIN_POINTS - 1, retained=1), SETTINGS) is None
    decision = decide(runs(MIN_POINTS, retained=1), SETTINGS)
    assert decision is not None and decision.leaking
    assert "stay reachable" in decision.reason


def test_a_trend_stops_only_below_the_corrected_significance() -> None:
    # Six strictly rising runs: p = 0.0043, a LEAK at the usual 0.01 but not below 0.01 / 16.
    assert decide(runs(6, growth=4096), SETTINGS) is None
    decision = decide(runs(8, growth=4096), SETTINGS)
    assert decision is not None and decision.leaking
    corrected = SIGNIFICANCE / interim_looks(SETTINGS.max_iterations)
    assert f"{corrected:.2g}" in decision.reason


def test_flat_runs_decide_ok_only_after_enough_of_them() -> None:
    assert decide(runs(MIN_FLAT_RUNS - 1, noise=3), SETTINGS) is None
    decision = decide(runs(MIN_FLAT_RUNS, noise=3), SETTINGS)
    assert decision is not None and not decision.leaking


def test_growth_below_the_threshold_but_not_clearly_flat_keeps_measuring() -> None:
    # 200 B per run: under the 256 B threshold, over half of it; neither a leak nor flat.
    assert decide(runs(40, growth=200), SETTINGS) is None


def cache_filling(count: int, filled_at: int, step: int) -> list[RunSample]:
    """Memory that rises by ``step`` in each of the first ``filled_at`` runs, then stays."""
    return [
        RunSample(
            index=i,
            ok=True,
            duration_s=0.0,
            gc_objects=100,
            traced_bytes=10_000 + step * min(i, filled_at),
        )
        for i in range(1, count + 1)
    ]


def test_a_cache_filled_during_the_first_runs_is_ok_once_its_plateau_is_the_second_half() -> None:
    # Seven rises of 2 KiB, then flat: over 20 runs the slope is under the 256 B threshold but
    # over half of it; the second half is flat.
    decision = decide(cache_filling(MIN_FLAT_RUNS, filled_at=7, step=2048), SETTINGS)
    assert decision is not None and not decision.leaking


def test_a_plateau_after_a_rise_above_the_threshold_keeps_measuring() -> None:
    # Nine rises of 10 KiB: the second half of 20 runs is flat, the slope over all of them is not.
    assert decide(cache_filling(MIN_FLAT_RUNS, filled_at=9, step=10_240), SETTINGS) is None
