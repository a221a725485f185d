"""``--iterations auto``: measuring stops as soon as the evidence decides."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli
from tests.e2e.test_check import make_project


def test_a_leak_is_decided_at_the_first_look() -> None:
    result = run_cli("run", "samples/leaky_global.py:LeakyWorkflow", "-n", "auto", "--json", "-")
    assert result.code == 0, result.stderr
    report = result.report
    assert report["verdict"] == "leak"
    assert report["runs_used"] == len(report["runs"]) == 6
    assert report["complete"] is True
    assert "stay reachable" in report["decision"]


def test_a_clean_workflow_is_decided_ok_after_enough_flat_runs() -> None:
    result = run_cli("run", "samples/clean.py:CleanWorkflow", "-n", "auto")
    assert result.code == 0, result.stderr
    assert "3 warm-up + 20 measured (auto, at most 200)" in result.stdout
    assert "every trend flat over 20 runs" in result.stdout


def test_the_cap_ends_measuring_when_nothing_decides_sooner() -> None:
    result = run_cli(
        "run",
        "samples/clean.py:CleanWorkflow",
        "-n",
        "auto",
        "--max-iterations",
        "8",
        "--json",
        "-",
    )
    assert result.code == 0, result.stderr
    report = result.report
    assert report["verdict"] == "ok"
    assert report["runs_used"] == 8 and report["decision"] is None
    assert report["complete"] is True


def test_check_takes_auto_from_the_configuration(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "service",
        '\n[[tool.wfleak.targets]]\nname = "history"\n'
        'target = "flows/leaky_global.py:LeakyWorkflow"\niterations = "auto"\n',
    )
    result = run_cli("check", "--json", str(tmp_path / "check.json"), cwd=project)
    assert result.code == 1, result.stdout + result.stderr
    assert result.stdout.startswith("✗ history")
    bad = run_cli("run", "samples/clean.py:CleanWorkflow", "-n", "sometimes")
    assert bad.code == 2 and "'auto'" in bad.stderr and "Traceback" not in bad.stderr
