"""Check several targets at once and hand their results back in configuration order.

Each target's analysis already runs in its own worker process; the parent only supervises
it, so one thread per running target is all the parallelism needs. Results are delivered in
the order the targets were configured, each as soon as it and every target before it have
finished, so the output and the exit code are those of a serial check. Once a stop is asked
for (a signal), no further target starts; the running ones stop their workers and return
what they measured, and those results are delivered too.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")

POLL_S = 0.1
"""How often the scheduler looks for a stop request while targets run."""


def available_cores() -> int:
    """The cores this process may run on (``-j auto``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def interrupt_children() -> None:
    """Send SIGINT to every child process of this one: each worker turns it into a partial
    report of what it measured, which its supervising thread then returns. (Ctrl-C reaches
    only the main thread, and the workers run in sessions of their own.)"""
    me = os.getpid()
    for pid in _child_pids(me):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGINT)


def _child_pids(parent: int) -> list[int]:
    children = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                # The command name (field 2) is in parentheses and may hold spaces.
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 1 and fields[1] == str(parent):
            children.append(int(entry))
    return children


def in_order(
    jobs: Sequence[Job],
    work: Callable[[Job], Result],
    workers: int,
    stop_requested: Callable[[], bool],
    is_final: Callable[[Result], bool] = lambda _: False,
    on_interrupt: Callable[[], None] = interrupt_children,
) -> Iterator[Result]:
    """``work(job)`` for each job, at most ``workers`` at a time, yielded in job order.

    No new job starts once ``stop_requested()`` is true or a result ``is_final`` (an
    interrupted target); results after such a one in job order are still yielded if their
    job had started. A Ctrl-C while jobs run side by side calls ``on_interrupt`` (which must
    make the running jobs return) and starts nothing more; a second one is raised. A job that
    raises ends the iteration with its exception, after the jobs before it are yielded.
    """
    if workers <= 1:
        for job in jobs:
            if stop_requested():
                return
            result = work(job)
            yield result
            if is_final(result):
                return
        return
    started: dict[int, Future[Result]] = {}
    next_to_start = next_to_yield = 0
    halted = interrupted = False
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wfleak-target") as pool:
        try:
            while next_to_yield < len(jobs):
                halted = halted or stop_requested()
                running = sum(not f.done() for f in started.values())
                while not halted and next_to_start < len(jobs) and running < workers:
                    started[next_to_start] = pool.submit(work, jobs[next_to_start])
                    next_to_start += 1
                    running += 1
                future = started.get(next_to_yield)
                if future is None:
                    # Nothing more will start and every started job was yielded.
                    return
                if not future.done():
                    try:
                        wait(
                            [f for f in started.values() if not f.done()],
                            timeout=POLL_S,
                            return_when=FIRST_COMPLETED,
                        )
                    except KeyboardInterrupt:
                        if interrupted:
                            raise
                        interrupted = halted = True
                        on_interrupt()
                    continue
                result = future.result()
                del started[next_to_yield]
                next_to_yield += 1
                halted = halted or is_final(result)
                yield result
        finally:
            for future in started.values():
                future.cancel()
