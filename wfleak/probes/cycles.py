"""Collect and measure what only the cyclic GC frees."""

from __future__ import annotations

import gc as _gc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wfleak.framework import short_type_name
from wfleak.probes import collector


@dataclass(frozen=True)
class CycleGarbage:
    objects: int
    bytes: int
    framework_types: dict[str, int]


def collect_cycle_garbage(
    is_framework: Callable[[type], bool],
    inspect_garbage: Callable[[list[Any], dict[str, int]], None] | None,
    allocated: Callable[[], int],
) -> CycleGarbage:
    """Run a full collection that saves the unreachable objects, count them, then free them.

    ``DEBUG_SAVEALL`` parks the garbage in ``gc.garbage`` (after weakref callbacks and
    finalizers have run), so it can be counted and, when asked, handed to ``inspect_garbage``
    before a second collection frees it for real. The byte count is the fall in allocated
    memory (``allocated``: the allocators' or tracemalloc's count) from before the first
    collection to after the second: all that the cyclic GC frees for the run, including what
    finalizers and weakref callbacks release during the first one, as a plain
    ``gc.collect()`` would.
    """
    before = allocated()
    previous_debug = collector.get_debug()
    collector.set_debug(previous_debug | _gc.DEBUG_SAVEALL)
    try:
        collector.collect()
    finally:
        collector.set_debug(previous_debug)
    garbage = _gc.garbage
    framework_types = Counter(
        short_type_name(type(obj)) for obj in garbage if is_framework(type(obj))
    )
    count = len(garbage)
    if inspect_garbage is not None and count:
        inspect_garbage(garbage, dict(framework_types))
    if not count:
        return CycleGarbage(objects=0, bytes=0, framework_types={})
    garbage.clear()
    collector.collect()
    after = allocated()
    return CycleGarbage(
        objects=count, bytes=max(0, before - after), framework_types=dict(framework_types)
    )
