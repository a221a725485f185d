from __future__ import annotations

import random

import numpy as np
import pytest

from wfleak.analysis.trend import (
    EXACT_SLOPE_LIMIT,
    MIN_POINTS,
    SHORT_SERIES,
    SLOPE_RANK_TOLERANCE,
    _numpy_theil_sen,
    _rank_pair_signs,
    _ranks,
    mann_kendall_p,
    pair_signs,
    theil_sen,
    trend,
)


def test_theil_sen_ignores_one_outlier() -> None:
    values = [float(i * 10) for i in range(20)]
    values[7] = 10_000.0
    assert theil_sen(values) == pytest.approx(10.0)


def test_mann_kendall_strict_rise_is_significant_and_flat_is_not() -> None:
    assert mann_kendall_p([float(i) for i in range(10)]) < 1e-4
    assert mann_kendall_p([5.0] * 10) == 1.0
    assert mann_kendall_p([float(10 - i) for i in range(10)]) == 1.0


def test_mann_kendall_handles_ties() -> None:
    steps = [float(i // 2) for i in range(20)]  # rises every other run
    assert mann_kendall_p(steps) < 1e-4


def test_steady_growth_is_growing() -> None:
    result = trend("m", "bytes", [1000.0 + 2048 * i for i in range(10)], threshold=1024)
    assert result.growing
    assert result.slope == pytest.approx(2048)


def test_growth_below_threshold_is_not_growing() -> None:
    result = trend("m", "bytes", [1000.0 + 100 * i for i in range(30)], threshold=1024)
    assert not result.growing
    assert result.p_value < 0.01


def test_cache_that_fills_then_stays_flat_is_not_growing() -> None:
    filling = [4096.0 * min(i, 8) for i in range(40)]
    result = trend("m", "bytes", filling, threshold=1024)
    assert result.p_value < 0.01  # there is a rise ...
    assert result.tail_slope == 0  # ... but it has stopped
    assert not result.growing


def test_noise_without_trend_is_not_growing() -> None:
    noisy = [1000.0 + (37 * i % 11) * 300 for i in range(50)]
    assert not trend("m", "bytes", noisy, threshold=1024).growing


def test_too_few_points_give_no_growth_verdict() -> None:
    short = [float(i * 5000) for i in range(MIN_POINTS - 1)]
    assert not trend("m", "bytes", short, threshold=1024).growing
    longer = [float(i * 5000) for i in range(MIN_POINTS)]
    assert trend("m", "bytes", longer, threshold=1024).growing


def _pairwise_reference(values: list[float]) -> tuple[float, int]:
    """The definitions, pair by pair: the median slope and the Mann-Kendall S."""
    slopes = sorted(
        (values[j] - values[i]) / (j - i)
        for i in range(len(values))
        for j in range(i + 1, len(values))
    )
    middle = len(slopes) // 2
    median = slopes[middle] if len(slopes) % 2 else (slopes[middle - 1] + slopes[middle]) / 2
    s = sum(
        (values[j] > values[i]) - (values[j] < values[i])
        for i in range(len(values))
        for j in range(i + 1, len(values))
    )
    return median, s


def _series() -> list[list[float]]:
    rng = random.Random(7)
    series: list[list[float]] = [
        [float(i * 10) for i in range(20)],
        [float(i // 2) for i in range(20)],
        [4096.0 * min(i, 8) for i in range(40)],
        [1000.0 + (37 * i % 11) * 300 for i in range(50)],
        [5.0] * 10,
        [float(10 - i) for i in range(10)],
        [1.0, 2.0],
        [3.0, 1.0, 2.0],
    ]
    for n in (7, 30, 64, 129, 300):
        series.append([float(rng.randint(0, 4)) for _ in range(n)])
        series.append([rng.gauss(0, 1) + 0.02 * i for i in range(n)])
        series.append([float(rng.randint(0, 10**9)) for _ in range(n)])
    return series


@pytest.mark.parametrize("values", _series())
def test_fast_tests_equal_the_pairwise_definitions(values: list[float]) -> None:
    median, s = _pairwise_reference(values)
    rises, falls = pair_signs(values)
    assert rises - falls == s
    assert theil_sen(values) == median
    # The numpy path, which takes over past SHORT_SERIES points, on the same series.
    if len(values) >= 2:
        series = np.asarray(values, dtype=np.float64)
        numpy_rises, numpy_falls = _rank_pair_signs(_ranks(series)[0])
        assert numpy_rises - numpy_falls == s
        assert _numpy_theil_sen(series, EXACT_SLOPE_LIMIT) == median


def test_long_series_take_the_numpy_path_with_the_same_p_value() -> None:
    rng = random.Random(9)
    values = [float(rng.randint(0, 40)) + 0.01 * i for i in range(SHORT_SERIES + 60)]
    _, s = _pairwise_reference(values)
    rises, falls = pair_signs(values)
    assert rises - falls == s
    assert theil_sen(values) == _pairwise_reference(values)[0]


def _rank_of_slope(values: list[float], slope: float) -> tuple[float, float]:
    """Shares of all pairwise slopes below and above ``slope``: a slope between runs i < j is
    below it exactly when y - slope·x falls from i to j."""
    shifted = [v - slope * x for x, v in enumerate(values)]
    above, below = pair_signs(shifted)
    pairs = len(values) * (len(values) - 1) / 2
    return below / pairs, above / pairs


def test_approximate_slope_lies_within_the_stated_rank_tolerance() -> None:
    rng = random.Random(11)
    # Heavy-tailed noise on a slow rise: the slopes' distribution is wide and skewed.
    values = [0.3 * i + rng.paretovariate(1.5) * rng.choice((-1, 1)) for i in range(20_000)]
    approximate = theil_sen(values)
    below, above = _rank_of_slope(values, approximate)
    assert below <= 0.5 + SLOPE_RANK_TOLERANCE
    assert above <= 0.5 + SLOPE_RANK_TOLERANCE
    # The tolerance is a real bound: a slope off by 2 % of its value breaks it.
    below, above = _rank_of_slope(values, approximate * 1.02)
    assert below > 0.5 + SLOPE_RANK_TOLERANCE


def test_approximate_slope_matches_the_exact_one_where_both_run() -> None:
    rng = random.Random(3)
    values = [2.0 * i + rng.gauss(0, 50) for i in range(EXACT_SLOPE_LIMIT)]
    exact = theil_sen(values)
    approximate = theil_sen(values, exact_limit=100)
    below, above = _rank_of_slope(values, approximate)
    assert max(below, above) <= 0.5 + SLOPE_RANK_TOLERANCE
    assert approximate == pytest.approx(exact, rel=0.01)
    assert approximate != exact  # it did take the sampled path


def test_long_series_keep_their_verdicts() -> None:
    rng = random.Random(5)
    n = 50_000
    leak = [1000.0 * i + rng.gauss(0, 4000) for i in range(n)]
    flat = [rng.gauss(0, 4000) for _ in range(n)]
    assert trend("m", "bytes", leak, threshold=512).growing
    assert not trend("m", "bytes", flat, threshold=512).growing
    assert trend("m", "bytes", leak, threshold=512).slope == pytest.approx(1000, rel=0.01)
