from __future__ import annotations

import asyncio
import contextvars
import gc
import sys
import types
from collections import deque
from collections.abc import Generator
from typing import Any

from wfleak.analysis.edges import UNKNOWN_EDGE, Hop, compress, label, node_label

THIS_FILE = "tests/unit/test_edges.py"  # display_path relative to the repo root (conftest cd)


class Plain:
    pass


class Slotted:
    __slots__ = ("first", "second")


class SlottedChild(Slotted):
    __slots__ = ("third",)


class Hostile:
    """Everything a label could call on it raises."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no __eq__")

    def __hash__(self) -> int:
        return 1

    def __iter__(self) -> Any:
        raise RuntimeError("no __iter__")

    def __len__(self) -> int:
        raise RuntimeError("no __len__")

    def __repr__(self) -> str:
        raise RuntimeError("no __repr__")


class HostileList(list[Any]):
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no __eq__")

    def __iter__(self) -> Any:
        raise RuntimeError("no __iter__")

    def __len__(self) -> int:
        raise RuntimeError("no __len__")

    def __repr__(self) -> str:
        raise RuntimeError("no __repr__")


class HostileInt(int):
    def __repr__(self) -> str:
        raise RuntimeError("no __repr__")


class HugeRepr:
    def __repr__(self) -> str:
        return "x" * 1_000_000


# label(): one test per edge kind


def test_dict_value_with_identifier_key() -> None:
    value = object()
    assert label({"other": 1, "key": value}, value) == "['key']"


def test_dict_value_with_non_identifier_string_key_uses_repr() -> None:
    value = object()
    assert label({"my key": value}, value) == "['my key']"
    assert label({"it's": value}, value) == '["it\'s"]'
    assert label({"a\nb": value}, value) == "['a\\nb']"


def test_dict_value_with_int_key() -> None:
    value = object()
    assert label({1: None, 42: value}, value) == "[42]"


def test_dict_key() -> None:
    key = ("a", "tuple", "key")
    assert label({key: "v"}, key) == "(dict key)"


def test_sequence_index_for_list_tuple_and_deque() -> None:
    value = object()
    items = [object(), object(), value, object()]
    assert label(items, value) == "[2]"
    assert label(tuple(items), value) == "[2]"
    assert label(deque(items), value) == "[2]"


def test_set_member() -> None:
    value = ("member",)
    assert label({value, ("other",)}, value) == "{member}"
    assert label(frozenset({value}), value) == "{member}"


def test_instance_attribute() -> None:
    value = object()
    holder = Plain()
    holder.before = 1  # type: ignore[attr-defined]
    holder.attr = value  # type: ignore[attr-defined]
    assert label(holder, value) == ".attr"


def test_slots_attribute_including_inherited_slots() -> None:
    value, other, third = object(), object(), object()
    holder = SlottedChild()
    holder.first = other
    holder.second = value
    holder.third = third
    assert label(holder, value) == ".second"
    assert label(holder, third) == ".third"


def test_slots_attribute_left_unset_is_skipped() -> None:
    value = object()
    holder = Slotted()
    holder.second = value  # .first is never set: reading it raises AttributeError
    assert label(holder, value) == ".second"


def _suspended_generator(box: list[object]) -> Generator[None, None, None]:
    held = box[0]
    yield
    del held


def test_frame_local() -> None:
    value = object()
    gen = _suspended_generator([value])
    next(gen)
    line = _suspended_generator.__code__.co_firstlineno + 2  # the yield
    assert gen.gi_frame is not None
    expected = f"local 'held' in _suspended_generator() at {THIS_FILE}:{line}"
    assert label(gen.gi_frame, value) == expected
    # The generator itself names the same local through its frame.
    assert label(gen, value) == expected
    gen.close()


def test_frame_local_of_running_frame_and_f_back() -> None:
    marker = object()
    frame = sys._getframe()
    line = frame.f_lineno + 1
    text = label(frame, marker)
    where = f"{THIS_FILE}:{line}"
    assert text == f"local 'marker' in test_frame_local_of_running_frame_and_f_back() at {where}"
    assert label(frame, frame.f_back) == ".f_back"


@types.coroutine
def _pause() -> Generator[None, None, None]:
    yield


async def _suspended_coroutine(box: list[object]) -> None:
    ctx = box[0]
    await _pause()
    del ctx


def test_coroutine_local() -> None:
    value = object()
    coro = _suspended_coroutine([value])
    coro.send(None)
    line = _suspended_coroutine.__code__.co_firstlineno + 2  # the await
    try:
        assert label(coro, value) == f"local 'ctx' in _suspended_coroutine() at {THIS_FILE}:{line}"
        assert label(coro, coro.cr_await) == ".cr_await"
    finally:
        coro.close()


def test_bound_method_self_and_func() -> None:
    holder = Plain()
    method = types.MethodType(lambda self: None, holder)
    assert label(method, holder) == ".__self__"
    assert label(method, method.__func__) == ".__func__"


def test_closure_cell_contents() -> None:
    value = object()

    def inner() -> object:
        return value

    assert inner.__closure__ is not None
    (cell,) = inner.__closure__
    assert label(cell, value) == ".cell_contents"


def test_contextvars_context_value() -> None:
    var: contextvars.ContextVar[object] = contextvars.ContextVar("request_state")
    value = object()
    ctx = contextvars.Context()
    ctx.run(var.set, value)
    assert label(ctx, value) == "[ContextVar 'request_state']"


def _raise_and_catch() -> BaseException:
    try:
        raise ValueError("boom")
    except ValueError as exc:
        return exc


def test_exception_traceback() -> None:
    exc = _raise_and_catch()
    assert exc.__traceback__ is not None
    assert label(exc, exc.__traceback__) == ".__traceback__"
    assert label(exc, exc.args) == ".args"


def test_traceback_frame_and_next() -> None:
    exc = _raise_and_catch()
    tb = exc.__traceback__
    assert tb is not None
    assert label(tb, tb.tb_frame) == ".tb_frame"
    assert label(tb, object()) == ".tb_next"


def test_function_globals() -> None:
    def function() -> None:
        pass

    assert label(function, function.__globals__) == ".__globals__"


def test_unknown_reference_is_labelled_as_referent() -> None:
    assert label(Plain(), object()) == UNKNOWN_EDGE


def test_hostile_instance_does_not_break_label_or_node_label() -> None:
    value = object()
    holder = Hostile()
    holder.attr = value  # type: ignore[attr-defined]
    assert label(holder, value) == ".attr"
    assert label(holder, object()) == UNKNOWN_EDGE
    assert node_label(holder) == "Hostile"


def test_hostile_list_subclass_does_not_break_label_or_node_label() -> None:
    value = object()
    holder = HostileList([1, 2, value])
    assert label(holder, value) == UNKNOWN_EDGE
    assert node_label(holder) == "HostileList"


def test_dict_key_with_broken_repr_still_labels_the_value() -> None:
    value = object()
    key = Hostile()
    # reprlib turns the failing repr into a placeholder.
    assert label({key: value}, value) == f"[<Hostile instance at {id(key):#x}>]"


# compress(): plumbing objects fold into one hop


def test_compress_instance_dict_gives_attribute() -> None:
    value = object()
    holder = Plain()
    holder.attr = value  # type: ignore[attr-defined]
    namespace = holder.__dict__  # materialise the instance dict
    # Up to 3.12 the instance refers to its dict; 3.13 keeps the values inline in the object
    # even then and refers to them directly. Paths come in both shapes.
    held = gc.get_referents(holder)
    assert any(r is namespace for r in held) != any(r is value for r in held)
    assert compress([holder, namespace, value]) == [Hop(holder, ".attr")]
    assert compress([holder, value]) == [Hop(holder, ".attr")]


def test_compress_keeps_following_hops() -> None:
    value = object()
    items = [object(), value]
    holder = Plain()
    holder.items = items  # type: ignore[attr-defined]
    hops = compress([holder, holder.__dict__, items, value])
    assert hops == [Hop(holder, ".items"), Hop(items, "[1]")]


def test_compress_module_globals() -> None:
    module = types.ModuleType("fake_mod")
    value = object()
    module.HISTORY = value  # type: ignore[attr-defined]
    assert compress([module, module.__dict__, value]) == [Hop(module, ".HISTORY")]


def test_compress_class_dict() -> None:
    value = object()

    class Registry:
        cache = value

    (namespace,) = (r for r in gc.get_referents(Registry) if isinstance(r, dict))
    assert compress([Registry, namespace, value]) == [Hop(Registry, ".cache")]


def test_compress_closure_tuple_and_cell() -> None:
    first, value = object(), object()

    def inner() -> tuple[object, object]:
        return first, value

    assert inner.__code__.co_freevars == ("first", "value")
    closure = inner.__closure__
    assert closure is not None
    cell = closure[1]
    assert compress([inner, closure, cell, value]) == [Hop(inner, "closure 'value'")]


def _path_by_referents(start: object, goal: object) -> list[object]:
    """Shortest referent chain from ``start`` to ``goal`` (breadth-first over gc referents)."""
    came_from: dict[int, object] = {}
    seen = {id(start)}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node is goal:
            path = [goal]
            while path[-1] is not start:
                path.append(came_from[id(path[-1])])
            return path[::-1]
        for child in gc.get_referents(node):
            if id(child) not in seen:
                seen.add(id(child))
                came_from[id(child)] = node
                queue.append(child)
    raise AssertionError("goal not reachable")


def test_compress_contextvars_hamt_nodes() -> None:
    target: contextvars.ContextVar[object] = contextvars.ContextVar("v")
    fillers = [contextvars.ContextVar(f"filler{i}") for i in range(200)]
    value = object()

    def set_all() -> None:
        for i, var in enumerate(fillers):
            var.set(i)
        target.set(value)

    ctx = contextvars.Context()
    ctx.run(set_all)
    path = _path_by_referents(ctx, value)
    plumbing = [type(p).__name__ for p in path[1:-1]]
    # Enough variables that the HAMT has more than one level of nodes (the exact depth depends
    # on the variables' hashes).
    assert plumbing[0] == "hamt"
    assert len(plumbing) >= 3
    assert set(plumbing) <= {"hamt", "hamt_bitmap_node", "hamt_array_node", "hamt_collision_node"}
    assert compress(path) == [Hop(ctx, "[ContextVar 'v']")]


# node_label()


def test_node_label_containers() -> None:
    assert node_label([1, 2, 3]) == "list (3 items)"
    assert node_label({"a": 1, "b": 2}) == "dict (2 items)"
    assert node_label(deque()) == "deque (0 items)"


def test_node_label_module_and_class() -> None:
    assert node_label(types.ModuleType("fake_mod")) == "module fake_mod"
    assert node_label(Plain) == f"class {__name__}.Plain"


def test_node_label_task_pending_and_done() -> None:
    async def job() -> None:
        await asyncio.sleep(0)

    async def main() -> tuple[str, str]:
        task = asyncio.get_running_loop().create_task(job())
        pending = node_label(task)
        await task
        return pending, node_label(task)

    pending, done = asyncio.run(main())
    name = "test_node_label_task_pending_and_done.<locals>.job"
    assert pending == f"Task {name} (pending)"
    assert done == f"Task {name} (done)"


def test_node_label_huge_and_broken_reprs() -> None:
    text = node_label("y" * 1_000_000)
    assert len(text) <= 40
    assert text.startswith("'yyy")
    assert node_label(HugeRepr()) == "HugeRepr"
    number = HostileInt(5)
    assert node_label(number) == f"<HostileInt instance at {id(number):#x}>"
