"""``wfleak check -j N``: targets side by side, results as a serial check gives them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import cli_env, default_signals, run_cli
from tests.e2e.test_check import CLEAN, CRASHING, LEAKY, make_project

MARKED = """
[[tool.wfleak.targets]]
name = "{name}"
target = "flows/marked.py:MarkedWorkflow"
"""
MARKED_SOURCE = """
import os
from pathlib import Path

from llama_index.core.workflow import StartEvent, StopEvent, Workflow, step


class MarkedWorkflow(Workflow):
    @step
    async def answer(self, ev: StartEvent) -> StopEvent:
        # Tells the test that this target's worker is running its workflow.
        Path(os.environ["MARKS"], str(os.getpid())).touch()
        return StopEvent(result="ok")
"""


def test_parallel_check_keeps_configuration_order_and_the_serial_exit_code(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path / "service", CLEAN, LEAKY, CRASHING)
    serial = run_cli("check", "--json", str(tmp_path / "serial.json"), cwd=project)
    side_by_side = run_cli("check", "-j", "3", "--json", str(tmp_path / "j3.json"), cwd=project)
    assert serial.code == side_by_side.code == 3, side_by_side.stdout + side_by_side.stderr

    def first_words(stdout: str) -> list[str]:
        return [line.split()[1] for line in stdout.splitlines() if line[:1] in "✓✗!-"]

    assert first_words(side_by_side.stdout) == ["fixed", "history", "crashing"]
    assert first_words(side_by_side.stdout) == first_words(serial.stdout)
    assert side_by_side.stdout.splitlines()[-1] == serial.stdout.splitlines()[-1]
    names = [t["name"] for t in json.loads((tmp_path / "j3.json").read_text())["targets"]]
    assert names == ["fixed", "history", "crashing"]


def test_jobs_takes_a_count_or_auto(tmp_path: Path) -> None:
    project = make_project(tmp_path / "service", CLEAN)
    for bad in ("0", "many"):
        result = run_cli("check", "-j", bad, cwd=project)
        assert result.code == 2, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert "'-j'" in result.stderr and "'auto'" in result.stderr
    result = run_cli("check", "-j", "auto", cwd=project)
    assert result.code == 0, result.stdout + result.stderr


def _wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_ctrl_c_stops_every_worker_and_keeps_each_target_measured(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "service", MARKED.format(name="first"), MARKED.format(name="second")
    )
    (project / "flows" / "marked.py").write_text(MARKED_SOURCE)
    marks = tmp_path / "marks"
    marks.mkdir()
    check = ["check", "-j", "2", "-n", "100000", "--warmup", "0", "--json", "../check.json"]
    process = subprocess.Popen(
        [sys.executable, "-m", "wfleak", *check],
        cwd=project,
        env=cli_env() | {"MARKS": str(marks)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_signals,
    )
    try:
        # Both targets' workers are running their workflow (each marks with its own pid).
        _wait_for(lambda: len(list(marks.iterdir())) == 2, timeout=120)
        workers = [int(mark.name) for mark in marks.iterdir()]
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr
    lines = stdout.splitlines()
    assert lines[0].startswith("- first") and "STOPPED" in lines[0]
    assert lines[1].startswith("- second") and "STOPPED" in lines[1]
    checked = json.loads((tmp_path / "check.json").read_text())["targets"]
    assert [t["name"] for t in checked] == ["first", "second"]
    for target in checked:
        assert target["status"] == "interrupted"
        assert len(target["report"]["runs"]) > 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid), f"worker {pid} left running"


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
