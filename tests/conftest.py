from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
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


HEARTBEAT = re.compile(
    r"wfleak: (?:.+: )?[^,]+, \d+:\d{2}:\d{2} elapsed(?:, about \d+:\d{2}:\d{2} left)?"
)
"""A progress line in a log (wfleak.report.progress): how often one appears depends on the
machine's speed, so exact comparisons of stderr leave them out."""


def without_heartbeats(stderr: str) -> list[str]:
    """The lines of ``stderr`` with the progress heartbeat lines left out."""
    return [line for line in stderr.strip().splitlines() if not HEARTBEAT.fullmatch(line)]


def last_line(stderr: str) -> str:
    """The last line of ``stderr`` that is not a progress heartbeat."""
    lines = without_heartbeats(stderr)
    return lines[-1] if lines else ""


MARK_ENV = "WFLEAK_TEST_MARK"
"""Fixture workflows (tests/fixtures/lifecycle.py) touch this file once measuring is under way."""


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 180) -> None:
    """Wait for an observable state, never for a fixed delay: a busy machine is slow."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def worker_pids(parent_pid: int) -> list[int]:
    """Live ``python -m wfleak.worker FD PARENT`` processes started by the command
    ``parent_pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if b"wfleak.worker" in argv and argv[-2:-1] == [str(parent_pid).encode()] and state != "Z":
            found.append(int(entry))
    return found


def default_signals() -> None:
    """For ``preexec_fn``: the signals a test sends get their default dispositions. A test run
    started in the background or under ``nohup`` hands its children SIGINT and SIGHUP ignored,
    and wfleak rightly keeps an ignored signal ignored, as a terminal user's would not be."""
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)


def interrupt_cli(
    *args: str,
    mark: Path,
    signals: tuple[int, ...] = (signal.SIGINT,),
    cwd: Path = ROOT,
    between: Callable[[], None] | None = None,
) -> CliResult:
    """``python -m wfleak ARGS``, sent ``signals`` once the file ``mark`` exists (a fixture
    workflow writes it when the measured runs are under way)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "wfleak", *args],
        cwd=cwd,
        env=cli_env() | {MARK_ENV: str(mark)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_signals,
    )
    try:
        wait_for(lambda: mark.exists() or process.poll() is not None, f"{mark} to appear")
        for index, signum in enumerate(signals):
            if index and between is not None:
                between()
            process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return CliResult(process.returncode, stdout, stderr)


RUN_ENV = "WFLEAK_TEST_RUN"
"""Set for every wfleak started by a test; the process table is searched for it afterwards."""


def processes_with(token: str) -> list[str]:
    """Live processes (not zombies, not this one) whose environment holds the run's token."""
    needle = f"{RUN_ENV}={token}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            stat = Path(f"/proc/{entry}/stat").read_text(errors="replace")
        except OSError:
            continue
        if needle in environ.split(b"\0") and stat.rpartition(")")[2].split()[0] != "Z":
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
            found.append(f"{entry}: {cmdline.decode(errors='replace')[:200]}")
    return found


@pytest.fixture
def nothing_left(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """After the test, nothing that any wfleak it started (workers, their threads' and steps'
    children) may still be running."""
    token = uuid.uuid4().hex
    monkeypatch.setenv(RUN_ENV, token)
    yield
    try:
        wait_for(lambda: not processes_with(token), "the run's processes to end", timeout=15)
    except AssertionError:
        left = processes_with(token)
        for line in left:
            with contextlib.suppress(OSError):
                os.kill(int(line.split(":")[0]), signal.SIGKILL)
        raise AssertionError(f"processes of the run left behind: {left}") from None


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    from tests import quarantine

    quarantine.apply(items)
