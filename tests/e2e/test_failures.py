"""Workflows that raise, hang, crash or get interrupted: one clear line, the documented exit
code, and the measurements taken so far are kept."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.conftest import ROOT, interrupt_cli, run_cli

BROKEN = "tests/fixtures/broken.py"


def line_of(path: str, text: str) -> int:
    lines = (ROOT / path).read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def test_raising_workflow_exits_3_with_one_line(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = run_cli("run", f"{BROKEN}:RaisingWorkflow", "--json", str(out))
    assert result.code == 3
    raise_line = line_of(BROKEN, "the model said no")
    assert result.stderr.strip().splitlines()[-1] == (
        f"wfleak: warm-up run 1 failed: ValueError: the model said no ({BROKEN}:{raise_line})"
    )
    assert "Traceback" not in result.stderr + result.stdout
    report = json.loads(out.read_text())
    assert report["stop"] == "failed"
    assert report["complete"] is False


def test_keep_going_measures_failing_runs_and_finds_the_error_path_leak() -> None:
    result = run_cli("run", f"{BROKEN}:FlakyWorkflow", "--keep-going", "-n", "30", "--json", "-")
    assert result.code == 0, result.stderr
    report = result.report
    assert report["failures"] == 11  # every third of 3 warm-up + 30 measured runs
    assert [r["ok"] for r in report["runs"]].count(False) == 10
    assert report["verdict"] == "leak"


def test_timeout_stops_with_exit_3_and_keeps_partial_results(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = run_cli("run", f"{BROKEN}:SlowWorkflow", "--timeout", "0.2", "--json", str(out))
    assert result.code == 3
    assert result.stderr.strip().splitlines()[-1] == (
        "wfleak: warm-up run 1 failed: timed out after 0.2s"
    )
    assert json.loads(out.read_text())["stop"] == "timed_out"


def test_run_that_blocks_the_event_loop_is_killed_and_reported(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    started = time.monotonic()
    result = run_cli("run", f"{BROKEN}:BlockingWorkflow", "--timeout", "1", "--json", str(out))
    assert time.monotonic() - started < 60
    assert result.code == 3
    assert "wfleak: run 3 hung for more than 6s" in result.stderr
    report = json.loads(out.read_text())
    assert report["stop"] == "timed_out"
    assert len(report["runs"]) == 2  # 3 warm-up runs, then runs 1 and 2 finished


def test_worker_that_exits_is_reported_with_its_status(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = run_cli("run", f"{BROKEN}:ExitingWorkflow", "--json", str(out))
    assert result.code == 3
    assert "wfleak: the worker exited with status 7 during run 3" in result.stderr
    assert len(json.loads(out.read_text())["runs"]) == 2


def test_worker_that_segfaults_is_reported_with_its_signal() -> None:
    result = run_cli("run", f"{BROKEN}:SegfaultingWorkflow", "--json", "-")
    assert result.code == 3
    assert "wfleak: the worker was killed by SIGSEGV during run 3" in result.stderr
    assert result.report["stop"] == "crashed"


def test_max_time_kills_the_analysis_and_reports_what_it_has() -> None:
    result = run_cli(
        "run", "samples/clean.py:CleanWorkflow", "-n", "100000", "--max-time", "8", "--json", "-"
    )
    assert result.code == 3
    report = result.report
    assert report["stop"] == "max_time"
    assert len(report["runs"]) > 0
    assert "stopped by --max-time after 8s" in result.stderr


def test_ctrl_c_prints_the_partial_report_and_exits_130() -> None:
    result = interrupt_cli("run", "samples/clean.py:CleanWorkflow", "-n", "100000", after=8)
    assert result.code == 130
    assert "incomplete: interrupted" in result.stdout
    assert "Traceback" not in result.stderr
