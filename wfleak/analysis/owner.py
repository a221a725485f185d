"""Who owns a reference: the workflow engine, another installed distribution, or the project.

The owner of a finding is whoever can cut the reference that keeps the memory, so it is
decided from where code lives, never from names: a type's module file (found through
``sys.modules``), a function's or coroutine's code file, the module that defines a
ContextVar. A file belongs to the framework when it is part of an engine's package (the
``workflows`` package, or llama-index-core's ``llama_index/core/workflow``), to a library when
an installed distribution's file list has it, and to the app when it is the user's own (not
the standard library, not an installed package, not wfleak).

Nothing here reads an attribute that user code could intercept: types are read through
``type``'s own descriptors, modules through their namespace dict, code through the exact
built-in types (which cannot be subclassed).
"""

from __future__ import annotations

import asyncio
import contextvars
import csv
import functools
import importlib.metadata
import os
import re
import sys
import sysconfig
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from wfleak import framework
from wfleak.analysis.source import find_assignments
from wfleak.model import Frame, Origin
from wfleak.probes.memory import is_own_file, is_user_file

FRAMEWORK_DISTRIBUTIONS = frozenset({"llama-index-workflows"})
"""Distributions that are the workflow engine as a whole."""
PYTHON = "python"
"""The owner of the interpreter's own code (builtins, the standard library): nobody's to fix."""
WFLEAK = "wfleak"

_TYPE_MODULE = type.__dict__["__module__"]
_TYPE_MRO = type.__dict__["__mro__"]
_TYPE_DICT = type.__dict__["__dict__"]
_TYPE_QUALNAME = type.__dict__["__qualname__"]
_HANDLE_CALLBACK = asyncio.Handle.__dict__.get("_callback")
_CODE_BEARERS = (types.CoroutineType, types.GeneratorType, types.AsyncGeneratorType)
_SOURCE_SUFFIXES = (".py", ".pyc", ".so", ".pyd")


@dataclass(frozen=True)
class Owner:
    """Whose code something is: ``origin`` is ``framework``, ``library``, ``app``, ``unknown``,
    or ``python`` / ``wfleak`` for code nobody in the project can change."""

    origin: str
    distribution: str = ""
    """The installed distribution's name (``llama-index-workflows``), for framework and
    library code."""
    version: str = ""
    file: str = ""
    reason: str = ""
    """Why it is ``unknown``."""

    @property
    def package(self) -> str:
        """``llama-index-workflows 2.26.1``."""
        return f"{self.distribution} {self.version}".strip()

    @property
    def decisive(self) -> bool:
        """Whether this owner can be the one to act (not the interpreter's, nor wfleak's)."""
        return self.origin not in (PYTHON, WFLEAK)

    @property
    def as_origin(self) -> Origin:
        try:
            return Origin(self.origin)
        except ValueError:
            return Origin.UNKNOWN


NOBODY = Owner(PYTHON)


def _normalise(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _record_paths(text: str) -> Iterator[str]:
    """The paths a RECORD file lists. Its rows are CSV, but a path needs quoting only when it
    holds a comma or a quote, so the csv module is kept for those rows."""
    for line in text.splitlines():
        if line.startswith('"'):
            row = next(csv.reader([line]), None)
            if row:
                yield row[0]
        else:
            yield line.partition(",")[0]


def _listed_files(dist: importlib.metadata.Distribution) -> Iterator[str]:
    """The relative paths of ``dist``'s file list, read straight from its RECORD when it has
    one: ``Distribution.files`` builds a path object per entry, most of the index's cost."""
    record = dist.read_text("RECORD")
    if record is not None:
        yield from _record_paths(record)
        return
    for entry in dist.files or ():
        yield "/".join(entry.parts)


def _is_normal(relative: str) -> bool:
    """Whether a relative POSIX path has no part that normalising would change."""
    return not (
        relative.startswith(("/", "./", "../"))
        or "//" in relative
        or "/./" in relative
        or "/../" in relative
    )


@cache
def _distribution_files() -> dict[str, importlib.metadata.Distribution]:
    """Every installed source or extension file, mapped to the distribution whose file list
    has it (built once: some thousands of entries; names and versions are read only for the
    distributions a lookup finds)."""
    index: dict[str, importlib.metadata.Distribution] = {}
    plain_join = os.sep == "/" and os.altsep is None
    for dist in importlib.metadata.distributions():
        try:
            base = _normalise(str(dist.locate_file("")))
            for relative in _listed_files(dist):
                if not relative.endswith(_SOURCE_SUFFIXES):
                    continue
                if plain_join and _is_normal(relative):
                    # Joining is then all that abspath and normcase would do.
                    index.setdefault(f"{base}/{relative}", dist)
                else:
                    index.setdefault(_normalise(os.path.join(base, relative)), dist)
        except Exception:  # a broken metadata directory must not stop the analysis
            continue
    return index


@cache
def _identity(dist: importlib.metadata.Distribution) -> tuple[str, str] | None:
    """A distribution's name and release, or None when its metadata cannot be read."""
    try:
        name = dist.metadata["Name"]
        version = str(dist.version)
    except Exception:
        return None
    return (name, version) if isinstance(name, str) else None


@cache
def _stdlib_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple(_normalise(paths[k]) + os.sep for k in ("stdlib", "platstdlib") if k in paths)


@cache
def _engine_dirs() -> tuple[str, ...]:
    """The package directories of the importable engines (``.../workflows/``,
    ``.../llama_index/core/workflow/``)."""
    dirs = []
    for engine in framework.engines():
        filename = module_file(engine.module)
        if filename is not None:
            dirs.append(_normalise(os.path.dirname(filename)) + os.sep)
    return tuple(dirs)


def warm() -> None:
    """Build the file-to-distribution index and the directory lists now: built lazily during
    the measured runs (the cycle inspection asks for owners), their megabytes would read as
    growth of the run that built them."""
    _distribution_files()
    _stdlib_dirs()
    _engine_dirs()


@cache
def owner_of_file(filename: str) -> Owner:
    """The owner of the code in ``filename``."""
    if filename.startswith("<"):
        return Owner(
            Origin.UNKNOWN.value,
            file=filename,
            reason=f"its code has no file ({filename})",
        )
    if is_own_file(filename):
        return Owner(WFLEAK, file=filename)
    path = _normalise(filename)
    listed = _distribution_files().get(path)
    found = None if listed is None else _identity(listed)
    in_engine = any(path.startswith(d) for d in _engine_dirs())
    if found is not None:
        name, version = found
        origin = (
            Origin.FRAMEWORK
            if in_engine or _canonical(name) in FRAMEWORK_DISTRIBUTIONS
            else (Origin.LIBRARY)
        )
        return Owner(origin.value, name, version, filename)
    if in_engine:
        return Owner(Origin.FRAMEWORK.value, file=filename)
    if is_user_file(filename):
        return Owner(Origin.APP.value, file=filename)
    if any(path.startswith(d) for d in _stdlib_dirs()) and "site-packages" not in path:
        return NOBODY
    return Owner(
        Origin.LIBRARY.value,
        file=filename,
        reason="an installed file that no distribution's file list names",
    )


def module_file(name: str) -> str | None:
    """The file of the loaded module ``name``, read from its namespace, not its attributes."""
    module = sys.modules.get(name)
    if module is None:
        return None
    try:
        namespace = object.__getattribute__(module, "__dict__")
    except (AttributeError, TypeError):
        return None
    if type(namespace) is not dict:
        return None
    filename = namespace.get("__file__")
    return filename if type(filename) is str else None


def _module_name(tp: type) -> str:
    try:
        name = _TYPE_MODULE.__get__(tp, type)
    except Exception:
        return ""
    return name if type(name) is str else ""


@cache
def owner_of_module(name: str) -> Owner:
    if name in ("builtins", "") or name in sys.builtin_module_names:
        return NOBODY if name else Owner(Origin.UNKNOWN.value, reason="its type has no module")
    filename = module_file(name)
    if filename is None:
        top = name.partition(".")[0]
        if top in sys.stdlib_module_names:
            return NOBODY
        if name not in sys.modules:
            return Owner(Origin.UNKNOWN.value, reason=f"its module {name!r} is not loaded")
        return Owner(Origin.UNKNOWN.value, reason=f"its module {name!r} has no file")
    return owner_of_file(filename)


def owner_of_type(tp: type) -> Owner:
    """The owner of the code that defines the class ``tp``."""
    return owner_of_module(_module_name(tp))


def code_of(obj: Any) -> types.CodeType | None:
    tp = type(obj)
    if tp is types.FunctionType:
        return obj.__code__  # type: ignore[no-any-return]
    if tp is types.MethodType:
        return code_of(obj.__func__)
    if tp is types.FrameType:
        return obj.f_code  # type: ignore[no-any-return]
    if tp is types.CoroutineType:
        return obj.cr_code  # type: ignore[no-any-return]
    if tp is types.GeneratorType:
        return obj.gi_code  # type: ignore[no-any-return]
    if tp is types.AsyncGeneratorType:
        return obj.ag_code  # type: ignore[no-any-return]
    if issubclass(tp, asyncio.Task):
        try:
            coroutine = asyncio.Task.get_coro(obj)
        except Exception:  # a task in a state its C accessor refuses
            return None
        return code_of(coroutine)
    if tp is functools.partial:
        return code_of(obj.func)
    return None


def cached_function_code(obj: Any) -> types.CodeType | None:
    """The code of the function a ``functools.lru_cache`` / ``cache`` wrapper caches, read
    from the wrapper's namespace; None for any other object."""
    if type(obj) is not functools._lru_cache_wrapper:
        return None
    try:
        wrapped = object.__getattribute__(obj, "__wrapped__")
    except AttributeError:
        return None
    return code_of(wrapped)


def owner_of_object(obj: Any) -> Owner:
    """The owner of the code behind ``obj``: a module's or a class's own file, a function's
    or coroutine's (or task's) code, else the file that defines its type."""
    tp = type(obj)
    if issubclass(tp, types.ModuleType):
        try:
            namespace = object.__getattribute__(obj, "__dict__")
        except (AttributeError, TypeError):
            namespace = None
        if type(namespace) is dict:
            filename = namespace.get("__file__")
            if type(filename) is str:
                return owner_of_file(filename)
            name = namespace.get("__name__")
            if type(name) is str:
                return owner_of_module(name)
        return Owner(Origin.UNKNOWN.value, reason="a module without a name or file")
    if issubclass(tp, type):
        return owner_of_type(obj)
    code = code_of(obj)
    if code is not None:
        return owner_of_file(code.co_filename)
    return owner_of_type(tp)


def _code_names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    for constant in code.co_consts:
        if type(constant) is types.CodeType:
            yield from _code_names(constant)


def _class_mentions(klass: type, name: str) -> bool:
    """Whether the class's own body declares or uses the attribute ``name``: a slot, an
    annotation, a class attribute, or a method whose code reads or stores it."""
    try:
        namespace = _TYPE_DICT.__get__(klass, type)
    except Exception:
        return False
    if name in namespace:
        return True
    slots = namespace.get("__slots__", ())
    if (type(slots) is str and slots == name) or (type(slots) in (tuple, list) and name in slots):
        return True
    annotations = namespace.get("__annotations__")
    if type(annotations) is dict and name in annotations:
        return True
    for value in list(namespace.values()):
        for function in _functions(value):
            code = code_of(function)
            if code is not None and name in _code_names(code):
                return True
    return False


def _functions(value: Any) -> Iterator[Any]:
    tp = type(value)
    if tp is types.FunctionType:
        yield value
    elif tp in (staticmethod, classmethod):
        yield value.__func__
    elif tp is property:
        yield from (f for f in (value.fget, value.fset, value.fdel) if f is not None)


def attribute_owner(holder: Any, name: str) -> Owner:
    """Whose code put the attribute ``name`` on ``holder``: the most basic class in its MRO
    that declares or uses it (a framework base class's ``_contexts``, not the user's
    subclass), else the holder's own type. A dunder name is the machinery's plumbing
    (``__pydantic_private__``): nobody's, so the references around it decide."""
    tp = type(holder)
    if name.startswith("__") and name.endswith("__"):
        return NOBODY
    try:
        mro: Sequence[type] = _TYPE_MRO.__get__(tp, type)
    except Exception:
        return owner_of_type(tp)
    introducing: type | None = None
    for klass in mro:
        if klass is object:
            continue
        if _class_mentions(klass, name):
            introducing = klass
    if introducing is None:
        return owner_of_type(tp)
    found = owner_of_type(introducing)
    # A base class of the interpreter's (a dict subclass) cannot own a named attribute.
    return found if found.decisive else owner_of_type(tp)


def contextvar_holding(
    context: contextvars.Context, held: Any
) -> contextvars.ContextVar[Any] | None:
    for var, value in context.items():
        if value is held:
            return var
    return None


def contextvar_owner(var: contextvars.ContextVar[Any]) -> Owner:
    """The owner of the module that defines ``var``: of the modules whose globals hold it,
    the one whose source makes it (``NAME = ContextVar(...)``), not one that imports it."""
    found = contextvar_binding(var)
    if found is None:
        return Owner(
            Origin.UNKNOWN.value,
            reason=f"ContextVar {var.name!r} is not a module global of any loaded module",
        )
    return owner_of_module(found[0])


def contextvar_binding(var: contextvars.ContextVar[Any]) -> tuple[str, str] | None:
    """The module that defines ``var`` and the global name it has there."""
    holders: list[tuple[str, str]] = []
    for name, module in list(sys.modules.items()):
        try:
            namespace = object.__getattribute__(module, "__dict__")
        except (AttributeError, TypeError):
            continue
        if type(namespace) is not dict:
            continue
        bound = next((k for k, v in list(namespace.items()) if v is var), None)
        if type(bound) is str:
            holders.append((name, bound))
    for name, bound in holders:
        filename = module_file(name)
        if filename is not None and any(
            "ContextVar" in m.code for m in find_assignments(filename, bound)
        ):
            return name, bound
    return holders[0] if holders else None


def contextvar_name(context: Any, held: Any) -> str | None:
    if not issubclass(type(context), contextvars.Context):
        return None
    var = contextvar_holding(context, held)
    return var.name if var is not None else None


def reference_owner(holder: Any, label: str, held: Any) -> Owner:
    """Whose code made the reference ``holder`` → ``held`` that a path shows as ``label``."""
    tp = type(holder)
    if issubclass(tp, contextvars.Context):
        var = contextvar_holding(holder, held)
        return contextvar_owner(var) if var is not None else NOBODY
    if label.startswith("._context") and issubclass(tp, (asyncio.Handle, asyncio.Task)):
        # asyncio copies the contextvars into every task and callback: its reference.
        return NOBODY
    if label.startswith(".") and not issubclass(tp, (types.ModuleType, type)):
        name = re.match(r"\.(\w+)", label)
        if name is not None and code_of(holder) is None:
            return attribute_owner(holder, name.group(1))
    return owner_of_object(holder)


def timer_callback_owner(handle: Any) -> Owner | None:
    """The owner of the code a timer or callback will run (who scheduled it, in effect)."""
    if not issubclass(type(handle), asyncio.Handle) or _HANDLE_CALLBACK is None:
        return None
    try:
        callback = _HANDLE_CALLBACK.__get__(handle, type(handle))
    except Exception:
        return None
    return owner_of_object(callback)


def qualname(tp: type) -> str:
    try:
        name = _TYPE_QUALNAME.__get__(tp, type)
    except Exception:
        return "?"
    return name if type(name) is str else "?"


def first_user_frame(frames: Sequence[Frame]) -> Frame | None:
    return next((f for f in frames if f.user), None)


def decisive(owners: Sequence[Owner]) -> Owner | None:
    """The first owner on a path (from its root) that can act on it."""
    return next((o for o in owners if o.decisive), None)
