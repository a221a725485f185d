"""Resolve a target string (``pkg.module:attr`` or ``path/to/file.py:attr``) to a workflow source.

The kind of target (class, instance, factory, runner) is decided from its type alone; nothing
of the user's is called to find out. Every failure is a ``TargetError`` with one line that
names the problem.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import Any

from wfleak import framework
from wfleak.errors import TargetError
from wfleak.service.app import is_asgi_app

_MISSING = object()


class TargetKind(StrEnum):
    CLASS = "class"
    INSTANCE = "instance"
    FACTORY = "factory"
    RUNNER = "runner"
    APP = "app"
    """An ASGI application, driven with requests."""


@dataclass(frozen=True)
class Target:
    spec: str
    module_name: str
    module_file: str | None
    kind: TargetKind
    obj: Any


def split_spec(spec: str) -> tuple[str, str]:
    module_part, sep, attr_part = spec.rpartition(":")
    # A Windows drive letter ("C:\\x.py") is not an attribute separator.
    if not sep or not module_part or not attr_part or "/" in attr_part or "\\" in attr_part:
        raise TargetError(
            f"Invalid target {spec!r}: expected 'package.module:attr' or 'path/to/file.py:attr'"
        )
    return module_part, attr_part


MAX_TARGET_CHARS = 1024
"""Longer than any real target; a bound, so a runaway string is refused in one line."""


def _brief(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_target_string(spec: str) -> str:
    """Refuse, before any worker starts, a target string the system or the importer would
    reject with an error of its own (a name too long, a path too deep)."""
    if not isinstance(spec, str) or not spec:
        raise TargetError(f"Invalid target {spec!r}: expected 'package.module:attr'")
    if "\0" in spec or any(ord(c) < 32 for c in spec):
        raise TargetError(f"Invalid target {_brief(repr(spec))}: it holds control characters")
    if len(spec) > MAX_TARGET_CHARS:
        raise TargetError(
            f"Invalid target {_brief(spec)!r}: {len(spec)} characters, more than the "
            f"{MAX_TARGET_CHARS} a target may have"
        )
    module_part, _ = split_spec(spec)
    if _is_path(module_part):
        for part in module_part.replace("\\", "/").split("/"):
            if len(os.fsencode(part)) > 255:
                raise TargetError(
                    f"Invalid target {_brief(spec)!r}: the name {_brief(part)!r} is longer "
                    "than the 255 bytes a file name may have"
                )
    return spec


def _is_path(module_part: str) -> bool:
    return module_part.endswith(".py") or os.sep in module_part or "/" in module_part


def _module_name_for_file(path: Path) -> tuple[str, Path]:
    """Dotted name relative to the current directory when possible (``samples.leaky_global``),
    so reports name globals as users import them; otherwise the file's stem beside its folder."""
    cwd = Path.cwd().resolve()
    resolved = path.resolve()
    try:
        relative = resolved.with_suffix("").relative_to(cwd)
    except ValueError:
        relative = None
    if relative is not None and all(part.isidentifier() for part in relative.parts):
        return ".".join(relative.parts), cwd
    return resolved.stem, resolved.parent


def _user_frame(tb: Any, module_file: str | None) -> str:
    """``file:line`` of the deepest frame in the user's module (else the deepest frame)."""
    frames = traceback.extract_tb(tb)
    if not frames:
        return "?"
    chosen = frames[-1]
    if module_file is not None:
        for frame in frames:
            if os.path.abspath(frame.filename) == os.path.abspath(module_file):
                chosen = frame
    return f"{_display_path(chosen.filename)}:{chosen.lineno}"


def _display_path(filename: str) -> str:
    try:
        return os.path.relpath(filename)
    except ValueError:
        return filename


def _import_module(module_part: str) -> tuple[ModuleType, str]:
    if _is_path(module_part):
        path = Path(module_part)
        if not path.is_file():
            raise TargetError(f"No such file: {module_part}")
        if not os.access(path, os.R_OK):
            raise TargetError(f"Cannot read file: {module_part}")
        module_name, search_dir = _module_name_for_file(path)
        module_file: str | None = str(path.resolve())
    else:
        module_name, search_dir, module_file = module_part, Path.cwd(), None
    # As uvicorn does: the current directory (or the file's folder) is importable.
    if str(search_dir) not in sys.path:
        sys.path.insert(0, str(search_dir))
    if module_file is None:
        try:
            spec = importlib.util.find_spec(module_name)
        except ModuleNotFoundError as exc:
            raise TargetError(f"No module named {exc.name!r} (importing {module_name!r})") from None
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            raise TargetError(f"No module named {module_name!r}")
        module_file = spec.origin if spec.origin not in (None, "built-in", "frozen") else None
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        where = f"{_display_path(exc.filename or '?')}:{exc.lineno}"
        raise TargetError(f"Syntax error in {where}: {exc.msg}") from None
    except Exception as exc:
        where = _user_frame(exc.__traceback__, module_file)
        message = f"Error while importing {module_name!r} ({where}): {type(exc).__name__}: {exc}"
        if isinstance(exc, ImportError):
            # Installed on its own (pipx, another venv), wfleak runs an interpreter that does
            # not have the project's packages.
            message += (
                f" (with {sys.executable}; wfleak must be installed in the environment that"
                " runs the project)"
            )
        raise TargetError(message) from None
    except SystemExit as exc:
        raise TargetError(f"Importing {module_name!r} called sys.exit({exc.code!r})") from None
    return module, module_name


def _resolve_attr(module: ModuleType, module_name: str, attr_path: str) -> Any:
    obj: Any = module
    walked = module_name
    for name in attr_path.split("."):
        if inspect.getattr_static(obj, name, _MISSING) is _MISSING and not (
            isinstance(obj, ModuleType) and hasattr(obj, "__getattr__")
        ):
            candidates = [n for n in dir(obj) if not n.startswith("__")]
            close = difflib.get_close_matches(name, candidates, n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise TargetError(f"{walked!r} has no attribute {name!r}{hint}")
        try:
            obj = getattr(obj, name)
        except AttributeError as exc:
            if (
                isinstance(obj, ModuleType)
                and inspect.getattr_static(obj, name, _MISSING) is _MISSING
            ):
                raise TargetError(f"{walked!r} has no attribute {name!r}") from None
            raise TargetError(
                f"Error while getting {walked}.{name}: AttributeError: {exc}"
            ) from None
        except Exception as exc:
            raise TargetError(
                f"Error while getting {walked}.{name}: {type(exc).__name__}: {exc}"
            ) from None
        walked = f"{walked}.{name}"
    return obj


def _accepts_no_arguments(fn: Callable[..., Any]) -> bool:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return True
    return all(
        p.default is not inspect.Parameter.empty
        or p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        for p in signature.parameters.values()
    )


def _what(obj: Any) -> str:
    return f"class {obj.__name__}" if isinstance(obj, type) else f"{type(obj).__name__} object"


def classify(spec: str, obj: Any, runner: bool) -> TargetKind:
    if runner:
        if not inspect.iscoroutinefunction(obj):
            what = "function" if inspect.isfunction(obj) else _what(obj)
            raise TargetError(
                f"{spec} is a {what}, not an async function "
                "(--runner needs 'async def run_once(): ...')"
            )
        if not _accepts_no_arguments(obj):
            raise TargetError(f"{spec} must be callable with no arguments (--runner)")
        return TargetKind.RUNNER
    if framework.is_workflow_class(obj):
        return TargetKind.CLASS
    if framework.is_workflow(obj):
        return TargetKind.INSTANCE
    if is_asgi_app(obj):
        return TargetKind.APP
    if inspect.isfunction(obj) or inspect.ismethod(obj) or inspect.iscoroutinefunction(obj):
        if not _accepts_no_arguments(obj):
            raise TargetError(f"{spec} is a factory that needs arguments; it must take none")
        return TargetKind.FACTORY
    raise TargetError(
        f"{spec} is a {_what(obj)}, not a Workflow class, a workflow instance, an ASGI app, "
        "or a zero-argument factory returning one"
    )


def load_target(spec: str, runner: bool = False) -> Target:
    check_target_string(spec)
    module_part, attr_part = split_spec(spec)
    missing = framework.missing_engine()
    if missing is not None:
        raise TargetError(missing)
    try:
        module, module_name = _import_module(module_part)
    except (OSError, RecursionError, MemoryError) as exc:
        # The system refused the name: it is the target string that is wrong.
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise TargetError(f"Invalid target {_brief(spec)!r}: {reason}") from None
    obj = _resolve_attr(module, module_name, attr_part)
    kind = classify(spec, obj, runner)
    return Target(
        spec=spec,
        module_name=module_name,
        module_file=getattr(module, "__file__", None),
        kind=kind,
        obj=obj,
    )
