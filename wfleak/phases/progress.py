"""Progress events that the phases send to an observer (a progress bar, the worker's pipe)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from wfleak.model import RunSample


@dataclass(frozen=True)
class Progress:
    """A progress event: a phase started, a run finished, or a measured run's sample."""

    phase: str
    done: int
    total: int
    sample: RunSample | None = None
    message: str | None = None


Observer = Callable[[Progress], None]


def ignore(_: Progress) -> None:
    return None
