"""A progress bar over the runs, on stderr, only when someone is watching a terminal."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from wfleak import pipeline

_LABELS = {
    "load": "importing target",
    "warm-up": "warming up",
    "measure": "measuring runs",
    "trace": "tracing allocations",
    "analyse": "analysing heap",
}


class ProgressDisplay:
    def __init__(self, console: Console) -> None:
        self._enabled = console.is_terminal
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> ProgressDisplay:
        if self._enabled:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._enabled:
            self._progress.stop()

    def update(self, event: pipeline.Progress) -> None:
        if not self._enabled:
            return
        task = self._tasks.get(event.phase)
        if task is None:
            task = self._progress.add_task(_LABELS.get(event.phase, event.phase), total=event.total)
            self._tasks[event.phase] = task
        self._progress.update(task, completed=event.done, total=event.total)
