"""A reverse-reference index of the heap, built once per analysis.

``gc.get_referrers`` rescans the whole heap on every call, so walking paths with it costs a
heap scan per step. Instead the index visits every GC-tracked object once, records its
referents as integer positions, and turns them around into a compact referrer table
(compressed sparse rows). Every path, retained size and cycle question is then answered from
the index.

The build runs in C loops (``map`` over ``gc.get_referents``, numpy for the rest), never a
Python statement per object or per edge, and keeps no Python object per heap object: object
ids in one sorted array find positions by binary search, and the edges are 32-bit integers.

The index has a memory budget. A heap whose references would not fit in it is indexed up to
the budget: the objects past that point are still known but hold nothing, ``complete`` is
false and ``cut_reason`` says how far the walk got, so every answer drawn from it can say it
is partial instead of the analysis being killed for running out of memory.
"""

from __future__ import annotations

import ctypes
import gc
import sys
import types
from collections.abc import Callable, Iterator
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt

from wfleak.analysis import referents as safe

CHUNK = 1 << 16
"""Objects whose referents are listed at once; bounds the temporary lists of the build."""

MAX_INDEX_BYTES = 2 << 30
"""The default memory budget of one index: about a hundred million references."""

BYTES_PER_OBJECT = 8 + 8 + 4 + 1 + 8
"""Arrays kept per object: its id, the sorted ids, the order, the exclusion flag, the offset."""

BYTES_PER_EDGE = 4 + 4 + 8 + 4
"""Peak arrays per reference: holder, held, the sort by held, the referrer table."""

IntArray = npt.NDArray[np.int64]


def _item_array_offset() -> int | None:
    """Where a list keeps the address of its item array, when ids are addresses (CPython),
    pointers are 64-bit and the layout is the one checked here on a list of known items;
    None otherwise."""
    if sys.implementation.name != "cpython" or ctypes.sizeof(ctypes.c_void_p) != 8:
        return None
    # PyListObject: the variable-size object header, then ``ob_item`` and ``allocated``.
    offset = list.__basicsize__ - 2 * ctypes.sizeof(ctypes.c_void_p)
    probe = [object() for _ in range(3)]
    if _item_addresses(probe, offset).tolist() != [id(item) for item in probe]:
        return None
    return offset


def _item_addresses(items: list[Any], offset: int) -> IntArray:
    address = ctypes.c_void_p.from_address(id(items) + offset).value
    if not items or address is None:
        return np.zeros(0, dtype=np.int64)
    pointers = (ctypes.c_int64 * len(items)).from_address(address)
    return np.frombuffer(memoryview(pointers), dtype=np.int64).copy()


_ITEM_ARRAY_OFFSET = _item_array_offset()


def ids_of(items: list[Any]) -> IntArray:
    """``id()`` of every item of a list, in order. In CPython an id is the object's address
    and a list is an array of them: copied as one block, they cost a fraction of a call to
    ``id`` per item (most of the index's build, at millions of references)."""
    if _ITEM_ARRAY_OFFSET is None or type(items) is not list:
        return np.fromiter(map(id, items), dtype=np.int64, count=len(items))
    return _item_addresses(items, _ITEM_ARRAY_OFFSET)


class _Boundary:
    """Marks where one object's referents end in a chunk's listing (see ``_referent_ids``)."""


def _listed_one_by_one(chunk: list[Any]) -> tuple[IntArray, IntArray]:
    referents = list(map(gc.get_referents, chunk))
    lengths = np.fromiter(map(len, referents), dtype=np.int64, count=len(chunk))
    held_ids = np.fromiter(
        map(id, chain.from_iterable(referents)), dtype=np.int64, count=int(lengths.sum())
    )
    return lengths, held_ids


def _referent_ids(chunk: list[Any]) -> tuple[IntArray, IntArray]:
    """How many referents each object of ``chunk`` has, and their ids, in order.

    One ``gc.get_referents`` call for the whole chunk, with a one-item tuple after each
    object: its item, seen once per object, marks where that object's referents end. That
    is a third cheaper than a call (and a list) per object. Should anything else in the chunk
    refer to the marker, its count says so and the chunk is listed object by object.
    """
    boundary = _Boundary()
    marker = (boundary,)
    args = [marker] * (2 * len(chunk))
    args[0::2] = chunk
    listed = gc.get_referents(*args)
    del args
    ids = ids_of(listed)
    del listed
    ends = np.flatnonzero(ids == id(boundary))
    if len(ends) != len(chunk):
        return _listed_one_by_one(chunk)
    lengths = np.diff(ends, prepend=-1) - 1
    return lengths, np.delete(ids, ends)


def _never(_: Any) -> bool:
    return False


def _always(_: type) -> bool:
    return True


class HeapIndex:
    """Positions of GC-tracked objects and, for each, the positions of its referrers.

    ``exclude`` marks objects that must not hold anything in the index (the analysis' own);
    it is asked only about objects whose type ``screen`` accepts, so a cheap test by type
    keeps it off the millions of objects that cannot be excluded. ``exclude_ids`` are
    excluded whatever their type.
    """

    def __init__(
        self,
        objects: list[Any],
        exclude: Callable[[Any], bool] = _never,
        screen: Callable[[type], bool] = _always,
        exclude_ids: frozenset[int] = frozenset(),
        max_bytes: int = MAX_INDEX_BYTES,
    ) -> None:
        self.objects = objects
        self.max_bytes = max_bytes
        self.complete = True
        self.cut_reason: str | None = None
        count = len(objects)
        ids = ids_of(objects)
        order = np.argsort(ids, kind="stable")
        self._sorted_ids: IntArray = ids[order]
        self._order = order.astype(np.int32 if count < 2**31 else np.int64)
        del ids, order
        self.excluded = self._exclusions(exclude, screen, exclude_ids)
        self.held_by_excluded = np.zeros(count, dtype=np.bool_)
        """Objects an excluded object refers to: held by the analysis, not from outside the
        GC's view, when nothing else refers to them."""
        sources, targets = self._edges()
        self.edge_count = len(sources)
        # Sorting the edges by target (stably, so each object's referrers keep heap order)
        # gives each object's referrers as one slice.
        by_target = np.argsort(targets, kind="stable")
        self.referrer_table = sources[by_target]
        offsets = np.zeros(count + 1, dtype=np.int64)
        np.cumsum(np.bincount(targets, minlength=count), out=offsets[1:])
        self.offsets = offsets

    def _exclusions(
        self, exclude: Callable[[Any], bool], screen: Callable[[type], bool], ids: frozenset[int]
    ) -> npt.NDArray[np.bool_]:
        objects = self.objects
        excluded = np.zeros(len(objects), dtype=np.bool_)
        if exclude is _never:
            suspects = []
        else:
            kinds = list(map(type, objects))
            suspects = [id(tp) for tp in set(kinds) if screen(tp)]
        if suspects:
            type_ids = ids_of(kinds)
            del kinds
            # By binary search, not np.isin: past a few dozen suspect types np.isin goes
            # through np.unique, which imports numpy.ma on first use, and the watcher's fork
            # child may import nothing.
            known = np.sort(np.fromiter(suspects, dtype=np.int64, count=len(suspects)))
            at = np.minimum(np.searchsorted(known, type_ids), len(known) - 1)
            asked = np.flatnonzero(known[at] == type_ids)
            del known, at
            del type_ids
            excluded[asked] = [exclude(objects[i]) for i in asked.tolist()]
        for i in self._positions(np.fromiter(ids, dtype=np.int64, count=len(ids))):
            if i >= 0:
                excluded[i] = True
        return excluded

    def _positions(self, ids: IntArray) -> IntArray:
        """Each id's position in ``objects``, or -1 for objects the index does not hold."""
        sorted_ids = self._sorted_ids
        if not len(sorted_ids) or not len(ids):
            return np.full(len(ids), -1, dtype=np.int64)
        slots = np.searchsorted(sorted_ids, ids)
        np.minimum(slots, len(sorted_ids) - 1, out=slots)
        found = sorted_ids[slots] == ids
        return np.where(found, self._order[slots], -1).astype(np.int64)

    def _edges(self) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
        """(holder, held) positions of every reference between indexed objects, in heap order;
        excluded objects hold nothing."""
        objects = self.objects
        kind = np.int32 if len(objects) < 2**31 else np.int64
        sources: list[npt.NDArray[Any]] = []
        targets: list[npt.NDArray[Any]] = []
        unsafe = self._unsafe_modules()
        budget = self.max_bytes - BYTES_PER_OBJECT * len(objects)
        edges = 0
        for start in range(0, len(objects), CHUNK):
            chunk = objects[start : start + CHUNK]
            for i in unsafe[(unsafe >= start) & (unsafe < start + CHUNK)].tolist():
                chunk[i - start] = safe.stand_in(chunk[i - start])
            lengths, held_ids = _referent_ids(chunk)
            del chunk
            held = self._positions(held_ids)
            holder = np.repeat(np.arange(start, start + len(lengths), dtype=np.int64), lengths)
            own = self.excluded[holder]
            self.held_by_excluded[held[(held >= 0) & own]] = True
            keep = (held >= 0) & (held != holder) & ~own
            if (edges + int(keep.sum())) * BYTES_PER_EDGE > budget:
                self._cut(start, edges)
                break
            sources.append(holder[keep].astype(kind))
            targets.append(held[keep].astype(kind))
            edges += len(sources[-1])
        if not sources:
            return np.zeros(0, dtype=kind), np.zeros(0, dtype=kind)
        return np.concatenate(sources), np.concatenate(targets)

    def _unsafe_modules(self) -> IntArray:
        """Positions of the modules ``gc.get_referents`` must not be called on here."""
        if not safe.FREE_LIST_TRAVERSAL_BUG:
            return np.zeros(0, dtype=np.int64)
        objects = self.objects
        type_ids = np.fromiter(map(id, map(type, objects)), dtype=np.int64, count=len(objects))
        modules = np.flatnonzero(type_ids == id(types.ModuleType))
        return np.array([i for i in modules.tolist() if safe.is_unsafe(objects[i])], dtype=np.int64)

    def _cut(self, start: int, edges: int) -> None:
        self.complete = False
        self.cut_reason = (
            f"the reference index stopped at {start:,} of {len(self.objects):,} heap objects: "
            f"their {edges:,} references filled its {self.max_bytes >> 20:,} MiB budget, so "
            "references held by the rest are missing and paths through them are not found"
        )

    @classmethod
    def build(
        cls,
        exclude: Callable[[Any], bool] = _never,
        screen: Callable[[type], bool] = _always,
        exclude_ids: frozenset[int] = frozenset(),
        max_bytes: int = MAX_INDEX_BYTES,
    ) -> HeapIndex:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return cls(gc.get_objects(), exclude, screen, exclude_ids, max_bytes)
        finally:
            if was_enabled:
                gc.enable()

    def __len__(self) -> int:
        return len(self.objects)

    def index_of(self, obj: Any) -> int | None:
        position = int(self._positions(np.array([id(obj)], dtype=np.int64))[0])
        return None if position < 0 else position

    def referrers(self, index: int) -> Iterator[int]:
        start, end = self.offsets[index : index + 2].tolist()
        return iter(self.referrer_table[start:end].tolist())

    def referents(self, index: int) -> Iterator[int]:
        held = safe.referents(self.objects[index])
        positions = self._positions(np.fromiter(map(id, held), dtype=np.int64, count=len(held)))
        positions = positions[positions >= 0]
        return iter(positions[~self.excluded[positions]].tolist())

    def release(self) -> None:
        """Drop the strong references the index holds; call as soon as the analysis is done."""
        self.objects = []
        self._sorted_ids = np.zeros(0, dtype=np.int64)
