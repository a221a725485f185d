"""Explain findings: which references hold the memory, where it was made, how to fix it.

Runs in the worker after the measured runs, on the live heap, and turns everything it learns
into model objects (strings and numbers) before it returns, so no live object escapes.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import re
import time
import tracemalloc
import types
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from wfleak import framework
from wfleak.analysis import fixes, owner, patterns
from wfleak.analysis.cycles import shortest_cycle, strongly_connected
from wfleak.analysis.edges import (
    Hop,
    compress,
    display_type,
    node_label,
    size_of,
    type_label,
)
from wfleak.analysis.paths import (
    Blocked,
    Budget,
    RetentionPath,
    Root,
    RootFinder,
    RootKind,
    reachable,
    retained_size,
    shortest_path,
)
from wfleak.analysis.verdict import format_bytes
from wfleak.framework import module_of, type_name
from wfleak.model import Edge, Finding, FindingKind, Frame, Node, Origin, WorkflowMode
from wfleak.probes.memory import display_path, is_own_file, is_user_file
from wfleak.serde import from_jsonable, to_jsonable
from wfleak.service.web import one_holder, web_holder

if TYPE_CHECKING:
    # Only for annotations: the index (and numpy) load when an analysis builds one.
    from wfleak.analysis.heap import HeapIndex

_T = TypeVar("_T")

RUNTIME_CACHES = frozenset({"_abc_data"})
"""Types of the interpreter's own bounded caches (``isinstance`` registries of ABCs)."""
SAMPLES_PER_TYPE = 3
"""Leaked objects of one type whose paths are computed; the rest share their fingerprint."""
MAX_TYPES = 6
_PLUMBING = (
    dict,
    list,
    tuple,
    set,
    frozenset,
    types.CellType,
    types.MethodType,
    types.BuiltinMethodType,
)
_LOWEST_PRIORITY = 5


def _priority(obj: Any) -> int:
    """Which leaked objects to explain first: the ones that hold a run together."""
    if framework.is_workflow(obj):
        return 2
    engines = framework.engines()
    for rank, attribute in ((0, "context"), (1, "handler"), (4, "event")):
        if any(
            isinstance(cls := getattr(e, attribute), type) and issubclass(type(obj), cls)
            for e in engines
        ):
            return rank
    if issubclass(type(obj), asyncio.Task):
        return 3
    return _LOWEST_PRIORITY


_RUNNING_CODE = (
    types.FrameType,
    types.CoroutineType,
    types.GeneratorType,
    types.AsyncGeneratorType,
)


_TRACING = "tracemalloc"
"""The traced runs' snapshots and their traces are wfleak's, made after the target's runs."""


def may_be_own(tp: type) -> bool:
    """Whether objects of this type can be wfleak's own (see ``is_own``), decided by type so
    a heap scan asks ``is_own`` only about the few objects it must look at."""
    module = module_of(tp)
    return module.startswith("wfleak.") or module == _TRACING or issubclass(tp, _RUNNING_CODE)


def is_own(obj: Any) -> bool:
    """wfleak's own objects and frames (and tracemalloc's snapshots), which must never appear
    in a path."""
    tp = type(obj)
    module = module_of(tp)
    if module.startswith("wfleak.") or module == _TRACING:
        return True
    if issubclass(type(obj), types.FrameType):
        code: Any = obj.f_code
    elif issubclass(
        type(obj), (types.CoroutineType, types.GeneratorType, types.AsyncGeneratorType)
    ):
        code = (
            getattr(obj, "cr_code", None)
            or getattr(obj, "gi_code", None)
            or getattr(obj, "ag_code", None)
        )
    else:
        return False
    return issubclass(type(code), types.CodeType) and is_own_file(code.co_filename)


@dataclass
class _Graph:
    """The nodes and edges of one finding, with stable ids in order of appearance."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    ids: dict[int, str] = field(default_factory=dict)

    def node(self, obj: Any, root: bool = False) -> str:
        key = id(obj)
        existing = self.ids.get(key)
        if existing is not None:
            return existing
        node_id = f"n{len(self.nodes)}"
        self.ids[key] = node_id
        who = owner.owner_of_object(obj)
        self.nodes.append(
            Node(
                id=node_id,
                type_name=type_label(obj),
                label=node_label(obj),
                size=size_of(obj),
                framework=who.origin == Origin.FRAMEWORK,
                root=root,
                origin=who.origin if who.decisive else "",
            )
        )
        return node_id

    def chain(self, hops: Sequence[Hop], final: Any, root: bool) -> list[str]:
        """Nodes and edges along ``hops`` down to ``final``; a ring closes on its first node
        because nodes are shared by identity. A long path keeps both ends and one node that
        says what the middle holds."""
        if not hops:
            return [self.node(final, root=root)]
        ids: list[str] = []
        cut = elision(hops)
        k = 0
        while k < len(hops):
            hop = hops[k]
            source = self.node(hop.holder, root=root and k == 0)
            if not ids:
                ids.append(source)
            if cut is not None and k == cut.start:
                marker = f"n{len(self.nodes)}"
                self.nodes.append(
                    Node(id=marker, type_name="…", label=cut.text, size=0, framework=False)
                )
                self.edges.append(Edge(source, marker, "…"))
                ids.append(marker)
                resumed = self.node(hops[cut.end].holder)
                self.edges.append(Edge(marker, resumed, "…"))
                ids.append(resumed)
                k = cut.end
                continue
            held = hops[k + 1].holder if k + 1 < len(hops) else final
            target = self.node(held)
            self.edges.append(Edge(source, target, hop.label))
            if target not in ids:
                ids.append(target)
            k += 1
        return ids


MAX_SHOWN_HOPS = 24
"""A path longer than this shows its first and last references and says what lies between
(a 30 000-node linked ring would otherwise print half a megabyte)."""
SHOWN_AT_EACH_END = 10


@dataclass(frozen=True)
class Elision:
    start: int
    """The first hop left out."""
    end: int
    """The first hop shown again."""
    text: str
    """``29 980 more `Node.next```."""


def elision(hops: Sequence[Hop]) -> Elision | None:
    if len(hops) <= MAX_SHOWN_HOPS:
        return None
    start, end = SHOWN_AT_EACH_END, len(hops) - SHOWN_AT_EACH_END
    kinds = Counter(f"{type(h.holder).__name__}{_normalise(h.label)}" for h in hops[start:end])
    count = f"{end - start:,}".replace(",", " ")
    if len(kinds) == 1:
        text = f"{count} more `{next(iter(kinds))}`"
    else:
        common = kinds.most_common(1)[0][0]
        text = f"{count} more references (mostly `{common}`)"
    return Elision(start, end, text)


def _ends(hops: Sequence[Hop], items: Sequence[_T]) -> list[_T]:
    """What a bounded record keeps of ``items`` (one per hop): all of a short path, both
    ends of a long one."""
    cut = elision(hops)
    return list(items) if cut is None else [*items[: cut.start], *items[cut.end :]]


def _role(obj: Any) -> str:
    """What ``obj`` is to the engine, by its classes (``context``, ``event``, ...)."""
    for engine in framework.engines():
        for role, cls in (
            ("context", engine.context),
            ("handler", engine.handler),
            ("workflow", engine.workflow),
            ("event", engine.event),
        ):
            if isinstance(cls, type) and issubclass(type(obj), cls):
                return role
    return ""


def _pending(obj: Any) -> bool:
    return issubclass(type(obj), asyncio.Task) and not asyncio.Task.done(obj)


def _step(holder: Any, label: str, who: owner.Owner) -> patterns.Step:
    return patterns.Step(
        holder=type_name(type(holder)),
        label=label,
        owner=who.origin,
        distribution=who.distribution,
        version=who.version,
        role=_role(holder),
        reason=who.reason,
        pending=_pending(holder),
    )


def _steps(hops: Sequence[Hop], final: Any = None) -> list[patterns.Step]:
    """The path's references with whose code made each (``final`` is what the last holds)."""
    steps = []
    for k, hop in enumerate(hops):
        held = hops[k + 1].holder if k + 1 < len(hops) else final
        steps.append(
            _step(hop.holder, hop.label, owner.reference_owner(hop.holder, hop.label, held))
        )
    return steps


def target_step(obj: Any) -> patterns.Step:
    """The leaked object as a label-less step: its type, whose code defines it, its role."""
    return _step(obj, "", owner.owner_of_object(obj))


@functools.lru_cache(maxsize=4096)
def _normalise(label: str) -> str:
    # Most labels (attributes) have no key: long paths are made of them.
    return re.sub(r"\[[^\]]*\]", "[*]", label) if "[" in label else label


def render_path(root: Root, hops: Sequence[Hop], target: Any) -> str:
    """``samples.leaky_global.HISTORY[41] → Context``: how a person would write the path."""
    start = {
        RootKind.MODULE: root.name,
        RootKind.CLASS: root.name,
        RootKind.SHARED_WORKFLOW: f"<shared workflow {root.name}>",
        RootKind.REUSED_CONTEXT: "<reused Context>",
        RootKind.SERVED_APP: f"<served app {root.name}>",
        RootKind.EVENT_LOOP: "<event loop>",
        RootKind.PENDING_TASK: f"<pending task {root.name}>",
        RootKind.UNSEEN: f"<{root.name} held outside the GC's view>",
    }[root.kind]
    return start + _hops_text(hops, target)


def _hops_text(hops: Sequence[Hop], target: Any) -> str:
    text = ""
    cut = elision(hops)
    k = 0
    while k < len(hops):
        if cut is not None and k == cut.start:
            text += f" → … {cut.text} … → {display_type(hops[cut.end].holder)}"
            k = cut.end
            continue
        hop = hops[k]
        text += hop.label if hop.label[:1] in ".[{" else f" ({hop.label})"
        held = hops[k + 1].holder if k + 1 < len(hops) else target
        if not issubclass(type(held), _PLUMBING) or held is target:
            text += f" → {display_type(held)}"
        k += 1
    return text


def _frames(traceback: tracemalloc.Traceback | None) -> list[Frame]:
    if traceback is None:
        return []
    frames = [
        Frame(filename=display_path(f.filename), lineno=f.lineno, user=is_user_file(f.filename))
        for f in reversed(traceback)
        if not is_own_file(f.filename)
    ]
    return sorted(frames, key=lambda f: not f.user)


def allocation_frames(obj: Any) -> list[Frame]:
    """Where ``obj`` was allocated, user frames first; falls back to what it directly holds
    (Python 3.11 cannot report objects whose dict lives inline)."""
    if not tracemalloc.is_tracing():
        return []
    frames = _frames(tracemalloc.get_object_traceback(obj))
    if frames:
        return frames
    for child in gc.get_referents(obj):
        frames = _frames(tracemalloc.get_object_traceback(child))
        if frames:
            return frames
    return []


@dataclass(frozen=True)
class _Explained:
    fingerprint: str
    path: RetentionPath
    hops: list[Hop]
    target_type: str
    entry_type: str = ""
    """The type of what the holder keeps for the run, when that is not the leaked object
    itself (its size is the entry's)."""


MAX_HOLDERS = 4
"""Distinct holders looked for per leaked object: a user's global and the framework can keep
the same Context, and fixing one of them must not leave the other unreported."""


def explain_leaks(
    index: HeapIndex,
    leaked: Sequence[Any],
    counts: dict[str, int],
    roots: RootFinder,
    also_leaked: Sequence[Any] = (),
    allocation: dict[int, list[Frame]] | None = None,
    budget: Budget | None = None,
) -> list[Finding]:
    """One finding per distinct holder path (fingerprint) of the leaked objects, biggest
    first, ties in fingerprint order so every Python version lists them alike.

    A path that reaches a leaked object through another leaked object (the run's Context
    through the run's bookkeeping) is the path of the outermost one, the first that a root
    reaches: that is what the holder keeps. ``also_leaked`` are other objects the runs left
    behind (their timers): they are part of a path, never its subject, and what the runs'
    timers hold is one finding, whichever of the runs' objects a path reaches. Walks spend from
    ``budget``; once it is spent the findings made so far are returned and ``budget.reason``
    says the explanation is partial.
    """
    budget = budget if budget is not None else Budget()
    by_type: dict[str, list[Any]] = defaultdict(list)
    for obj in leaked:
        by_type[type_label(obj)].append(obj)
    chosen_types = sorted(by_type, key=lambda n: (_priority(by_type[n][0]), -len(by_type[n]), n))[
        :MAX_TYPES
    ]
    leaked_ids = {id(obj) for obj in leaked}
    leaked_positions = {p for obj in leaked if (p := index.index_of(obj)) is not None}
    other_ids = {id(obj) for obj in also_leaked}
    found: dict[tuple[str, int], tuple[_Explained, Any, int]] = {}
    sizes: dict[int, int] = {}
    entries: dict[int, str] = {}
    seen_paths: set[tuple[int, ...]] = set()
    for name in chosen_types:
        for sample, obj in enumerate(by_type[name][:SAMPLES_PER_TYPE]):
            position = index.index_of(obj)
            if position is None or budget.exhausted:
                continue
            # More holders are looked for from the first sample of a type: the runs' objects
            # of one type are kept alike, and each search may cover much of the heap.
            holders = MAX_HOLDERS if sample == 0 else 1
            for whole in holder_paths(index, position, roots, budget, holders):
                if any(type(o).__name__ in RUNTIME_CACHES for o in whole.objects):
                    # Held by one of Python's own bounded caches, not by the application.
                    continue
                if whole.objects and owner.owner_of_object(whole.objects[0]).origin == owner.WFLEAK:
                    # wfleak's own module (a probe's cache filled during the runs).
                    continue
                path = _outermost(whole, leaked_ids)
                identity = tuple(map(id, path.objects))
                if identity in seen_paths:
                    continue  # another sample of the same run, through the same references
                seen_paths.add(identity)
                target = path.objects[-1]
                target_position = index.index_of(target)
                if target_position is None:
                    continue
                # Sizes first: labelling reads instance dicts, which can create dict objects
                # the index has never seen.
                if target_position not in sizes:
                    entry = _entry(index, path, target_position, leaked_positions, roots, budget)
                    sizes[target_position] = retained_size(index, entry, roots, budget)
                    if entry != target_position:
                        entries[target_position] = type_label(index.objects[entry])
                hops = compress(path.objects)
                fingerprint = _fingerprint(path.root, hops, type_label(target))
                found.setdefault(
                    (_holder_key(path, other_ids) or fingerprint, id(target)),
                    (
                        _Explained(
                            fingerprint,
                            path,
                            hops,
                            type_label(target),
                            entries.get(target_position, ""),
                        ),
                        target,
                        sizes[target_position],
                    ),
                )
    groups: dict[str, list[tuple[_Explained, Any, int]]] = defaultdict(list)
    for (key, _target), member in found.items():
        groups[key].append(member)
    sites = allocation or {}
    by_type_positions = {
        name: [p for obj in objects if (p := index.index_of(obj)) is not None]
        for name, objects in by_type.items()
    }
    findings = []
    targets: list[set[int]] = []
    for members in groups.values():
        # The member shown: of the type that holds a run together, and of those one whose
        # allocation site is known (it names the user's line), else the first found.
        members.sort(key=lambda m: (_priority(m[1]), not sites.get(id(m[1]))))
        held = _held_per_path(index, members, by_type_positions, counts, budget)
        findings.append(_leak_finding(members, held, sites))
        targets.append({id(target) for _, target, _ in members})
    findings = _with_shared_holders(findings, targets)
    findings.sort(key=lambda f: (-(f.retained_bytes * max(f.count, 1)), f.fingerprint))
    return _one_per_web_holder(findings)


def _with_shared_holders(findings: list[Finding], targets: list[set[int]]) -> list[Finding]:
    """Each finding with the fingerprints of the others that reach any of its objects."""
    shared = []
    for k, finding in enumerate(findings):
        others = sorted(
            {
                other.fingerprint
                for j, other in enumerate(findings)
                if j != k and targets[j] & targets[k] and other.fingerprint != finding.fingerprint
            }
        )
        shared.append(replace(finding, also_held_by=others) if others else finding)
    return shared


ENTRY_LEVELS = 6
"""Objects above the leaked one looked at for the run's entry in its holder."""
ENTRY_REACH_LIMIT = 5_000
"""Objects an entry may reach; a bigger one is not taken for one run's."""


def _entry(
    index: HeapIndex,
    path: RetentionPath,
    target: int,
    leaked: set[int],
    roots: RootFinder,
    budget: Budget,
) -> int:
    """What the holder keeps for this run: the highest object on the path above the leaked
    one that reaches no other run's leaked objects (a client session holding the run's
    workflow, a store's record holding its result), else the leaked object itself. Its
    retained size is what the run leaves behind, the leaked object's included."""
    own = reachable(index, target, roots, budget, ENTRY_REACH_LIMIT, note_the_limit=False)
    if len(own) >= ENTRY_REACH_LIMIT:
        return target
    owned = set(own) & leaked
    entry = target
    leaked_type = type(index.objects[target])
    for obj in list(reversed(path.objects[1:-1]))[:ENTRY_LEVELS]:
        position = index.index_of(obj)
        if position is None or roots.root_of(obj) is not None or budget.exhausted:
            break
        if type(obj) is leaked_type:
            # The leaked structure nests in itself (a chain of lists): each level is counted
            # as leaked already.
            break
        reached = reachable(index, position, roots, budget, ENTRY_REACH_LIMIT, note_the_limit=False)
        # Past the limit it cannot be told whether the object holds other runs' too.
        if len(reached) >= ENTRY_REACH_LIMIT:
            break
        found = set(reached)
        if target not in found or (found & leaked) - owned:
            break
        entry = position
    return entry


def _one_per_web_holder(findings: list[Finding]) -> list[Finding]:
    """Paths that reach the same objects through the same web-layer holder the app fills (a
    route function's closure, kept by the router and by the web framework's own caches of
    the function) are one finding: the one a pattern explains, by the shortest path."""
    chosen: dict[tuple[str, str], Finding] = {}
    for finding in findings:
        if not one_holder(finding.held_by) or finding.fix_site is None:
            continue
        key = (finding.held_by, finding.nodes[-1].type_name if finding.nodes else "")
        kept = chosen.get(key)
        if kept is None or (kept.pattern_id is None, len(kept.path)) > (
            finding.pattern_id is None,
            len(finding.path),
        ):
            chosen[key] = finding
    kept_ids = {id(f) for f in chosen.values()}
    return [
        f for f in findings if not one_holder(f.held_by) or f.fix_site is None or id(f) in kept_ids
    ]


def holder_paths(
    index: HeapIndex, target: int, roots: RootFinder, budget: Budget, most: int = MAX_HOLDERS
) -> list[RetentionPath]:
    """Up to ``most`` paths to ``target`` that do not share a holder: each search leaves out
    the container the paths before it went through."""
    paths: list[RetentionPath] = []
    blocked = Blocked()
    while len(paths) < most and not budget.exhausted:
        # Only the first may end outside the GC's view: the others look for more holders.
        path = shortest_path(index, target, roots, budget=budget, blocked=blocked, unseen=not paths)
        if path is None:
            break
        paths.append(path)
        blocked = _block_holder(index, path, blocked)
    return paths


def _block_holder(index: HeapIndex, path: RetentionPath, blocked: Blocked) -> Blocked:
    """``blocked`` and the holder of ``path``: the container its root keeps it in (the
    module's list, the loop's timer heap, the workflow's set), or, when the root holds the
    object itself, that one reference."""
    objects = path.objects
    hops = compress(objects[:6])
    if len(hops) > 1 and hops[1].holder is not objects[-1]:
        position = index.index_of(hops[1].holder)
        if position is not None:
            return Blocked(blocked.objects | {position}, blocked.edges)
    holder, held = index.index_of(objects[-2]), index.index_of(objects[-1])
    if holder is None or held is None:
        return blocked
    return Blocked(blocked.objects, blocked.edges | {(holder, held)})


def _holder_key(path: RetentionPath, runs_objects: set[int]) -> str | None:
    """The group of a path that enters the runs through one of their timers: what a timer
    of the runs holds (their task, their copied contextvars) is one finding."""
    for k, obj in enumerate(path.objects):
        if k and id(obj) in runs_objects:
            prefix = compress(path.objects[: k + 1])
            return _fingerprint(path.root, prefix, "") + f"|{type_name(type(obj))}"
    return None


def _outermost(path: RetentionPath, leaked_ids: set[int]) -> RetentionPath:
    """``path`` up to the first leaked object it reaches from its root."""
    for k, obj in enumerate(path.objects):
        if k and id(obj) in leaked_ids:
            return RetentionPath(path.root, path.objects[: k + 1])
    return path


def _fingerprint(root: Root, hops: Sequence[Hop], target_type: str) -> str:
    """The path's shape: root, the references up to the holder (their keys and positions
    left out), and the holder's type. The last reference is left out: what one holder keeps
    (a frame's Context and its events, a list's Contexts) is one finding. The middle of a
    long path is its kinds of reference, whatever its length."""
    cut = elision(hops)
    shown = [*hops[:-1]] if cut is None else [*hops[: cut.start], *hops[cut.end : -1]]
    parts = [f"{type_name(type(h.holder))}{_normalise(h.label)}" for h in shown]
    if cut is not None:
        middle = sorted(
            {f"{type_name(type(h.holder))}{_normalise(h.label)}" for h in hops[cut.start : cut.end]}
        )
        parts.insert(cut.start, "…" + "+".join(middle))
    last = type_name(type(hops[-1].holder)) if hops else target_type
    return "|".join([root.kind.value, root.name, *parts, last])


PATH_COUNT_LIMIT = 5000
"""Leaked objects of one type checked for the path they are held through; past it, the
count is extrapolated from the share of those checked."""
PATH_COUNT_VISITS = 256
"""Objects one check may visit on its way back to the path's anchor."""


def _anchor(members: list[tuple[_Explained, Any, int]]) -> Any:
    """The object every sample of a path group is held through, nearest to the samples: the
    deepest object their paths share; for a lone sample, the container its root holds it in
    (the module's list, the loop's timer heap), which no one run owns."""
    paths = [m[0].path.objects[:-1] for m in members]
    if len(paths) > 1:
        shared = None
        for step in zip(*paths, strict=False):
            if any(obj is not step[0] for obj in step):
                break
            shared = step[0]
        if shared is not None:
            return shared
    hops = members[0][0].hops
    if len(hops) > 1:
        return hops[1].holder
    return hops[0].holder if hops else None


def _reaches(index: HeapIndex, start: int, anchor: int, depth: int, budget: Budget) -> bool:
    """Whether ``anchor`` refers to ``start`` within ``depth`` references (bounded walk)."""
    frontier, seen = [start], {start}
    for _ in range(depth):
        following = []
        for position in frontier:
            if not budget.spend("counting the objects each path holds"):
                return False
            for referrer in index.referrers(position):
                if referrer == anchor:
                    return True
                if referrer not in seen and len(seen) < PATH_COUNT_VISITS:
                    seen.add(referrer)
                    following.append(referrer)
        if not following:
            return False
        frontier = following
    return False


def _held_per_path(
    index: HeapIndex,
    members: list[tuple[_Explained, Any, int]],
    positions: dict[str, list[int]],
    counts: dict[str, int],
    budget: Budget,
) -> dict[str, int]:
    """How many leaked objects of each type this path group holds: those its anchor reaches
    within the path's length, not every leaked object of the type."""
    anchor = _anchor(members)
    anchor_position = index.index_of(anchor) if anchor is not None else None
    held: dict[str, int] = {}
    for member, _obj, _size in members:
        name = member.target_type
        if name in held:
            continue
        candidates = positions.get(name, [])
        if anchor_position is None or not candidates:
            held[name] = counts.get(name, 1)
            continue
        depth = len(member.path.objects)
        samples = [index.index_of(m[1]) for m in members if m[0].target_type == name]
        if not all(
            p is not None and _reaches(index, p, anchor_position, depth, budget) for p in samples
        ):
            # The bounded walk cannot follow this path even from its own samples.
            held[name] = counts.get(name, 1)
            continue
        checked = candidates[:PATH_COUNT_LIMIT]
        reached = sum(_reaches(index, p, anchor_position, depth, budget) for p in checked)
        if budget.exhausted:
            held[name] = counts.get(name, 1)
            continue
        total = counts.get(name) or len(candidates)
        held[name] = max(1, round(reached / len(checked) * total))
    return held


def _leak_finding(
    members: list[tuple[_Explained, Any, int]],
    held: dict[str, int],
    allocation: dict[int, list[Frame]],
) -> Finding:
    explained, target, size = members[0]
    path, hops = explained.path, explained.hops
    # Both ends of a long path: its middle repeats one reference, and its owners are read
    # per reference.
    cut = elision(hops)
    steps = (
        _steps(hops, target)
        if cut is None
        else [*_steps(hops[: cut.start], hops[cut.start].holder), *_steps(hops[cut.end :], target)]
    )
    leaked_step = target_step(target)
    pattern = patterns.match(
        FindingKind.LEAK, path.root.kind.value, [*steps, leaked_step], leaked_step
    )
    graph = _Graph()
    ids = graph.chain(hops, target, root=True)
    count = held[explained.target_type]
    what = ", ".join(f"{n} × {name}" for name, n in held.items())
    text = render_path(path.root, hops, target)
    who = fixes.path_owner(pattern, steps, leaked=leaked_step)
    fix = fixes.leak_fix(pattern, path.root, hops, steps, path.objects, allocation, who)
    origin = who.as_origin
    each = f"{format_bytes(size)} each {explained.target_type}"
    if explained.entry_type:
        each += f" with the {explained.entry_type} that holds it"
    summary = f"{what} retained via {text} ({each})"
    web = web_holder(path.root, hops, target, allocation)
    if web is not None:
        summary += f"; held by {web.name}: {web.detail}"
        if web.line is not None and (origin is Origin.APP or pattern is None):
            # The app's line fills the holder, so the app cuts the reference, whoever else
            # (a web framework's cache of the route function) also reaches it; the fix is
            # that line, not the one that makes the app.
            origin = Origin.APP
            general = pattern.fix if pattern is not None else fixes.GENERAL_APP_FIX
            fix = fixes.Fix(
                f"Remove or bound `{web.line.code}` at {web.line.where}. {general}",
                fix.example,
                web.site,
            )
    return Finding(
        kind=FindingKind.LEAK,
        title=pattern.title if pattern else f"{explained.target_type} objects stay reachable",
        summary=summary,
        origin=origin,
        origin_package=who.package if origin in (Origin.FRAMEWORK, Origin.LIBRARY) else "",
        origin_reason=who.reason,
        fingerprint=explained.fingerprint,
        count=count,
        retained_bytes=size,
        pattern_id=pattern.id if pattern else None,
        explanation=pattern.explanation
        if pattern
        else ("No known pattern matches this path; the path shows which reference to cut."),
        fix=fix.text,
        fix_site=fix.site,
        fix_example=fix.example,
        path=ids,
        nodes=graph.nodes,
        edges=graph.edges,
        allocation_sites=allocation.get(id(target), [])[:6],
        held_by=web.name if web is not None else "",
    )


@dataclass(frozen=True)
class CycleSketch:
    """The ring found in one run's cycle garbage, already turned into model objects."""

    run: int
    ring_text: str
    nodes: list[Node]
    edges: list[Edge]
    ring: list[str]
    component_size: int
    steps: list[patterns.Step]
    start_type: str


INSPECTION_BUDGET_S = 10.0
"""Seconds the ring search may take for one run's garbage; past it, the CYCLE finding has its
figures and no ring, and says so."""
INSPECTION_MAX_OBJECTS = 2_000_000
"""Garbage objects of one run beyond which no ring is searched for (its index alone would
take hundreds of MB)."""
BEAT_S = 1.0
"""Seconds between two heartbeats while the ring is searched for, so the worker is seen to be
alive by the hang watchdog whatever its ``--timeout``."""


class _OverBudget(Exception):
    pass


def _spaced(count: int) -> str:
    return f"{count:,}".replace(",", " ")


class CycleInspector:
    """Handed to the cycle probe: finds the ring that holds the run's framework objects.

    It runs between measured runs, so it keeps its result as one JSON string: a string is
    not tracked by the GC and does not grow the object counts of the runs that follow. The
    search is bounded (``budget_s``, ``max_objects``); cut short, it keeps why as ``cut``,
    and ``beat`` is called about every ``BEAT_S`` while it works.
    """

    def __init__(
        self,
        is_framework: Callable[[type], bool],
        *,
        beat: Callable[[], None] | None = None,
        budget_s: float = INSPECTION_BUDGET_S,
        max_objects: int = INSPECTION_MAX_OBJECTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._is_framework = is_framework
        self._sketch_json: str | None = None
        self.run = 0
        self.beat = beat
        self.budget_s = budget_s
        self.max_objects = max_objects
        self._clock = clock
        self.cut: str | None = None
        """Why the ring search of a run was cut short, when it was (no ring then)."""

    def __call__(self, garbage: list[Any], framework_types: dict[str, int]) -> None:
        # The first run whose garbage holds framework objects; else the second run's garbage.
        if self._sketch_json is not None or self.cut is not None:
            return
        if not (framework_types or self.run == 2):
            return
        if len(garbage) > self.max_objects:
            self.cut = (
                f"the cycle inspection of run {self.run} was skipped: {_spaced(len(garbage))} "
                f"garbage objects, more than its limit of {_spaced(self.max_objects)}, so the "
                "CYCLE finding has no ring"
            )
            return
        started = last_beat = self._clock()

        def tick() -> None:
            nonlocal last_beat
            now = self._clock()
            if now - started > self.budget_s:
                raise _OverBudget
            if self.beat is not None and now - last_beat >= BEAT_S:
                last_beat = now
                self.beat()

        try:
            self._inspect(garbage, tick)
        except _OverBudget:
            self.cut = (
                f"the cycle inspection of run {self.run} stopped at its budget of "
                f"{self.budget_s:g} s ({_spaced(len(garbage))} garbage objects), so the CYCLE "
                "finding has no ring"
            )

    def _inspect(self, garbage: list[Any], tick: Callable[[], None]) -> None:
        position = {id(obj): k for k, obj in enumerate(garbage)}
        successors: list[list[int]] = []
        for k, obj in enumerate(garbage):
            if k % 4096 == 0:
                tick()
            successors.append(
                [j for r in gc.get_referents(obj) if (j := position.get(id(r))) is not None]
            )
        components = strongly_connected(len(garbage), lambda k: successors[k], tick)
        if not components:
            return
        best_component, start = self._choose(garbage, components)
        ring = shortest_cycle(start, lambda k: successors[k], set(best_component))
        if not ring:
            return
        ring_objects = [garbage[k] for k in ring] + [garbage[ring[0]]]
        hops = compress(ring_objects)
        graph = _Graph()
        ids = graph.chain(hops, ring_objects[0], root=False)
        text = display_type(ring_objects[0]) + _hops_text(hops, ring_objects[0])
        sketch = CycleSketch(
            run=self.run,
            ring_text=text,
            nodes=graph.nodes,
            edges=graph.edges,
            ring=ids,
            component_size=len(best_component),
            steps=_ends(hops, _steps(hops, ring_objects[0])),
            start_type=type_name(type(garbage[start])),
        )
        self._sketch_json = json.dumps(to_jsonable(sketch))

    @property
    def sketch(self) -> CycleSketch | None:
        if self._sketch_json is None:
            return None
        sketch: CycleSketch = from_jsonable(CycleSketch, json.loads(self._sketch_json))
        return sketch

    def _choose(self, garbage: list[Any], components: list[list[int]]) -> tuple[list[int], int]:
        """The component holding the most important framework object, and that object."""
        best: tuple[int, int, list[int], int] | None = None
        for component in components:
            for k in component:
                obj = garbage[k]
                if self._is_framework(type(obj)):
                    rank = _priority(obj)
                else:
                    # Rings of closures read best from the function: "closure 'x'" edges.
                    rank = _LOWEST_PRIORITY + (
                        1 if issubclass(type(obj), types.FunctionType) else 2
                    )
                candidate = (rank, -len(component), component, k)
                if best is None or candidate[:2] < best[:2]:
                    best = candidate
        assert best is not None
        return best[2], best[3]


def cycle_finding(
    base: Finding, sketch: CycleSketch | None, workflow_mode: WorkflowMode | None = None
) -> Finding:
    """The verdict's CYCLE finding, with the ring, its owner, its pattern when one matches,
    and the fix for the run mode the runs used."""
    if sketch is None:
        return base
    pattern = patterns.match(FindingKind.CYCLE, None, sketch.steps, sketch.start_type)
    decided = fixes.cycle_fix(pattern, sketch.steps, workflow_mode)
    internal = (
        ""
        if pattern is not None or decided.title is None
        else (" Every reference of the ring that anyone made is the framework's own.")
    )
    return replace(
        base,
        title=pattern.title if pattern else (decided.title or base.title),
        summary=f"{base.summary}. Ring (run {sketch.run}, {sketch.component_size} objects in "
        f"its component): {sketch.ring_text}",
        origin=decided.origin,
        origin_package=decided.package,
        origin_reason=decided.reason,
        pattern_id=pattern.id if pattern else None,
        explanation=pattern.explanation
        if pattern
        else (
            "These objects refer to each other, so reference counting never frees them; only "
            "the cyclic garbage collector does, when it happens to run." + internal
        ),
        fix=decided.fix,
        fix_example=decided.example,
        path=sketch.ring,
        nodes=sketch.nodes,
        edges=sketch.edges,
    )
