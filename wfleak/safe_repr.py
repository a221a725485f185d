"""Describe user objects without trusting them: reprs that never raise and never run long."""

from __future__ import annotations

import reprlib
from typing import Any

MAX_LABEL = 60

_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 3
_repr.maxlevel = 2


def truncate(text: str, limit: int = MAX_LABEL) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def safe_repr(obj: Any, limit: int = MAX_LABEL) -> str:
    """``repr`` for labels: bounded, single line, and an exception becomes a placeholder."""
    try:
        text = _repr.repr(obj)
    except Exception:  # a user's __repr__ may raise anything; a label must not
        return f"<{type(obj).__name__} (repr failed)>"
    if not isinstance(text, str):
        return f"<{type(obj).__name__}>"
    return truncate(text, limit)


def callable_name(fn: Any) -> str:
    """``module.qualname`` of a callback (unwrapping bound methods and partials)."""
    inner = getattr(fn, "__func__", None) or getattr(fn, "func", None) or fn
    qualname = getattr(inner, "__qualname__", None)
    if not isinstance(qualname, str):
        return f"<{type(fn).__name__}>"
    module = getattr(inner, "__module__", None)
    return f"{module}.{qualname}" if isinstance(module, str) else qualname
