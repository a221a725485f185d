"""Weak references to the framework objects the runs create, counted by type."""

from __future__ import annotations

import sys
import weakref
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from wfleak.framework import short_type_name

_ALIGNMENT = 16
"""pymalloc hands out blocks in multiples of 16 bytes."""


class _Ref(weakref.ref):  # type: ignore[type-arg]
    # Slots keep the bookkeeping per tracked object to one small, fixed-size record.
    __slots__ = ("key", "type_name")
    key: int
    type_name: str


class ObjectTracker:
    """Remembers, by weak reference only, the objects of interest it adopts.

    Dead objects drop out through the weakref callback, so ``alive()`` is a cheap count and
    the tracker never extends any object's life.
    """

    def __init__(self, accepts: Callable[[type], bool]) -> None:
        self._accepts = accepts
        self._refs: dict[int, _Ref] = {}
        self._forget = self._make_forget()
        self.untrackable = 0

    def _make_forget(self) -> Callable[[_Ref], None]:
        refs = self._refs

        def forget(ref: _Ref) -> None:
            if refs.get(ref.key) is ref:
                del refs[ref.key]

        return forget

    def adopt(self, objects: Iterable[Any]) -> int:
        """Start tracking the objects of interest not yet tracked; returns how many."""
        adopted = 0
        accepts, refs, forget = self._accepts, self._refs, self._forget
        for obj in objects:
            tp = type(obj)
            if not accepts(tp):
                continue
            key = id(obj)
            known = refs.get(key)
            if known is not None and known() is obj:
                continue
            try:
                ref = _Ref(obj, forget)
            except TypeError:
                self.untrackable += 1
                continue
            ref.key = key
            ref.type_name = short_type_name(tp)
            refs[key] = ref
            adopted += 1
        return adopted

    @staticmethod
    def ref_bytes() -> int:
        """What one tracking record costs the allocator: freed with the object it watched, so
        a byte count of what the runs' objects freed leaves it out."""
        record = _Ref(ObjectTracker)
        return -(-sys.getsizeof(record) // _ALIGNMENT) * _ALIGNMENT

    def alive(self) -> int:
        return len(self._refs)

    def alive_by_type(self) -> dict[str, int]:
        return dict(Counter(ref.type_name for ref in self._refs.values()))

    def live_objects(self) -> list[Any]:
        """Strong references for the caller's analysis; drop them as soon as it is done."""
        return [obj for ref in list(self._refs.values()) if (obj := ref()) is not None]

    def is_own(self, obj: Any) -> bool:
        # type(), not isinstance(): isinstance reads obj.__class__, which a lazy proxy
        # (werkzeug's LocalProxy, Django's SimpleLazyObject) forwards to code that may raise.
        return obj is self._refs or type(obj) is _Ref
