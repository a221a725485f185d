from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict[str, Any]:
        return json.loads(self.stdout)


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"TERM": "dumb", "COLUMNS": "120", "NO_COLOR": "1"})
    return env


def run_cli(
    *args: str, timeout: float = 240, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> CliResult:
    """``python -m wfleak ARGS`` in a subprocess, as a user would run it."""
    process = subprocess.run(
        [sys.executable, "-m", "wfleak", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=cli_env() | (env or {}),
        timeout=timeout,
    )
    return CliResult(process.returncode, process.stdout, process.stderr)


def interrupt_cli(*args: str, after: float, cwd: Path = ROOT) -> CliResult:
    """``python -m wfleak ARGS``, sent Ctrl-C (SIGINT) after ``after`` seconds."""
    process = subprocess.Popen(
        [sys.executable, "-m", "wfleak", *args],
        cwd=cwd,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(after)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    return CliResult(process.returncode, stdout, stderr)


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
