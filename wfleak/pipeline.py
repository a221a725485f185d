"""The analysis pipeline: target -> driver -> probes -> analysis -> one Report.

Never prints; progress goes to an observer callback. During the measured runs the pipeline
keeps nothing new on the Python heap: samples go to the observer and to an unbuffered log file,
objects of interest are held by weak reference only, and the heap that existed before
measuring is frozen out of the collector's view, so what the probes count is what the runs
left behind.
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
from wfleak.probes import leftovers as leftover_probe
from wfleak.probes import memory
from wfleak.probes.cycles import collect_cycle_garbage
from wfleak.probes.memray_probe import MemrayRecording
from wfleak.probes.process import rss_bytes
from wfleak.probes.tracker import ObjectTracker
from wfleak.serde import from_jsonable, to_jsonable
from wfleak.target import load_target

SETTLE_TICKS = 3
"""Loop iterations after a run so its done-callbacks run before probing, as in a server."""


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
        self.growth_samples: list[Any] = []

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

    async def _measure_one(
        self, provider: WorkflowProvider, index: int
    ) -> tuple[RunSample, RunOutcome]:
        started = time.perf_counter()
        outcome = await run_with_timeout(provider, self.settings.timeout)
        duration = time.perf_counter() - started
        await self._settle()
        # With automatic collection paused, the youngest generation holds exactly what this
        # run made and left alive.
        young = gc.get_objects(generation=0)
        created = self.tracker.adopt(young)
        self.timers.adopt(young)
        del young
        alive_before = self.tracker.alive()
        # CPython's method cache (4096 slots) keeps the attribute names it has seen alive; it
        # is bounded, but it fills slowly enough to pass for a leak of a few hundred bytes
        # per run, so it is emptied before every measurement.
        sys._clear_type_cache()
        self.cycles.run = index
        garbage = collect_cycle_garbage(self.framework_types.__contains__, self.cycles)
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
        traced = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0
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
                    self.first_snapshot = memory.take_snapshot()
                del sample
                if not outcome.ok:
                    self._fail(index, False, outcome.error or "", outcome.timed_out)
                    if self.stop is not None:
                        break
            self.observer(Progress("analyse", 0, 1))
            self.last_types = memory.live_type_counts(self._is_own)
            self.growth_samples = self._growth_samples()
            self.last_snapshot = memory.take_snapshot()
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

    def _growth_samples(self) -> list[Any]:
        """A few objects of each growing type, made by the measured runs (while the older heap
        is still frozen out of view), oldest first: the ones surely not the latest run's."""
        # Only types that grew by about one object per run or more: a lazily filled cache
        # grows a little and stops, which is not what leaked.
        minimum = max(2, (self.settings.iterations - 1) // 2)
        growing = {
            row.type_name
            for row in memory.type_growth(self.first_types, self.last_types, limit=3)
            if row.delta >= minimum
        }
        picked: dict[str, int] = {}
        samples: list[Any] = []
        for obj in gc.get_objects():
            name = framework.type_name(type(obj))
            if name in growing and picked.get(name, 0) < 3 and not self._is_own(obj):
                picked[name] = picked.get(name, 0) + 1
                samples.append(obj)
        return samples

    def _leak_candidates(self) -> LeakCandidates | None:
        """What to explain, when the samples say LEAK; taken while tracemalloc still traces,
        so the allocation sites of the leaked objects can be read."""
        runs = self.samples.read()
        growth = memory.type_growth(self.first_types, self.last_types)
        _, _, findings = judge(runs, self.settings, self.tracker.alive_by_type(), growth)
        growth_samples, self.growth_samples = self.growth_samples, []
        if not any(f.kind is FindingKind.LEAK for f in findings):
            return None
        leaked = self.tracker.live_objects()
        counts = self.tracker.alive_by_type()
        if not leaked:
            leaked = growth_samples
            counts = {row.type_name.rsplit(".", 1)[-1]: row.delta for row in growth}
        return LeakCandidates(
            leaked=leaked,
            counts=counts,
            timers=self.timers.live_objects(),
            allocation={id(obj): allocation_frames(obj) for obj in leaked},
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
        memory.live_type_counts(self._is_own)

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
            tracing_here = not tracemalloc.is_tracing()
            if tracing_here:
                tracemalloc.start(self.settings.trace_frames)
            recording = MemrayRecording.start(self.settings.memray_file)
            try:
                await self._measure(provider)
                if self.stop is None or self.settings.keep_going:
                    candidates = self._leak_candidates()
            finally:
                self.memray = recording.finish()
                if tracing_here:
                    tracemalloc.stop()
        # The index is built untraced: tracing its millions of small allocations would cost
        # more than building it.
        if candidates is not None:
            self._explain(provider, candidates)


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
