"""Recognise an ASGI application from its type alone: nothing of the user's is called.

An ASGI 3 application is an async callable taking ``(scope, receive, send)``: an ``async def``
function with those three parameters, or an object whose class defines such an
``async def __call__`` (Starlette, FastAPI, their middleware, the workflow server's app).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

_MISSING = object()
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _takes_three(function: Callable[..., Any], bound: bool) -> bool:
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return False
    if bound:
        parameters = parameters[1:]
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return True
    required = [p for p in parameters if p.kind in _POSITIONAL]
    return len(required) >= 3 and all(p.default is inspect.Parameter.empty for p in required[:3])


def is_asgi_app(obj: object) -> bool:
    if isinstance(obj, type):
        return False
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        return inspect.iscoroutinefunction(obj) and _takes_three(obj, bound=False)
    call = inspect.getattr_static(type(obj), "__call__", _MISSING)
    if isinstance(call, staticmethod):
        return inspect.iscoroutinefunction(call.__func__) and _takes_three(call.__func__, False)
    if not inspect.isfunction(call):
        return False
    return inspect.iscoroutinefunction(call) and _takes_three(call, bound=True)


def app_name(obj: object) -> str:
    return type(obj).__name__ if not inspect.isfunction(obj) else "ASGI function"
