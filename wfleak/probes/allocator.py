"""Bytes in use, read from the allocators' own statistics instead of from tracemalloc.

tracemalloc makes every allocation of a run several times slower, for a number the
allocators already keep. Python's small-object allocator (pymalloc) reports the bytes in its
allocated blocks (``_PyObject_DebugMallocStats``, what ``sys._debugmallocstats()`` prints),
and glibc's ``mallinfo2()`` reports the bytes its heap has handed out: everything larger than
pymalloc's 512-byte limit, and what C extensions allocate. Both are exact, and reading them
costs a fraction of a millisecond.

``mallinfo2()`` covers the main heap only, and counts chunks in glibc's per-thread cache as in
use, which reads as a slow rise while the cache fills; the worker process is started with
one heap for all threads and the cache off (``worker_environment``). Where either statistic
is missing, the analysis falls back to tracemalloc.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from collections.abc import Callable
from functools import cache

_ALLOCATED_BLOCKS = re.compile(rb"^# bytes in allocated blocks\s*=\s*([\d,]+)", re.MULTILINE)


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
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = _MallInfo2
        libc.mallinfo2.argtypes = []
        libc.open_memstream.restype = ctypes.c_void_p
        libc.open_memstream.argtypes = [
            ctypes.POINTER(ctypes.c_char_p),
            ctypes.POINTER(ctypes.c_size_t),
        ]
        libc.fclose.argtypes = [ctypes.c_void_p]
        libc.free.argtypes = [ctypes.c_void_p]
    except (AttributeError, OSError):
        return None
    return libc


@cache
def _pymalloc_stats() -> Callable[[ctypes.c_void_p], int] | None:
    try:
        stats = ctypes.pythonapi._PyObject_DebugMallocStats
    except AttributeError:
        return None
    stats.argtypes = [ctypes.c_void_p]
    stats.restype = ctypes.c_int
    function: Callable[[ctypes.c_void_p], int] = stats
    return function


def _malloc_bytes(libc: ctypes.CDLL) -> int:
    info = libc.mallinfo2()
    return int(info.uordblks + info.hblkhd)


def _pymalloc_bytes(libc: ctypes.CDLL, stats: Callable[[ctypes.c_void_p], int]) -> int | None:
    """Bytes in pymalloc's allocated blocks, from its statistics written to a memory stream."""
    buffer = ctypes.c_char_p()
    size = ctypes.c_size_t()
    stream = libc.open_memstream(ctypes.byref(buffer), ctypes.byref(size))
    if not stream:
        return None
    try:
        stats(stream)
    finally:
        libc.fclose(stream)
    try:
        text = ctypes.string_at(buffer, size.value)
    finally:
        libc.free(ctypes.cast(buffer, ctypes.c_void_p))
    found = _ALLOCATED_BLOCKS.search(text)
    return int(found.group(1).replace(b",", b"")) if found else None


@cache
def supported() -> bool:
    """Whether both allocators report what they hand out here (glibc 2.33 or later, and an
    interpreter whose pymalloc statistics can be read, or that does not use pymalloc)."""
    libc = _libc()
    if libc is None:
        return False
    if sys.getallocatedblocks() == 0:
        # No pymalloc (PYTHONMALLOC=malloc): everything goes through malloc.
        return True
    stats = _pymalloc_stats()
    return stats is not None and _pymalloc_bytes(libc, stats) is not None


def in_use_bytes() -> int:
    """Bytes Python and its extensions have allocated and not freed, by both allocators' count
    (0 where they cannot say; see ``supported``)."""
    libc = _libc()
    if libc is None:
        return 0
    total = _malloc_bytes(libc)
    stats = _pymalloc_stats()
    if stats is not None and sys.getallocatedblocks():
        total += _pymalloc_bytes(libc, stats) or 0
    return total


def worker_environment() -> dict[str, str]:
    """Variables for the worker's environment: one C heap for all threads, and glibc's
    per-thread cache off, unless the user has set these already."""
    if _libc() is None:
        return {}
    variables = {}
    if "MALLOC_ARENA_MAX" not in os.environ:
        variables["MALLOC_ARENA_MAX"] = "1"
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if "tcache_count" not in tunables:
        variables["GLIBC_TUNABLES"] = ":".join(
            part for part in (tunables, "glibc.malloc.tcache_count=0") if part
        )
    return variables
