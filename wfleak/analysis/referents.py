"""``gc.get_referents`` without the interpreter bugs that make it unsafe to call on a heap.

CPython 3.12.0 to 3.12.5 (and 3.13's pre-releases) let the ``_asyncio`` module's traversal
visit its free list of future iterators: ``gc.get_referents(_asyncio)`` hands out references to
freed objects, dropping them frees them a second time, and the free list becomes a loop that the
next traversal follows forever, growing its list until the machine runs out of memory
(python/cpython#122695, fixed in 3.12.6 and 3.13.0). A whole-heap walk asks every module for
its referents, so on those releases the ``_asyncio`` module is read through its ``__dict__``
only: its C-level state (a few type objects and caches) is left out of the walk.
"""

from __future__ import annotations

import gc
import sys
import types
from typing import Any


def _free_list_traversal_bug(version: Any = sys.version_info) -> bool:
    if version[:2] == (3, 12):
        return bool(version[:3] < (3, 12, 6))
    return bool(version[:3] == (3, 13, 0) and version[3] != "final")


FREE_LIST_TRAVERSAL_BUG = _free_list_traversal_bug()


def is_unsafe(obj: Any) -> bool:
    """Whether ``gc.get_referents(obj)`` corrupts the heap on this interpreter."""
    return (
        FREE_LIST_TRAVERSAL_BUG
        and type(obj) is types.ModuleType
        and vars(obj).get("__name__") == "_asyncio"
    )


def stand_in(module: types.ModuleType) -> tuple[dict[str, Any]]:
    """An object whose referents are the module's, minus its C-level state: its namespace."""
    return (vars(module),)


def referents(obj: Any) -> list[Any]:
    """``gc.get_referents(obj)``, safe on every supported interpreter."""
    return [vars(obj)] if is_unsafe(obj) else gc.get_referents(obj)
