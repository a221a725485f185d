"""One scaling measurement in a fresh process, so peak memory belongs to it alone.

Usage: python -m bench.heap_probe OBJECTS wfleak|naive
Builds a heap of OBJECTS GC-tracked objects with one object buried 20 references below a
module, then times building the reverse index and finding the path, and prints JSON.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
import types
from collections import deque
from typing import Any

DEPTH = 20


def rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Record:
    def __init__(self, key: int) -> None:
        self.key = key
        self.tags = [key]


class Leaked:
    pass


def build_heap(objects: int) -> tuple[types.ModuleType, Leaked, list[Record]]:
    records = [Record(key) for key in range(objects // 3)]
    for record in records:
        record.__dict__  # noqa: B018 (materialises the instance dict)
    module = types.ModuleType("bench_heap")
    leaked = Leaked()
    holder: list[Any] = [leaked]
    for _ in range(DEPTH - 1):
        holder = [holder]
    module.RETAINED = holder  # type: ignore[attr-defined]
    return module, leaked, records


def measure_naive(leaked: object, module: object) -> tuple[float, float, int, Any]:
    """What people write first: a dict from each object's id to the ids of its referrers."""
    started = time.perf_counter()
    referrers: dict[int, list[int]] = {}
    objects = {id(obj): obj for obj in gc.get_objects()}
    for obj in objects.values():
        for referent in gc.get_referents(obj):
            referrers.setdefault(id(referent), []).append(id(obj))
    built = time.perf_counter() - started
    started = time.perf_counter()
    parent = {id(leaked): 0}
    queue = deque([id(leaked)])
    length = -1
    while queue:
        current = queue.popleft()
        if current == id(module):
            length = 0
            while parent[current]:
                current = parent[current]
                length += 1
            break
        for source in referrers.get(current, []):
            if source not in parent:
                parent[source] = current
                queue.append(source)
    return built, time.perf_counter() - started, length, (referrers, objects)


def measure_wfleak(leaked: object, module: object) -> tuple[float, float, int, Any]:
    from wfleak.analysis.explain import is_own, may_be_own
    from wfleak.analysis.heap import HeapIndex
    from wfleak.analysis.paths import RootFinder, shortest_path

    started = time.perf_counter()
    # Excluding wfleak's own objects, as the analysis does.
    index = HeapIndex.build(is_own, screen=may_be_own)
    built = time.perf_counter() - started
    started = time.perf_counter()
    position = index.index_of(leaked)
    assert position is not None
    path = shortest_path(index, position, RootFinder({}))
    assert path is not None and path.objects[0] is module
    return built, time.perf_counter() - started, len(path.objects) - 1, index


def main(objects: int, method: str) -> None:
    # Imported before the baseline is read, so neither method is charged for loading them.
    import wfleak.analysis.explain
    import wfleak.analysis.heap  # noqa: F401

    module, leaked, _records = build_heap(objects)
    gc.collect()
    gc.disable()
    heap = len(gc.get_objects())
    before = rss_bytes()
    measure = measure_wfleak if method == "wfleak" else measure_naive
    built, query, length, keep = measure(leaked, module)
    retained = rss_bytes() - before
    peak = peak_rss_bytes() - before
    del keep
    print(
        json.dumps(
            {
                "heap_objects": heap,
                "build_s": built,
                "query_s": query,
                "path_references": length,
                "retained_bytes": retained,
                "peak_bytes": peak,
            }
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
