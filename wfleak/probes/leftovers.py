"""asyncio tasks and timers that runs leave behind on the long-lived loop."""

from __future__ import annotations

import asyncio
import heapq
import inspect
import types
from collections import Counter
from collections.abc import Iterable
from typing import Any

from wfleak.model import Leftover
from wfleak.safe_repr import callable_name


def is_timer(tp: type) -> bool:
    return issubclass(tp, asyncio.TimerHandle)


def scheduled_timers(loop: asyncio.AbstractEventLoop) -> list[asyncio.TimerHandle]:
    # ``_scheduled`` is private, but it is the only place the loop keeps its timers.
    scheduled: list[asyncio.TimerHandle] = getattr(loop, "_scheduled", [])
    return list(scheduled)


def drop_cancelled_timers(loop: asyncio.AbstractEventLoop) -> int:
    """Take cancelled timers off the loop's heap, as asyncio itself does once they are many.

    A cancelled timer never runs, but it stays on the heap until its deadline, and with it the
    contextvars it copied (a workflow's 30 s timeout timer holds its whole run). asyncio drops
    them all once they pass 100 and half the heap, so what they hold is bounded by time, not
    by runs: held until a deadline, never a leak. Dropping them before each measurement keeps
    that memory from reading as growth.
    """
    scheduled = getattr(loop, "_scheduled", None)
    if not isinstance(scheduled, list) or not hasattr(loop, "_timer_cancelled_count"):
        return 0
    kept = [handle for handle in scheduled if not handle.cancelled()]
    dropped = len(scheduled) - len(kept)
    if dropped:
        for handle in scheduled:
            if handle.cancelled():
                handle._scheduled = False
        heapq.heapify(kept)
        scheduled[:] = kept
        count: int = loop._timer_cancelled_count
        loop._timer_cancelled_count = max(0, count - dropped)
    return dropped


def count_timers(timers: list[Any]) -> tuple[int, int]:
    """(live, cancelled) among timer handles still alive."""
    cancelled = sum(1 for t in timers if t.cancelled())
    return len(timers) - cancelled, cancelled


def describe_task(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    name = getattr(coro, "__qualname__", None) or type(coro).__name__
    frame = getattr(coro, "cr_frame", None)
    where = ""
    if frame is not None:
        where = f" at {frame.f_code.co_filename}:{frame.f_lineno}"
    return f"{name}{where}"


def describe_timer(timer: asyncio.TimerHandle) -> str:
    return callable_name(getattr(timer, "_callback", None))


def awaited_future(task: asyncio.Task[Any]) -> object | None:
    """The future a pending task waits on, read without running any code of the target's (a
    Task subclass can define properties, not the C task's own slot)."""
    value = inspect.getattr_static(task, "_fut_waiter", None)
    if isinstance(value, types.MemberDescriptorType | types.GetSetDescriptorType):
        value = value.__get__(task, type(task))
    found: object | None = value
    return found


def wake_ups(
    timers: Iterable[asyncio.TimerHandle], tasks: Iterable[asyncio.Task[Any]]
) -> dict[int, asyncio.Task[Any]]:
    """The timers among ``timers`` that only wake one of the pending ``tasks`` (the timer of
    its ``asyncio.sleep``, a ``call_later(d, fut.set_result)``), by id, with the task.

    Such a timer frees nothing when it fires: the task goes on, and what the task holds is
    the task's to release.
    """
    waiting: dict[int, asyncio.Task[Any]] = {}
    for task in tasks:
        future = awaited_future(task)
        if future is not None:
            waiting[id(future)] = task
    if not waiting:
        return {}
    found: dict[int, asyncio.Task[Any]] = {}
    for timer in timers:
        callback = getattr(timer, "_callback", None)
        holders = list(getattr(timer, "_args", None) or ())
        if isinstance(callback, types.BuiltinMethodType | types.MethodType):
            holders.append(callback.__self__)
        for holder in holders:
            woken = waiting.get(id(holder))
            if woken is not None:
                found[id(timer)] = woken
                break
    return found


def summarise(tasks: list[asyncio.Task[Any]], timers: list[asyncio.TimerHandle]) -> list[Leftover]:
    rows: list[Leftover] = []
    for description, count in sorted(Counter(describe_task(t) for t in tasks).items()):
        rows.append(Leftover(kind="task", description=description, count=count))
    by_timer = Counter((describe_timer(t), t.cancelled()) for t in timers)
    for (description, cancelled), count in sorted(by_timer.items()):
        rows.append(
            Leftover(kind="timer", description=description, count=count, cancelled=cancelled)
        )
    return rows
