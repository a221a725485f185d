"""asyncio tasks and timers that runs leave behind on the long-lived loop."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from wfleak.model import Leftover
from wfleak.safe_repr import callable_name


def is_timer(tp: type) -> bool:
    return issubclass(tp, asyncio.TimerHandle)


def scheduled_timers(loop: asyncio.AbstractEventLoop) -> list[asyncio.TimerHandle]:
    # ``_scheduled`` is private, but it is the only place the loop keeps its timers.
    scheduled: list[asyncio.TimerHandle] = getattr(loop, "_scheduled", [])
    return list(scheduled)


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
