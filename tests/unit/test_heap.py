"""The reverse-reference index gives exactly the referrers the interpreter reports, and the
paths found on it are the true shortest paths."""

from __future__ import annotations

import gc
import random
import subprocess
import sys
import types
from collections import deque
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from wfleak.analysis import heap
from wfleak.analysis import referents as safe
from wfleak.analysis.heap import BYTES_PER_EDGE, BYTES_PER_OBJECT, CHUNK, HeapIndex
from wfleak.analysis.paths import RootFinder, shortest_path


class Leaked:
    pass


def reference_referrers(objects: list[Any], excluded: set[int]) -> dict[int, list[int]]:
    """The plain definition: every reference between listed objects, holder order kept, each
    counted as often as the holder makes it, none from an excluded holder (and none from a
    module the interpreter cannot list safely, see ``wfleak.analysis.referents``)."""
    position = {id(obj): i for i, obj in enumerate(objects)}
    referrers: dict[int, list[int]] = {i: [] for i in range(len(objects))}
    for i, obj in enumerate(objects):
        if i in excluded:
            continue
        for referent in safe.referents(obj):
            j = position.get(id(referent))
            if j is not None and j != i:
                referrers[j].append(i)
    return referrers


@pytest.fixture
def frozen_collector() -> Iterator[None]:
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_small_graph_has_the_referrers_gc_reports(frozen_collector: None) -> None:
    target = Leaked()
    pair = [target, target]
    mapping = {"a": target, "pair": pair}
    holder = types.SimpleNamespace(mapping=mapping, target=target)
    objects = [holder, holder.__dict__, mapping, pair, target]
    index = HeapIndex(objects)
    for i, obj in enumerate(objects):
        expected = {id(r) for r in gc.get_referrers(obj)} & {id(o) for o in objects}
        assert {id(objects[j]) for j in index.referrers(i)} == expected
    # A list holding the target twice is two references, as the interpreter counts them.
    assert list(index.referrers(4)).count(3) == 2
    assert sorted(index.referents(3)) == [4, 4]
    assert index.index_of(Leaked()) is None


def test_whole_heap_index_equals_the_plain_definition(frozen_collector: None) -> None:
    padding = [[k] for k in range(CHUNK)]
    objects = gc.get_objects()
    # More than one chunk of the build, so edges from every chunk are checked.
    assert len(objects) > CHUNK
    excluded_types = (types.FrameType, types.CoroutineType)
    excluded = {i for i, obj in enumerate(objects) if isinstance(obj, excluded_types)}
    expected = reference_referrers(objects, excluded)
    asked: list[Any] = []

    def exclude(obj: Any) -> bool:
        asked.append(type(obj))
        return isinstance(obj, excluded_types)

    index = HeapIndex(
        objects, exclude, screen=lambda tp: issubclass(tp, (types.FrameType, types.CoroutineType))
    )
    assert all(issubclass(tp, excluded_types) for tp in asked)
    assert index.edge_count == sum(map(len, expected.values()))
    for i in range(len(objects)):
        assert list(index.referrers(i)) == expected[i]
    for i in random.Random(7).sample(range(len(objects)), 500):
        assert index.index_of(objects[i]) == i
    del objects, expected, padding
    index.release()


def test_a_heap_over_the_budget_is_cut_and_says_so(frozen_collector: None) -> None:
    # A chain: every list holds the one before it, one reference per object.
    objects: list[Any] = [[]]
    for _ in range(3 * CHUNK - 1):
        objects.append([objects[-1]])
    expected = reference_referrers(objects, set())
    # Room for the objects and the references of the first two chunks, not the third.
    budget = BYTES_PER_OBJECT * len(objects) + BYTES_PER_EDGE * (2 * CHUNK - 1)
    index = HeapIndex(objects, max_bytes=budget)
    assert not index.complete
    assert index.cut_reason is not None
    assert index.cut_reason.startswith(
        f"the reference index stopped at {2 * CHUNK:,} of {len(objects):,} heap objects"
    )
    # What the index holds is exact for the holders it reached, and nothing after them.
    assert index.edge_count == 2 * CHUNK - 1
    for i in range(len(objects)):
        assert list(index.referrers(i)) == [j for j in expected[i] if j < 2 * CHUNK]
    whole = HeapIndex(objects)
    assert whole.complete
    assert whole.cut_reason is None
    assert whole.edge_count == len(objects) - 1


def test_index_within_its_budget_is_complete(frozen_collector: None) -> None:
    target = Leaked()
    objects = [[target], target]
    index = HeapIndex(objects, max_bytes=BYTES_PER_OBJECT * 2 + BYTES_PER_EDGE)
    assert index.complete
    assert list(index.referrers(1)) == [0]
    assert not HeapIndex(objects, max_bytes=BYTES_PER_OBJECT * 2).complete


@pytest.mark.parametrize(
    ("version", "affected"),
    [
        ((3, 11, 7, "final", 0), False),
        ((3, 12, 0, "final", 0), True),
        ((3, 12, 1, "final", 0), True),
        ((3, 12, 5, "final", 0), True),
        ((3, 12, 6, "final", 0), False),
        ((3, 13, 0, "candidate", 1), True),
        ((3, 13, 0, "final", 0), False),
        ((3, 14, 0, "final", 0), False),
    ],
)
def test_releases_whose_asyncio_module_cannot_be_listed(
    version: tuple[Any, ...], affected: bool
) -> None:
    assert safe._free_list_traversal_bug(version) is affected


WALK_AFTER_AN_AWAITED_TASK = """
import asyncio, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from wfleak.analysis.heap import HeapIndex

async def job():
    await asyncio.sleep(0)

async def main():
    # Awaiting a task leaves a freed future iterator on _asyncio's free list.
    await asyncio.get_running_loop().create_task(job())

asyncio.run(main())
for _ in range(3):
    HeapIndex.build().release()
    asyncio.run(main())
print("walked")
"""


def test_whole_heap_walks_after_awaited_tasks_stay_bounded() -> None:
    # On CPython 3.12.0-3.12.5 listing the _asyncio module's referents frees its free list a
    # second time; the next walk then loops forever. In a child capped at 2 GiB, so a
    # regression fails here instead of taking the machine's memory.
    child = subprocess.run(
        [sys.executable, "-c", WALK_AFTER_AN_AWAITED_TASK],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.strip() == "walked"


def test_excluded_ids_hold_nothing(frozen_collector: None) -> None:
    target = Leaked()
    own = [target]
    theirs = [target]
    index = HeapIndex([own, theirs, target], exclude_ids=frozenset({id(own)}))
    assert list(index.referrers(2)) == [1]
    assert list(index.referents(1)) == [2]


def _bfs_length(start: Any, goal: Any) -> int:
    """References on the shortest chain from ``start`` down to ``goal``, following referents:
    an independent check that walks the heap forwards, not backwards through an index."""
    seen = {id(start)}
    queue = deque([(start, 0)])
    while queue:
        current, length = queue.popleft()
        if current is goal:
            return length
        for child in gc.get_referents(current):
            if id(child) not in seen and gc.is_tracked(child):
                seen.add(id(child))
                queue.append((child, length + 1))
    raise AssertionError("goal not reachable")


def test_path_on_a_big_heap_is_the_true_shortest_path(frozen_collector: None) -> None:
    """Several chains of different lengths lead to the target through a bulk of unrelated
    objects; the path found is as short as a forward breadth-first search says."""
    rng = random.Random(3)
    bulk = [{"key": [k]} for k in range(60_000)]
    target = Leaked()
    module = types.ModuleType("wfleak_test_big_heap")
    chains = []
    for depth in (25, 9, 17):
        holder: Any = target
        for _ in range(depth):
            # Hang each link off a random bulk dict too, so the walk has plenty of detours.
            holder = [holder, bulk[rng.randrange(len(bulk))]]
        chains.append(holder)
    module.CHAINS = chains  # type: ignore[attr-defined]
    objects = gc.get_objects()
    index = HeapIndex(objects)
    position = index.index_of(target)
    assert position is not None
    path = shortest_path(index, position, RootFinder({}))
    assert path is not None
    assert path.objects[0] is module
    assert path.objects[-1] is target
    assert len(path.objects) - 1 == _bfs_length(module, target) == 9 + 3
    del bulk, chains, objects
    index.release()


def test_one_listing_per_chunk_gives_each_objects_referents() -> None:
    from wfleak.analysis.heap import _listed_one_by_one, _referent_ids

    shared = ["shared"]
    chunk: list[Any] = [[1, shared], {"k": shared}, (shared,), [], object, gc.get_objects()[:50]]
    lengths, ids = _referent_ids(chunk)
    expected_lengths, expected_ids = _listed_one_by_one(chunk)
    assert (
        lengths.tolist() == expected_lengths.tolist() == [len(gc.get_referents(o)) for o in chunk]
    )
    assert ids.tolist() == expected_ids.tolist()


def test_ids_of_a_list_are_its_items_ids_in_order() -> None:
    class Listish(list[object]):
        pass

    items: list[object] = [object(), 1, "text", None, [1, 2], {"k": 1}, (), 2**70]
    assert heap._ITEM_ARRAY_OFFSET is not None  # CPython: read as one block of addresses
    assert heap.ids_of(items).tolist() == [id(item) for item in items]
    assert heap.ids_of([]).tolist() == []
    assert heap.ids_of(Listish(items)).tolist() == [id(item) for item in items]
    big = [object() for _ in range(100_000)]
    assert (heap.ids_of(big) == np.array([id(item) for item in big], dtype=np.int64)).all()
