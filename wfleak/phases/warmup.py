"""Warm-up: unmeasured runs first, so lazy imports and caches fill before anything counts."""

from __future__ import annotations

from dataclasses import dataclass

from wfleak.driver import RunProvider
from wfleak.model import StopReason
from wfleak.phases.instruments import Instruments, stop_after_failure
from wfleak.phases.progress import Progress


@dataclass(frozen=True)
class WarmupResult:
    done: int
    """Warm-up runs finished."""
    failures: int = 0
    stop: StopReason | None = None
    stop_message: str | None = None


class WarmUp:
    """The warm-up runs; ``result()`` holds how many finished, even after Ctrl-C."""

    def __init__(self, instruments: Instruments) -> None:
        self.instruments = instruments
        self.done = 0
        self.failures = 0
        self.stop: tuple[StopReason, str] | None = None

    async def run(self, provider: RunProvider) -> WarmupResult:
        tools = self.instruments
        total = tools.settings.warmup
        tools.observer(Progress("warm-up", 0, total))
        for index in range(1, total + 1):
            outcome = await tools.run_once(provider)
            if not outcome.ok:
                self.failures += 1
                self.stop = stop_after_failure(tools.settings, "warm-up run", index, outcome)
                if self.stop is not None:
                    break
            self.done = index
            tools.observer(Progress("warm-up", index, total))
        return self.result()

    def result(self) -> WarmupResult:
        reason, message = self.stop or (None, None)
        return WarmupResult(self.done, self.failures, reason, message)
