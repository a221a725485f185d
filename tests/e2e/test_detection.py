"""A small leak is flagged after a handful of measured runs, and a clean workflow is not."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, run_cli
from wfleak.analysis.trend import MIN_POINTS

RUNS = MIN_POINTS


@pytest.mark.parametrize(
    ("target", "verdict"),
    [
        ("tests/fixtures/small_leaks.py:OneObjectPerRun", "leak"),
        ("tests/fixtures/small_leaks.py:OneKibPerRun", "leak"),
        ("samples/clean.py:CleanWorkflow", "ok"),
    ],
)
def test_verdict_after_the_fewest_runs(target: str, verdict: str) -> None:
    result = run_cli("run", target, "-n", str(RUNS), "--json", "-")
    assert result.code == 0, result.stderr
    assert result.report["verdict"] == verdict, result.report["trends"]


def test_one_kib_per_run_is_seen_in_bytes_and_traced_to_its_line() -> None:
    report = run_cli(
        "run", "tests/fixtures/small_leaks.py:OneKibPerRun", "-n", str(RUNS), "--json", "-"
    ).report
    memory = next(t for t in report["trends"] if t["metric"] == "retained memory")
    assert 1024 <= memory["slope"] < 1024 + 256
    # The runs traced after the leak was found name the line that allocates it.
    sites = [s["frame"] for s in report["allocation_sites"] if s["frame"]["user"]]
    source = (ROOT / "tests/fixtures/small_leaks.py").read_text().splitlines()
    line = next(n for n, text in enumerate(source, 1) if "PAYLOADS.append(bytes(1024))" in text)
    assert (sites[0]["filename"], sites[0]["lineno"]) == ("tests/fixtures/small_leaks.py", line)
