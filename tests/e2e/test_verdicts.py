"""The reproductions of unsound verdicts, each with the answer it must get.

Every case runs wfleak as a user would (``python -m wfleak`` in a subprocess) on a real
workflow from ``tests/fixtures/verdicts.py`` or ``samples/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, run_cli
from wfleak.probes import allocator

VERDICTS = ROOT / "tests" / "fixtures" / "verdicts.py"


def make_project(folder: Path, config: str) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(VERDICTS, folder / "flows.py")
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "service"\n\n[tool.wfleak]\nwarmup = 2\n' + config
    )
    return folder


# 1. Too few runs never read as OK.


def test_five_runs_of_a_workflow_that_keeps_its_contexts_are_a_leak() -> None:
    result = run_cli("run", "samples/leaky_global.py:LeakyWorkflow", "-n", "5", "--json", "-")
    assert result.code == 0, result.stderr
    report = result.report
    assert report["verdict"] == "leak"
    (reason,) = report["reasons"]
    assert reason["code"] == "too_few_runs"
    assert "run at least 6 iterations" in reason["message"]
    assert "? too_few_runs: 5 measured runs" in result.stderr
    assert "flat (p=" not in result.stderr
    assert "Guard it in CI" not in result.stderr


def test_check_fails_five_runs_that_keep_bytes_as_inconclusive(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "service",
        'iterations = 5\n[[tool.wfleak.targets]]\nname = "bytes"\n'
        'target = "flows.py:BytesPerRun"\n',
    )
    junit = tmp_path / "junit.xml"
    result = run_cli(
        "check", "--junit-xml", str(junit), "--json", str(tmp_path / "c.json"), cwd=project
    )
    assert result.code == 4, result.stdout + result.stderr
    line = result.stdout.splitlines()[0]
    assert line.startswith("? bytes") and "INCONCLUSIVE" in line and "too_few_runs" in line
    (failure,) = ET.parse(junit).getroot().iter("failure")
    assert failure.get("type") == "INCONCLUSIVE"
    assert "run at least 6 iterations" in (failure.get("message") or "")
    (checked,) = json.loads((tmp_path / "c.json").read_text())["targets"]
    assert checked["status"] == "inconclusive"
    assert checked["report"]["verdict"] == "inconclusive"

    accepted = run_cli("check", "--allow-inconclusive", cwd=project)
    assert accepted.code == 0, accepted.stdout + accepted.stderr
    assert "accepted: INCONCLUSIVE too_few_runs" in accepted.stdout


def test_a_report_without_a_measured_run_is_not_ok(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = run_cli("run", f"{VERDICTS}:FailsAfterRetry", "-n", "5", "--json", str(out))
    assert result.code == 3  # the warm-up run failed: the workflow is broken
    report = json.loads(out.read_text())
    assert report["runs"] == []
    assert report["verdict"] == "inconclusive"
    assert [r["code"] for r in report["reasons"]] == ["no_measured_runs"]


# 2. Failed runs are measured like the others.


def test_runs_that_all_fail_show_the_cycles_they_leave() -> None:
    result = run_cli("run", f"{VERDICTS}:FailsAfterRetry", "-n", "8", "--keep-going", "--json", "-")
    assert result.code == 0, result.stderr
    report = result.report
    assert report["failures"] == 3 + 8
    assert report["verdict"] == "cycle"
    assert all(not run["ok"] for run in report["runs"])
    assert all(run["cycle_framework_types"].get("Context") == 1 for run in report["runs"])
    (finding,) = report["findings"]
    assert finding["kind"] == "cycle"
    assert finding["bytes_per_run"] > 40_000


# 3. One explained finding hides no other leak.


def test_an_allow_rule_for_one_leak_does_not_pass_another(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "service",
        'iterations = 12\nallow = [{ pattern = "WFL001", reason = "kept for /debug" }]\n'
        '[[tool.wfleak.targets]]\nname = "two"\ntarget = "flows.py:TwoLeaks"\n',
    )
    result = run_cli("check", "--json", str(tmp_path / "c.json"), cwd=project)
    assert result.code == 1, result.stdout + result.stderr
    (checked,) = json.loads((tmp_path / "c.json").read_text())["targets"]
    assert [v["fingerprint"] for v in checked["violations"]] == ["unaccounted-memory-growth"]
    assert [a["reason"] for a in checked["accepted"]] == ["kept for /debug"]
    remainder = next(
        f for f in checked["report"]["findings"] if f["fingerprint"] == "unaccounted-memory-growth"
    )
    assert "not accounted for by the findings above" in remainder["summary"]
    assert remainder["bytes_per_run"] > 50 * 1024


# 4. A baseline accepts a known leak only while it grows no faster.


def test_a_known_leak_that_grows_past_its_baseline_fails(tmp_path: Path) -> None:
    config = (
        'iterations = 10\n[[tool.wfleak.targets]]\nname = "entries"\n'
        'target = "flows.py:EntriesPerRun"\n'
    )
    project = make_project(tmp_path / "service", config)
    baseline = tmp_path / "baseline.json"
    saved = run_cli("check", "--json", str(baseline), cwd=project, env={"WFLEAK_TEST_ENTRIES": "2"})
    assert saved.code == 1, saved.stdout + saved.stderr
    same = run_cli(
        "check",
        "--baseline",
        str(baseline),
        "-n",
        "14",
        cwd=project,
        env={"WFLEAK_TEST_ENTRIES": "2"},
    )
    assert same.code == 0, same.stdout + same.stderr
    grown = run_cli(
        "check",
        "--baseline",
        str(baseline),
        "--json",
        str(tmp_path / "c.json"),
        cwd=project,
        env={"WFLEAK_TEST_ENTRIES": "2000"},
    )
    assert grown.code == 1, grown.stdout + grown.stderr
    (checked,) = json.loads((tmp_path / "c.json").read_text())["targets"]
    assert any("grew past its baseline" in v["message"] for v in checked["violations"])


# 8. CYCLE bytes are what the cyclic GC frees for a run.


def _plain_collection(spec: str, mode: str) -> dict[str, float]:
    process = subprocess.run(
        [sys.executable, str(ROOT / "tests/fixtures/cycle_truth.py"), spec, mode, "10"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **allocator.worker_environment(), "PYTHONPATH": str(ROOT)},
        timeout=300,
        check=True,
    )
    truth: dict[str, float] = json.loads(process.stdout)
    return truth


@pytest.mark.skipif(not allocator.supported(), reason="needs the allocators' own byte counts")
@pytest.mark.parametrize(
    ("spec", "options"),
    [
        ("samples/clean.py:CleanWorkflow", ["--workflow", "fresh"]),
        (f"{VERDICTS}:FailsAfterRetry", ["--keep-going"]),
    ],
)
def test_cycle_bytes_are_what_gc_collect_frees_per_run(spec: str, options: list[str]) -> None:
    mode = "fresh" if "fresh" in options else "shared"
    truth = _plain_collection(spec, mode)
    result = run_cli("run", spec, "-n", "10", *options, "--json", "-")
    assert result.code == 0, result.stderr
    report: dict[str, Any] = result.report
    measured = statistics.median(run["cycle_bytes"] for run in report["runs"])
    assert truth["bytes"] > 10_000
    assert abs(measured - truth["bytes"]) <= 0.10 * truth["bytes"], (measured, truth)
    (finding,) = [f for f in report["findings"] if f["kind"] == "cycle"]
    assert abs(finding["bytes_per_run"] - truth["bytes"]) <= 0.10 * truth["bytes"]


# 6. A timer that fires after the runs is not a leak; one that reschedules itself is.


def test_objects_held_until_a_pool_timer_fires_are_not_a_leak() -> None:
    result = run_cli("run", f"{VERDICTS}:PoolTimer", "-n", "12", "--json", "-")
    assert result.code == 0, result.stderr
    report = result.report
    # Before settling, every run's objects were still held: the evidence a check used to blame.
    retained = [run["framework_alive_after_gc"] for run in report["runs"]]
    assert retained == sorted(retained) and retained[-1] > retained[0] > 0
    assert report["verdict"] == "ok", report["findings"]
    (held,) = [row for row in report["leftovers"] if row["kind"] == "held_until_timer"]
    assert held["count"] == retained[-1]
    assert "clean_up_idle_connections" in held["description"]
    assert any("held until a timer fired" in note for note in report["notes"])
    assert "held until a timer fired" in result.stderr


def test_without_settling_the_same_workflow_is_judged_on_what_is_still_held() -> None:
    result = run_cli("run", f"{VERDICTS}:PoolTimer", "-n", "12", "--settle", "0", "--json", "-")
    assert result.code == 0, result.stderr
    assert result.report["verdict"] == "leak"


def test_a_timer_that_reschedules_itself_and_keeps_holding_is_a_leak() -> None:
    result = run_cli("run", f"{VERDICTS}:RepeatingTimer", "-n", "12", "--json", "-")
    assert result.code == 0, result.stderr
    report = result.report
    assert report["verdict"] == "leak"
    assert not [row for row in report["leftovers"] if row["kind"] == "held_until_timer"]
    assert any("scheduled itself again" in note for note in report["notes"])


def test_objects_held_by_a_timer_due_after_the_settle_phase_are_inconclusive() -> None:
    result = run_cli(
        "run",
        f"{VERDICTS}:PoolTimer",
        "-n",
        "12",
        "--settle",
        "0.5",
        "--json",
        "-",
        env={"WFLEAK_TEST_TIMER_S": "20"},
    )
    assert result.code == 0, result.stderr
    report = result.report
    assert report["verdict"] == "inconclusive", report["findings"]
    (reason,) = report["reasons"]
    assert reason["code"] == "held_by_pending_timer"
    suggested = re.search(r"run with --settle (\d+)", reason["message"])
    assert suggested is not None and 20 <= int(suggested.group(1)) <= 21
