"""tracemalloc: growth by allocation site, and growth of live objects by type."""

from __future__ import annotations

import os
import site
import sys
import sysconfig
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterable
from functools import cache

from wfleak.framework import type_name
from wfleak.model import AllocationSite, Frame, TypeGrowth
from wfleak.probes import collector

_WFLEAK_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@cache
def _library_dirs() -> tuple[str, ...]:
    dirs = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    dirs.update(site.getsitepackages() if hasattr(site, "getsitepackages") else [])
    dirs.add(site.getusersitepackages())
    dirs.update({sys.prefix, sys.base_prefix, sys.exec_prefix})
    return tuple(sorted(os.path.abspath(d) + os.sep for d in dirs if d))


@cache
def is_user_file(filename: str) -> bool:
    """True for the user's own code: not the stdlib, not installed packages, not wfleak."""
    if filename.startswith("<"):
        return False
    path = os.path.abspath(filename)
    if path.startswith(_WFLEAK_DIR + os.sep):
        return False
    return not any(path.startswith(d) for d in _library_dirs())


@cache
def is_own_file(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_WFLEAK_DIR + os.sep)


@cache
def display_path(filename: str) -> str:
    """Relative to the current directory for the user's files; relative to its import root
    (``site-packages``, the stdlib) for a library's, as ``llama_index/core/workflow/...``."""
    if filename.startswith("<"):
        return filename
    path = os.path.abspath(filename)
    if not is_user_file(path):
        for root in sorted((p for p in sys.path if p), key=len, reverse=True):
            root = os.path.abspath(root) + os.sep
            if path.startswith(root) and root != os.path.abspath(os.getcwd()) + os.sep:
                return path[len(root) :]
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return filename
    return filename if relative.startswith("..") else relative


def to_frame(frame: tracemalloc.Frame) -> Frame:
    return Frame(
        filename=display_path(frame.filename),
        lineno=frame.lineno,
        user=is_user_file(frame.filename),
    )


def attribution(traceback: tracemalloc.Traceback) -> tracemalloc.Frame:
    """The frame to blame: the innermost frame in the user's code, else the innermost frame."""
    # A ``Traceback`` runs from the oldest frame to the most recent one; frames from wfleak's
    # own driver and outward are how the run was called, not where it allocated.
    for frame in reversed(traceback):
        if is_own_file(frame.filename):
            break
        if is_user_file(frame.filename):
            return frame
    return traceback[-1]


def _group(
    snapshot: tracemalloc.Snapshot,
) -> dict[tuple[str, int], tuple[int, int, tracemalloc.Traceback]]:
    groups: dict[tuple[str, int], tuple[int, int, tracemalloc.Traceback]] = {}
    # Per distinct traceback, not per block: a run that keeps a million small objects has a
    # million traces but a handful of tracebacks.
    for statistic in snapshot.statistics("traceback"):
        tb = statistic.traceback
        innermost = tb[-1].filename
        if innermost == tracemalloc.__file__ or is_own_file(innermost):
            continue
        frame = attribution(tb)
        key = (frame.filename, frame.lineno)
        size, count, first_tb = groups.get(key, (0, 0, tb))
        groups[key] = (size + statistic.size, count + statistic.count, first_tb)
    return groups


def take_snapshot() -> tracemalloc.Snapshot | None:
    """The traced blocks; tracemalloc's own are left out when they are grouped."""
    if not tracemalloc.is_tracing():
        return None
    return tracemalloc.take_snapshot()


def growing_sites(
    first: tracemalloc.Snapshot | None, last: tracemalloc.Snapshot | None, limit: int = 10
) -> list[AllocationSite]:
    """Allocation sites whose live memory grew between two snapshots, user code first."""
    if first is None or last is None:
        return []
    before = _group(first)
    after = _group(last)
    rows: list[AllocationSite] = []
    for key, (size, count, tb) in after.items():
        old_size, old_count, _ = before.get(key, (0, 0, tb))
        if size - old_size <= 0:
            continue
        frame = attribution(tb)
        rows.append(
            AllocationSite(
                frame=to_frame(frame),
                size_delta=size - old_size,
                count_delta=count - old_count,
                stack=[to_frame(f) for f in reversed(tb)][:8],
            )
        )
    rows.sort(key=lambda r: (not r.frame.user, -r.size_delta))
    return rows[:limit]


def live_type_counts(
    exclude: Callable[[object], bool], objects: Iterable[object] | None = None
) -> Counter[str]:
    """Counts by type of GC-tracked objects the collector sees (frozen objects are not seen),
    or of ``objects``."""
    counts: Counter[str] = Counter()
    for obj in collector.get_objects() if objects is None else objects:
        if not exclude(obj):
            counts[type_name(type(obj))] += 1
    return counts


def type_growth(first: Counter[str], last: Counter[str], limit: int = 10) -> list[TypeGrowth]:
    rows = [
        TypeGrowth(type_name=name, first=first.get(name, 0), last=count)
        for name, count in last.items()
        if count > first.get(name, 0)
    ]
    rows.sort(key=lambda r: (-r.delta, r.type_name))
    return rows[:limit]
