"""Progress: bars that end, elapsed time and time left, a heartbeat in logs, -q and -v."""

from __future__ import annotations

import io
import threading
import time

from rich.console import Console

from wfleak.pipeline import Progress
from wfleak.report.progress import ProgressDisplay, Verbosity, clock_text


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def log_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=200), out


def test_heartbeat_line_says_where_with_elapsed_and_left() -> None:
    clock = Clock()
    console, _ = log_console()
    display = ProgressDisplay(console, clock=clock)
    with display:
        display.update(Progress("load", 0, 1))
        clock.now += 2
        display.update(Progress("measure", 0, 50))
        clock.now += 40
        display.update(Progress("measure", 20, 50))
        clock.now += 1
        assert display.heartbeat_line() == (
            "measuring runs 20/50, 0:00:43 elapsed, about 0:01:01 left"
        )
        display.update(Progress("analyse", 0, 1))
        assert display.heartbeat_line() == "analysing heap, 0:00:43 elapsed"


def wait_for(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_logs_get_a_heartbeat_once_runs_start_and_none_after() -> None:
    console, out = log_console()
    display = ProgressDisplay(console, heartbeat_s=0.02)
    with display:
        display.update(Progress("load", 0, 1))
        time.sleep(0.1)
        assert out.getvalue() == ""  # importing the target: a failure stays one line
        display.update(Progress("measure", 3, 10))
        wait_for(lambda: "wfleak: measuring runs 3/10, " in out.getvalue())
    written = out.getvalue()
    time.sleep(0.1)
    assert out.getvalue() == written
    assert not [t for t in threading.enumerate() if t.name == "wfleak-heartbeat"]


def test_quiet_shows_nothing_and_verbose_a_line_per_phase() -> None:
    console, out = log_console()
    with ProgressDisplay(console, verbosity=Verbosity.QUIET, heartbeat_s=0.01) as display:
        display.update(Progress("measure", 3, 10))
        time.sleep(0.1)
    assert out.getvalue() == ""
    clock = Clock()
    console, out = log_console()
    display = ProgressDisplay(console, verbosity=Verbosity.VERBOSE, clock=clock, name="api")
    with display:
        display.update(Progress("warm-up", 0, 3))
        clock.now += 1.5
        display.update(Progress("warm-up", 3, 3))
        display.update(Progress("measure", 0, 5))
        clock.now += 2.25
        display.update(Progress("measure", 2, 5))
    # Stopped after two measured runs: the line says how far the phase got.
    assert out.getvalue().splitlines() == [
        "wfleak: api: warming up 3/3 in 1.5s",
        "wfleak: api: measuring runs 2/5 in 2.2s",
    ]


def test_terminal_bars_complete_when_the_next_phase_starts() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    display = ProgressDisplay(console)
    with display:
        display.update(Progress("load", 0, 1))
        display.update(Progress("warm-up", 1, 3))
        tasks = {task.description: task for task in display._progress.tasks}
        assert tasks["importing target"].completed == 1
        assert tasks["importing target"].finished
        assert tasks["warming up"].completed == 1


def test_clock_text() -> None:
    assert [clock_text(s) for s in (0, 59.9, 61, 3725)] == [
        "0:00:00",
        "0:00:59",
        "0:01:01",
        "1:02:05",
    ]
