from __future__ import annotations

import pytest

from wfleak.analysis.trend import MIN_POINTS, mann_kendall_p, theil_sen, trend


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
