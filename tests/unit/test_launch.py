"""The worker the command line starts before parsing its arguments."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli_env, worker_pids
from wfleak import launch
from wfleak.api import make_settings, run_analysis


@pytest.fixture(autouse=True)
def no_early_worker_left() -> Iterator[None]:
    yield
    launch.discard()


def _early_worker() -> launch.Worker:
    launch.start_early(["run", "samples/clean.py:CleanWorkflow"])
    worker = launch._spare
    assert worker is not None
    return worker


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "app.py:Flow", "--iterations", "5"], True),
        (["check"], True),
        (["graph", "app.py:Flow", "-o", "leak.mmd"], True),
        (["run", "app.py:Flow", "--help"], False),
        (["check", "-h"], False),
        (["graph", "--from", "report.json"], False),
        (["graph", "--from=report.json"], False),
        (["--version"], False),
        ([], False),
        (["explain"], False),
    ],
)
def test_a_worker_is_started_early_only_for_a_command_that_analyses(
    argv: list[str], expected: bool
) -> None:
    assert launch.needs_worker(argv) is expected


def test_the_analysis_takes_the_early_worker() -> None:
    worker = _early_worker()
    settings = make_settings("samples/clean.py:CleanWorkflow", iterations=6, warmup=1)
    report = run_analysis(settings, cwd=ROOT)
    assert report.runs and report.stop is None
    assert launch._spare is None
    assert worker.process.returncode is not None


def test_an_early_worker_started_elsewhere_or_otherwise_is_ended_not_used(tmp_path: Path) -> None:
    worker = _early_worker()
    assert launch.take(str(tmp_path), launch.environment()) is None
    assert worker.process.returncode is not None
    worker = _early_worker()
    assert launch.take(None, {**launch.environment(), "WFLEAK_TEST_OTHER": "1"}) is None
    assert worker.process.returncode is not None
    worker = _early_worker()
    assert launch.take(os.getcwd(), launch.environment()) is worker
    launch.end(worker)


def test_an_early_worker_no_analysis_takes_exits_without_a_word() -> None:
    worker = _early_worker()
    assert worker.process.stdin is not None
    worker.process.stdin.close()
    assert worker.process.wait(timeout=60) == 0
    worker.log.seek(0)
    assert worker.log.read() == b""


def test_a_command_that_needs_no_analysis_leaves_no_worker_behind() -> None:
    command = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wfleak",
            "run",
            "samples/clean.py:CleanWorkflow",
            "--iteraions",
            "5",
        ],
        cwd=ROOT,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, stderr = command.communicate(timeout=120)
    assert command.returncode == 2
    assert "--iteraions" in stderr
    # Ended on the way out, not left to notice on its own that the command is gone.
    assert worker_pids(command.pid) == []
