from __future__ import annotations

import gc
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

from wfleak.analysis.edges import Hop, compress
from wfleak.analysis.heap import HeapIndex
from wfleak.analysis.paths import (
    RetentionPath,
    Root,
    RootFinder,
    RootKind,
    retained_size,
    shortest_path,
)


class Leaked:
    pass


def never(obj: Any) -> bool:
    return False


def index_over(objects: list[Any], exclude: Callable[[Any], bool] = never) -> HeapIndex:
    return HeapIndex(objects, exclude)


def find(
    index: HeapIndex,
    target: Any,
    held: dict[int, RootKind] | None = None,
    is_framework: Callable[[Any], bool] = never,
) -> RetentionPath | None:
    position = index.index_of(target)
    assert position is not None
    return shortest_path(index, position, RootFinder(held or {}), is_framework=is_framework)


def same_objects(actual: Sequence[Any], expected: Sequence[Any]) -> bool:
    """Identity, not equality: lists and dicts on a path compare equal by value."""
    return [id(o) for o in actual] == [id(o) for o in expected]


def module_holding(name: str, **globals_: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in globals_.items():
        setattr(module, key, value)
    return module


def test_path_from_module_global_down_to_target() -> None:
    target = Leaked()
    entry = {"k": target}
    holder = [entry]
    module = module_holding("fake_mod", HOLDER=holder)
    index = index_over([module, module.__dict__, holder, entry, target])
    path = find(index, target)
    assert path is not None
    assert path.root == Root(RootKind.MODULE, "fake_mod")
    assert same_objects(path.objects, [module, module.__dict__, holder, entry, target])
    assert compress(path.objects) == [
        Hop(module, ".HOLDER"),
        Hop(holder, "[0]"),
        Hop(entry, "['k']"),
    ]


def test_path_takes_the_fewest_references() -> None:
    target = Leaked()
    near = [target]
    far_inner = [target]
    far_outer = [far_inner]
    module = module_holding("fake_mod", NEAR=near, FAR=far_outer)
    index = index_over([far_outer, far_inner, module, module.__dict__, near, target])
    path = find(index, target)
    assert path is not None
    assert same_objects(path.objects, [module, module.__dict__, near, target])


def test_application_path_wins_over_shorter_framework_path() -> None:
    target = Leaked()
    framework_owned = [target]
    app_3 = [target]
    app_2 = [app_3]
    app_1 = [app_2]
    framework_module = module_holding("fake_framework_user", REGISTRY=framework_owned)
    app_module = module_holding("fake_app", CACHE=app_1)
    objects = [
        framework_module,
        framework_module.__dict__,
        framework_owned,
        app_module,
        app_module.__dict__,
        app_1,
        app_2,
        app_3,
        target,
    ]
    index = index_over(objects)

    # Without a framework penalty the shorter path goes through the framework object ...
    plain = find(index, target)
    assert plain is not None
    assert plain.root == Root(RootKind.MODULE, "fake_framework_user")
    assert same_objects(
        plain.objects, [framework_module, framework_module.__dict__, framework_owned, target]
    )

    # ... with it, the longer application path is shown.
    path = find(index, target, is_framework=lambda o: o is framework_owned)
    assert path is not None
    assert path.root == Root(RootKind.MODULE, "fake_app")
    assert same_objects(
        path.objects, [app_module, app_module.__dict__, app_1, app_2, app_3, target]
    )


def test_framework_path_is_used_when_it_is_the_only_one() -> None:
    target = Leaked()
    framework_owned = [target]
    module = module_holding("fake_mod", REGISTRY=framework_owned)
    index = index_over([module, module.__dict__, framework_owned, target])
    path = find(index, target, is_framework=lambda o: o is framework_owned)
    assert path is not None
    assert same_objects(path.objects, [module, module.__dict__, framework_owned, target])


def test_excluded_objects_never_appear_on_a_path() -> None:
    target = Leaked()
    excluded = [target]
    detour_2 = [target]
    detour_1 = [detour_2]
    module = module_holding("fake_mod", SHORT=excluded, LONG=detour_1)
    objects = [module, module.__dict__, excluded, detour_1, detour_2, target]

    # Included, the excluded list would give the shortest path.
    shortest = find(index_over(objects), target)
    assert shortest is not None
    assert same_objects(shortest.objects, [module, module.__dict__, excluded, target])

    path = find(index_over(objects, exclude=lambda o: o is excluded), target)
    assert path is not None
    assert all(o is not excluded for o in path.objects)
    assert same_objects(path.objects, [module, module.__dict__, detour_1, detour_2, target])


def test_only_path_through_excluded_object_gives_no_module_root() -> None:
    target = Leaked()
    excluded = [target]
    module = module_holding("fake_mod", ONLY=excluded)
    index = index_over([module, module.__dict__, excluded, target], exclude=lambda o: o is excluded)
    assert find(index, target) is None


def test_chain_without_a_root_is_held_outside_the_gc_view() -> None:
    target = Leaked()
    inner = [target]
    outer = [inner]  # nothing in the index refers to this list
    index = index_over([outer, inner, target])
    path = find(index, target)
    assert path is not None
    assert path.root == Root(RootKind.UNSEEN, "list")
    assert same_objects(path.objects, [outer, inner, target])


def test_target_without_any_referrer_has_no_path() -> None:
    target = Leaked()
    index = index_over([[], target])
    assert find(index, target) is None


def test_driver_held_object_is_a_root() -> None:
    target = Leaked()
    workflow = Leaked()
    workflow.seen = [target]  # type: ignore[attr-defined]
    namespace = workflow.__dict__
    index = index_over([workflow, namespace, workflow.seen, target])  # type: ignore[attr-defined]
    path = find(index, target, held={id(workflow): RootKind.SHARED_WORKFLOW})
    assert path is not None
    assert path.root == Root(RootKind.SHARED_WORKFLOW, "Leaked")
    # Through the instance dict up to 3.12; straight from the inline values on 3.13.
    through_dict = any(r is namespace for r in gc.get_referents(workflow))
    expected = [workflow, namespace] if through_dict else [workflow]
    assert same_objects(path.objects, [*expected, workflow.seen, target])  # type: ignore[attr-defined]
    assert compress(path.objects)[0] == Hop(workflow, ".seen")


def test_root_finder_kinds() -> None:
    finder = RootFinder({})
    assert finder.root_of(types.ModuleType("fake_mod")) == Root(RootKind.MODULE, "fake_mod")
    assert finder.root_of(Leaked) == Root(RootKind.CLASS, f"{__name__}.Leaked")
    assert finder.root_of([]) is None


def test_retained_size_counts_private_list_but_not_shared_object() -> None:
    private: list[Any] = []
    shared: list[Any] = [None] * 50
    container = [private, shared]
    outside = [shared]
    index = index_over([container, private, shared, outside])
    position = index.index_of(container)
    assert position is not None
    expected = sys.getsizeof(container) + sys.getsizeof(private)
    assert retained_size(index, position) == expected


def test_retained_size_counts_object_once_nothing_else_holds_it() -> None:
    private: list[Any] = []
    shared: list[Any] = [None] * 50
    container = [private, shared]
    index = index_over([container, private, shared])
    position = index.index_of(container)
    assert position is not None
    expected = sys.getsizeof(container) + sys.getsizeof(private) + sys.getsizeof(shared)
    assert retained_size(index, position) == expected


def test_retained_size_excludes_what_a_shared_object_holds() -> None:
    private: list[Any] = []
    below_shared: list[Any] = [None] * 20
    shared = [below_shared]
    container = [private, shared]
    outside = [shared]
    index = index_over([container, private, shared, below_shared, outside])
    position = index.index_of(container)
    assert position is not None
    assert retained_size(index, position) == sys.getsizeof(container) + sys.getsizeof(private)
