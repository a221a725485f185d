"""Settle: after the measured runs, let the timers they scheduled fire before judging.

A library timer scheduled inside a step (a connection pool's clean-up timer, a few seconds
out) holds what its callback and its copied contextvars refer to until it fires. Judged
before its deadline, that looks like a leak. This phase waits on the same loop while timers
the runs scheduled are pending and due within ``settings.settle_s`` (sending heartbeats, so
the hang watchdog never fires), collects, and counts again: what was freed was held until a
timer fired; what a timer due later still holds cannot be judged yet; a timer that scheduled
itself again during the wait and still holds is a leak.

A timer that only wakes a pending task the runs started (its ``asyncio.sleep``) is not one of
those: it frees nothing when it fires, the task just goes on. Such timers are reported with
their tasks, and what the tasks hold is judged as theirs.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import Counter
from dataclasses import dataclass, field

from wfleak.analysis.verdict import Settled, format_bytes
from wfleak.model import Leftover
from wfleak.phases.instruments import Instruments, collector_paused, scheduled_ids
from wfleak.phases.progress import Progress
from wfleak.probes import leftovers as leftover_probe

HEARTBEAT_S = 0.25
"""How often the wait reports progress."""
MARGIN_S = 0.05
"""Past the last deadline, so the loop has run the timer's callback."""


@dataclass(frozen=True)
class SettleResult:
    waited_s: float = 0.0
    """Seconds spent waiting for the runs' timers to fire (0: nothing was waited for)."""
    retained_before: int = 0
    """Framework objects from the runs still reachable after a full collection, before."""
    retained_after: int = 0
    """... and after the wait and another collection."""
    bytes_freed: int = 0
    """Fall in allocated bytes across the wait (after a full collection on both sides)."""
    objects_freed: int = 0
    """Fall in GC-tracked objects across the wait."""
    fired: list[str] = field(default_factory=list)
    """The callbacks of the timers that fired during the wait."""
    rescheduled: list[str] = field(default_factory=list)
    """Callbacks that scheduled a new timer of the runs during the wait (a repeating timer)."""
    rescheduled_timers: int = 0
    """How many of the runs' timers are such new ones."""
    later: list[tuple[str, float]] = field(default_factory=list)
    """Timers of the runs still pending, due later than the wait: callback, seconds left."""
    asleep: list[tuple[str, float]] = field(default_factory=list)
    """Pending tasks of the runs asleep on a timer after the wait: task, seconds until it
    wakes them (the timers themselves are not in ``later``)."""

    @property
    def waited(self) -> bool:
        return self.waited_s > 0

    def evidence(self) -> Settled:
        return Settled(
            waited_s=self.waited_s,
            retained=self.retained_after,
            bytes_freed=self.bytes_freed,
            objects_freed=self.objects_freed,
            rescheduled=list(self.rescheduled),
            later=list(self.later),
        )

    def asleep_notes(self) -> list[str]:
        if not self.asleep:
            return []
        tasks = Counter(name for name, _ in self.asleep)
        names = ", ".join(f"{n} × {name}" if n > 1 else name for name, n in sorted(tasks.items()))
        latest = max(left for _, left in self.asleep)
        return [
            f"{len(self.asleep)} task{'s' if len(self.asleep) != 1 else ''} the runs started "
            f"still pending, asleep on timers due in up to {latest:.1f} s ({names}): a timer "
            "that wakes a task frees nothing, so what the tasks hold is judged as theirs"
        ]

    def notes(self) -> list[str]:
        if not self.waited:
            return self.asleep_notes()
        freed = self.retained_before - self.retained_after
        waited = (
            f"waited {self.waited_s:.1f} s for timers the runs scheduled ({', '.join(self.fired)})"
        )
        if freed > 0 or self.bytes_freed > 0:
            note = (
                f"{waited}: {max(0, freed)} framework objects and "
                f"{format_bytes(max(0, self.bytes_freed))} were freed once they fired (held "
                "until a timer fired, not a leak)"
            )
        else:
            note = f"{waited}: nothing they held was freed"
        notes = [note]
        notes += self.asleep_notes()
        if self.rescheduled and self.rescheduled_timers == 1 and freed > 0:
            notes.append(
                f"{', '.join(self.rescheduled)} scheduled itself again during the wait and "
                "keeps holding what its copy of the contextvars refers to, but what the other "
                "runs' timers held was freed: one timer holds one run's, not every run's"
            )
        elif self.rescheduled:
            notes.append(
                f"{', '.join(self.rescheduled)} scheduled itself again during the wait and "
                "keeps holding what it refers to: a timer that never stops is a leak"
            )
        return notes

    def leftovers(self) -> list[Leftover]:
        """What was held until a timer fired, for the report's leftovers."""
        freed = self.retained_before - self.retained_after
        if not self.waited or freed <= 0:
            return []
        what = ", ".join(self.fired) or "the runs' timers"
        return [
            Leftover(
                kind="held_until_timer",
                description=f"framework objects freed once {what} fired "
                f"(held until a timer fired, {self.waited_s:.1f} s)",
                count=freed,
            )
        ]


def _pending(instruments: Instruments) -> list[asyncio.TimerHandle]:
    scheduled = scheduled_ids()
    return [
        t for t in instruments.timers.live_objects() if id(t) in scheduled and not t.cancelled()
    ]


def _split(
    instruments: Instruments, timers: list[asyncio.TimerHandle], now: float
) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """(the runs' timers, the pending tasks they only wake), each with seconds left."""
    tasks = [
        t
        for t in instruments.tracker.live_objects()
        if issubclass(type(t), asyncio.Task) and not t.done()
    ]
    waking = leftover_probe.wake_ups(timers, tasks)
    later = [
        (leftover_probe.describe_timer(t), t.when() - now) for t in timers if id(t) not in waking
    ]
    asleep = [
        (leftover_probe.describe_task(waking[id(t)]), t.when() - now)
        for t in timers
        if id(t) in waking
    ]
    return later, asleep


def _collected_counts(instruments: Instruments) -> tuple[int, int, int]:
    instruments.clear_type_cache()
    gc.collect()
    own = instruments.tracker.alive() + instruments.timers.alive()
    return instruments.tracker.alive(), instruments.allocated(), len(gc.get_objects()) - own


async def settle(instruments: Instruments) -> SettleResult:
    await instruments.settle_callbacks()
    limit = instruments.settings.settle_s
    loop = asyncio.get_running_loop()
    pending = _pending(instruments)
    if limit <= 0 or not pending:
        return SettleResult()
    now = loop.time()
    due = [t for t in pending if t.when() - now <= limit]
    if not due:
        later, asleep = _split(instruments, pending, now)
        return SettleResult(later=later, asleep=asleep)
    # With each deadline: a timer that fired is freed, and the one it schedules next can
    # take its address, so an id alone would hide that it rescheduled itself.
    known = {id(t): t.when() for t in pending}
    fired = sorted({leftover_probe.describe_timer(t) for t in due})
    deadline = max(t.when() for t in due) + MARGIN_S
    del pending, due
    retained_before, bytes_before, objects_before = _collected_counts(instruments)
    started = time.monotonic()
    total = max(1, round((deadline - now) / HEARTBEAT_S))
    instruments.observer(Progress("settle", 0, total, message="waiting for the runs' timers"))
    with collector_paused():
        step = 0
        while loop.time() < deadline:
            await asyncio.sleep(min(HEARTBEAT_S, max(0.0, deadline - loop.time())))
            step = min(total, step + 1)
            instruments.observer(Progress("settle", step, total))
        await instruments.settle_callbacks()
        # Timers the callbacks scheduled while the runs' timers fired.
        instruments.adopt_young()
    waited = time.monotonic() - started
    retained_after, bytes_after, objects_after = _collected_counts(instruments)
    now = loop.time()
    still = _pending(instruments)
    renewed = Counter(
        leftover_probe.describe_timer(t) for t in still if known.get(id(t)) != t.when()
    )
    rescheduled = sorted(renewed)
    later, asleep = _split(instruments, still, now)
    return SettleResult(
        waited_s=waited,
        retained_before=retained_before,
        retained_after=retained_after,
        bytes_freed=bytes_before - bytes_after,
        objects_freed=objects_before - objects_after,
        fired=fired,
        rescheduled=rescheduled,
        rescheduled_timers=sum(renewed.values()),
        later=later,
        asleep=asleep,
    )
