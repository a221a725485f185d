"""A reverse-reference index of the heap, built once per analysis.

``gc.get_referrers`` rescans the whole heap on every call, so walking paths with it costs a
heap scan per step. Instead the index visits every GC-tracked object once, records its
referents as integer positions, and turns them around into a compact referrer table
(compressed sparse rows in ``array`` buffers, no Python object per edge). Every path, retained
size and cycle question is then answered from the index.
"""

from __future__ import annotations

import gc
from array import array
from collections.abc import Callable, Iterator
from typing import Any


class HeapIndex:
    """Positions of GC-tracked objects and, for each, the positions of its referrers."""

    def __init__(self, objects: list[Any], exclude: Callable[[Any], bool]) -> None:
        self.objects = objects
        self.position: dict[int, int] = {id(obj): i for i, obj in enumerate(objects)}
        self.excluded = bytearray(len(objects))
        for i, obj in enumerate(objects):
            if exclude(obj):
                self.excluded[i] = 1
        sources = array("q")
        targets = array("q")
        position = self.position
        excluded = self.excluded
        get_referents = gc.get_referents
        for i, obj in enumerate(objects):
            if excluded[i]:
                continue
            for referent in get_referents(obj):
                j = position.get(id(referent))
                if j is not None and j != i:
                    sources.append(i)
                    targets.append(j)
        self.edge_count = len(sources)
        # Counting sort of the edges by target gives each object's referrers as one slice.
        counts = array("q", bytes(8 * (len(objects) + 1)))
        for j in targets:
            counts[j + 1] += 1
        for k in range(len(objects)):
            counts[k + 1] += counts[k]
        self.offsets = counts
        fill = array("q", counts)
        referrers = array("q", bytes(8 * len(sources)))
        for i, j in zip(sources, targets, strict=True):
            referrers[fill[j]] = i
            fill[j] += 1
        self.referrer_table = referrers

    @classmethod
    def build(cls, exclude: Callable[[Any], bool]) -> HeapIndex:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return cls(gc.get_objects(), exclude)
        finally:
            if was_enabled:
                gc.enable()

    def __len__(self) -> int:
        return len(self.objects)

    def index_of(self, obj: Any) -> int | None:
        return self.position.get(id(obj))

    def referrers(self, index: int) -> Iterator[int]:
        table = self.referrer_table
        for k in range(self.offsets[index], self.offsets[index + 1]):
            yield table[k]

    def referents(self, index: int) -> Iterator[int]:
        position = self.position
        for referent in gc.get_referents(self.objects[index]):
            j = position.get(id(referent))
            if j is not None and not self.excluded[j]:
                yield j

    def release(self) -> None:
        """Drop the strong references the index holds; call as soon as the analysis is done."""
        self.objects = []
        self.position = {}
