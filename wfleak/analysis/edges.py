"""Name references the way a person would write them, and describe objects safely.

``label(src, dst)`` answers "by what name does ``src`` hold ``dst``": ``.attr``, ``[key]``,
``[3]``, ``{member}``, ``closure 'x'``, ``local 'ctx' in step() at file.py:12``. ``compress``
folds the plumbing objects a person never writes (an instance's ``__dict__``, a module's
globals, a function's closure tuple and cells, the HAMT nodes inside a ``contextvars.Context``)
into a single labelled edge.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import types
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from wfleak.framework import FRAMEWORK_MODULE_PREFIXES, module_of
from wfleak.probes.memory import display_path
from wfleak.safe_repr import safe_repr, truncate

UNKNOWN_EDGE = "(referent)"
_C_MODULES = ("builtins", "_asyncio", "_contextvars", "functools", "_functools", "collections")
_HAMT_TYPES = ("hamt", "hamt_bitmap_node", "hamt_array_node", "hamt_collision_node")


def _safe_vars(obj: Any) -> dict[str, Any] | None:
    try:
        namespace = object.__getattribute__(obj, "__dict__")
    except (AttributeError, TypeError):
        return None
    return namespace if issubclass(type(namespace), dict) else None


def _slots(tp: type) -> Iterator[str]:
    for klass in tp.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        if issubclass(type(slots), str):
            slots = (slots,)
        for name in slots:
            if name not in ("__dict__", "__weakref__"):
                yield name


def _key_text(key: Any) -> str:
    if issubclass(type(key), str):
        return repr(key) if not key.isidentifier() else f"'{key}'"
    return safe_repr(key, 40)


def _frame_text(frame: types.FrameType) -> str:
    code = frame.f_code
    return f"{code.co_name}() at {display_path(code.co_filename)}:{frame.f_lineno}"


def _local_label(frame: types.FrameType | None, dst: Any) -> str | None:
    if frame is None:
        return None
    try:
        local_items = list(frame.f_locals.items())
    except Exception:  # a frame's locals can be in any state; a label must not fail
        return None
    for name, value in local_items:
        if value is dst:
            return f"local '{name}' in {_frame_text(frame)}"
    return None


def _coroutine_frame(obj: Any) -> types.FrameType | None:
    for attribute in ("cr_frame", "gi_frame", "ag_frame"):
        frame = getattr(obj, attribute, None)
        if issubclass(type(frame), types.FrameType):
            return frame
    return None


def _attribute_label(src: Any, dst: Any) -> str | None:
    namespace = _safe_vars(src)
    if namespace is not None:
        for name, value in namespace.items():
            if value is dst:
                return f".{name}"
    for name in _slots(type(src)):
        try:
            if object.__getattribute__(src, name) is dst:
                return f".{name}"
        except AttributeError:
            continue
    if module_of(type(src)) in _C_MODULES or issubclass(type(src), asyncio.Future):
        for name in dir(type(src)):
            if name.startswith("__"):
                continue
            try:
                if getattr(src, name) is dst:
                    return f".{name}"
            except Exception:  # C getters may refuse in some states
                continue
    return None


def label(src: Any, dst: Any) -> str:
    """The name by which ``src`` refers to ``dst``."""
    try:
        return _label(src, dst) or UNKNOWN_EDGE
    except Exception:  # user containers may have broken __eq__/__iter__; a label must not fail
        return UNKNOWN_EDGE


def _label(src: Any, dst: Any) -> str | None:
    if issubclass(type(src), dict):
        for key, value in src.items():
            if value is dst:
                return f"[{_key_text(key)}]"
            if key is dst:
                return "(dict key)"
        return None
    if issubclass(type(src), (list, tuple, deque)):
        for position, item in enumerate(src):
            if item is dst:
                return f"[{position}]"
        return None
    if issubclass(type(src), (set, frozenset)):
        return "{member}"
    if issubclass(type(src), types.FrameType):
        if src.f_back is dst:
            return ".f_back"
        return _local_label(src, dst)
    if issubclass(type(src), (types.CoroutineType, types.GeneratorType, types.AsyncGeneratorType)):
        return _local_label(_coroutine_frame(src), dst) or (
            ".cr_await" if getattr(src, "cr_await", None) is dst else None
        )
    if issubclass(type(src), types.TracebackType):
        return ".tb_frame" if src.tb_frame is dst else ".tb_next"
    if issubclass(type(src), types.CellType):
        return ".cell_contents"
    if issubclass(type(src), types.MethodType):
        return ".__self__" if src.__self__ is dst else ".__func__"
    if issubclass(type(src), types.BuiltinMethodType) and getattr(src, "__self__", None) is dst:
        return ".__self__"
    if issubclass(type(src), asyncio.Future):
        for position, (callback, _context) in enumerate(src._callbacks or ()):
            if callback is dst:
                return f"._callbacks[{position}]"
        if issubclass(type(dst), types.TracebackType):
            return "._exception's traceback"
    if type(src).__name__ == "_lru_cache_wrapper" and issubclass(type(dst), dict):
        return "(cache)"
    if issubclass(type(src), contextvars.Context):
        for var, value in src.items():
            if value is dst:
                return f"[ContextVar '{var.name}']"
        return None
    if issubclass(type(src), asyncio.Task) and issubclass(type(dst), contextvars.Context):
        return "._context (copied contextvars)"
    if issubclass(type(src), asyncio.Handle) and issubclass(type(dst), contextvars.Context):
        return "._context (copied contextvars)"
    if issubclass(type(src), BaseException):
        for name in ("__traceback__", "__context__", "__cause__", "args"):
            if getattr(src, name, None) is dst:
                return f".{name}"
    if issubclass(type(src), types.FunctionType):
        if src.__globals__ is dst:
            return ".__globals__"
        if src.__defaults__ is dst:
            return ".__defaults__"
        if src.__closure__ is dst:
            return ".__closure__"
    return _attribute_label(src, dst)


@dataclass(frozen=True)
class Hop:
    """One edge of a compressed path: ``holder`` refers to the next object by ``label``."""

    holder: Any
    label: str


def _is_hamt(obj: Any) -> bool:
    return type(obj).__name__ in _HAMT_TYPES


def _closure_label(function: types.FunctionType, cell: Any) -> str | None:
    closure = function.__closure__ or ()
    for name, candidate in zip(function.__code__.co_freevars, closure, strict=False):
        if candidate is cell:
            return f"closure '{name}'"
    return None


def compress(path: Sequence[Any]) -> list[Hop]:
    """Fold plumbing objects into labelled hops; ``path`` runs from holder to held."""
    hops: list[Hop] = []
    i = 0
    while i < len(path) - 1:
        src, nxt = path[i], path[i + 1]
        after = path[i + 2] if i + 2 < len(path) else None
        # An object's (or module's, or class's) own namespace dict: name the attribute.
        if issubclass(type(nxt), dict) and after is not None and _is_namespace_of(src, nxt):
            key = _label(nxt, after) or UNKNOWN_EDGE
            text = "." + key[2:-2] if key.startswith("['") else key
            hops.append(Hop(src, text))
            i += 2
            continue
        if (
            issubclass(type(src), types.FunctionType)
            and issubclass(type(nxt), tuple)
            and nxt is src.__closure__
            and after is not None
            and i + 3 < len(path)
        ):
            hops.append(Hop(src, _closure_label(src, after) or ".__closure__"))
            i += 3
            continue
        if issubclass(type(src), contextvars.Context) and _is_hamt(nxt):
            j = i + 1
            while j < len(path) - 1 and _is_hamt(path[j]):
                j += 1
            hops.append(Hop(src, _label(src, path[j]) or "[ContextVar]"))
            i = j
            continue
        hops.append(Hop(src, label(src, nxt)))
        i += 1
    return hops


def _is_namespace_of(owner: Any, namespace: dict[Any, Any]) -> bool:
    if issubclass(type(owner), types.ModuleType):
        return owner.__dict__ is namespace
    if issubclass(type(owner), type):
        try:
            return all(namespace.get(k) is v for k, v in vars(owner).items())
        except Exception:
            return False
    return _safe_vars(owner) is namespace


def is_framework_object(obj: Any) -> bool:
    module = module_of(type(obj))
    return module.startswith(FRAMEWORK_MODULE_PREFIXES)


def type_label(obj: Any) -> str:
    tp = type(obj)
    return getattr(tp, "__qualname__", tp.__name__)


def display_type(obj: Any) -> str:
    """The type as a path shows it; a function is named, since "function" says nothing."""
    if issubclass(type(obj), types.FunctionType):
        return f"function {obj.__name__}"
    if issubclass(type(obj), type):
        # A class made at run time sits on paths like any object; "type" would say nothing.
        return f"class {type.__dict__['__name__'].__get__(obj, type(obj))}"
    return type_label(obj)


def size_of(obj: Any) -> int:
    try:
        return sys.getsizeof(obj)
    except Exception:  # a user __sizeof__ may raise
        return 0


def node_label(obj: Any) -> str:
    """A short, safe description: what a person needs to recognise the object."""
    try:
        return _node_label(obj)
    except Exception:
        return type_label(obj)


def _node_label(obj: Any) -> str:
    if issubclass(type(obj), types.ModuleType):
        return f"module {obj.__name__}"
    if issubclass(type(obj), type):
        return f"class {module_of(obj)}.{obj.__qualname__}"
    if issubclass(type(obj), (dict, list, tuple, set, frozenset, deque)):
        return f"{type(obj).__name__} ({len(obj)} items)"
    if issubclass(type(obj), types.FunctionType):
        return f"function {obj.__qualname__}"
    if issubclass(type(obj), types.FrameType):
        return f"frame {_frame_text(obj)}"
    if issubclass(type(obj), (types.CoroutineType, types.GeneratorType)):
        frame = _coroutine_frame(obj)
        where = f" at {display_path(frame.f_code.co_filename)}:{frame.f_lineno}" if frame else ""
        return f"coroutine {obj.__qualname__}{where}"
    if issubclass(type(obj), asyncio.Task):
        coro = obj.get_coro()
        state = "done" if obj.done() else "pending"
        return f"Task {getattr(coro, '__qualname__', type(coro).__name__)} ({state})"
    if issubclass(type(obj), asyncio.TimerHandle):
        state = "cancelled" if obj.cancelled() else f"due at {obj.when():.0f}"
        return f"TimerHandle ({state})"
    if issubclass(type(obj), asyncio.AbstractEventLoop):
        return f"event loop {type(obj).__name__}"
    run_id = _safe_vars(obj) and _safe_vars(obj).get("run_id")  # type: ignore[union-attr]
    if type(run_id) is str:
        return f"{type_label(obj)} run {truncate(run_id, 12)}"
    if issubclass(type(obj), (str, bytes, int, float)):
        return safe_repr(obj, 40)
    return type_label(obj)
