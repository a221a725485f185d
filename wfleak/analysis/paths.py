"""Shortest retention paths from a root to a leaked object, and retained sizes.

Roots are what keeps things alive in a service: module globals, the classes modules define,
the running event loop (its ready queue and timers), pending tasks, the shared workflow
instance, and anything held only from C or a running frame (which the GC cannot see, so no
referrer is found). A class, function or closure made while the service runs (a schema class a
tool builder makes per tool) is not a root: whatever holds it is, and the walk goes on to it.
The walk goes backwards over referrers; references held by framework objects cost more, so an
application path is shown first when both exist (LeakCanary's "library leaks explored last").

Every walk spends from one ``Budget`` (objects visited, and a deadline), so a heap built to be
hostile ends in a stated partial answer instead of an analysis that never finishes.
"""

from __future__ import annotations

import asyncio
import gc
import heapq
import sys
import time
import types
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from wfleak.analysis import referents as safe
from wfleak.analysis.edges import is_framework_object, size_of
from wfleak.framework import module_of

if TYPE_CHECKING:
    # Only for annotations: the index (and numpy) load when an analysis builds one.
    from wfleak.analysis.heap import HeapIndex

FRAMEWORK_EDGE_COST = 16
"""An edge whose holder is a framework object weighs as much as this many application edges."""
MAX_VISITS = 4_000_000
"""Objects all the walks of one explanation may visit together."""
MAX_SECONDS = 30.0
"""Seconds all the walks of one explanation may take together."""
_CLOCK_EVERY = 4096
"""Visits between two looks at the clock."""


class Budget:
    """What the walks of one explanation may spend; once spent, every walk stops and
    ``reason`` says where, so the answer is stated as partial."""

    def __init__(
        self,
        visits: int = MAX_VISITS,
        seconds: float | None = MAX_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.visits = visits
        self.seconds = seconds
        self._clock = clock
        self._deadline = None if seconds is None else clock() + seconds
        self.spent = 0
        self.reason: str | None = None
        self.notes: list[str] = []
        """Answers that are bounds, not exact (said once each)."""

    @property
    def exhausted(self) -> bool:
        return self.reason is not None

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def spend(self, what: str) -> bool:
        """Count one visit; false (and ``reason`` set) once the budget is spent."""
        if self.reason is not None:
            return False
        self.spent += 1
        if self.spent > self.visits:
            self.reason = f"{what} stopped after visiting {self.visits:,} objects (its budget)"
        elif (
            self._deadline is not None
            and self.spent % _CLOCK_EVERY == 0
            and self._clock() > self._deadline
        ):
            self.reason = f"{what} stopped after {self.seconds:g} s (its time budget)"
        return self.reason is None


class RootKind(StrEnum):
    MODULE = "module"
    CLASS = "class"
    EVENT_LOOP = "event loop"
    PENDING_TASK = "pending task"
    SHARED_WORKFLOW = "shared workflow"
    REUSED_CONTEXT = "reused Context"
    SERVED_APP = "served app"
    """The ASGI app a factory target made: held by the driver alone, it lives as long as
    the service."""
    UNSEEN = "held outside the GC's view"


@dataclass(frozen=True)
class Root:
    kind: RootKind
    name: str


_QUALNAME: Any = type.__dict__["__qualname__"]
_TYPE_DICT: Any = type.__dict__["__dict__"]


def defining_module(cls: type) -> types.ModuleType | None:
    """The module that defines ``cls`` under its qualified name, if one does: such a class
    lives as long as the module. A class made at run time (by a factory, per request, in a
    function body) is not found there, and is not a root."""
    module = sys.modules.get(module_of(cls))
    if module is None:
        return None
    try:
        qualname = _QUALNAME.__get__(cls, type(cls))
    except Exception:  # a broken metaclass; such a class is simply not a root
        return None
    if not issubclass(type(qualname), str) or "<" in qualname:
        return None
    holder: Any = module
    for part in qualname.split("."):
        namespace = _namespace(holder)
        if namespace is None:
            return None
        holder = namespace.get(part)
    return module if holder is cls else None


def _namespace(holder: Any) -> dict[str, Any] | None:
    """A module's or class's own namespace, read without running the user's code."""
    if issubclass(type(holder), types.ModuleType):
        namespace: Any = object.__getattribute__(holder, "__dict__")
    elif issubclass(type(holder), type):
        namespace = _TYPE_DICT.__get__(holder, type(holder))
    else:
        return None
    try:
        return dict(namespace) if not issubclass(type(namespace), dict) else namespace
    except Exception:
        return None


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
            if defining_module(obj) is None:
                return None
            return Root(RootKind.CLASS, f"{module_of(obj)}.{_QUALNAME.__get__(obj, type(obj))}")
        if issubclass(type(obj), asyncio.AbstractEventLoop):
            return Root(RootKind.EVENT_LOOP, "event loop")
        return None


@dataclass(frozen=True)
class RetentionPath:
    root: Root
    objects: list[Any]
    """From the root to the leaked object."""


@dataclass(frozen=True)
class Blocked:
    """References a walk must not take: every reference to ``objects`` (a container already
    reported) and the single references of ``edges`` (holder, held), as index positions."""

    objects: frozenset[int] = frozenset()
    edges: frozenset[tuple[int, int]] = frozenset()


NOTHING_BLOCKED = Blocked()


def shortest_path(
    index: HeapIndex,
    target: int,
    roots: RootFinder,
    is_framework: Callable[[Any], bool] = is_framework_object,
    budget: Budget | None = None,
    blocked: Blocked = NOTHING_BLOCKED,
    unseen: bool = True,
) -> RetentionPath | None:
    """Cheapest referrer chain from a root down to ``index.objects[target]``.

    With ``unseen``, a chain whose far end has no referrer at all is the answer when no root
    is found (it is held from C or a running frame); an object only wfleak's own objects
    refer to is not such an end. ``None`` when nothing holds it, or the budget ran out.
    """
    budget = budget if budget is not None else Budget()
    objects = index.objects
    best: dict[int, int] = {target: 0}
    came_from: dict[int, int] = {}
    queue: list[tuple[int, int]] = [(0, target)]
    unseen_candidate: int | None = None
    held_by_own = index.held_by_excluded
    while queue:
        if not budget.spend("the search for retention paths"):
            return None
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
            if referrer in blocked.objects or (referrer, current) in blocked.edges:
                continue
            step = FRAMEWORK_EDGE_COST if is_framework(objects[referrer]) else 1
            new_cost = cost + step
            if new_cost < best.get(referrer, sys.maxsize):
                best[referrer] = new_cost
                came_from[referrer] = current
                heapq.heappush(queue, (new_cost, referrer))
        if (
            unseen
            and not has_referrer
            and current != target
            and unseen_candidate is None
            and not held_by_own[current]
        ):
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


RETAINED_LIMIT = 50_000
"""Objects one retained size counts; past it the size is a lower bound, and says so."""
PAYLOAD_DEPTH = 4
"""Levels of untracked containers (a dict of strings in a tuple) whose contents are sized."""


def reachable(
    index: HeapIndex,
    start: int,
    roots: RootFinder | None,
    budget: Budget,
    limit: int = RETAINED_LIMIT,
    note_the_limit: bool = True,
) -> list[int]:
    """What ``start`` reaches, itself first, in breadth-first order, without crossing modules,
    classes, code, the loop or the driver's roots (at most ``limit`` objects; reaching it is
    noted as a lower bound unless ``note_the_limit`` is false)."""
    objects = index.objects
    namespaces = _module_namespaces()
    reach = {start}
    order = [start]
    for current in order:
        if len(reach) >= limit:
            if not note_the_limit:
                break
            budget.note(
                f"a retained size counted the first {limit:,} objects a leaked object holds "
                "(a lower bound)"
            )
            break
        if not budget.spend("the retained size"):
            break
        for child in index.referents(current):
            obj = objects[child]
            if child in reach or _is_boundary(obj, namespaces):
                continue
            if roots is not None and roots.root_of(obj) is not None:
                continue
            reach.add(child)
            order.append(child)
    return order


def retained_size(
    index: HeapIndex,
    target: int,
    roots: RootFinder | None = None,
    budget: Budget | None = None,
    limit: int = RETAINED_LIMIT,
) -> int:
    """Bytes freed if ``target`` were freed: it and everything reachable only through it,
    its payload included (the strings, bytes, buffers and untracked containers that only
    those objects refer to).

    Everything reachable from ``target`` (not crossing modules, classes, functions, the loop or
    the driver's own roots), minus whatever of it is also reachable from an object of that set
    that has a referrer outside it.
    """
    budget = budget if budget is not None else Budget()
    objects = index.objects
    order = reachable(index, target, roots, budget, limit)
    reach = set(order)
    shared: list[int] = []
    for i in order[1:]:
        if not budget.spend("the retained size"):
            break
        if any(r not in reach for r in index.referrers(i)):
            shared.append(i)
    shared_set = set(shared)
    for current in shared:
        for child in index.referents(current):
            if child in reach and child != target and child not in shared_set:
                shared_set.add(child)
                shared.append(child)
    kept = [objects[i] for i in order if i not in shared_set]
    return sum(map(size_of, kept)) + _payload_size(kept)


def _payload_size(holders: list[Any]) -> int:
    """Sizes of the untracked objects (strings, bytes, numbers, buffers, and dicts or tuples
    holding only such) that nothing but ``holders`` and those objects refer to: a 34 KB prompt
    in an event, shared by two of the run's objects, is the run's."""
    found, inside = _untracked_below(holders)
    total = 0
    # Values, not items: the items iterator keeps its last pair, one more reference.
    for child in found.values():
        # References getrefcount sees besides the holders': ``found``, ``child``, its argument.
        if sys.getrefcount(child) - 3 <= inside[id(child)]:
            total += size_of(child)
    return total


def _untracked_below(holders: list[Any]) -> tuple[dict[int, Any], Counter[int]]:
    """The untracked objects below ``holders`` (by id), and how often they refer to each."""
    found: dict[int, Any] = {}
    inside: Counter[int] = Counter()
    frontier = holders
    for _ in range(PAYLOAD_DEPTH):
        following: list[Any] = []
        for holder in frontier:
            for child in safe.referents(holder):
                if gc.is_tracked(child):
                    continue  # in the index: counted, or not, with the objects above
                key = id(child)
                inside[key] += 1
                if key not in found:
                    found[key] = child
                    if issubclass(type(child), (dict, tuple)):
                        following.append(child)
        frontier = following
    return found, inside
