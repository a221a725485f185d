"""The analysis pipeline: target -> driver -> probes -> analysis -> one Report.

Never prints; progress goes to an observer callback. During the measured runs the pipeline
keeps nothing new on the Python heap: samples go to the observer and to an unbuffered log file,
objects of interest are held by weak reference only, and the heap that existed before
measuring is frozen out of the collector's view, so what the probes count is what the runs
left behind.

The measured runs are not traced by tracemalloc when the C allocator can count their bytes
(see :mod:`wfleak.probes.allocator`): tracing every allocation makes a run several times
slower. Only when the measured runs find a leak do a few more runs follow with full
tracebacks, to tell where the leaked memory was allocated.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import platform
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from wfleak import __version__, framework
from wfleak.analysis.explain import (
    CycleInspector,
    allocation_frames,
    cycle_finding,
    explain_leaks,
    is_own,
    may_be_own,
)
from wfleak.analysis.paths import RootFinder, RootKind
from wfleak.analysis.verdict import judge
from wfleak.driver import RunOutcome, WorkflowProvider, run_with_timeout
from wfleak.errors import UsageError
from wfleak.model import (
    Environment,
    Finding,
    FindingKind,
    Frame,
    Leftover,
    MemraySummary,
    Report,
    RunSample,
    Settings,
    StopReason,
    TypeGrowth,
    Verdict,
)
from wfleak.probes import allocator, memory
from wfleak.probes import leftovers as leftover_probe
from wfleak.probes.cycles import collect_cycle_garbage
from wfleak.probes.memray_probe import MemrayRecording
from wfleak.probes.process import rss_bytes
from wfleak.probes.tracker import ObjectTracker
from wfleak.serde import from_jsonable, to_jsonable
from wfleak.target import load_target

SETTLE_TICKS = 3
"""Loop iterations after a run so its done-callbacks run before probing, as in a server."""
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


@dataclass(frozen=True)
class Progress:
    """A progress event: a phase started, a run finished, or a measured run's sample."""

    phase: str
    done: int
    total: int
    sample: RunSample | None = None
    message: str | None = None


Observer = Callable[[Progress], None]


def _ignore(_: Progress) -> None:
    return None


def environment() -> Environment:
    versions = framework.versions()
    return Environment(
        python=platform.python_version(),
        platform=platform.platform(terse=True),
        wfleak=__version__,
        llama_index_core=versions["llama_index_core"],
        workflows=versions["workflows"],
    )


def validate_settings(settings: Settings) -> None:
    if settings.iterations < 1:
        raise UsageError(f"--iterations must be at least 1 (got {settings.iterations})")
    if settings.warmup < 0:
        raise UsageError(f"--warmup must be 0 or more (got {settings.warmup})")
    if settings.timeout is not None and settings.timeout <= 0:
        raise UsageError(f"--timeout must be more than 0 seconds (got {settings.timeout:g})")
    if settings.trace_frames < 1:
        raise UsageError(f"--trace-frames must be at least 1 (got {settings.trace_frames})")


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
def _collector_paused() -> Iterator[None]:
    """Automatic collections off, so cycle garbage waits for the probe's own collection."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _traced_bytes() -> int:
    return tracemalloc.get_traced_memory()[0]


class _Tracing:
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


@contextmanager
def _frozen_heap() -> Iterator[None]:
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class Measurement:
    """One analysis: prepares the runs, probes each measured run, assembles the report."""

    def __init__(self, settings: Settings, observer: Observer) -> None:
        self.settings = settings
        self.observer = observer
        self.framework_types = framework.FrameworkTypes()
        self.tracker = ObjectTracker(self.framework_types.__contains__)
        self.timers = ObjectTracker(leftover_probe.is_timer)
        self.samples = SampleLog()
        self.stop: StopReason | None = None
        self.stop_message: str | None = None
        self.failures = 0
        self.warmup_done = 0
        self.notes: list[str] = []
        self.first_types: Counter[str] = Counter()
        self.last_types: Counter[str] = Counter()
        self.first_snapshot: tracemalloc.Snapshot | None = None
        self.last_snapshot: tracemalloc.Snapshot | None = None
        self.leftovers: list[Leftover] = []
        self.retained_by_type: dict[str, int] = {}
        self.memray: MemraySummary | None = None
        self.cycles = CycleInspector(self.framework_types.__contains__)
        self.explained: list[Finding] = []
        self.allocated: Callable[[], int] = allocator.in_use_bytes

    def _is_own(self, obj: object) -> bool:
        return (
            self.tracker.is_own(obj)
            or self.timers.is_own(obj)
            or obj is self.first_types
            or framework.module_of(type(obj)) in ("tracemalloc", "wfleak.model")
        )

    def _fail(self, index: int, warmup: bool, error: str, timed_out: bool) -> None:
        self.failures += 1
        if self.settings.keep_going:
            return
        label = "warm-up run" if warmup else "run"
        self.stop = StopReason.TIMED_OUT if timed_out else StopReason.FAILED
        self.stop_message = f"{label} {index} failed: {error}"

    async def _warm_up(self, provider: WorkflowProvider) -> None:
        total = self.settings.warmup
        self.observer(Progress("warm-up", 0, total))
        for index in range(1, total + 1):
            outcome = await run_with_timeout(provider, self.settings.timeout)
            if not outcome.ok:
                self._fail(index, True, outcome.error or "", outcome.timed_out)
                if self.stop is not None:
                    return
            self.warmup_done = index
            self.observer(Progress("warm-up", index, total))

    async def _settle(self) -> None:
        for _ in range(SETTLE_TICKS):
            await asyncio.sleep(0)

    def _adopt_young(self) -> int:
        """Watch what the last run made and left alive, and count its framework objects: with
        automatic collection paused, the youngest generation holds exactly that."""
        young = gc.get_objects(generation=0)
        created = self.tracker.adopt(young)
        self.timers.adopt(young)
        del young
        return created

    async def _measure_one(
        self, provider: WorkflowProvider, index: int
    ) -> tuple[RunSample, RunOutcome]:
        started = time.perf_counter()
        outcome = await run_with_timeout(provider, self.settings.timeout)
        duration = time.perf_counter() - started
        await self._settle()
        created = self._adopt_young()
        alive_before = self.tracker.alive()
        # CPython's method cache (4096 slots) keeps the attribute names it has seen alive; it
        # is bounded, but it fills slowly enough to pass for a leak of a few hundred bytes
        # per run, so it is emptied before every measurement.
        sys._clear_type_cache()
        self.cycles.run = index
        garbage = collect_cycle_garbage(
            self.framework_types.__contains__, self.cycles, self.allocated
        )
        alive_after = self.tracker.alive()
        scheduled = _scheduled_ids()
        live_timers, cancelled_timers = leftover_probe.count_timers(
            [t for t in self.timers.live_objects() if id(t) in scheduled]
        )
        pending = sum(
            1
            for obj in self.tracker.live_objects()
            if isinstance(obj, asyncio.Task) and not obj.done()
        )
        traced = self.allocated()
        own = self.tracker.alive() + self.timers.alive()
        gc_objects = len(gc.get_objects()) - own
        return RunSample(
            index=index,
            ok=outcome.ok,
            duration_s=duration,
            error=outcome.error,
            framework_created=created,
            framework_alive_before_gc=alive_before,
            framework_alive_after_gc=alive_after,
            cycle_objects=garbage.objects,
            cycle_bytes=garbage.bytes,
            cycle_framework_types=garbage.framework_types,
            gc_objects=gc_objects,
            traced_bytes=traced,
            rss_bytes=rss_bytes(),
            pending_tasks=pending,
            live_timers=live_timers,
            cancelled_timers=cancelled_timers,
        ), outcome

    async def _measure(self, provider: WorkflowProvider) -> None:
        total = self.settings.iterations
        self.observer(Progress("measure", 0, total))
        with _collector_paused():
            for index in range(1, total + 1):
                sample, outcome = await self._measure_one(provider, index)
                self.samples.write(sample)
                self.observer(Progress("measure", index, total, sample=sample))
                if index == 1:
                    self.first_types = memory.live_type_counts(self._is_own)
                del sample
                if not outcome.ok:
                    self._fail(index, False, outcome.error or "", outcome.timed_out)
                    if self.stop is not None:
                        break
            self.observer(Progress("analyse", 0, 1))
            self.last_types = memory.live_type_counts(self._is_own)
            self.retained_by_type = self.tracker.alive_by_type()
            tasks = [
                t
                for t in self.tracker.live_objects()
                if isinstance(t, asyncio.Task) and not t.done()
            ]
            scheduled = _scheduled_ids()
            timers = [t for t in self.timers.live_objects() if id(t) in scheduled]
            self.leftovers = leftover_probe.summarise(tasks, timers)
            del tasks, timers

    async def _trace_allocations(self, provider: WorkflowProvider) -> None:
        """A few more runs, traced with full tracebacks: the allocation sites that grow, and
        where the objects these runs leak were made."""
        total = TRACED_RUNS
        self.observer(Progress("trace", 0, total))
        for index in range(1, total + 1):
            await run_with_timeout(provider, self.settings.timeout)
            await self._settle()
            self._adopt_young()
            sys._clear_type_cache()
            gc.collect()
            if index == 1:
                self.first_snapshot = memory.take_snapshot()
            self.observer(Progress("trace", index, total))
        self.last_snapshot = memory.take_snapshot()

    def _growth_samples(self) -> list[Any]:
        """A few objects of each growing type, made by the runs (while the older heap is still
        frozen out of view): oldest first, the ones surely not the latest run's, and those
        whose allocation site is known before the others."""
        # Only types that grew by about one object per run or more: a lazily filled cache
        # grows a little and stops, which is not what leaked.
        minimum = max(2, (self.settings.iterations - 1) // 2)
        growing = {
            row.type_name
            for row in memory.type_growth(self.first_types, self.last_types, limit=3)
            if row.delta >= minimum
        }
        traced: dict[str, list[Any]] = {name: [] for name in growing}
        untraced: dict[str, list[Any]] = {name: [] for name in growing}
        for obj in gc.get_objects():
            name = framework.type_name(type(obj))
            if name not in growing or len(traced[name]) >= 3:
                continue
            if self._is_own(obj) or _made_by_analysis(obj):
                continue
            if allocation_frames(obj):
                traced[name].append(obj)
            elif len(untraced[name]) < 3:
                untraced[name].append(obj)
        return [obj for name in sorted(growing) for obj in (traced[name] + untraced[name])[:3]]

    def _leaking(self) -> bool:
        runs = self.samples.read()
        growth = memory.type_growth(self.first_types, self.last_types)
        _, _, findings = judge(runs, self.settings, self.retained_by_type, growth)
        return any(f.kind is FindingKind.LEAK for f in findings)

    def _leak_candidates(self) -> LeakCandidates:
        """What to explain; taken while tracemalloc still traces, so the allocation sites of
        the leaked objects can be read."""
        leaked = self.tracker.live_objects()
        counts = self.retained_by_type
        if not leaked:
            leaked = self._growth_samples()
            growth = memory.type_growth(self.first_types, self.last_types)
            counts = {row.type_name.rsplit(".", 1)[-1]: row.delta for row in growth}
        allocation = {id(obj): allocation_frames(obj) for obj in leaked}
        # Objects whose allocation site is known come first, so they are the ones explained.
        leaked.sort(key=lambda obj: not allocation[id(obj)])
        return LeakCandidates(
            leaked=leaked,
            counts=counts,
            timers=self.timers.live_objects(),
            allocation=allocation,
        )

    def _explain(self, provider: WorkflowProvider, candidates: LeakCandidates) -> None:
        """Retention paths for what leaked, from one reverse-reference index of the heap."""
        # Imported here: numpy, which the index needs, would slow down the command's start.
        from wfleak.analysis.heap import HeapIndex

        self.observer(Progress("analyse", 0, 1, message="building the reference index"))
        own = frozenset((id(candidates), id(candidates.leaked), id(candidates.timers)))
        roots = RootFinder(
            {
                id(obj): kind
                for obj, kind in (
                    (provider.shared_workflow, RootKind.SHARED_WORKFLOW),
                    (provider.reused_context, RootKind.REUSED_CONTEXT),
                )
                if obj is not None
            }
        )
        index = HeapIndex.build(is_own, screen=may_be_own, exclude_ids=own)
        try:
            self.explained = explain_leaks(
                index,
                candidates.leaked,
                candidates.counts,
                roots,
                also_leaked=candidates.timers,
                allocation=candidates.allocation,
            )
        finally:
            index.release()

    def _warm_own_code_paths(self) -> None:
        """Let wfleak's own lazy caches (JSON encoder, regexes) fill before the heap is frozen,
        so they do not show up as growth of the first measured run."""
        json.dumps(to_jsonable(RunSample(index=0, ok=True, duration_s=0.0)))
        memory.take_snapshot()
        memory.live_type_counts(self._is_own, [self])

    async def run(self, provider: WorkflowProvider) -> None:
        await provider.prepare()
        await self._warm_up(provider)
        if self.stop is not None:
            return
        self._warm_own_code_paths()
        candidates: LeakCandidates | None = None
        # Freeze before tracing starts: collecting and freezing a large heap under tracemalloc
        # would take seconds that belong to no run.
        with _frozen_heap():
            tracing = _Tracing()
            if tracing.by_caller or not allocator.supported():
                # One frame is all the measured runs need from tracemalloc: the byte count.
                tracing.start(1)
                self.allocated = _traced_bytes
            recording = MemrayRecording.start(self.settings.memray_file)
            try:
                await self._measure(provider)
                if (self.stop is None or self.settings.keep_going) and self._leaking():
                    tracing.start(self.settings.trace_frames)
                    with _collector_paused():
                        await self._trace_allocations(provider)
                        candidates = self._leak_candidates()
            finally:
                self.memray = recording.finish()
                tracing.stop()
        # The index is built untraced: tracing its millions of small allocations would cost
        # more than building it.
        if candidates is not None:
            self._explain(provider, candidates)


def _made_by_analysis(obj: object) -> bool:
    """Made by wfleak itself while tracing (a snapshot's list of traces, say), as the
    innermost frame of its allocation says."""
    traceback = tracemalloc.get_object_traceback(obj)
    if traceback is None:
        return False
    filename = traceback[-1].filename
    return filename == tracemalloc.__file__ or memory.is_own_file(filename)


def _scheduled_ids() -> set[int]:
    loop = asyncio.get_running_loop()
    return {id(t) for t in leftover_probe.scheduled_timers(loop)}


def analyze(settings: Settings, observer: Observer = _ignore) -> Report:
    """Load the target, run it, probe every measured run, and return the report."""
    validate_settings(settings)
    observer(Progress("load", 0, 1, message=settings.target))
    target = load_target(settings.target, runner=settings.runner)
    provider = WorkflowProvider(
        target,
        settings.workflow_mode,
        settings.context_mode,
        dict(settings.workflow_kwargs),
        dict(settings.input),
    )
    measurement = Measurement(settings, observer)
    loop = asyncio.new_event_loop()
    interrupted = False
    try:
        loop.run_until_complete(measurement.run(provider))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        provider.release()
        _close_loop(loop)
    try:
        runs = measurement.samples.read()
    finally:
        measurement.samples.close()
    if interrupted:
        measurement.stop = StopReason.INTERRUPTED
        measurement.stop_message = f"interrupted after {len(runs)} measured runs"
    return build_report(settings, runs, measurement)


def build_report(settings: Settings, runs: list[RunSample], measurement: Measurement) -> Report:
    sites = memory.growing_sites(measurement.first_snapshot, measurement.last_snapshot)
    growth: list[TypeGrowth] = memory.type_growth(measurement.first_types, measurement.last_types)
    verdict, trends, findings = judge(runs, settings, measurement.retained_by_type, growth)
    findings = merge_explanations(findings, measurement.explained, measurement.cycles)
    return Report(
        target=settings.target,
        environment=environment(),
        settings=settings,
        verdict=verdict if runs else Verdict.OK,
        runs=runs,
        warmup_done=measurement.warmup_done,
        complete=measurement.stop is None and len(runs) == settings.iterations,
        stop=measurement.stop,
        stop_message=measurement.stop_message,
        failures=measurement.failures,
        trends=trends,
        findings=findings,
        type_growth=growth,
        allocation_sites=sites,
        leftovers=measurement.leftovers,
        notes=measurement.notes,
        memray=measurement.memray,
    )


def merge_explanations(
    findings: list[Finding], explained: list[Finding], cycles: CycleInspector
) -> list[Finding]:
    """Explained leaks replace the generic ones they account for; the ring joins the CYCLE."""
    merged = list(explained)
    if not explained:
        merged += [f for f in findings if f.kind is FindingKind.LEAK]
    merged += [cycle_finding(f, cycles.sketch) for f in findings if f.kind is FindingKind.CYCLE]
    return merged


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what the runs left pending so the loop closes without warnings."""
    try:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(
                asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), 5)
            )
    except (TimeoutError, RuntimeError, KeyboardInterrupt):
        pass
    finally:
        loop.close()
