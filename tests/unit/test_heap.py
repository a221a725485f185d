"""The reverse-reference index gives exactly the referrers the interpreter reports, and the
paths found on it are the true shortest paths."""

from __future__ import annotations

import gc
import random
import types
from collections import deque
from collections.abc import Iterator
from typing import Any

import pytest

from wfleak.analysis.heap import CHUNK, HeapIndex
from wfleak.analysis.paths import RootFinder, shortest_path


class Leaked:
    pass


def reference_referrers(objects: list[Any], excluded: set[int]) -> dict[int, list[int]]:
    """The plain definition: every reference between listed objects, holder order kept, each
    counted as often as the holder makes it, none from an excluded holder."""
    position = {id(obj): i for i, obj in enumerate(objects)}
    referrers: dict[int, list[int]] = {i: [] for i in range(len(objects))}
    for i, obj in enumerate(objects):
        if i in excluded:
            continue
        for referent in gc.get_referents(obj):
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
