"""The explanation of retained runs: the heap index and explanation code of ``wfleak run``.

Both ways of explaining (a forked copy of the process, or a bounded walk in a thread) end
here: they hand over the objects of retained runs and an index of (part of) the heap, and
get the same findings ``wfleak run`` would make of the same retention.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from wfleak.analysis.edges import type_label
from wfleak.analysis.explain import explain_leaks, is_own, may_be_own
from wfleak.analysis.heap import HeapIndex
from wfleak.analysis.paths import RootFinder, RootKind
from wfleak.framework import package_version
from wfleak.model import Finding
from wfleak.serde import from_jsonable, to_jsonable

__all__ = ["Suspects", "explain", "findings_from_json", "findings_to_json", "warm_up"]


@dataclass
class Suspects:
    """What one explanation looks at. Holds strong references: the explaining code drops it
    as soon as it has what it needs."""

    label: str
    leaked: list[Any]
    """Objects of a few retained runs (their handler, Context, and workflow if made per run)."""
    counts: dict[str, int]
    """How many objects of each type all retained runs of this workflow keep alive."""
    shared_workflows: list[Any]
    """Long-lived workflow instances: roots, so a path through one reads as WFL002."""

    def own_ids(self) -> frozenset[int]:
        return frozenset((id(self), id(self.leaked), id(self.shared_workflows), id(self.counts)))


def count_types(objects: Sequence[Any]) -> dict[str, int]:
    return dict(Counter(type_label(obj) for obj in objects))


def explain(index: HeapIndex, suspects: Suspects) -> list[Finding]:
    roots = RootFinder({id(w): RootKind.SHARED_WORKFLOW for w in suspects.shared_workflows})
    return explain_leaks(index, suspects.leaked, suspects.counts, roots)


def build_index(objects: list[Any] | None, suspects: Suspects) -> HeapIndex:
    """An index of the whole heap (``objects`` None) or of the objects given."""
    exclude_ids = suspects.own_ids()
    if objects is None:
        return HeapIndex.build(is_own, screen=may_be_own, exclude_ids=exclude_ids)
    return HeapIndex(objects, is_own, screen=may_be_own, exclude_ids=exclude_ids)


def findings_to_json(findings: list[Finding]) -> str:
    return json.dumps([to_jsonable(f) for f in findings])


def findings_from_json(text: str) -> list[Finding]:
    return [from_jsonable(Finding, item) for item in json.loads(text)]


class _Sample:
    """A stand-in retained object for the warm-up, held by a module global."""


_WARM_UP_HOLDER: list[_Sample] = []


def warm_up() -> None:
    """Run the explanation once on a tiny index, so every module it needs is imported and
    every lazy cache filled before a fork: the forked child must import nothing."""
    import sys

    sample = _Sample()
    _WARM_UP_HOLDER.append(sample)
    try:
        module = sys.modules[__name__]
        suspects = Suspects("warm-up", [sample], {"_Sample": 1}, [])
        index = build_index([module, vars(module), _WARM_UP_HOLDER, sample], suspects)
        findings_from_json(findings_to_json(explain(index, suspects)))
        index.release()
        package_version("llama-index-core")
    finally:
        _WARM_UP_HOLDER.clear()
