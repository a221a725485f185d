"""Measure: the runs whose leftovers count, one probe sample after each.

While measuring, nothing new stays on the Python heap: samples go to the observer and to an
unbuffered log file, objects of interest are held by weak reference only, automatic
collections are paused, and the heap that existed before is frozen out of the collector's
view, so what the probes count is what the runs left behind.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from wfleak.analysis.explain import CycleSketch
from wfleak.analysis.stopping import Decision, decide, looks, warm_up_decisions
from wfleak.driver import RunOutcome, RunProvider
from wfleak.model import Leftover, RunSample, StopReason, TypeGrowth
from wfleak.phases.instruments import (
    Instruments,
    SampleLog,
    collector_paused,
    scheduled_ids,
    stop_after_failure,
)
from wfleak.phases.progress import Progress
from wfleak.probes import collector, memory
from wfleak.probes import leftovers as leftover_probe
from wfleak.probes.cycles import collect_cycle_garbage
from wfleak.probes.failure import ProbeFailed
from wfleak.probes.process import rss_bytes
from wfleak.serde import from_jsonable, to_jsonable


@dataclass(frozen=True)
class MeasureResult:
    runs: list[RunSample]
    failures: int = 0
    stop: StopReason | None = None
    stop_message: str | None = None
    retained_by_type: dict[str, int] = field(default_factory=dict)
    """Framework objects from the measured runs alive after the last one, by type."""
    type_growth: list[TypeGrowth] = field(default_factory=list)
    """GC-tracked types that grew from the first measured run to the last."""
    leftovers: list[Leftover] = field(default_factory=list)
    cycle_sketch: CycleSketch | None = None
    decision: Decision | None = None
    """With ``iterations = "auto"``: the evidence that stopped measuring before the cap."""
    probe_failure: str | None = None
    """Which probe could not measure after a run, and why: measuring stopped there."""
    cycle_cut: str | None = None
    """Why the ring of the cycle garbage was not searched for to the end, when it was not."""


class Measurer:
    """The measured runs; ``result()`` holds whatever was measured, even after Ctrl-C."""

    def __init__(self, instruments: Instruments) -> None:
        self.instruments = instruments
        self.samples = SampleLog()
        self.failures = 0
        self.stop: tuple[StopReason, str] | None = None
        self.first_types: Counter[str] = Counter()
        self.last_types: Counter[str] = Counter()
        self.retained_by_type: dict[str, int] = {}
        self.leftovers: list[Leftover] = []
        self.decision: Decision | None = None
        self.probe_failure: str | None = None
        self.dropped_timers = 0
        self.record_bytes = instruments.tracker.ref_bytes()
        instruments.own_counters.append(self.first_types)

    async def _measure_one(self, provider: RunProvider, index: int) -> tuple[RunSample, RunOutcome]:
        started = time.perf_counter()
        outcome = await self.instruments.run_once(provider)
        duration = time.perf_counter() - started
        try:
            return await self._probe(index, outcome, duration), outcome
        except ProbeFailed:
            raise
        except Exception as exc:
            # The run finished; what broke is the measurement of it.
            raise ProbeFailed.of(f"the probes after measured run {index}", exc) from None

    async def _probe(self, index: int, outcome: RunOutcome, duration: float) -> RunSample:
        tools = self.instruments
        await tools.settle_callbacks()
        created = tools.adopt_young()
        alive_before = tools.tracker.alive()
        scheduled = scheduled_ids()
        _, cancelled_timers = leftover_probe.count_timers(
            [t for t in tools.timers.live_objects() if id(t) in scheduled]
        )
        self.dropped_timers += leftover_probe.drop_cancelled_timers(asyncio.get_running_loop())
        timers_before = tools.timers.alive()
        tools.clear_type_cache()
        tools.cycles.run = index
        garbage = collect_cycle_garbage(
            tools.framework_types.__contains__, tools.cycles, tools.allocated
        )
        alive_after = tools.tracker.alive()
        # The tracking records of the objects the collection freed went with them; they are
        # the tool's own bytes, not the run's.
        records = (alive_before - alive_after) + (timers_before - tools.timers.alive())
        cycle_bytes = max(0, garbage.bytes - records * self.record_bytes) if garbage.bytes else 0
        scheduled = scheduled_ids()
        live_timers, _ = leftover_probe.count_timers(
            [t for t in tools.timers.live_objects() if id(t) in scheduled]
        )
        pending = sum(
            1
            for obj in tools.tracker.live_objects()
            if issubclass(type(obj), asyncio.Task) and not obj.done()
        )
        traced = tools.allocated()
        own = tools.tracker.alive() + tools.timers.alive()
        gc_objects = len(collector.get_objects()) - own
        return RunSample(
            index=index,
            ok=outcome.ok,
            duration_s=duration,
            error=outcome.error,
            framework_created=created,
            framework_alive_before_gc=alive_before,
            framework_alive_after_gc=alive_after,
            cycle_objects=garbage.objects,
            cycle_bytes=cycle_bytes,
            cycle_framework_types=garbage.framework_types,
            gc_objects=gc_objects,
            traced_bytes=traced,
            rss_bytes=rss_bytes(),
            pending_tasks=pending,
            live_timers=live_timers,
            cancelled_timers=cancelled_timers,
            threads=threading.active_count(),
        )

    def _decided(self, index: int, looks: tuple[int, ...]) -> bool:
        """With ``iterations = "auto"``, at a planned look: is the evidence decisive?"""
        if index not in looks[:-1]:
            return False
        # Judged in plain Python up to a few hundred runs (see trend.SHORT_SERIES): what it
        # allocates is freed before the next run, and nothing of it stays.
        self.decision = decide(self.samples.read(), self.instruments.settings)
        return self.decision is not None

    async def measure(self, provider: RunProvider) -> None:
        tools = self.instruments
        settings = tools.settings
        total = settings.most_iterations
        planned = looks(total) if settings.auto_iterations else ()
        if planned:
            # The first look would otherwise fill lazy caches (the samples' type hints).
            warm_up_decisions(settings)
            from_jsonable(RunSample, to_jsonable(RunSample(index=0, ok=True, duration_s=0.0)))
        tools.observer(Progress("measure", 0, total))
        with collector_paused():
            for index in range(1, total + 1):
                try:
                    sample, outcome = await self._measure_one(provider, index)
                except ProbeFailed as failed:
                    # The samples so far stay good evidence; the ones after would not be.
                    self.probe_failure = failed.message
                    break
                self.samples.write(sample)
                tools.observer(Progress("measure", index, total, sample=sample))
                if index == 1 and not self._count_types(self.first_types, "after"):
                    break
                del sample
                if not outcome.ok:
                    self.failures += 1
                    self.stop = stop_after_failure(settings, "run", index, outcome)
                    if self.stop is not None:
                        break
                if planned and self._decided(index, planned):
                    break
            tools.observer(Progress("analyse", 0, 1))
            if self._count_types(self.last_types, "at the end of"):
                self._summarise_leftovers()

    def _count_types(self, counts: Counter[str], when: str) -> bool:
        """Live objects by type into ``counts``; False (and the failure kept) if it failed."""
        try:
            counts.update(memory.live_type_counts(self.instruments.is_own))
        except Exception as exc:
            if self.probe_failure is None:
                what = f"counting live objects by type {when} the measured runs"
                self.probe_failure = ProbeFailed.of(what, exc).message
            return False
        return True

    def _summarise_leftovers(self) -> None:
        tools = self.instruments
        try:
            self.retained_by_type = tools.tracker.alive_by_type()
            tasks = [
                t
                for t in tools.tracker.live_objects()
                if issubclass(type(t), asyncio.Task) and not t.done()
            ]
            scheduled = scheduled_ids()
            timers = [t for t in tools.timers.live_objects() if id(t) in scheduled]
            self.leftovers = leftover_probe.summarise(tasks, timers)
            if self.dropped_timers:
                self.leftovers.append(
                    Leftover(
                        kind="timer",
                        description="cancelled, taken off the loop before each measurement",
                        count=self.dropped_timers,
                        cancelled=True,
                    )
                )
            del tasks, timers
        except Exception as exc:
            if self.probe_failure is None:
                what = "counting what the measured runs left"
                self.probe_failure = ProbeFailed.of(what, exc).message

    def result(self, stop: tuple[StopReason, str] | None = None) -> MeasureResult:
        """What was measured; ``stop`` overrides why measuring ended (an interruption)."""
        reason, message = stop or self.stop or (None, None)
        return MeasureResult(
            runs=self.samples.read(),
            failures=self.failures,
            stop=reason,
            stop_message=message,
            retained_by_type=dict(self.retained_by_type),
            type_growth=memory.type_growth(self.first_types, self.last_types),
            leftovers=list(self.leftovers),
            cycle_sketch=self.instruments.cycles.sketch,
            decision=self.decision,
            probe_failure=self.probe_failure,
            cycle_cut=self.instruments.cycles.cut,
        )

    def close(self) -> None:
        self.samples.close()
