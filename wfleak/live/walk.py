"""Explain retained runs on the live heap, from a thread, within a pause budget.

Where forking is not available, the referrers of the retained objects are gathered level by
level (one ``gc.get_referrers`` scan per level, which holds the interpreter for one pass over
the heap), stopping at roots, at a depth limit, at an object limit, or as soon as a scan
takes longer than the pause budget. The objects gathered are indexed and explained by the
same code as ``wfleak run``; a walk that was cut says so.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field, replace
from typing import Any

from wfleak.analysis.explain import is_own
from wfleak.analysis.paths import RootFinder, RootKind
from wfleak.live.analysis import Suspects, build_index, explain
from wfleak.model import Finding

MAX_DEPTH = 16
MAX_OBJECTS = 50_000
PAUSE_BUDGET = 0.1
"""Seconds one scan may hold the interpreter before the walk stops."""
YIELD_S = 0.005
"""Sleep between scans, so the service's threads get the interpreter back."""


@dataclass(frozen=True)
class WalkResult:
    findings: list[Finding] = field(default_factory=list)
    cut: str | None = None
    """Why the walk stopped before it reached a root, if it did."""
    longest_pause_s: float = 0.0
    scans: int = 0


def explain_by_walk(suspects: Suspects, pause_budget: float | None = None) -> WalkResult:
    budget = PAUSE_BUDGET if pause_budget is None else pause_budget
    roots = RootFinder({id(w): RootKind.SHARED_WORKFLOW for w in suspects.shared_workflows})
    gathered: dict[int, Any] = {id(obj): obj for obj in suspects.leaked}
    frontier: list[Any] = list(suspects.leaked)
    own = {id(gathered), id(frontier), *suspects.own_ids()}
    cut: str | None = None
    longest = 0.0
    scans = 0
    for _depth in range(MAX_DEPTH):
        started = time.perf_counter()
        referrers = gc.get_referrers(*frontier)
        pause = time.perf_counter() - started
        scans += 1
        longest = max(longest, pause)
        own.add(id(referrers))
        following: list[Any] = []
        own.add(id(following))
        for obj in referrers:
            key = id(obj)
            if key in gathered or key in own or is_own(obj):
                continue
            gathered[key] = obj
            if roots.root_of(obj) is None:
                following.append(obj)
        del referrers
        frontier = following
        own.add(id(frontier))
        if not frontier:
            break
        if pause > budget:
            cut = f"a scan of the heap took {pause * 1000:.0f} ms, over the pause budget"
            break
        if len(gathered) > MAX_OBJECTS:
            cut = f"more than {MAX_OBJECTS} objects refer to the retained runs"
            break
        time.sleep(YIELD_S)
    else:
        cut = f"no root within {MAX_DEPTH} references"
    frontier = []
    objects = list(gathered.values())
    gathered.clear()
    index = build_index(objects, suspects)
    try:
        findings = explain(index, suspects)
    finally:
        index.release()
        objects.clear()
    if cut is not None:
        note = (
            f"The walk of the live heap stopped before it reached a root ({cut}), so the path "
            "starts where the walk stopped."
        )
        findings = [replace(f, explanation=f"{f.explanation} {note}".strip()) for f in findings]
    return WalkResult(findings, cut, longest, scans)
