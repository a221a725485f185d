"""The web layer of a retention path, in the words of the service's developer.

A path such as ``samples.app.app → FastAPI.state → State._state['handlers'] → …`` is, to the
person who wrote the service, ``app.state.handlers``; a task on the loop is a background task
a request started; a function kept by the router is a route function's closure; an
``lru_cache`` behind ``Depends`` is a dependency's cache; the workflow server's store is the
workflow server's store. This module names those holders, says whose code each holder is
(the app, the web framework as a library, the workflow framework; decided by
:mod:`wfleak.analysis.owner` from where the code lives) and finds the user's line that fills
them.

Web-framework classes are recognised by identity with the classes of the loaded modules
(nothing is imported here: a workflow target loads no web framework), and only their own
instance dicts and exact built-in types are read, so no code of the target's runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import re
import sys
import types
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from wfleak.analysis import owner
from wfleak.analysis.edges import Hop
from wfleak.analysis.paths import Root, RootKind
from wfleak.analysis.source import Mutation, find_mutations
from wfleak.model import Frame, Origin
from wfleak.probes.memory import display_path, is_user_file

_SERVED: weakref.WeakSet[Any] = weakref.WeakSet()
"""The apps the service driver serves (a factory's app is no module global to find)."""
_KEY = re.compile(r"\['(\w+)'\]")
_CLOSURE = re.compile(r"closure '(\w+)'")
_ATTRIBUTE = re.compile(r"\.(\w+)")


@dataclass(frozen=True)
class WebHolder:
    """What keeps the leaked objects, as the service's developer names it."""

    name: str
    """``app.state.handlers``, ``background task `watch```, …"""
    detail: str
    """Whose code the holder is and why it lives on."""
    line: Mutation | None = None
    """The user's line that fills the holder, when it could be found."""
    site: Frame | None = None
    """The user's line the fix changes (``line`` as a frame, or where a task is created)."""


def serving(app: Any) -> None:
    """Remember (weakly) an app the driver serves, so its routes can be named."""
    with contextlib.suppress(TypeError):
        _SERVED.add(app)


def _class(module: str, name: str) -> type | None:
    """A class of a loaded module, read from the module's namespace."""
    loaded = sys.modules.get(module)
    if loaded is None:
        return None
    try:
        namespace = object.__getattribute__(loaded, "__dict__")
    except (AttributeError, TypeError):
        return None
    found = namespace.get(name) if type(namespace) is dict else None
    return found if isinstance(found, type) else None


def _is(obj: Any, module: str, name: str) -> bool:
    cls = _class(module, name)
    return cls is not None and issubclass(type(obj), cls)


def _fields(obj: Any) -> dict[str, Any]:
    """An object's own instance dict, without calling anything of its class."""
    try:
        namespace = object.__getattribute__(obj, "__dict__")
    except (AttributeError, TypeError):
        return {}
    return namespace if type(namespace) is dict else {}


def _field(obj: Any, name: str) -> Any:
    """One field of an object: from its instance dict, or its class's ``__slots__`` member
    (a slotted dataclass); never a property or ``__getattr__`` of the class."""
    fields = _fields(obj)
    if name in fields:
        return fields[name]
    member = inspect.getattr_static(type(obj), name, None)
    if isinstance(member, types.MemberDescriptorType):
        try:
            return member.__get__(obj, type(obj))
        except AttributeError:
            return None
    return None


def _library(obj: Any) -> str:
    """``starlette 1.10.0's `State```: the class and the distribution its code is in."""
    found = owner.owner_of_type(type(obj))
    name = owner.qualname(type(obj))
    if found.origin in (Origin.LIBRARY.value, Origin.FRAMEWORK.value) and found.package:
        return f"{found.package}'s `{name}`"
    return f"`{name}`"


def _user_files(root: Root, hops: Sequence[Hop]) -> Iterator[str]:
    """The user's files to search for the line that fills a holder: the root module's first,
    then every other loaded module of the project."""
    seen: set[str] = set()
    if root.kind is RootKind.MODULE and hops:
        found = owner.owner_of_object(hops[0].holder).file
        if found and is_user_file(found):
            seen.add(found)
            yield found
    for name in list(sys.modules):
        filename = owner.module_file(name)
        if filename is not None and filename not in seen and is_user_file(filename):
            seen.add(filename)
            yield filename


def _filling_line(root: Root, hops: Sequence[Hop], name: str) -> Mutation | None:
    for filename in _user_files(root, hops):
        found = find_mutations(filename, name)
        if found:
            return found[0]
    return None


def _site(mutation: Mutation | None) -> Frame | None:
    if mutation is None:
        return None
    return Frame(display_path(mutation.filename), mutation.lineno, user=True)


def _app_variable(root: Root, hops: Sequence[Hop], at: int) -> str:
    """The user's name for the application whose state is at hop ``at``: the module global
    the path starts at when it is the app, else ``app``."""
    if root.kind is RootKind.MODULE and at >= 1:
        first = _ATTRIBUTE.fullmatch(hops[0].label)
        if first is not None and at == 1:
            return first.group(1)
    return "app"


def _app_state(root: Root, hops: Sequence[Hop]) -> WebHolder | None:
    for k, hop in enumerate(hops):
        if hop.label != "._state" or not _is(hop.holder, "starlette.datastructures", "State"):
            continue
        key = _KEY.fullmatch(hops[k + 1].label) if k + 1 < len(hops) else None
        if key is None:
            continue
        entry = key.group(1)
        name = f"{_app_variable(root, hops, k)}.state.{entry}"
        line = _filling_line(root, hops, entry)
        filled = f", filled at {line.where} (`{line.code}`)" if line is not None else ""
        return WebHolder(
            name=name,
            detail=(
                f"the application's state ({_library(hop.holder)}) lives as long as the app; "
                f"the app's code keeps something of every request in it{filled}"
            ),
            line=line,
            site=_site(line),
        )
    return None


def _route_text(route: Any) -> str:
    fields = _fields(route)
    path = fields.get("path")
    methods = fields.get("methods")
    shown = sorted(m for m in methods if type(m) is str) if isinstance(methods, set | list) else []
    where = " ".join([",".join(shown), path] if shown else [path]) if type(path) is str else ""
    return f" ({where})" if where else ""


def _project_apps(hops: Sequence[Hop]) -> list[Any]:
    """The project's ASGI apps: those the driver serves, and module globals of its own
    modules."""
    app_class = _class("starlette.applications", "Starlette")
    if app_class is None:
        return []
    found = [app for app in list(_SERVED) if issubclass(type(app), app_class)]
    for name in list(sys.modules):
        filename = owner.module_file(name)
        if filename is None or not is_user_file(filename):
            continue
        for value in list(_fields(sys.modules.get(name)).values()):
            if issubclass(type(value), app_class) and all(value is not f for f in found):
                found.append(value)
    return found


def _routes(hops: Sequence[Hop]) -> Iterator[Any]:
    for app in _project_apps(hops):
        routes = _field(_field(app, "router"), "routes")
        yield from routes if type(routes) is list else []


def _route_of(function: Any, hops: Sequence[Hop]) -> Any:
    """The route whose endpoint is ``function``: on the path, else among the project's apps'
    routes (a web framework's cache of the function can be the shorter path to it)."""
    for hop in hops:
        on_path = _is(hop.holder, "starlette.routing", "BaseRoute")
        if on_path and _field(hop.holder, "endpoint") is function:
            return hop.holder
    for route in _routes(hops):
        if _field(route, "endpoint") is function:
            return route
    return None


def _route_closure(root: Root, hops: Sequence[Hop]) -> WebHolder | None:
    for hop in hops:
        closure = _CLOSURE.fullmatch(hop.label)
        if closure is None or type(hop.holder) is not types.FunctionType:
            continue
        route = _route_of(hop.holder, hops)
        if route is None:
            continue
        function = owner.code_of(hop.holder)
        qualname = function.co_qualname if function is not None else "?"
        variable = closure.group(1)
        line = _filling_line(root, hops, variable)
        filled = f", filled at {line.where} (`{line.code}`)" if line is not None else ""
        return WebHolder(
            name=f"the closure of route function `{qualname}`{_route_text(route)}",
            detail=(
                f"{_library(route)} keeps the route function for the life of the app, and "
                f"with it `{variable}`, which the app's code fills per request{filled}"
            ),
            line=line,
            site=_site(line),
        )
    return None


def _dependencies(call_ids: set[int], dependant: Any, depth: int = 0) -> None:
    if depth > 20:
        return
    call = _field(dependant, "call")
    if call is not None:
        call_ids.add(id(call))
    children = _field(dependant, "dependencies")
    if type(children) is list:
        for child in children:
            _dependencies(call_ids, child, depth + 1)


def _dependency_calls() -> set[int]:
    """The callables FastAPI routes of the project's apps depend on (``Depends(...)``)."""
    calls: set[int] = set()
    for route in _routes(()):
        dependant = _field(route, "dependant")
        if dependant is not None:
            _dependencies(calls, dependant)
    return calls


def _cache(hops: Sequence[Hop], final: Any) -> WebHolder | None:
    for obj in [*(hop.holder for hop in hops), final]:
        code = owner.cached_function_code(obj)
        if code is None or not is_user_file(code.co_filename):
            # A library's own cache (a web framework's cache of the route functions) is no
            # holder the service's developer made.
            continue
        where = f"{display_path(code.co_filename)}:{code.co_firstlineno}"
        dependency = id(obj) in _dependency_calls()
        kind = "dependency" if dependency else "cached function"
        return WebHolder(
            name=f"the cache of {kind} `{code.co_qualname}`",
            detail=(
                f"`{code.co_qualname}` ({where}) is cached without a bound"
                + (", and a route depends on it, so every request adds to it" if dependency else "")
            ),
            site=Frame(display_path(code.co_filename), code.co_firstlineno, user=True),
        )
    return None


def _task_text(task: Any) -> tuple[str, str]:
    """The task's coroutine name and where it is suspended."""
    coro = asyncio.Task.get_coro(task)
    code = owner.code_of(coro)
    name = code.co_qualname if code is not None else owner.qualname(type(coro))
    frame = coro.cr_frame if type(coro) is types.CoroutineType else None
    where = f"{display_path(frame.f_code.co_filename)}:{frame.f_lineno}" if frame else ""
    return name, where


def _background_task(
    hops: Sequence[Hop], final: Any, allocation: dict[int, list[Frame]]
) -> WebHolder | None:
    tasks = [hop.holder for hop in hops if issubclass(type(hop.holder), asyncio.Task)]
    if issubclass(type(final), asyncio.Task):
        tasks.append(final)
    for task in tasks:
        if asyncio.Task.done(task):
            continue
        found = owner.owner_of_object(task)
        if found.origin != Origin.APP.value:
            continue
        name, where = _task_text(task)
        created = owner.first_user_frame(allocation.get(id(task), []))
        made = f", created at {created.filename}:{created.lineno}" if created is not None else ""
        return WebHolder(
            name=f"{BACKGROUND_TASK} `{name}`" + (f" (at {where})" if where else ""),
            detail=(
                f"a task the app's code started{made}, still running after the run (the "
                "request) that started it ended: the event loop keeps it, and it keeps what "
                "its coroutine refers to"
            ),
            site=created,
        )
    return None


def _workflow_store(hops: Sequence[Hop]) -> WebHolder | None:
    for hop in hops:
        if not _is(hop.holder, "llama_agents.server", "MemoryWorkflowStore"):
            continue
        fields = _fields(hop.holder)
        bound = fields.get("max_completed", fields.get("_max_completed"))
        unbounded = "" if type(bound) is int else " with no bound on completed runs"
        return WebHolder(
            name="the workflow server's in-memory store",
            detail=(
                f"{_library(hop.holder)}{unbounded} keeps the runs it served as long as the "
                "server lives"
            ),
        )
    return None


BACKGROUND_TASK = "background task"


def one_holder(held_by: str) -> bool:
    """Whether every path through this holder is the same finding: a container or store is
    one holder however it is reached; tasks of the same coroutine may be kept by others too
    (a global set of them), each a holder to report."""
    return bool(held_by) and not held_by.startswith(BACKGROUND_TASK)


def web_holder(
    root: Root,
    hops: Sequence[Hop],
    final: Any,
    allocation: dict[int, list[Frame]] | None = None,
) -> WebHolder | None:
    """The web-layer holder on a retention path, nearest to the root, or None."""
    sites = allocation or {}
    for found in (
        _workflow_store(hops),
        _app_state(root, hops),
        _route_closure(root, hops),
        _cache(hops, final),
        _background_task(hops, final, sites),
    ):
        if found is not None:
            return found
    return None
