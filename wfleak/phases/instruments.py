"""What the phases share: the weak-reference trackers, the cycle inspector, the byte counter,
and the helpers that keep the tool's own work out of what the probes count."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from wfleak import framework
from wfleak.analysis import owner
from wfleak.analysis.explain import CycleInspector
from wfleak.driver import RunOutcome, RunProvider, run_with_timeout
from wfleak.model import RunSample, Settings, StopReason
from wfleak.phases.progress import Observer, Progress
from wfleak.probes import allocator, collector, memory
from wfleak.probes import leftovers as leftover_probe
from wfleak.probes.failure import ProbeFailed
from wfleak.probes.tracker import ObjectTracker
from wfleak.serde import from_jsonable, to_jsonable

SETTLE_TICKS = 3
"""Loop iterations after a run so its done-callbacks run before probing, as in a server."""


class SampleLog:
    """Measured samples, written straight to an unbuffered file so they stay off the heap."""

    def __init__(self) -> None:
        handle, self._path = tempfile.mkstemp(prefix="wfleak-samples-", suffix=".jsonl")
        self._fd = handle

    def write(self, sample: RunSample) -> None:
        os.write(self._fd, (json.dumps(to_jsonable(sample)) + "\n").encode())

    def read(self) -> list[RunSample]:
        with open(self._path, encoding="utf-8") as lines:
            return [from_jsonable(RunSample, json.loads(line)) for line in lines if line.strip()]

    def close(self) -> None:
        os.close(self._fd)
        os.unlink(self._path)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Automatic collections off, so cycle garbage waits for the probe's own collection."""
    was_enabled = collector.isenabled()
    collector.disable()
    try:
        yield
    finally:
        if was_enabled:
            collector.enable()


@contextmanager
def frozen_heap() -> Iterator[None]:
    collector.collect()
    collector.freeze()
    try:
        yield
    finally:
        collector.unfreeze()


@contextmanager
def heap_built_uncollected() -> Iterator[None]:
    """Import the target without the cyclic collector, then collect once and freeze.

    The import builds the service's long-lived heap (models, caches, configuration: a million
    objects is common). While that heap grows, the collector walks it again and again (most of
    the import's time at a million objects) and finds nothing to free. One full collection
    afterwards frees what the import left as cycle garbage; freezing what survives keeps the
    warm-up runs' collections off it too, as the measured runs' already are.
    """
    with collector_paused():
        yield
    collector.collect()
    collector.freeze()


def traced_bytes() -> int:
    if not tracemalloc.is_tracing():
        # Stopped by the target (a library tracing allocations of its own): from here on the
        # count would read as zero, a fall in memory that never happened.
        raise ProbeFailed("the byte count failed: tracemalloc was stopped during the runs")
    return tracemalloc.get_traced_memory()[0]


class Tracing:
    """tracemalloc, started and stopped by the analysis unless the caller traces already."""

    def __init__(self) -> None:
        self.by_caller = tracemalloc.is_tracing()
        self._frames = 0

    def start(self, frames: int) -> None:
        if self.by_caller or self._frames == frames:
            return
        if self._frames:
            # The traceback depth is fixed while tracing; a deeper one needs a restart.
            tracemalloc.stop()
        tracemalloc.start(frames)
        self._frames = frames

    def stop(self) -> None:
        if self._frames:
            tracemalloc.stop()
            self._frames = 0


def scheduled_ids() -> set[int]:
    loop = asyncio.get_running_loop()
    return {id(t) for t in leftover_probe.scheduled_timers(loop)}


class Instruments:
    """The probes' long-lived state for one analysis, shared by the phases in turn."""

    def __init__(self, settings: Settings, observer: Observer) -> None:
        self.settings = settings
        self.observer = observer
        self.framework_types = framework.FrameworkTypes()
        self.tracker = ObjectTracker(self.framework_types.__contains__)
        self.timers = ObjectTracker(leftover_probe.is_timer)
        self.cycles = CycleInspector(self.framework_types.__contains__, beat=self._inspecting)
        self.allocated: Callable[[], int] = allocator.in_use_bytes
        # Load the allocator probes (their ctypes handles and caches) before any run, so what
        # they keep is never counted among the runs' objects.
        allocator.supported()
        self.own_counters: list[Counter[str]] = []
        """Type counts the measure phase keeps while it counts again (not the runs' objects)."""

    def _inspecting(self) -> None:
        """A heartbeat while a run's cycle garbage is searched for its ring."""
        done = max(0, self.cycles.run - 1)
        total = self.settings.most_iterations
        self.observer(Progress("measure", done, total, message="inspecting the cycle garbage"))

    def is_own(self, obj: object) -> bool:
        return (
            self.tracker.is_own(obj)
            or self.timers.is_own(obj)
            or any(obj is counter for counter in self.own_counters)
            or framework.module_of(type(obj)) in ("tracemalloc", "wfleak.model")
        )

    async def run_once(self, provider: RunProvider) -> RunOutcome:
        return await run_with_timeout(provider, self.settings.timeout)

    async def settle_callbacks(self) -> None:
        for _ in range(SETTLE_TICKS):
            await asyncio.sleep(0)

    def adopt_young(self) -> int:
        """Watch what the last run made and left alive, and count its framework objects: with
        automatic collection paused, the youngest generation holds exactly that."""
        young = collector.get_objects(generation=0)
        created = self.tracker.adopt(young)
        self.timers.adopt(young)
        del young
        return created

    def warm_own_code_paths(self) -> None:
        """Let wfleak's own lazy caches (JSON encoder, regexes) fill before the heap is frozen,
        so they do not show up as growth of the first measured run."""
        json.dumps(to_jsonable(RunSample(index=0, ok=True, duration_s=0.0)))
        owner.warm()
        memory.take_snapshot()
        memory.live_type_counts(self.is_own, [self])

    @staticmethod
    def clear_type_cache() -> None:
        # CPython's method cache (4096 slots) keeps the attribute names it has seen alive; it
        # is bounded, but it fills slowly enough to pass for a leak of a few hundred bytes
        # per run, so it is emptied before every measurement.
        sys._clear_type_cache()


def stop_after_failure(
    settings: Settings, label: str, index: int, outcome: RunOutcome
) -> tuple[StopReason, str] | None:
    """Why measuring stops after a failed run, or None when ``--keep-going`` counts it."""
    if settings.keep_going:
        return None
    reason = StopReason.TIMED_OUT if outcome.timed_out else StopReason.FAILED
    return reason, f"{label} {index} failed: {outcome.error or ''}"
