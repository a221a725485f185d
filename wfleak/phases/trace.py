"""Trace: after measured runs that found a leak, a few more runs traced with full tracebacks,
to tell where the leaked memory was allocated and which objects to explain."""

from __future__ import annotations

import asyncio
import tracemalloc
from dataclasses import dataclass, field
from typing import Any

from wfleak import framework
from wfleak.analysis.explain import allocation_frames
from wfleak.driver import RunProvider
from wfleak.model import AllocationSite, Frame
from wfleak.phases.instruments import Instruments
from wfleak.phases.measure import MeasureResult
from wfleak.phases.progress import Progress
from wfleak.probes import collector, memory
from wfleak.probes import leftovers as leftover_probe
from wfleak.probes.failure import ProbeFailed

TRACED_RUNS = 4
"""Runs traced with full tracebacks after measured runs that found a leak: the snapshots
after the first and the last differ by what three runs left, and what all four leaked has a
known allocation site."""


@dataclass(frozen=True)
class LeakCandidates:
    """Strong references to what leaked, held only while it is explained."""

    leaked: list[Any]
    counts: dict[str, int]
    timers: list[Any]
    allocation: dict[int, list[Frame]]


@dataclass
class TraceRecord:
    """What the traced runs hand to the explain phase (live objects: dropped right after)."""

    candidates: LeakCandidates
    first_snapshot: tracemalloc.Snapshot | None
    last_snapshot: tracemalloc.Snapshot | None
    python_growth: int | None = None
    """Bytes Python's allocators held more after the last traced run than after the first
    (tracemalloc's count: what C code allocates with its own ``malloc`` is not in it)."""


@dataclass(frozen=True)
class TraceResult:
    runs: int = 0
    """Traced runs done (0: nothing leaked, so nothing was traced)."""
    allocation_sites: list[AllocationSite] = field(default_factory=list)
    failure: str | None = None
    """Why tracing could not be done, when it was needed (a probe that failed)."""
    python_bytes_per_run: float | None = None
    """Growth per traced run of what Python's allocators hold (tracemalloc's count)."""

    @classmethod
    def of(cls, record: TraceRecord | None) -> TraceResult:
        """The allocation sites that grew, read once tracing has stopped."""
        if record is None:
            return cls()
        try:
            sites = memory.growing_sites(record.first_snapshot, record.last_snapshot)
        except Exception as exc:
            return cls(failure=ProbeFailed.of("reading the allocation sites", exc).message)
        per_run = None if record.python_growth is None else record.python_growth / (TRACED_RUNS - 1)
        return cls(runs=TRACED_RUNS, allocation_sites=sites, python_bytes_per_run=per_run)


def _made_by_analysis(obj: object) -> bool:
    """Made by wfleak itself while tracing (a snapshot's list of traces, say), as the
    innermost frame of its allocation says."""
    traceback = tracemalloc.get_object_traceback(obj)
    if traceback is None:
        return False
    filename = traceback[-1].filename
    return filename == tracemalloc.__file__ or memory.is_own_file(filename)


def _growth_samples(instruments: Instruments, measured: MeasureResult) -> list[Any]:
    """A few objects of each growing type, made by the runs (while the older heap is still
    frozen out of view): oldest first, the ones surely not the latest run's, and those
    whose allocation site is known before the others."""
    # Only types that grew by about one object per run or more: a lazily filled cache
    # grows a little and stops, which is not what leaked.
    minimum = max(2, (len(measured.runs) - 1) // 2)
    growing = {row.type_name for row in measured.type_growth[:3] if row.delta >= minimum}
    traced: dict[str, list[Any]] = {name: [] for name in growing}
    untraced: dict[str, list[Any]] = {name: [] for name in growing}
    for obj in collector.get_objects():
        name = framework.type_name(type(obj))
        if name not in growing or len(traced[name]) >= 3:
            continue
        if instruments.is_own(obj) or _made_by_analysis(obj):
            continue
        if allocation_frames(obj):
            traced[name].append(obj)
        elif len(untraced[name]) < 3:
            untraced[name].append(obj)
    return [obj for name in sorted(growing) for obj in (traced[name] + untraced[name])[:3]]


def _leak_candidates(instruments: Instruments, measured: MeasureResult) -> LeakCandidates:
    """What to explain; taken while tracemalloc still traces, so the allocation sites of
    the leaked objects can be read."""
    leaked = instruments.tracker.live_objects()
    counts = measured.retained_by_type
    if not leaked:
        leaked = _growth_samples(instruments, measured)
        counts = {row.type_name.rsplit(".", 1)[-1]: row.delta for row in measured.type_growth}
    allocation = {id(obj): allocation_frames(obj) for obj in leaked}
    # Objects whose allocation site is known come first, so they are the ones explained.
    leaked.sort(key=lambda obj: not allocation[id(obj)])
    return LeakCandidates(
        leaked=leaked,
        counts=counts,
        timers=instruments.timers.live_objects(),
        allocation=allocation,
    )


async def trace_allocations(
    instruments: Instruments, provider: RunProvider, measured: MeasureResult
) -> TraceRecord:
    """The traced runs (tracemalloc already started, automatic collection paused)."""
    total = TRACED_RUNS
    instruments.observer(Progress("trace", 0, total))
    first: tracemalloc.Snapshot | None = None
    traced_after_first = 0
    for index in range(1, total + 1):
        await instruments.run_once(provider)
        await instruments.settle_callbacks()
        instruments.adopt_young()
        leftover_probe.drop_cancelled_timers(asyncio.get_running_loop())
        instruments.clear_type_cache()
        collector.collect()
        if index == 1:
            first = memory.take_snapshot()
            traced_after_first = tracemalloc.get_traced_memory()[0]
        instruments.observer(Progress("trace", index, total))
    if not tracemalloc.is_tracing():
        # Stopped by the target: snapshots and allocation sites would be silently missing.
        raise ProbeFailed(
            "tracing the allocations failed: tracemalloc was stopped during the traced runs"
        )
    growth = tracemalloc.get_traced_memory()[0] - traced_after_first
    last = memory.take_snapshot()
    return TraceRecord(_leak_candidates(instruments, measured), first, last, growth)
