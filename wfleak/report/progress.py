"""Progress of an analysis on stderr: a live bar in a terminal, a heartbeat line in a log.

In a terminal each phase gets a bar with its count, the time elapsed and the time left; a
phase that has ended shows as complete. When stderr is not a terminal (a CI log), a line
every few seconds once the runs have started says where the analysis is, so a long
analysis is seen to be alive:
``wfleak: measuring runs 23/50, 0:00:41 elapsed, about 0:00:48 left``. ``quiet`` shows
neither; ``verbose`` adds a line as each phase ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

if TYPE_CHECKING:
    from wfleak import pipeline

LABELS = {
    "load": "importing target",
    "warm-up": "warming up",
    "measure": "measuring runs",
    "trace": "tracing allocations",
    "analyse": "analysing heap",
}
HEARTBEAT_S = 10.0
"""Seconds between two progress lines in a log."""


class Verbosity(Enum):
    QUIET = "quiet"
    NORMAL = "normal"
    VERBOSE = "verbose"


def clock_text(seconds: float) -> str:
    """``0:01:05`` for 65 seconds, as rich's time columns show it."""
    whole = max(0, int(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


@dataclass(frozen=True)
class _State:
    phase: str
    done: int
    total: int
    phase_started: float


class ProgressDisplay:
    def __init__(
        self,
        console: Console,
        *,
        verbosity: Verbosity = Verbosity.NORMAL,
        name: str | None = None,
        heartbeat_s: float = HEARTBEAT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        shown = verbosity is not Verbosity.QUIET
        self._console = console
        self._bar = shown and console.is_terminal
        self._heartbeat = shown and not console.is_terminal
        self._phase_lines = verbosity is Verbosity.VERBOSE
        self._prefix = f"wfleak: {name}: " if name else "wfleak: "
        self._interval = heartbeat_s
        self._clock = clock
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._tasks: dict[str, TaskID] = {}
        self._state: _State | None = None
        self._started = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ProgressDisplay:
        self._started = self._clock()
        if self._bar:
            self._progress.start()
        if self._heartbeat:
            self._thread = threading.Thread(target=self._beat, name="wfleak-heartbeat", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._bar:
            self._progress.stop()
        if exc_type is None and self._state is not None:
            self._phase_ended(self._state)

    def update(self, event: pipeline.Progress) -> None:
        previous = self._state
        if previous is None or previous.phase != event.phase:
            if previous is not None:
                self._phase_ended(previous)
            started = self._clock()
        else:
            started = previous.phase_started
        self._state = _State(event.phase, event.done, event.total, started)
        if self._bar:
            self._show_bar(event)

    def _show_bar(self, event: pipeline.Progress) -> None:
        task = self._tasks.get(event.phase)
        if task is None:
            # Phases run one after another: a new one means the earlier ones are over.
            for earlier in self._tasks.values():
                total = self._progress.tasks[earlier].total
                self._progress.update(earlier, completed=total)
                self._progress.stop_task(earlier)
            task = self._progress.add_task(LABELS.get(event.phase, event.phase), total=event.total)
            self._tasks[event.phase] = task
        self._progress.update(task, completed=event.done, total=event.total)

    def _phase_ended(self, state: _State) -> None:
        if not self._phase_lines:
            return
        took = self._clock() - state.phase_started
        count = f" {state.done}/{state.total}" if state.total > 1 else ""
        self._print(f"{LABELS.get(state.phase, state.phase)}{count} in {took:.1f}s")

    def heartbeat_line(self) -> str | None:
        """Where the analysis is, with the time elapsed and, once runs are done, the time left."""
        state = self._state
        if state is None:
            return None
        now = self._clock()
        label = LABELS.get(state.phase, state.phase)
        parts = [f"{label} {state.done}/{state.total}" if state.total > 1 else label]
        parts.append(f"{clock_text(now - self._started)} elapsed")
        if 0 < state.done < state.total:
            per_step = (now - state.phase_started) / state.done
            parts.append(f"about {clock_text(per_step * (state.total - state.done))} left")
        return ", ".join(parts)

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            state = self._state
            # From the first run on: a target that fails to import says so in one line.
            if state is not None and state.phase != "load":
                self._print(self.heartbeat_line() or "")

    def _print(self, text: str) -> None:
        self._console.print(f"{self._prefix}{text}", markup=False, highlight=False)
