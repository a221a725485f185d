"""Which holders a finding names: every distinct one, stable roots only, never wfleak's own
objects; what it says it retains (the payload too); and that hostile heaps end in a stated
partial answer."""

from __future__ import annotations

import gc
import sys
import tracemalloc
import types
from typing import Any

from wfleak.analysis.explain import explain_leaks, is_own, may_be_own
from wfleak.analysis.heap import HeapIndex
from wfleak.analysis.paths import (
    Budget,
    Root,
    RootFinder,
    RootKind,
    defining_module,
    retained_size,
    shortest_path,
)


class Run:
    """Stands for a run's Context: what the holders keep."""

    def __init__(self, payload: Any = None) -> None:
        self.payload = payload


class RunState:
    """Stands for the framework's per-run bookkeeping that refers to the run."""

    def __init__(self, run: Run) -> None:
        self.run = run


class Tool:
    def __init__(self, schema: type) -> None:
        self.args_schema = schema


def never(_: Any) -> bool:
    return False


def module_holding(name: str, **globals_: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in globals_.items():
        setattr(module, key, value)
    return module


def reachable(*starts: Any) -> list[Any]:
    """Every GC-tracked object below ``starts``, modules' namespaces included (a fake heap)."""

    seen: dict[int, Any] = {}
    frontier = list(starts)
    while frontier:
        obj = frontier.pop()
        if id(obj) in seen or not gc.is_tracked(obj) or obj is type:
            continue
        seen[id(obj)] = obj
        if isinstance(obj, type) and defining_module(obj) is not None:
            continue  # the heap beyond a defined class is not this test's
        frontier.extend(gc.get_referents(obj))
    return list(seen.values())


def explain(
    objects: list[Any],
    leaked: list[Any],
    held: dict[int, RootKind] | None = None,
    budget: Budget | None = None,
) -> list[Any]:
    index = HeapIndex(objects, never)
    try:
        counts = {type(o).__qualname__: sum(type(x) is type(o) for x in leaked) for o in leaked}
        return explain_leaks(index, leaked, counts, RootFinder(held or {}), budget=budget)
    finally:
        index.release()


def test_a_user_global_and_the_framework_keeping_the_same_runs_are_two_findings() -> None:
    runs = [Run() for _ in range(3)]
    history = list(runs)
    workflow = types.SimpleNamespace(_contexts=set(runs))
    module = module_holding("fake_service", HISTORY=history)
    objects = [module, module.__dict__, history, workflow, workflow.__dict__, workflow._contexts]
    objects += runs + [r.__dict__ for r in runs]
    findings = explain(objects, runs, {id(workflow): RootKind.SHARED_WORKFLOW})
    summaries = sorted(f.summary.split(" (")[0] for f in findings)
    assert summaries == [
        "3 × Run retained via <shared workflow SimpleNamespace>._contexts{member} → Run",
        "3 × Run retained via fake_service.HISTORY[0] → Run",
    ]


def test_holders_are_listed_in_the_same_order_whatever_the_heap_order() -> None:
    def listing(reverse: bool) -> list[str]:
        run = Run()
        first, second = [run], [run]
        module = module_holding("fake_service", FIRST=first, SECOND=second)
        objects = [module, module.__dict__, first, second, run, run.__dict__]
        return [f.fingerprint for f in explain(objects[::-1] if reverse else objects, [run])]

    forward = listing(reverse=False)
    assert len(forward) == 2
    assert listing(reverse=True) == forward


def test_a_path_through_other_leaked_objects_names_the_outermost_one() -> None:
    """Each run's Context is kept only through the run's bookkeeping, whose type is not among
    the types explained for themselves: the finding names the bookkeeping, not nothing."""
    runs = [Run() for _ in range(3)]
    states = [RunState(r) for r in runs]
    timers = list(states)
    loop = module_holding("fake_loop", _scheduled=timers)
    # Five more leaked types, with more objects each, are explained before the bookkeeping.
    others = [cls() for cls in (type(f"Other{k}", (), {}) for k in range(5)) for _ in range(4)]
    objects = [loop, loop.__dict__, timers, *states, *runs, *others]
    objects += [b.__dict__ for b in states] + [r.__dict__ for r in runs]
    findings = explain(objects, [*runs, *states, *others])
    assert [f.summary.split(" (")[0] for f in findings] == [
        "3 × RunState retained via fake_loop._scheduled[0] → RunState"
    ]


def test_a_class_made_at_run_time_is_not_a_root_the_module_global_that_holds_it_is() -> None:
    run = Run()
    schema = type("ArgsSchema", (), {"default_request": run})
    agent = types.SimpleNamespace(tools=[Tool(schema)])
    module = module_holding("fake_agents", AGENT=agent)
    sys.modules["fake_agents"] = module
    try:
        objects = reachable(module, run)
        findings = explain(objects, [run])
    finally:
        del sys.modules["fake_agents"]
    assert RootFinder({}).root_of(schema) is None
    assert [f.summary.split(" (")[0] for f in findings] == [
        "1 × Run retained via fake_agents.AGENT → SimpleNamespace.tools[0] → Tool.args_schema → "
        "class ArgsSchema.default_request → Run"
    ]


def test_classes_a_module_defines_stay_roots() -> None:
    assert defining_module(Run) is sys.modules[__name__]
    assert RootFinder({}).root_of(Run) == Root(RootKind.CLASS, f"{__name__}.Run")
    assert RootFinder({}).root_of(dict) == Root(RootKind.CLASS, "builtins.dict")
    local = type("Local", (), {})
    assert defining_module(local) is None


def test_tracemalloc_snapshots_are_the_analysis_own_objects() -> None:
    snapshot = tracemalloc.Snapshot((), 1)
    assert may_be_own(type(snapshot))
    assert is_own(snapshot)
    assert not is_own(Run())


def test_an_object_held_only_by_the_analysis_is_not_held_outside_the_gcs_view() -> None:
    target = Run()
    traces = [target]
    snapshot = tracemalloc.Snapshot((), 1)
    snapshot.held = traces  # type: ignore[attr-defined]
    objects = [snapshot, traces, target, target.__dict__]
    index = HeapIndex(objects, is_own)
    position = index.index_of(target)
    assert position is not None
    assert shortest_path(index, position, RootFinder({})) is None
    # Without the exclusion, the list would read as a root outside the GC's view.
    plain = HeapIndex([traces, target, target.__dict__], never)
    path = shortest_path(plain, 1, RootFinder({}))
    assert path is not None and path.root.kind is RootKind.UNSEEN


def two_events_sharing_a_prompt() -> Run:
    prompt = "p" * 34_000 + str(id(object()))  # made here: referred to by the events only
    return Run([Run({"prompt": prompt}), Run({"prompt": prompt})])


def test_the_retained_size_includes_a_payload_two_of_the_runs_objects_share() -> None:
    run = two_events_sharing_a_prompt()
    first, second = run.payload
    objects = [run, run.__dict__, run.payload, first, second, first.__dict__, second.__dict__]
    index = HeapIndex(objects, never)
    position = index.index_of(run)
    assert position is not None
    assert retained_size(index, position) > 34_000
    # Shared with something outside the run, it is not the run's.
    elsewhere = [first.payload["prompt"]]
    assert retained_size(index, position) < 34_000
    del elsewhere


def test_the_retained_size_of_an_event_includes_its_prompt() -> None:
    event = Run({"prompt": "p" * 34_000 + str(id(object()))})
    index = HeapIndex([event, event.__dict__], never)
    assert retained_size(index, 0) > 34_000


def deep_chain(depth: int, bottom: Any) -> tuple[list[Any], list[Any]]:
    chain: list[Any] = [bottom]
    lists = [chain]
    for _ in range(depth):
        chain = [chain]
        lists.append(chain)
    return chain, lists


def test_a_100_000_deep_chain_is_explained_within_a_bounded_number_of_visits() -> None:
    run = Run()
    top, lists = deep_chain(100_000, run)
    kept = [top]
    module = module_holding("fake_deep", KEPT=kept)
    budget = Budget(seconds=None)
    findings = explain(
        [module, module.__dict__, kept, *lists, run, run.__dict__], [run], budget=budget
    )
    assert budget.reason is None
    # The search and the count of what the path holds each look at the chain about once.
    assert budget.spent < 8 * len(lists)
    assert len(findings) == 1
    summary = findings[0].summary
    assert summary.startswith("1 × Run retained via fake_deep.KEPT[0][0]")
    assert "… 99 983 more `list[*]` …" in summary
    assert len(summary) < 1_000
    assert len(findings[0].fingerprint) < 1_000


def test_a_spent_budget_ends_the_search_with_the_reason_and_no_blame() -> None:
    run = Run()
    top, lists = deep_chain(100_000, run)
    kept = [top]
    module = module_holding("fake_deep", KEPT=kept)
    budget = Budget(visits=10_000, seconds=None)
    findings = explain(
        [module, module.__dict__, kept, *lists, run, run.__dict__], [run], budget=budget
    )
    assert findings == []
    assert budget.reason == (
        "the search for retention paths stopped after visiting 10,000 objects (its budget)"
    )


def test_a_spent_time_budget_says_so() -> None:
    ticks = iter(range(0, 10**9, 10))
    budget = Budget(visits=10**9, seconds=30.0, clock=lambda: float(next(ticks)))
    run = Run()
    top, lists = deep_chain(20_000, run)
    module = module_holding("fake_deep", KEPT=[top])
    explain([module, module.__dict__, module.KEPT, *lists, run, run.__dict__], [run], budget=budget)
    assert budget.reason == "the search for retention paths stopped after 30 s (its time budget)"


class Node:
    def __init__(self) -> None:
        self.next: Any = None


def test_a_30_000_object_ring_is_elided_in_the_finding() -> None:
    first = node = Node()
    nodes = [first]
    for _ in range(29_999):
        node.next = Node()
        node = node.next
        nodes.append(node)
    node.next = first
    run = Run()
    node.payload = run  # type: ignore[attr-defined]
    kept = [first]
    module = module_holding("fake_ring", KEPT=kept)
    objects = [module, module.__dict__, kept, *nodes, *(n.__dict__ for n in nodes), run]
    budget = Budget(seconds=None)
    findings = explain(objects, [run], budget=budget)
    assert budget.reason is None
    assert len(findings) == 1
    summary = findings[0].summary
    assert "… 29 982 more `Node.next` …" in summary
    assert len(summary) < 1_000
    assert len(findings[0].nodes) < 40
