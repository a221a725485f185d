"""Reference cycles among the objects only the cyclic GC frees.

Tarjan's strongly connected components (iterative, so deep graphs cannot overflow the stack)
over the garbage of one run, then the shortest ring through the object that matters most (a
Context, a workflow, a handler), found by breadth-first search inside its component.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

TICK_EVERY = 4096
"""Nodes visited between two calls of ``tick`` (which may end the search by raising)."""


def strongly_connected(
    count: int,
    successors: Callable[[int], Sequence[int]],
    tick: Callable[[], None] | None = None,
) -> list[list[int]]:
    """Components with more than one node, or a node that refers to itself; ``tick`` is
    called every ``TICK_EVERY`` nodes, for a caller with a budget."""
    index_of = [-1] * count
    low = [0] * count
    on_stack = [False] * count
    stack: list[int] = []
    components: list[list[int]] = []
    counter = 0
    for start in range(count):
        if index_of[start] != -1:
            continue
        work: list[tuple[int, int]] = [(start, 0)]
        while work:
            node, child_pos = work.pop()
            if child_pos == 0:
                index_of[node] = low[node] = counter
                counter += 1
                if tick is not None and counter % TICK_EVERY == 0:
                    tick()
                stack.append(node)
                on_stack[node] = True
            children = successors(node)
            recursed = False
            for pos in range(child_pos, len(children)):
                child = children[pos]
                if index_of[child] == -1:
                    work.append((node, pos + 1))
                    work.append((child, 0))
                    recursed = True
                    break
                if on_stack[child]:
                    low[node] = min(low[node], index_of[child])
            if recursed:
                continue
            if low[node] == index_of[node]:
                component: list[int] = []
                while True:
                    member = stack.pop()
                    on_stack[member] = False
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in successors(node):
                    components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def shortest_cycle(
    start: int, successors: Callable[[int], Sequence[int]], allowed: set[int]
) -> list[int]:
    """Nodes of the shortest ring from ``start`` back to itself, staying inside ``allowed``."""
    came_from: dict[int, int] = {}
    queue: deque[int] = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        for child in successors(node):
            if child == start:
                ring = [node]
                while ring[-1] != start:
                    ring.append(came_from[ring[-1]])
                ring.reverse()
                return ring
            if child in allowed and child not in seen:
                seen.add(child)
                came_from[child] = node
                queue.append(child)
    return []
