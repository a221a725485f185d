"""Find the line in the user's code that adds to a leaking container.

A retention path says *what* holds the memory (``samples.leaky_global.HISTORY[41]``); the fix
is at the line that puts things there (``HISTORY.append(ctx)``). The module's syntax tree is
searched for calls that grow the container and for item assignments to it.
"""

from __future__ import annotations

import ast
import linecache
from dataclasses import dataclass

from wfleak.probes.memory import display_path

GROWING_METHODS = frozenset(
    {"append", "appendleft", "extend", "add", "insert", "update", "setdefault", "put_nowait"}
)


@dataclass(frozen=True)
class Mutation:
    filename: str
    lineno: int
    code: str

    @property
    def where(self) -> str:
        return f"{display_path(self.filename)}:{self.lineno}"


def _target_name(node: ast.expr) -> str | None:
    """``HISTORY`` for ``HISTORY``, ``seen`` for ``self.seen`` or ``Cls.seen``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def find_mutations(filename: str, name: str) -> list[Mutation]:
    """Lines in ``filename`` that grow the container called ``name``."""
    try:
        with open(filename, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), filename)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return []
    linecache.checkcache(filename)
    found: list[Mutation] = []
    for node in ast.walk(tree):
        if (
            (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in GROWING_METHODS
                and _target_name(node.func.value) == name
            )
            or (
                isinstance(node, (ast.Assign, ast.AugAssign))
                and any(
                    isinstance(t, ast.Subscript) and _target_name(t.value) == name
                    for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                )
            )
            or (
                isinstance(node, ast.AugAssign)
                and isinstance(node.op, ast.Add)
                and _target_name(node.target) == name
            )
        ):
            code = linecache.getline(filename, node.lineno).strip()
            found.append(Mutation(filename, node.lineno, code))
    found.sort(key=lambda m: m.lineno)
    return found
