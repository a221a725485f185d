from __future__ import annotations

import random
import sys
from collections.abc import Callable, Sequence

from wfleak.analysis.cycles import shortest_cycle, strongly_connected


def successors_of(graph: list[list[int]]) -> Callable[[int], Sequence[int]]:
    return lambda node: graph[node]


def components(graph: list[list[int]]) -> list[list[int]]:
    found = strongly_connected(len(graph), successors_of(graph))
    return sorted(sorted(component) for component in found)


def test_dag_has_no_components() -> None:
    graph = [[1, 2], [3], [3], [4], []]
    assert components(graph) == []


def test_three_ring_is_one_component() -> None:
    graph = [[1], [2], [0]]
    assert components(graph) == [[0, 1, 2]]


def test_ring_with_tail_and_branch_keeps_only_the_ring() -> None:
    # 0 -> 1 -> 2 -> 3 -> 1, and 3 -> 4 (out of the ring)
    graph = [[1], [2], [3], [1, 4], []]
    assert components(graph) == [[1, 2, 3]]


def test_self_loop_counts_and_lone_node_does_not() -> None:
    graph = [[0], [2], []]
    assert components(graph) == [[0]]


def test_two_separate_rings_are_two_components() -> None:
    # Ring A: 0 -> 1 -> 0; ring B: 3 -> 4 -> 5 -> 3; 2 links A to B one way only.
    graph = [[1], [0, 2], [3], [4], [5], [3]]
    assert components(graph) == [[0, 1], [3, 4, 5]]


def test_rings_sharing_a_node_are_one_component() -> None:
    graph = [[1, 3], [2], [0], [4], [0]]
    assert components(graph) == [[0, 1, 2, 3, 4]]


def test_deep_chain_does_not_hit_the_recursion_limit() -> None:
    length = 100_000
    assert length > sys.getrecursionlimit()
    graph = [[i + 1] for i in range(length - 1)] + [[length - 3]]
    # The chain runs 0 -> 1 -> ... -> 99_999 and the last node points back two steps.
    assert components(graph) == [[length - 3, length - 2, length - 1]]


def test_shortest_cycle_prefers_the_short_ring() -> None:
    # Long ring 0 -> 3 -> 4 -> 5 -> 6 -> 0 is listed first; short ring 0 -> 1 -> 2 -> 0.
    graph = [[3, 1], [2], [0], [4], [5], [6], [0]]
    assert shortest_cycle(0, successors_of(graph), allowed=set(range(7))) == [0, 1, 2]


def test_shortest_cycle_from_a_node_inside_the_ring() -> None:
    graph = [[1], [2], [0]]
    assert shortest_cycle(1, successors_of(graph), allowed={0, 1, 2}) == [1, 2, 0]


def test_shortest_cycle_self_loop() -> None:
    graph = [[1, 0], [0]]
    assert shortest_cycle(0, successors_of(graph), allowed={0, 1}) == [0]


def test_shortest_cycle_stays_inside_allowed() -> None:
    graph = [[3, 1], [2], [0], [4], [5], [6], [0]]
    # Node 2 is not allowed, so only the long ring remains.
    assert shortest_cycle(0, successors_of(graph), allowed={0, 1, 3, 4, 5, 6}) == [0, 3, 4, 5, 6]
    # Nor is node 5: no ring at all.
    assert shortest_cycle(0, successors_of(graph), allowed={0, 1, 3, 4, 6}) == []


def test_shortest_cycle_start_on_no_ring() -> None:
    graph = [[1], [2], [1]]  # 1 <-> 2 is a ring, but 0 is not on it
    assert shortest_cycle(0, successors_of(graph), allowed={0, 1, 2}) == []


def _reachable(graph: list[list[int]], start: int) -> set[int]:
    seen: set[int] = set()
    stack = list(graph[start])
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(graph[node])
    return seen


def _components_by_reachability(graph: list[list[int]]) -> list[list[int]]:
    reach = [_reachable(graph, node) for node in range(len(graph))]
    found: set[tuple[int, ...]] = set()
    for node in range(len(graph)):
        if node in reach[node]:  # on some ring (or a self-loop)
            mutual = (m for m in range(len(graph)) if node in reach[m] and m in reach[node])
            found.add(tuple(sorted(mutual)))
    return sorted(list(component) for component in found)


def test_components_agree_with_mutual_reachability_on_random_graphs() -> None:
    generator = random.Random(1234)
    for _ in range(300):
        size = generator.randint(1, 12)
        graph = [
            [generator.randrange(size) for _ in range(generator.randint(0, 3))] for _ in range(size)
        ]
        assert components(graph) == _components_by_reachability(graph), graph
