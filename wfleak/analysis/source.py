"""Find the line in the user's code that adds to a leaking container.

A retention path says *what* holds the memory (``samples.leaky_global.HISTORY[41]``); the fix
is at the line that puts things there (``HISTORY.append(ctx)``). The module's syntax tree is
searched for calls that grow the container and for item assignments to it.
"""

from __future__ import annotations

import ast
import linecache
from collections.abc import Callable
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


def _lines_where(filename: str, matches: Callable[[ast.AST], bool]) -> list[Mutation]:
    """The statements and calls of ``filename`` that ``matches`` accepts, in line order; none
    when the file cannot be read or parsed."""
    try:
        with open(filename, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), filename)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return []
    linecache.checkcache(filename)
    found = [
        Mutation(filename, node.lineno, linecache.getline(filename, node.lineno).strip())
        for node in ast.walk(tree)
        if isinstance(node, ast.stmt | ast.expr) and matches(node)
    ]
    found.sort(key=lambda m: m.lineno)
    return found


def _calls_method(node: ast.AST, name: str, methods: frozenset[str]) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in methods
        and _target_name(node.func.value) == name
    )


def _grows(node: ast.AST, name: str) -> bool:
    if _calls_method(node, name, GROWING_METHODS):
        return True
    if isinstance(node, ast.Assign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if any(isinstance(t, ast.Subscript) and _target_name(t.value) == name for t in targets):
            return True
    return (
        isinstance(node, ast.AugAssign)
        and isinstance(node.op, ast.Add)
        and _target_name(node.target) == name
    )


def _binds(node: ast.AST, name: str) -> bool:
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        targets = [node.target]
    else:
        return False
    return any(_target_name(t) == name for t in targets)


def find_mutations(filename: str, name: str) -> list[Mutation]:
    """Lines in ``filename`` that grow the container called ``name``."""
    return _lines_where(filename, lambda node: _grows(node, name))


def find_assignments(filename: str, name: str) -> list[Mutation]:
    """Lines in ``filename`` that bind ``name`` (``name = ...``, ``self.name = ...``): where a
    long-lived object is made or stored."""
    return _lines_where(filename, lambda node: _binds(node, name))


def find_method_calls(filename: str, name: str, methods: frozenset[str]) -> list[Mutation]:
    """Lines in ``filename`` that call one of ``methods`` on ``name`` (``CURRENT.set(run)``)."""
    return _lines_where(filename, lambda node: _calls_method(node, name, methods))
