"""The ring search over one run's cycle garbage is bounded in time and size, says where it
stopped, and keeps beating while it works."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from wfleak.analysis.explain import CycleInspector


class Node:
    # Slots: on Python 3.13 an instance refers to its attribute dict only once one is made, so
    # a ring through __dict__ would differ in size between versions.
    __slots__ = ("next",)

    def __init__(self) -> None:
        self.next: Any = None


def ring(size: int) -> list[Any]:
    """A ring of ``size`` nodes, as the collector hands them over."""
    nodes = [Node() for _ in range(size)]
    for node, following in zip(nodes, nodes[1:] + nodes[:1], strict=True):
        node.next = following
    return nodes


def ticking(step: float) -> Iterator[float]:
    now = 0.0
    while True:
        yield now
        now += step


def never_framework(_: type) -> bool:
    return False


def test_a_small_ring_is_found() -> None:
    inspector = CycleInspector(never_framework)
    inspector.run = 2
    inspector(ring(50), {})
    assert inspector.cut is None
    assert inspector.sketch is not None
    assert inspector.sketch.component_size == 50


def test_a_search_past_its_budget_stops_says_so_and_beat_meanwhile() -> None:
    beats: list[int] = []
    clock = ticking(0.25)
    inspector = CycleInspector(
        never_framework, beat=lambda: beats.append(1), budget_s=5.0, clock=lambda: next(clock)
    )
    inspector.run = 2
    inspector(ring(100_000), {})
    assert inspector.sketch is None
    assert inspector.cut == (
        "the cycle inspection of run 2 stopped at its budget of 5 s (100 000 garbage objects), "
        "so the CYCLE finding has no ring"
    )
    assert len(beats) >= 4
    # Once cut, later runs are not searched again.
    inspector.run = 3
    inspector(ring(10), {"Context": 1})
    assert inspector.sketch is None


def test_garbage_past_the_size_limit_is_not_searched() -> None:
    inspector = CycleInspector(never_framework, max_objects=1000)
    inspector.run = 2
    inspector(ring(2000), {})
    assert inspector.sketch is None
    assert inspector.cut == (
        "the cycle inspection of run 2 was skipped: 2 000 garbage objects, more than its limit "
        "of 1 000, so the CYCLE finding has no ring"
    )
