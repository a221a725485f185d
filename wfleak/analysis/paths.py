"""Shortest retention paths from a root to a leaked object, and retained sizes.

Roots are what keeps things alive in a service: module globals, classes, the running event
loop (its ready queue and timers), pending tasks, the shared workflow instance, and anything
held only from C or a running frame (which the GC cannot see, so no referrer is found).
The walk goes backwards over referrers; references held by framework objects cost more, so an
application path is shown first when both exist (LeakCanary's "library leaks explored last").
"""

from __future__ import annotations

import asyncio
import gc
import heapq
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from wfleak.analysis.edges import is_framework_object, size_of
from wfleak.framework import module_of

if TYPE_CHECKING:
    # Only for annotations: the index (and numpy) load when an analysis builds one.
    from wfleak.analysis.heap import HeapIndex

FRAMEWORK_EDGE_COST = 16
"""An edge whose holder is a framework object weighs as much as this many application edges."""
MAX_VISITED = 2_000_000


class RootKind(StrEnum):
    MODULE = "module"
    CLASS = "class"
    EVENT_LOOP = "event loop"
    PENDING_TASK = "pending task"
    SHARED_WORKFLOW = "shared workflow"
    REUSED_CONTEXT = "reused Context"
    UNSEEN = "held outside the GC's view"


@dataclass(frozen=True)
class Root:
    kind: RootKind
    name: str


class RootFinder:
    """Decides whether an object is a root, given what the driver holds on purpose."""

    def __init__(self, held: dict[int, RootKind]) -> None:
        self._held = held

    def root_of(self, obj: Any) -> Root | None:
        held = self._held.get(id(obj))
        if held is not None:
            return Root(held, type(obj).__qualname__)
        if issubclass(type(obj), types.ModuleType):
            return Root(RootKind.MODULE, obj.__name__)
        if issubclass(type(obj), type):
            return Root(RootKind.CLASS, f"{module_of(obj)}.{obj.__qualname__}")
        if issubclass(type(obj), asyncio.AbstractEventLoop):
            return Root(RootKind.EVENT_LOOP, "event loop")
        return None


@dataclass(frozen=True)
class RetentionPath:
    root: Root
    objects: list[Any]
    """From the root to the leaked object."""


def shortest_path(
    index: HeapIndex,
    target: int,
    roots: RootFinder,
    is_framework: Callable[[Any], bool] = is_framework_object,
) -> RetentionPath | None:
    """Cheapest referrer chain from a root down to ``index.objects[target]``."""
    objects = index.objects
    best: dict[int, int] = {target: 0}
    came_from: dict[int, int] = {}
    queue: list[tuple[int, int]] = [(0, target)]
    unseen_candidate: int | None = None
    while queue and len(best) < MAX_VISITED:
        cost, current = heapq.heappop(queue)
        if cost > best.get(current, sys.maxsize):
            continue
        obj = objects[current]
        root = roots.root_of(obj) if current != target else None
        if root is not None:
            return _assemble(index, current, came_from, root)
        has_referrer = False
        for referrer in index.referrers(current):
            has_referrer = True
            step = FRAMEWORK_EDGE_COST if is_framework(objects[referrer]) else 1
            new_cost = cost + step
            if new_cost < best.get(referrer, sys.maxsize):
                best[referrer] = new_cost
                came_from[referrer] = current
                heapq.heappush(queue, (new_cost, referrer))
        if not has_referrer and current != target and unseen_candidate is None:
            unseen_candidate = current
    if unseen_candidate is not None:
        return _assemble(
            index,
            unseen_candidate,
            came_from,
            Root(RootKind.UNSEEN, type(objects[unseen_candidate]).__qualname__),
        )
    return None


def _assemble(index: HeapIndex, start: int, came_from: dict[int, int], root: Root) -> RetentionPath:
    chain = [start]
    while chain[-1] in came_from:
        chain.append(came_from[chain[-1]])
    return RetentionPath(root=root, objects=[index.objects[i] for i in chain])


def _module_namespaces() -> set[int]:
    return {id(vars(module)) for module in list(sys.modules.values()) if module is not None}


def _is_boundary(obj: Any, namespaces: set[int]) -> bool:
    """Objects that are never part of one run's private memory (and lead to the whole heap)."""
    return id(obj) in namespaces or isinstance(
        obj, (types.ModuleType, type, types.CodeType, asyncio.AbstractEventLoop)
    )


def retained_size(
    index: HeapIndex, target: int, roots: RootFinder | None = None, limit: int = 50_000
) -> int:
    """Bytes freed if ``target`` were freed: it and everything reachable only through it.

    Everything reachable from ``target`` (not crossing modules, classes, functions, the loop or
    the driver's own roots), minus whatever of it is also reachable from an object of that set
    that has a referrer outside it.
    """
    objects = index.objects
    namespaces = _module_namespaces()
    reach = {target}
    order = [target]
    for current in order:
        if len(reach) >= limit:
            break
        for child in index.referents(current):
            obj = objects[child]
            if child in reach or _is_boundary(obj, namespaces):
                continue
            if roots is not None and roots.root_of(obj) is not None:
                continue
            reach.add(child)
            order.append(child)
    shared = [i for i in order[1:] if any(r not in reach for r in index.referrers(i))]
    shared_set = set(shared)
    for current in shared:
        for child in index.referents(current):
            if child in reach and child != target and child not in shared_set:
                shared_set.add(child)
                shared.append(child)
    total = 0
    for i in order:
        if i not in shared_set:
            obj = objects[i]
            total += size_of(obj) + _untracked_children_size(obj)
    return total


def _untracked_children_size(obj: Any, depth: int = 3) -> int:
    """Sizes of untracked referents (strings, bytes, numbers, and dicts or tuples holding only
    such) that only this object holds."""
    total = 0
    for child in gc.get_referents(obj):
        # References counted: the holder, the referents list, the loop variable, the argument.
        if not gc.is_tracked(child) and sys.getrefcount(child) <= 4:
            total += size_of(child)
            if depth > 1 and issubclass(type(child), (dict, tuple)):
                total += _untracked_children_size(child, depth - 1)
    return total
