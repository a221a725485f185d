"""Bytes in use, read from the C allocator's own statistics instead of from tracemalloc.

tracemalloc makes every allocation of a run several times slower, for a number that the C
library already keeps: glibc's ``mallinfo2()`` reports the bytes its heap has handed out,
at the cost of one call. It covers everything Python allocates only when Python allocates
through ``malloc`` (``PYTHONMALLOC=malloc``; pymalloc keeps small objects in arenas of its
own) and when every thread shares one heap (``MALLOC_ARENA_MAX=1``; the statistics cover
the main heap only). The worker process is started with both; where they do not hold, the
analysis falls back to tracemalloc.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable
from functools import cache

WORKER_ENVIRONMENT = {
    "PYTHONMALLOC": "malloc",
    "MALLOC_ARENA_MAX": "1",
    # glibc's per-thread cache keeps freed chunks counted as in use; it fills a size class at
    # a time, which reads as a slow rise of a few dozen bytes per run.
    "GLIBC_TUNABLES": "glibc.malloc.tcache_count=0",
}
"""What the worker's environment needs for ``in_use_bytes`` to count every allocation, and
only what is allocated."""


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


@cache
def _mallinfo2() -> Callable[[], _MallInfo2] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None).mallinfo2
    except (AttributeError, OSError):
        return None
    function.restype = _MallInfo2
    function.argtypes = []
    reader: Callable[[], _MallInfo2] = function
    return reader


def supported() -> bool:
    """Whether this platform's C library reports its heap (glibc 2.33 or later)."""
    return _mallinfo2() is not None


def in_use_bytes() -> int:
    """Bytes handed out by the C allocator: its heap's chunks in use and its mapped blocks."""
    reader = _mallinfo2()
    if reader is None:
        return 0
    info = reader()
    return int(info.uordblks + info.hblkhd)


def counts_every_allocation() -> bool:
    """Whether ``in_use_bytes`` sees all of Python's memory in this process: the C library
    reports its heap, Python allocates through it (pymalloc holds no blocks), and threads
    share that heap."""
    return (
        supported()
        and sys.getallocatedblocks() == 0
        and os.environ.get("MALLOC_ARENA_MAX") == WORKER_ENVIRONMENT["MALLOC_ARENA_MAX"]
    )


def worker_environment() -> dict[str, str]:
    """Variables to add to the worker's environment, if this platform can use them and the
    user has not chosen an allocator already."""
    if not supported() or "PYTHONMALLOC" in os.environ:
        return {}
    variables = dict(WORKER_ENVIRONMENT)
    tunables = os.environ.get("GLIBC_TUNABLES")
    if tunables:
        variables["GLIBC_TUNABLES"] = f"{tunables}:{variables['GLIBC_TUNABLES']}"
    return variables
