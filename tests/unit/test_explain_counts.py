"""``explain_leaks`` counts the objects each retention path holds, and ranks by them."""

from __future__ import annotations

import types
from typing import Any

from wfleak.analysis.explain import explain_leaks
from wfleak.analysis.heap import HeapIndex
from wfleak.analysis.paths import RootFinder


class Leaked:
    def __init__(self, size: int) -> None:
        self.payload = bytearray(size)


def never(_: Any) -> bool:
    return False


def test_each_path_counts_only_what_it_holds_and_the_bigger_leak_ranks_first() -> None:
    """50 leaked objects of 4 KB in one list, one of 20 KB in another: per type, both
    findings would say 51, and the lone big one (51 of 20 KB) would outrank the real leak."""
    history = [Leaked(4000) for _ in range(50)]
    last = [Leaked(20_000)]
    module = types.ModuleType("fake_service")
    module.HISTORY = history  # type: ignore[attr-defined]
    module.LAST = last  # type: ignore[attr-defined]
    leaked = [last[0], *history]
    objects: list[Any] = [module, module.__dict__, history, last, *leaked]
    objects += [obj.__dict__ for obj in leaked] + [obj.payload for obj in leaked]
    index = HeapIndex(objects, never)
    try:
        findings = explain_leaks(index, leaked, {"Leaked": 51}, RootFinder({}))
    finally:
        index.release()
    assert [(f.count, f.summary.split(" retained")[0]) for f in findings] == [
        (50, "50 × Leaked"),
        (1, "1 × Leaked"),
    ]
    assert "fake_service.HISTORY" in findings[0].summary
    assert "fake_service.LAST" in findings[1].summary


class Session:
    """What a request keeps in the app's list, holding its run's leaked object."""

    def __init__(self, run: Leaked) -> None:
        self.buffer = bytearray(8000)
        self.run = run


def test_the_size_is_what_the_holder_keeps_for_each_run_not_only_the_leaked_object() -> None:
    """Each entry of SESSIONS holds one run's Leaked (1 KB) and a buffer of its own (8 KB):
    9 KB per run stay, and the size says so, with what holds the leaked object."""
    runs = [Leaked(1000) for _ in range(10)]
    sessions = [Session(run) for run in runs]
    module = types.ModuleType("fake_app")
    module.SESSIONS = sessions  # type: ignore[attr-defined]
    objects: list[Any] = [module, module.__dict__, sessions, *sessions, *runs]
    objects += [s.__dict__ for s in sessions] + [r.__dict__ for r in runs]
    index = HeapIndex(objects, never)
    try:
        (finding,) = explain_leaks(index, runs, {"Leaked": 10}, RootFinder({}))
    finally:
        index.release()
    assert 9000 <= finding.retained_bytes < 10_000, finding.retained_bytes
    assert "each Leaked with the Session that holds it" in finding.summary
    assert "fake_app.SESSIONS" in finding.summary
