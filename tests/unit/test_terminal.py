"""The terminal report stays readable in the 80 columns of a CI log."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from wfleak.model import Environment, Report, RunSample, Settings, Trend, Verdict
from wfleak.report.terminal import render


def long_report(runs: int) -> Report:
    return Report(
        target="samples/leaky_global.py:LeakyWorkflow",
        environment=Environment(python="3.11.7", platform="linux", wfleak="0.1.0"),
        settings=Settings(
            target="samples/leaky_global.py:LeakyWorkflow", iterations=runs, warmup=3
        ),
        verdict=Verdict.LEAK,
        runs=[
            RunSample(index=i, ok=True, duration_s=0.01, traced_bytes=22_000 * i)
            for i in range(1, runs + 1)
        ],
        trends=[Trend("retained memory", "bytes", 22_000.0, 22_000.0, 1e-49, 256, True)],
    )


@pytest.mark.parametrize("width", [80, 120])
def test_series_rows_keep_metric_growth_and_test_on_one_line(width: int) -> None:
    out = io.StringIO()
    render(long_report(100), Console(file=out, width=width, no_color=True))
    (row,) = [line for line in out.getvalue().splitlines() if "retained memory" in line]
    assert "+21.5 KiB/run" in row
    assert "growing (p=1e-49)" in row
    assert len(row.rstrip()) <= width
